/**
 * POSIX extended regular expressions with the exact semantics CppNix gives
 * `builtins.match` and `builtins.split`.
 *
 * CppNix compiles patterns with `std::regex(re, std::regex::extended)` and
 * runs them with `std::regex_match` / `std::sregex_iterator` from GNU
 * libstdc++ (x86_64 Linux, "C" locale, built in strict ISO mode).  That
 * engine is *not* a textbook POSIX matcher, and it is not a JS/Perl matcher
 * either.  What it really does (verified against `nix-instantiate` and a
 * small C++ harness linked against libstdc++, see test/lang/regex.test.ts):
 *
 *  - It compiles the pattern to an NFA and runs a depth-first backtracking
 *    search.  At an alternation `A|B` it always explores *both* branches and
 *    keeps the longest overall match ("POSIX mode"); the captures are those
 *    of the first path (in left-to-right, greedy-first order) that reached
 *    that length.  At a greedy repetition it tries "one more iteration" first
 *    and only tries leaving the loop when that found no match at all.
 *    Consequences:
 *      - `builtins.match` (whole string must match): captures are those of
 *        the first full match in priority order, like JS:
 *        `match "(a|ab)(c|bcd)(d*)" "abcd"` = [ "a" "bcd" "" ]
 *        (a textbook leftmost-longest matcher would give [ "ab" "c" "d" ]).
 *      - `builtins.split` (search): alternations pick the longest match
 *        where JS picks the first: `split "(a|ab)" "abc"` =
 *        [ "" [ "ab" ] "c" ] (JS: "a"), and `split "(a|ab)*" "ababc"`
 *        matches "abab" (JS: "a").
 *  - Captures are never reset between iterations of a loop:
 *    `match "((a)|b)*" "ab"` = [ "b" "a" ] (JS: [ "b", undefined ]).
 *  - Loops whose body can match the empty string are allowed to run an
 *    empty iteration (at most twice per position):
 *    `match "(a*)+" "aa"` = [ "" ] (JS: [ "aa" ]), `match "(a*)?" ""` =
 *    [ "" ] (JS: [ undefined ]).
 *  - `.` matches any byte except NUL, including "\n".  `^` only matches at
 *    the very start of the string and `$` only at its very end (no
 *    multi-line mode); `a^b` can never match.
 *  - Syntax: `\` may only escape one of `.[\()*+?{|^$` (so `\]`, `\}`, `\n`,
 *    `\d`, `\w` are errors); `]` and `}` alone are literals; `{` must start
 *    a valid interval `{n}`, `{n,}` or `{n,m}`; `*`, `+`, `?` and intervals
 *    stack (`a**` is valid) but cannot follow `^`/`$` or start an
 *    alternative.  Inside brackets a backslash is a literal, `]` is literal
 *    right after `[` or `[^`, `-` is literal first or last, ranges compare
 *    bytes as *signed* chars (so `[a-\xc3]` is an invalid range), classes
 *    are the C-locale ones (ASCII only, class names case-insensitive, plus
 *    libstdc++'s `[:w:]`, `[:s:]`, `[:d:]`), `[[.name.]]` accepts single
 *    letters and the POSIX names ("hyphen", "space", ...) and `[[=x=]]`
 *    matches x case-insensitively.
 *  - An NFA bigger than 100000 states (e.g. `a{100000}`) is rejected with
 *    "memory limit exceeded by regular expression".
 *
 * Implementation: the pattern is parsed into the same NFA shape libstdc++
 * builds, and an iterative (explicit-stack) backtracking executor mirrors its
 * exploration order, its "keep the longest" rule, its loop-entry counters and
 * its capture bookkeeping.  Because that executor is slower than V8's, each
 * pattern is also analysed: when the semantics provably coincide with a JS
 * `RegExp` (no capture group nested in a repeated sub-pattern, no loop whose
 * body can be empty, and - for `split` only - no alternation whose branches
 * can start with the same byte and no pattern that can match the empty
 * string), the pattern is translated to an equivalent JS `RegExp` over
 * latin1 "byte" characters and that is used instead.
 */

export class RegexError extends Error {
  readonly pattern: string;
  /** "invalid": syntax error; "space": too many NFA states. */
  readonly kind: 'invalid' | 'space';
  constructor(pattern: string, kind: 'invalid' | 'space') {
    super(
      kind === 'space'
        ? `memory limit exceeded by regular expression '${pattern}'`
        : `invalid regular expression '${pattern}'`,
    );
    this.name = 'RegexError';
    this.pattern = pattern;
    this.kind = kind;
  }
}

/** Internal: thrown while compiling, turned into a RegexError. */
class SyntaxFail {
  constructor(readonly space: boolean) {}
}

// ---------------------------------------------------------------------------
// Character data ("C" locale)

function isUpper(b: number): boolean {
  return b >= 0x41 && b <= 0x5a;
}
function isLower(b: number): boolean {
  return b >= 0x61 && b <= 0x7a;
}
function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
function isAlpha(b: number): boolean {
  return isUpper(b) || isLower(b);
}
function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}
function isGraph(b: number): boolean {
  return b >= 0x21 && b <= 0x7e;
}

const CHAR_CLASSES: Record<string, (b: number) => boolean> = {
  d: isDigit,
  w: (b) => isAlpha(b) || isDigit(b) || b === 0x5f,
  s: isSpace,
  alnum: (b) => isAlpha(b) || isDigit(b),
  alpha: isAlpha,
  blank: (b) => b === 0x20 || b === 0x09,
  cntrl: (b) => b < 0x20 || b === 0x7f,
  digit: isDigit,
  graph: isGraph,
  lower: isLower,
  print: (b) => b >= 0x20 && b <= 0x7e,
  punct: (b) => isGraph(b) && !isAlpha(b) && !isDigit(b),
  space: isSpace,
  upper: isUpper,
  xdigit: (b) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66),
};

/** POSIX collating-symbol names of the ASCII characters, by code. */
const COLLATE_NAMES: readonly string[] = [
  'NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'alert', 'backspace', 'tab',
  'newline', 'vertical-tab', 'form-feed', 'carriage-return', 'SO', 'SI', 'DLE',
  'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC',
  'IS4', 'IS3', 'IS2', 'IS1', 'space', 'exclamation-mark', 'quotation-mark',
  'number-sign', 'dollar-sign', 'percent-sign', 'ampersand', 'apostrophe',
  'left-parenthesis', 'right-parenthesis', 'asterisk', 'plus-sign', 'comma',
  'hyphen', 'period', 'slash', 'zero', 'one', 'two', 'three', 'four', 'five',
  'six', 'seven', 'eight', 'nine', 'colon', 'semicolon', 'less-than-sign',
  'equals-sign', 'greater-than-sign', 'question-mark', 'commercial-at',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'left-square-bracket', 'backslash', 'right-square-bracket', 'circumflex',
  'underscore', 'grave-accent',
  ...'abcdefghijklmnopqrstuvwxyz',
  'left-curly-bracket', 'vertical-line', 'right-curly-bracket', 'tilde', 'DEL',
];

function lookupCollateName(name: string): number {
  const i = COLLATE_NAMES.indexOf(name);
  return i; // -1 when unknown
}

function toLowerC(b: number): number {
  return isUpper(b) ? b + 0x20 : b;
}

/** A byte as libstdc++ compares it in ranges: `char` is signed on x86_64. */
function signedByte(b: number): number {
  return b >= 0x80 ? b - 0x100 : b;
}

// ---------------------------------------------------------------------------
// Scanner (POSIX extended syntax, strict mode)

const enum Tok {
  AnyChar,
  OrdChar,
  SubexprBegin,
  SubexprEnd,
  BracketBegin,
  BracketNegBegin,
  BracketEnd,
  IntervalBegin,
  IntervalEnd,
  CharClassName,
  CollSymbol,
  EquivClassName,
  Opt,
  Or,
  Closure0,
  Closure1,
  LineBegin,
  LineEnd,
  Comma,
  DupCount,
  Eof,
  BracketDash,
}

const enum ScanState {
  Normal,
  InBrace,
  InBracket,
}

/** Characters that are special outside brackets (and may be escaped). */
const SPECIAL = '.[\\()*+?{|^$';

class Scanner {
  private pos = 0;
  private state = ScanState.Normal;
  private atBracketStart = false;
  token: Tok = Tok.Eof;
  value = '';

  constructor(private readonly src: string) {
    this.advance();
  }

  advance(): void {
    if (this.pos >= this.src.length) {
      this.token = Tok.Eof;
      return;
    }
    if (this.state === ScanState.Normal) this.scanNormal();
    else if (this.state === ScanState.InBracket) this.scanInBracket();
    else this.scanInBrace();
  }

  private scanNormal(): void {
    const src = this.src;
    const c = src[this.pos++]!;
    if (c !== '\0' && !SPECIAL.includes(c)) {
      this.token = Tok.OrdChar;
      this.value = c;
      return;
    }
    switch (c) {
      case '\\': {
        if (this.pos >= src.length) throw new SyntaxFail(false);
        const e = src[this.pos]!;
        // Only special characters may be escaped (strict POSIX).
        if (e === '\0' || !SPECIAL.includes(e)) throw new SyntaxFail(false);
        this.pos++;
        this.token = Tok.OrdChar;
        this.value = e;
        return;
      }
      case '(':
        this.token = Tok.SubexprBegin;
        return;
      case ')':
        this.token = Tok.SubexprEnd;
        return;
      case '[':
        this.state = ScanState.InBracket;
        this.atBracketStart = true;
        if (this.pos < src.length && src[this.pos] === '^') {
          this.token = Tok.BracketNegBegin;
          this.pos++;
        } else {
          this.token = Tok.BracketBegin;
        }
        return;
      case '{':
        this.state = ScanState.InBrace;
        this.token = Tok.IntervalBegin;
        return;
      case '\0':
        throw new SyntaxFail(false);
      case '^':
        this.token = Tok.LineBegin;
        return;
      case '$':
        this.token = Tok.LineEnd;
        return;
      case '.':
        this.token = Tok.AnyChar;
        return;
      case '*':
        this.token = Tok.Closure0;
        return;
      case '+':
        this.token = Tok.Closure1;
        return;
      case '?':
        this.token = Tok.Opt;
        return;
      case '|':
        this.token = Tok.Or;
        return;
    }
    /* c8 ignore next */
    throw new Error('regex scanner: unreachable');
  }

  private scanInBracket(): void {
    const src = this.src;
    const c = src[this.pos++]!;
    if (c === '-') {
      this.token = Tok.BracketDash;
    } else if (c === '[') {
      if (this.pos >= src.length) throw new SyntaxFail(false);
      const k = src[this.pos]!;
      if (k === '.' || k === ':' || k === '=') {
        this.token = k === '.' ? Tok.CollSymbol : k === ':' ? Tok.CharClassName : Tok.EquivClassName;
        this.pos++;
        this.eatClass(k);
      } else {
        this.token = Tok.OrdChar;
        this.value = c;
      }
    } else if (c === ']' && !this.atBracketStart) {
      this.token = Tok.BracketEnd;
      this.state = ScanState.Normal;
    } else {
      this.token = Tok.OrdChar;
      this.value = c;
    }
    this.atBracketStart = false;
  }

  private eatClass(k: string): void {
    const src = this.src;
    const start = this.pos;
    while (this.pos < src.length && src[this.pos] !== k) this.pos++;
    this.value = src.slice(start, this.pos);
    if (this.pos >= src.length) throw new SyntaxFail(false);
    this.pos++; // k
    if (this.pos >= src.length || src[this.pos] !== ']') throw new SyntaxFail(false);
    this.pos++; // ]
  }

  private scanInBrace(): void {
    const src = this.src;
    const c = src.charCodeAt(this.pos++);
    if (isDigit(c)) {
      const start = this.pos - 1;
      while (this.pos < src.length && isDigit(src.charCodeAt(this.pos))) this.pos++;
      this.token = Tok.DupCount;
      this.value = src.slice(start, this.pos);
    } else if (c === 0x2c) {
      this.token = Tok.Comma;
    } else if (c === 0x7d) {
      this.state = ScanState.Normal;
      this.token = Tok.IntervalEnd;
    } else {
      throw new SyntaxFail(false);
    }
  }
}

// ---------------------------------------------------------------------------
// NFA

const enum Op {
  Dummy,
  Repeat, // alt: one more iteration, next: leave
  Alt, // alt: left branch, next: right branch
  SubBegin,
  SubEnd,
  LineBegin,
  LineEnd,
  Match,
  Accept,
}

/** libstdc++'s _GLIBCXX_REGEX_STATE_LIMIT. */
const STATE_LIMIT = 100000;

interface Frag {
  start: number;
  end: number;
  ast: Ast;
}

type Ast =
  | { t: 'set'; set: Uint8Array }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'empty' }
  | { t: 'group'; body: Ast }
  | { t: 'cat'; items: Ast[] }
  | { t: 'alt'; left: Ast; right: Ast }
  | { t: 'rep'; body: Ast; min: number; max: number };

const ANY_SET: Uint8Array = (() => {
  const s = new Uint8Array(256).fill(1);
  s[0] = 0;
  return s;
})();

function charSet(b: number): Uint8Array {
  const s = new Uint8Array(256);
  s[b & 0xff] = 1;
  return s;
}

/** Parses a pattern and builds libstdc++'s NFA for it (plus an AST). */
class Compiler {
  readonly op: number[] = [];
  readonly next: number[] = [];
  readonly alt: number[] = [];
  readonly arg: number[] = [];
  readonly sets: (Uint8Array | null)[] = [];
  subCount = 0;
  private readonly parenStack: number[] = [];
  private readonly sc: Scanner;
  private value = '';

  constructor(src: string) {
    this.sc = new Scanner(src);
  }

  private insert(op: Op, next = -1, alt = -1, arg = -1, set: Uint8Array | null = null): number {
    this.op.push(op);
    this.next.push(next);
    this.alt.push(alt);
    this.arg.push(arg);
    this.sets.push(set);
    if (this.op.length > STATE_LIMIT) throw new SyntaxFail(true);
    return this.op.length - 1;
  }

  private hasAlt(i: number): boolean {
    const o = this.op[i];
    return o === Op.Repeat || o === Op.Alt;
  }

  private matchToken(t: Tok): boolean {
    if (this.sc.token === t) {
      this.value = this.sc.value;
      this.sc.advance();
      return true;
    }
    return false;
  }

  /** Links `id` after the end of `f`. */
  private append(f: Frag, id: number): void {
    this.next[f.end] = id;
    f.end = id;
  }
  private appendFrag(f: Frag, g: { start: number; end: number }): void {
    this.next[f.end] = g.start;
    f.end = g.end;
  }

  compile(): void {
    const sb = this.insertSubBegin();
    const body = this.disjunction();
    if (!this.matchToken(Tok.Eof)) throw new SyntaxFail(false);
    this.next[sb] = body.start;
    const se = this.insertSubEnd();
    this.next[body.end] = se;
    const acc = this.insert(Op.Accept);
    this.next[se] = acc;
    this.ast = body.ast;
    this.eliminateDummies();
  }

  ast: Ast = { t: 'empty' };

  private insertSubBegin(): number {
    const id = this.subCount++;
    this.parenStack.push(id);
    return this.insert(Op.SubBegin, -1, -1, id);
  }
  private insertSubEnd(): number {
    const id = this.parenStack.pop()!;
    return this.insert(Op.SubEnd, -1, -1, id);
  }

  private eliminateDummies(): void {
    const { op, next, alt } = this;
    for (let i = 0; i < op.length; i++) {
      let n = next[i]!;
      while (n >= 0 && op[n] === Op.Dummy) n = next[n]!;
      next[i] = n;
      if (this.hasAlt(i)) {
        let a = alt[i]!;
        while (a >= 0 && op[a] === Op.Dummy) a = next[a]!;
        alt[i] = a;
      }
    }
  }

  private disjunction(): Frag {
    let left = this.alternative();
    while (this.matchToken(Tok.Or)) {
      const right = this.alternative();
      const end = this.insert(Op.Dummy);
      this.append(left, end);
      this.append(right, end);
      const a = this.insert(Op.Alt, right.start, left.start);
      left = { start: a, end, ast: { t: 'alt', left: left.ast, right: right.ast } };
    }
    return left;
  }

  private alternative(): Frag {
    const terms: Frag[] = [];
    for (;;) {
      const t = this.term();
      if (!t) break;
      terms.push(t);
    }
    const d = this.insert(Op.Dummy);
    if (terms.length === 0) return { start: d, end: d, ast: { t: 'empty' } };
    const first = terms[0]!;
    const f: Frag = { start: first.start, end: first.end, ast: first.ast };
    for (let i = 1; i < terms.length; i++) this.appendFrag(f, terms[i]!);
    this.append(f, d);
    f.ast = terms.length === 1 ? first.ast : { t: 'cat', items: terms.map((x) => x.ast) };
    return f;
  }

  private term(): Frag | null {
    if (this.matchToken(Tok.LineBegin)) {
      const s = this.insert(Op.LineBegin);
      return { start: s, end: s, ast: { t: 'bol' } };
    }
    if (this.matchToken(Tok.LineEnd)) {
      const s = this.insert(Op.LineEnd);
      return { start: s, end: s, ast: { t: 'eol' } };
    }
    let f = this.atom();
    if (!f) return null;
    for (;;) {
      const q = this.quantifier(f);
      if (!q) break;
      f = q;
    }
    return f;
  }

  private atom(): Frag | null {
    if (this.matchToken(Tok.AnyChar)) {
      const s = this.insert(Op.Match, -1, -1, -1, ANY_SET);
      return { start: s, end: s, ast: { t: 'set', set: ANY_SET } };
    }
    if (this.matchToken(Tok.OrdChar)) {
      const set = charSet(this.value.charCodeAt(0));
      const s = this.insert(Op.Match, -1, -1, this.value.charCodeAt(0), set);
      return { start: s, end: s, ast: { t: 'set', set } };
    }
    if (this.matchToken(Tok.SubexprBegin)) {
      const sb = this.insertSubBegin();
      const body = this.disjunction();
      if (!this.matchToken(Tok.SubexprEnd)) throw new SyntaxFail(false);
      const f: Frag = { start: sb, end: sb, ast: { t: 'group', body: body.ast } };
      this.appendFrag(f, body);
      this.append(f, this.insertSubEnd());
      return f;
    }
    const neg = this.matchToken(Tok.BracketNegBegin);
    if (!neg && !this.matchToken(Tok.BracketBegin)) return null;
    const set = this.bracket(neg);
    const s = this.insert(Op.Match, -1, -1, -1, set);
    return { start: s, end: s, ast: { t: 'set', set } };
  }

  private bracket(neg: boolean): Uint8Array {
    const chars: number[] = [];
    const ranges: [number, number][] = [];
    const classes: ((b: number) => boolean)[] = [];
    const equivs: number[] = [];
    // Cached last character: kind 0 = none, 1 = char, 2 = class.
    let lastKind = 0;
    let last = 0;
    const pushChar = (c: number): void => {
      if (lastKind === 1) chars.push(last);
      lastKind = 1;
      last = c;
    };
    const pushClass = (): void => {
      if (lastKind === 1) chars.push(last);
      lastKind = 2;
    };
    const makeRange = (l: number, r: number): void => {
      if (signedByte(l) > signedByte(r)) throw new SyntaxFail(false);
      ranges.push([signedByte(l), signedByte(r)]);
    };

    if (this.matchToken(Tok.OrdChar)) {
      lastKind = 1;
      last = this.value.charCodeAt(0);
    } else if (this.matchToken(Tok.BracketDash)) {
      lastKind = 1;
      last = 0x2d;
    }
    for (;;) {
      if (this.matchToken(Tok.BracketEnd)) break;
      if (this.matchToken(Tok.CollSymbol)) {
        const c = lookupCollateName(this.value);
        if (c < 0) throw new SyntaxFail(false);
        chars.push(c);
        pushChar(c);
      } else if (this.matchToken(Tok.EquivClassName)) {
        pushClass();
        const c = lookupCollateName(this.value);
        if (c < 0) throw new SyntaxFail(false);
        equivs.push(toLowerC(c));
      } else if (this.matchToken(Tok.CharClassName)) {
        pushClass();
        const fn = CHAR_CLASSES[this.value.toLowerCase()];
        if (!fn || !Object.prototype.hasOwnProperty.call(CHAR_CLASSES, this.value.toLowerCase())) {
          throw new SyntaxFail(false);
        }
        classes.push(fn);
      } else if (this.matchToken(Tok.OrdChar)) {
        pushChar(this.value.charCodeAt(0));
      } else if (this.matchToken(Tok.BracketDash)) {
        if (this.matchToken(Tok.BracketEnd)) {
          pushChar(0x2d);
          break;
        } else if (lastKind === 2) {
          throw new SyntaxFail(false);
        } else if (lastKind === 1) {
          if (this.matchToken(Tok.OrdChar)) {
            makeRange(last, this.value.charCodeAt(0));
            lastKind = 0;
          } else if (this.matchToken(Tok.BracketDash)) {
            makeRange(last, 0x2d);
            lastKind = 0;
          } else {
            throw new SyntaxFail(false);
          }
        } else {
          throw new SyntaxFail(false);
        }
      } else {
        throw new SyntaxFail(false);
      }
    }
    if (lastKind === 1) chars.push(last);

    const set = new Uint8Array(256);
    for (let b = 0; b < 256; b++) {
      let m = chars.includes(b);
      if (!m) {
        const sb = signedByte(b);
        for (const [l, r] of ranges) {
          if (l <= sb && sb <= r) {
            m = true;
            break;
          }
        }
      }
      if (!m) for (const fn of classes) if (fn(b)) m = true;
      if (!m && equivs.includes(toLowerC(b))) m = true;
      set[b] = m !== neg ? 1 : 0;
    }
    return set;
  }

  /** libstdc++ reads interval counts into a `long` and returns an `int`. */
  private curInt(): number {
    let v = 0n;
    for (let i = 0; i < this.value.length; i++) {
      v = BigInt.asIntN(64, v * 10n + BigInt(this.value.charCodeAt(i) - 0x30));
    }
    return Number(BigInt.asIntN(32, v));
  }

  private clone(f: { start: number; end: number }): { start: number; end: number } {
    const map = new Map<number, number>();
    const stack = [f.start];
    while (stack.length > 0) {
      const u = stack.pop()!;
      const id = this.insert(this.op[u]!, this.next[u]!, this.alt[u]!, this.arg[u]!, this.sets[u]!);
      map.set(u, id);
      if (this.hasAlt(u)) {
        const a = this.alt[u]!;
        if (a !== -1 && !map.has(a)) stack.push(a);
      }
      if (u === f.end) continue;
      const n = this.next[u]!;
      if (n !== -1 && !map.has(n)) stack.push(n);
    }
    for (const v of map.values()) {
      const n = this.next[v]!;
      if (n !== -1) this.next[v] = map.get(n) ?? n;
      if (this.hasAlt(v)) {
        const a = this.alt[v]!;
        if (a !== -1) this.alt[v] = map.get(a) ?? a;
      }
    }
    return { start: map.get(f.start)!, end: map.get(f.end)! };
  }

  private quantifier(e: Frag): Frag | null {
    if (this.matchToken(Tok.Closure0)) {
      const r = this.insert(Op.Repeat, -1, e.start);
      this.append(e, r);
      return { start: r, end: r, ast: { t: 'rep', body: e.ast, min: 0, max: Infinity } };
    }
    if (this.matchToken(Tok.Closure1)) {
      const r = this.insert(Op.Repeat, -1, e.start);
      this.append(e, r);
      return { start: e.start, end: r, ast: { t: 'rep', body: e.ast, min: 1, max: Infinity } };
    }
    if (this.matchToken(Tok.Opt)) {
      const end = this.insert(Op.Dummy);
      const r = this.insert(Op.Repeat, -1, e.start);
      this.append(e, end);
      this.next[r] = end;
      return { start: r, end, ast: { t: 'rep', body: e.ast, min: 0, max: 1 } };
    }
    if (this.matchToken(Tok.IntervalBegin)) {
      if (!this.matchToken(Tok.DupCount)) throw new SyntaxFail(false);
      const d = this.insert(Op.Dummy);
      const out: Frag = { start: d, end: d, ast: e.ast };
      const min = this.curInt();
      let infinite = false;
      let n = 0;
      if (this.matchToken(Tok.Comma)) {
        if (this.matchToken(Tok.DupCount)) n = this.curInt() - min;
        else infinite = true;
      }
      if (!this.matchToken(Tok.IntervalEnd)) throw new SyntaxFail(false);
      for (let i = 0; i < min; i++) this.appendFrag(out, this.clone(e));
      if (infinite) {
        const tmp = this.clone(e);
        const r = this.insert(Op.Repeat, -1, tmp.start);
        this.next[tmp.end] = r;
        this.append(out, r);
      } else {
        if (n < 0) throw new SyntaxFail(false);
        const end = this.insert(Op.Dummy);
        for (let i = 0; i < n; i++) {
          const tmp = this.clone(e);
          // "one more" is the alt branch, "stop here" the next one.
          const r = this.insert(Op.Repeat, end, tmp.start);
          this.next[out.end] = r;
          out.end = tmp.end;
        }
        this.append(out, end);
      }
      if (min < 0 || min > 1000 || n > 1000) this.weird = true;
      out.ast = {
        t: 'rep',
        body: e.ast,
        min: Math.max(min, 0),
        max: infinite ? Infinity : Math.max(min, 0) + Math.max(n, 0),
      };
      return out;
    }
    return null;
  }

  /** Set when an interval is too unusual to hand to JS. */
  weird = false;
}

// ---------------------------------------------------------------------------
// Compiled program

interface Prog {
  op: Uint8Array;
  next: Int32Array;
  alt: Int32Array;
  arg: Int32Array;
  sets: (Uint8Array | null)[];
  /** Number of sub-expressions including the whole match (group 0). */
  nsub: number;
  hasAlt: boolean;
  /** Bytes that can start a match, or null if the pattern can match "". */
  first: Uint8Array | null;
}

export interface CompiledRegex {
  readonly pattern: string;
  /** Number of capture groups (not counting the whole match). */
  readonly groupCount: number;
  /** @internal */
  readonly prog: Prog;
  /** @internal JS RegExp equivalent for `match`, anchored, or null. */
  readonly jsMatch: RegExp | null;
  /** @internal JS RegExp equivalent for `split` (global), or null. */
  readonly jsSearch: RegExp | null;
}

function buildProg(c: Compiler): Prog {
  const n = c.op.length;
  const op = new Uint8Array(n);
  const next = new Int32Array(n);
  const alt = new Int32Array(n);
  const arg = new Int32Array(n);
  let hasAlt = false;
  for (let i = 0; i < n; i++) {
    op[i] = c.op[i]!;
    next[i] = c.next[i]!;
    alt[i] = c.alt[i]!;
    arg[i] = c.arg[i]!;
    if (op[i] === Op.Alt) hasAlt = true;
  }
  const prog: Prog = { op, next, alt, arg, sets: c.sets, nsub: c.subCount, hasAlt, first: null };
  prog.first = firstBytes(prog);
  return prog;
}

/** Bytes that can be consumed first; null if Accept is reachable without consuming. */
function firstBytes(p: Prog): Uint8Array | null {
  const seen = new Uint8Array(p.op.length);
  const out = new Uint8Array(256);
  const stack = [0];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (i < 0 || seen[i]) continue;
    seen[i] = 1;
    switch (p.op[i]) {
      case Op.Accept:
        return null;
      case Op.Match: {
        const s = p.sets[i]!;
        for (let b = 0; b < 256; b++) if (s[b]) out[b] = 1;
        break;
      }
      case Op.Repeat:
      case Op.Alt:
        stack.push(p.alt[i]!, p.next[i]!);
        break;
      default:
        stack.push(p.next[i]!);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Executor: libstdc++'s DFS executor in POSIX mode, made iterative.

const enum Task {
  Visit,
  RepAfter, // after "one more": leave the loop unless a solution was found
  RepRestore,
  RepDec,
  SubRestoreBegin,
  SubRestoreEnd,
  AltMid, // after the left branch: try the right one
  AltEnd,
}

interface ExecFlags {
  exact: boolean;
  notNull: boolean;
  prevAvail: boolean;
}

class Executor {
  private readonly repPos: Int32Array;
  private readonly repCnt: Int32Array;
  private readonly capStart: Int32Array;
  private readonly capEnd: Int32Array;
  private readonly capMatched: Uint8Array;
  private readonly stack: number[] = [];
  private hasSol = false;
  private solPos = -1;
  private result: Int32Array;

  constructor(
    private readonly p: Prog,
    private readonly s: string,
  ) {
    const n = p.op.length;
    this.repPos = new Int32Array(n);
    this.repCnt = new Int32Array(n);
    this.capStart = new Int32Array(p.nsub).fill(-1);
    this.capEnd = new Int32Array(p.nsub).fill(-1);
    this.capMatched = new Uint8Array(p.nsub);
    this.result = new Int32Array(2 * p.nsub);
  }

  /**
   * One attempt starting at `begin` (libstdc++ `_M_main`).  Returns the
   * capture positions (2 per group, -1 when unmatched) or null.
   */
  attempt(begin: number, flags: ExecFlags): Int32Array | null {
    const { p, s } = this;
    const { op, next, alt, arg, sets } = p;
    const end = s.length;
    const stack = this.stack;
    const repPos = this.repPos;
    const repCnt = this.repCnt;
    const capStart = this.capStart;
    const capEnd = this.capEnd;
    const capMatched = this.capMatched;
    const exact = flags.exact;
    // Without alternations nothing can reset hasSol, so the first solution
    // is final; in exact mode the first solution can never be beaten.
    const stopAtFirst = exact || !p.hasAlt;
    this.hasSol = false;
    this.solPos = -1;
    let stopped = false;

    stack.length = 0;
    stack.push(Task.Visit, 0, begin, 0);
    run: while (stack.length > 0) {
      const d = stack.pop()!;
      const c = stack.pop()!;
      const b = stack.pop()!;
      const task = stack.pop()!;
      let i: number;
      let pos: number;
      switch (task as Task) {
        case Task.Visit:
          i = b;
          pos = c;
          break;
        case Task.RepAfter:
          if (this.hasSol) continue run;
          i = next[b]!;
          pos = c;
          break;
        case Task.RepRestore:
          repPos[b] = c;
          repCnt[b] = d;
          continue run;
        case Task.RepDec:
          repCnt[b]!--;
          continue run;
        case Task.SubRestoreBegin:
          capStart[b] = c;
          continue run;
        case Task.SubRestoreEnd:
          capEnd[b] = c;
          capMatched[b] = d;
          continue run;
        case Task.AltMid: {
          const saved = this.hasSol ? 1 : 0;
          this.hasSol = false;
          stack.push(Task.AltEnd, saved, 0, 0);
          i = next[b]!;
          pos = c;
          break;
        }
        case Task.AltEnd:
          if (b) this.hasSol = true;
          continue run;
        default:
          continue run;
      }
      // Follow the first branch of each state directly, deferring the rest.
      for (;;) {
        switch (op[i] as Op) {
          case Op.Match: {
            if (pos >= end) continue run;
            const ch = s.charCodeAt(pos);
            const a = arg[i]!;
            if (a >= 0 ? a !== ch : !sets[i]![ch]) continue run;
            pos++;
            i = next[i]!;
            continue;
          }
          case Op.Repeat: {
            stack.push(Task.RepAfter, i, pos, 0);
            if (repCnt[i] === 0 || repPos[i] !== pos) {
              stack.push(Task.RepRestore, i, repPos[i]!, repCnt[i]!);
              repPos[i] = pos;
              repCnt[i] = 1;
            } else if (repCnt[i]! < 2) {
              repCnt[i]!++;
              stack.push(Task.RepDec, i, 0, 0);
            } else {
              continue run;
            }
            i = alt[i]!;
            continue;
          }
          case Op.Alt:
            stack.push(Task.AltMid, i, pos, 0);
            i = alt[i]!;
            continue;
          case Op.SubBegin: {
            const k = arg[i]!;
            stack.push(Task.SubRestoreBegin, k, capStart[k]!, 0);
            capStart[k] = pos;
            i = next[i]!;
            continue;
          }
          case Op.SubEnd: {
            const k = arg[i]!;
            stack.push(Task.SubRestoreEnd, k, capEnd[k]!, capMatched[k]!);
            capEnd[k] = pos;
            capMatched[k] = 1;
            i = next[i]!;
            continue;
          }
          case Op.LineBegin:
            // `^`: only at the start of the subject, and only if the
            // character before the attempt is not known to exist.
            if (pos !== begin || flags.prevAvail) continue run;
            i = next[i]!;
            continue;
          case Op.LineEnd:
            if (pos !== end) continue run;
            i = next[i]!;
            continue;
          case Op.Accept: {
            let sol = exact ? pos === end : true;
            if (pos === begin && flags.notNull) sol = false;
            this.hasSol = sol;
            if (sol) {
              if (this.solPos < 0 || pos - begin > this.solPos - begin) {
                this.solPos = pos;
                const r = this.result;
                for (let k = 0; k < p.nsub; k++) {
                  if (capMatched[k]) {
                    r[2 * k] = capStart[k]!;
                    r[2 * k + 1] = capEnd[k]!;
                  } else {
                    r[2 * k] = -1;
                    r[2 * k + 1] = -1;
                  }
                }
              }
              if (stopAtFirst || pos === end) {
                stopped = true;
                break run;
              }
            }
            continue run;
          }
          default:
            // Dummies are eliminated; nothing else exists.
            i = next[i]!;
            continue;
        }
      }
    }
    if (stopped) {
      // The remaining restore tasks were skipped: reset the scratch state.
      stack.length = 0;
      repCnt.fill(0);
      capStart.fill(-1);
      capEnd.fill(-1);
      capMatched.fill(0);
    }
    return this.solPos >= 0 ? this.result.slice() : null;
  }

  /** libstdc++ `_M_search`: leftmost position where an attempt succeeds. */
  search(from: number, notNull: boolean, continuous: boolean, prevAvail: boolean): Int32Array | null {
    const first = this.p.first;
    const s = this.s;
    const flags: ExecFlags = { exact: false, notNull, prevAvail };
    let begin = from;
    if (first === null || (begin < s.length && first[s.charCodeAt(begin)])) {
      const r = this.attempt(begin, flags);
      if (r) return r;
    }
    if (continuous) return null;
    flags.prevAvail = true;
    while (begin < s.length) {
      begin++;
      if (first !== null && (begin >= s.length || !first[s.charCodeAt(begin)])) continue;
      const r = this.attempt(begin, flags);
      if (r) return r;
    }
    return null;
  }
}

// ---------------------------------------------------------------------------
// Translation to JS RegExp (only when provably equivalent)

function nullable(a: Ast): boolean {
  switch (a.t) {
    case 'set':
      return false;
    case 'bol':
    case 'eol':
    case 'empty':
      return true;
    case 'group':
      return nullable(a.body);
    case 'cat':
      return a.items.every(nullable);
    case 'alt':
      return nullable(a.left) || nullable(a.right);
    case 'rep':
      return a.min === 0 || nullable(a.body);
  }
}

function firstSet(a: Ast, out: Uint8Array): void {
  switch (a.t) {
    case 'set':
      for (let b = 0; b < 256; b++) if (a.set[b]) out[b] = 1;
      return;
    case 'bol':
    case 'eol':
    case 'empty':
      return;
    case 'group':
      firstSet(a.body, out);
      return;
    case 'cat':
      for (const it of a.items) {
        firstSet(it, out);
        if (!nullable(it)) return;
      }
      return;
    case 'alt':
      firstSet(a.left, out);
      firstSet(a.right, out);
      return;
    case 'rep':
      if (a.max > 0) firstSet(a.body, out);
      return;
  }
}

/**
 * Whether a JS backtracking matcher gives exactly libstdc++'s answers for
 * this pattern (see the module comment for the reasoning).
 */
function jsSafe(a: Ast, search: boolean, inLoop: boolean): boolean {
  switch (a.t) {
    case 'set':
    case 'bol':
    case 'eol':
    case 'empty':
      return true;
    case 'group':
      // JS resets captures on each loop iteration, libstdc++ never does.
      if (inLoop) return false;
      return jsSafe(a.body, search, inLoop);
    case 'cat':
      return a.items.every((x) => jsSafe(x, search, inLoop));
    case 'alt': {
      if (search) {
        // libstdc++ keeps the longest of both branches, JS the first one;
        // they agree when at most one branch can get past its first byte.
        if (nullable(a.left) || nullable(a.right)) return false;
        const l = new Uint8Array(256);
        const r = new Uint8Array(256);
        firstSet(a.left, l);
        firstSet(a.right, r);
        for (let b = 0; b < 256; b++) if (l[b] && r[b]) return false;
      }
      return jsSafe(a.left, search, inLoop) && jsSafe(a.right, search, inLoop);
    }
    case 'rep': {
      // Empty iterations behave differently (JS forbids them).
      if (nullable(a.body)) return false;
      const loops = a.max > 1;
      // The group that *is* the repeated atom is set by the last iteration
      // in both engines; groups nested deeper are not.
      if (a.body.t === 'group') {
        if (inLoop) return false;
        return jsSafe(a.body.body, search, inLoop || loops);
      }
      return jsSafe(a.body, search, inLoop || loops);
    }
  }
}

function hex2(b: number): string {
  return (b < 16 ? '\\x0' : '\\x') + b.toString(16);
}

function setToJs(set: Uint8Array): string {
  let count = 0;
  let single = -1;
  for (let b = 0; b < 256; b++) {
    if (set[b]) {
      count++;
      single = b;
    }
  }
  if (count === 1) return hex2(single);
  if (count === 0) return '[]';
  let out = '[';
  let b = 0;
  while (b < 256) {
    if (!set[b]) {
      b++;
      continue;
    }
    let e = b;
    while (e + 1 < 256 && set[e + 1]) e++;
    out += e === b ? hex2(b) : e === b + 1 ? hex2(b) + hex2(e) : hex2(b) + '-' + hex2(e);
    b = e + 1;
  }
  return out + ']';
}

function toJs(a: Ast): string {
  switch (a.t) {
    case 'set':
      return setToJs(a.set);
    case 'bol':
      return '^';
    case 'eol':
      return '$';
    case 'empty':
      return '(?:)';
    case 'group':
      return '(' + toJs(a.body) + ')';
    case 'cat':
      return a.items.map(toJs).join('');
    case 'alt':
      return '(?:' + toJs(a.left) + '|' + toJs(a.right) + ')';
    case 'rep': {
      let body = toJs(a.body);
      if (!(a.body.t === 'set' || a.body.t === 'group')) body = '(?:' + body + ')';
      const q =
        a.min === 0 && a.max === Infinity
          ? '*'
          : a.min === 1 && a.max === Infinity
            ? '+'
            : a.min === 0 && a.max === 1
              ? '?'
              : a.max === Infinity
                ? `{${a.min},}`
                : a.min === a.max
                  ? `{${a.min}}`
                  : `{${a.min},${a.max}}`;
      return body + q;
    }
  }
}

// ---------------------------------------------------------------------------
// Public API

const CACHE_LIMIT = 4096;
const cache = new Map<string, CompiledRegex | RegexError>();

function compileUncached(pattern: string): CompiledRegex {
  let c: Compiler;
  try {
    c = new Compiler(pattern);
    c.compile();
  } catch (e) {
    if (e instanceof SyntaxFail) throw new RegexError(pattern, e.space ? 'space' : 'invalid');
    // The parser is recursive: absurdly deep nesting (thousands of
    // parentheses) exhausts the JS stack.  Report it as a resource limit.
    if (e instanceof RangeError) throw new RegexError(pattern, 'space');
    throw e;
  }
  const prog = buildProg(c);
  let jsMatch: RegExp | null = null;
  let jsSearch: RegExp | null = null;
  if (!c.weird) {
    try {
      if (jsSafe(c.ast, false, false)) jsMatch = new RegExp('^(?:' + toJs(c.ast) + ')$');
      if (!nullable(c.ast) && jsSafe(c.ast, true, false)) jsSearch = new RegExp(toJs(c.ast), 'g');
    } catch {
      // (deeply nested patterns can overflow the recursive analysis)
      jsMatch = null;
      jsSearch = null;
    }
  }
  return { pattern, groupCount: prog.nsub - 1, prog, jsMatch, jsSearch };
}

/**
 * Compiles a POSIX extended regular expression (a byte string).  Results are
 * cached per pattern.  Throws RegexError for invalid patterns.
 */
export function compileRegex(pattern: string): CompiledRegex {
  const hit = cache.get(pattern);
  if (hit !== undefined) {
    if (hit instanceof RegexError) throw new RegexError(hit.pattern, hit.kind);
    return hit;
  }
  let r: CompiledRegex | RegexError;
  try {
    r = compileUncached(pattern);
  } catch (e) {
    if (!(e instanceof RegexError)) throw e;
    r = e;
  }
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(pattern, r);
  if (r instanceof RegexError) throw new RegexError(r.pattern, r.kind);
  return r;
}

/** Empties the compiled-pattern cache (for tests). */
export function clearRegexCache(): void {
  cache.clear();
}

function groupsFromPositions(s: string, r: Int32Array, nsub: number): (string | null)[] {
  const out: (string | null)[] = new Array(nsub - 1);
  for (let k = 1; k < nsub; k++) {
    const a = r[2 * k]!;
    out[k - 1] = a < 0 ? null : s.slice(a, r[2 * k + 1]!);
  }
  return out;
}

function groupsFromExec(m: RegExpExecArray, n: number): (string | null)[] {
  const out: (string | null)[] = new Array(n);
  for (let k = 1; k <= n; k++) out[k - 1] = m[k] ?? null;
  return out;
}

/** Runs the NFA engine in exact mode. */
function matchNfa(re: CompiledRegex, s: string): (string | null)[] | null {
  const ex = new Executor(re.prog, s);
  const r = ex.attempt(0, { exact: true, notNull: false, prevAvail: false });
  return r ? groupsFromPositions(s, r, re.prog.nsub) : null;
}

/**
 * `builtins.match`: the whole of `s` must match.  Returns the capture groups
 * (null for groups that did not participate) or null if there is no match.
 */
export function matchFull(re: CompiledRegex, s: string): (string | null)[] | null {
  const js = re.jsMatch;
  if (js) {
    let m: RegExpExecArray | null;
    try {
      m = js.exec(s);
    } catch {
      return matchNfa(re, s);
    }
    return m ? groupsFromExec(m, re.groupCount) : null;
  }
  return matchNfa(re, s);
}

/** Every match of `re` in `s`, as `sregex_iterator` enumerates them. */
function searchAllNfa(re: CompiledRegex, s: string): Int32Array[] {
  const ex = new Executor(re.prog, s);
  const out: Int32Array[] = [];
  let prevAvail = false;
  let m = ex.search(0, false, false, prevAvail);
  while (m) {
    out.push(m);
    let start = m[1]!;
    if (m[0] === m[1]) {
      if (start === s.length) break;
      // An empty match: first try a non-empty match at the same place.
      const again = ex.search(start, true, true, prevAvail);
      if (again) {
        m = again;
        continue;
      }
      start++;
    }
    prevAvail = true;
    m = ex.search(start, false, false, prevAvail);
  }
  return out;
}

/**
 * `builtins.split`: the parts of `s` between matches alternating with the
 * lists of capture groups of each match.
 */
export function splitAll(re: CompiledRegex, s: string): (string | (string | null)[])[] {
  const out: (string | (string | null)[])[] = [];
  const js = re.jsSearch;
  if (js) {
    try {
      js.lastIndex = 0;
      let last = 0;
      let m: RegExpExecArray | null;
      while ((m = js.exec(s)) !== null) {
        out.push(s.slice(last, m.index));
        out.push(groupsFromExec(m, re.groupCount));
        last = m.index + m[0].length;
      }
      out.push(s.slice(last));
      return out;
    } catch {
      out.length = 0;
    } finally {
      js.lastIndex = 0;
    }
  }
  const ms = searchAllNfa(re, s);
  let last = 0;
  for (const m of ms) {
    out.push(s.slice(last, m[0]!));
    out.push(groupsFromPositions(s, m, re.prog.nsub));
    last = m[1]!;
  }
  out.push(s.slice(last));
  return out;
}

/** Debug aid: which engine a compiled pattern uses for match / split. */
export function regexEngines(re: CompiledRegex): { match: 'js' | 'nfa'; split: 'js' | 'nfa' } {
  return { match: re.jsMatch ? 'js' : 'nfa', split: re.jsSearch ? 'js' : 'nfa' };
}
