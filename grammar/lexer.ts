// The Nix tokenizer.
//
// A hand-written, context-sensitive scanner that reproduces the behaviour of
// CppNix's flex lexer: longest match between the competing token classes
// (identifiers, keywords, numbers, paths, URIs, operators), a stack of start
// conditions for strings, indented strings, `${ }` interpolation and paths
// with interpolation, and the same treatment of odd input (invalid bytes become
// an "invalid token", a NUL byte at top level ends the input, lexical errors
// such as an out-of-range integer are reported when the parser reaches them).
//
// It produces Chevrotain tokens, one at a time (Lexer.next, used by the
// parser) or as an array (lex, used for error diagnosis).  Every token type
// corresponds to one terminal of CppNix's (bison) grammar; see SYMBOLS below,
// whose order is the order bison uses when it lists expected tokens in syntax
// errors.
//
// Input and output strings are byte strings (see ast.ts).

import type { IToken, TokenType } from 'chevrotain';
import type { Source } from './ast.js';
import { toBytes } from './errors.js';
import { chevrotain } from './chevrotain.js';

const { createToken } = chevrotain;

/**
 * The terminals of the grammar, indexed by bison symbol number, with the name
 * bison shows for them in syntax errors.  Symbols 0..2 are bison's own
 * (end of input, `error`, undefined token).
 */
export const SYMBOLS: readonly (readonly [string, string])[] = [
  ['$end', 'end of file'],
  ['error', 'error'],
  ['$undefined', 'invalid token'],
  ['ID', 'identifier'],
  ['STR', 'string'],
  ['IND_STR', 'indented string'],
  ['INT_LIT', 'integer'],
  ['FLOAT_LIT', 'floating-point literal'],
  ['PATH', 'path'],
  ['HPATH', toBytes("'~/…' path")],
  ['SPATH', toBytes("'<…>' path")],
  ['PATH_END', 'end of path'],
  ['URI', 'URI'],
  ['IF', "'if'"],
  ['THEN', "'then'"],
  ['ELSE', "'else'"],
  ['ASSERT', "'assert'"],
  ['WITH', "'with'"],
  ['LET', "'let'"],
  ['IN_KW', "'in'"],
  ['REC', "'rec'"],
  ['INHERIT', "'inherit'"],
  ['EQ', "'=='"],
  ['NEQ', "'!='"],
  ['LEQ', "'<='"],
  ['GEQ', "'>='"],
  ['UPDATE', "'//'"],
  ['CONCAT', "'++'"],
  ['AND', "'&&'"],
  ['OR', "'||'"],
  ['IMPL', "'->'"],
  ['OR_KW', "'or'"],
  ['PIPE_FROM', "'<|'"],
  ['PIPE_INTO', "'|>'"],
  ['DOLLAR_CURLY', "'${'"],
  ['IND_STRING_OPEN', 'start of an indented string'],
  ['IND_STRING_CLOSE', 'end of an indented string'],
  ['ELLIPSIS', "'...'"],
  ['REPL_BINDINGS', 'start of REPL bindings'],
  ["'<'", "'<'"],
  ["'>'", "'>'"],
  ['NOT', 'NOT'],
  ["'+'", "'+'"],
  ["'-'", "'-'"],
  ["'*'", "'*'"],
  ["'/'", "'/'"],
  ["'?'", "'?'"],
  ['NEGATE', 'NEGATE'],
  ["':'", "':'"],
  ["'@'", "'@'"],
  ["';'", "';'"],
  ["'!'", "'!'"],
  ["'.'", "'.'"],
  ["'\"'", "'\"'"],
  ["'('", "'('"],
  ["')'", "')'"],
  ["'{'", "'{'"],
  ["'}'", "'}'"],
  ["'['", "'['"],
  ["']'", "']'"],
  ["'='", "'='"],
  ["','", "','"],
];

/** Bison symbol number of a terminal name. */
export function symbolNumber(name: string): number {
  const i = SYMBOLS.findIndex((s) => s[0] === name);
  if (i < 0) throw new Error(`unknown terminal ${name}`);
  return i;
}

const tokenBison: number[] = [];

// (All token types are created with a `categories` list, possibly empty, so
// that Chevrotain gives them all the same properties in the same order: code
// reading their fields then sees one hidden class.)

function tok(name: string, bison: string, categories: TokenType[] = []): TokenType {
  const t = createToken({ name, categories });
  tokenBison[t.tokenTypeIdx!] = symbolNumber(bison);
  return t;
}

function category(name: string): TokenType {
  return createToken({ name, categories: [] });
}

/** Token categories used by the parser. */
export const BinOp = category('BinOp');
export const PrefixOp = category('PrefixOp');
export const IndStrPart = category('IndStrPart');
export const PathStart = category('PathStart');

/** The token types. */
export const T = {
  ID: tok('ID', 'ID'),
  STR: tok('STR', 'STR'),
  /** An indented-string fragment subject to indentation stripping. */
  IND_STR: tok('IND_STR', 'IND_STR', [IndStrPart]),
  /** An indented-string fragment from an escape (`''$`, `'''`, `''\x`, lone `$` or `'`). */
  IND_STR_ESC: tok('IND_STR_ESC', 'IND_STR', [IndStrPart]),
  INT_LIT: tok('INT_LIT', 'INT_LIT'),
  FLOAT_LIT: tok('FLOAT_LIT', 'FLOAT_LIT'),
  PATH: tok('PATH', 'PATH', [PathStart]),
  HPATH: tok('HPATH', 'HPATH', [PathStart]),
  SPATH: tok('SPATH', 'SPATH'),
  PATH_END: tok('PATH_END', 'PATH_END'),
  URI: tok('URI', 'URI'),
  IF: tok('IF', 'IF'),
  THEN: tok('THEN', 'THEN'),
  ELSE: tok('ELSE', 'ELSE'),
  ASSERT: tok('ASSERT', 'ASSERT'),
  WITH: tok('WITH', 'WITH'),
  LET: tok('LET', 'LET'),
  IN: tok('IN', 'IN_KW'),
  REC: tok('REC', 'REC'),
  INHERIT: tok('INHERIT', 'INHERIT'),
  EQ: tok('EQ', 'EQ', [BinOp]),
  NEQ: tok('NEQ', 'NEQ', [BinOp]),
  LEQ: tok('LEQ', 'LEQ', [BinOp]),
  GEQ: tok('GEQ', 'GEQ', [BinOp]),
  UPDATE: tok('UPDATE', 'UPDATE', [BinOp]),
  CONCAT: tok('CONCAT', 'CONCAT', [BinOp]),
  AND: tok('AND', 'AND', [BinOp]),
  OR: tok('OR', 'OR', [BinOp]),
  IMPL: tok('IMPL', 'IMPL', [BinOp]),
  OR_KW: tok('OR_KW', 'OR_KW'),
  PIPE_FROM: tok('PIPE_FROM', 'PIPE_FROM', [BinOp]),
  PIPE_INTO: tok('PIPE_INTO', 'PIPE_INTO', [BinOp]),
  DOLLAR_CURLY: tok('DOLLAR_CURLY', 'DOLLAR_CURLY'),
  IND_STRING_OPEN: tok('IND_STRING_OPEN', 'IND_STRING_OPEN'),
  IND_STRING_CLOSE: tok('IND_STRING_CLOSE', 'IND_STRING_CLOSE'),
  ELLIPSIS: tok('ELLIPSIS', 'ELLIPSIS'),
  LT: tok('LT', "'<'", [BinOp]),
  GT: tok('GT', "'>'", [BinOp]),
  PLUS: tok('PLUS', "'+'", [BinOp]),
  MINUS: tok('MINUS', "'-'", [BinOp, PrefixOp]),
  STAR: tok('STAR', "'*'", [BinOp]),
  SLASH: tok('SLASH', "'/'", [BinOp]),
  QUESTION: tok('QUESTION', "'?'"),
  COLON: tok('COLON', "':'"),
  AT: tok('AT', "'@'"),
  SEMI: tok('SEMI', "';'"),
  BANG: tok('BANG', "'!'", [PrefixOp]),
  DOT: tok('DOT', "'.'"),
  DQUOTE: tok('DQUOTE', "'\"'"),
  LPAREN: tok('LPAREN', "'('"),
  RPAREN: tok('RPAREN', "')'"),
  LCURLY: tok('LCURLY', "'{'"),
  RCURLY: tok('RCURLY', "'}'"),
  LBRACKET: tok('LBRACKET', "'['"),
  RBRACKET: tok('RBRACKET', "']'"),
  EQUALS: tok('EQUALS', "'='"),
  COMMA: tok('COMMA', "','"),
  /** A byte that starts no token (bison's "invalid token"). */
  UNDEF: tok('UNDEF', '$undefined'),
  /** A lexical error (payload: the message); it is reported when the parser reaches it. */
  LEXERR: tok('LEXERR', 'error'),
} as const;

/** All token types (for the parser's vocabulary). */
export const ALL_TOKEN_TYPES: TokenType[] = [BinOp, PrefixOp, IndStrPart, PathStart, ...Object.values(T)];

/** Bison symbol number of a token (by its tokenTypeIdx). */
export function bisonSymbolOf(t: IToken): number {
  return tokenBison[t.tokenTypeIdx] ?? 2;
}

export interface LexOptions {
  /** Whether `|>` and `<|` are allowed (experimental feature `pipe-operators`). */
  pipeOperators: boolean;
}

export interface LexResult {
  tokens: IToken[];
  /** Offset reported for "unexpected end of file" (normally the text length). */
  eofOffset: number;
}

// Character classes.
const C_ID_START = 1;
const C_ID = 2;
const C_PATH = 4;
const C_DIGIT = 8;
const C_URI_SCHEME = 16;
const C_URI = 32;
const C_LETTER = 64;

const cls = new Uint8Array(256);
(() => {
  const add = (chars: string, f: number) => {
    for (let i = 0; i < chars.length; i++) cls[chars.charCodeAt(i)]! |= f;
  };
  const lower = 'abcdefghijklmnopqrstuvwxyz';
  const letters = lower + lower.toUpperCase();
  const digits = '0123456789';
  add(letters, C_ID_START | C_ID | C_PATH | C_URI_SCHEME | C_URI | C_LETTER);
  add('_', C_ID_START | C_ID | C_PATH | C_URI);
  add(digits, C_ID | C_PATH | C_DIGIT | C_URI_SCHEME | C_URI);
  add("'-", C_ID);
  add('.-+', C_PATH | C_URI_SCHEME);
  add("%/?:@&=+$,-_.!~*'", C_URI);
})();

/** The token types of the characters that are a token by themselves in any context of lexDefault (else null), and their images. */
const SINGLE: (TokenType | null)[] = new Array<TokenType | null>(256).fill(null);
const SINGLE_IMAGE: string[] = new Array<string>(256).fill('');
for (const [ch, type] of [
  ['(', T.LPAREN],
  [')', T.RPAREN],
  ['[', T.LBRACKET],
  [']', T.RBRACKET],
  [':', T.COLON],
  [';', T.SEMI],
  [',', T.COMMA],
  ['@', T.AT],
  ['?', T.QUESTION],
  ['*', T.STAR],
] as const) {
  SINGLE[ch.charCodeAt(0)] = type;
  SINGLE_IMAGE[ch.charCodeAt(0)] = ch;
}

// Lexer start conditions.
const S_INITIAL = 0;
const S_DEFAULT = 1;
const S_STRING = 2;
const S_IND_STRING = 3;
const S_INPATH = 4;
const S_INPATH_SLASH = 5;

const MAX_INT = 9223372036854775807n;
const DBL_MIN = 2.2250738585072014e-308;
const NUL_SIGN = toBytes('␀');

/**
 * Identifiers are interned: every occurrence of a name gets the same string
 * (one allocation per distinct name instead of one per occurrence, and less
 * memory kept alive by the AST).  An open-addressing table, shared by all
 * sources; it starts small (a lookup touches little memory, so it stays in
 * the CPU caches) and doubles when 3/4 full, up to INTERN_MAX_SIZE slots
 * (once that is 3/4 full, new names are simply not added).  The keywords are
 * in it from the start, with their token types.
 */
const INTERN_MAX_SIZE = 1 << 16;
/** Longer names are not interned. */
const INTERN_MAX_LEN = 256;

/**
 * text.slice(start, end) as a string of its own: V8 makes a slice of 13 or
 * more characters a view of the whole text, which would keep the text of
 * every source that contributed a name to the (long-lived) table alive.
 * (Identifiers are ASCII.)
 */
function ownString(text: string, start: number, end: number): string {
  if (end - start < 13) return text.slice(start, end);
  const codes: number[] = [];
  for (let k = start; k < end; k++) codes.push(text.charCodeAt(k));
  return String.fromCharCode(...codes);
}

/** The token types of the names in the table: ID, then the keywords (see below). */
const internKinds: TokenType[] = [T.ID];
let internSize = 1 << 12;
let internMask = internSize - 1;
/**
 * Four integers per slot: the name's hash, the offset of its bytes in
 * internPool (compared with the input's bytes), its length (0 in a free
 * slot) and its index in internKinds.
 */
let internMeta = new Int32Array(internSize * 4);
/** The name in each slot. */
let internNames: string[] = new Array<string>(internSize).fill('');
let internPool = new Uint8Array(1 << 16);
let internPoolUsed = 0;
let internCount = 0;

/** Adds a name (hash h, bytes b[start, start + len)) in a free slot. */
function internAdd(slot: number, h: number, name: string, kind: number, b: Uint8Array, start: number, len: number): void {
  if (internPoolUsed + len > internPool.length) {
    const bigger = new Uint8Array(Math.max(internPool.length * 2, internPoolUsed + len));
    bigger.set(internPool);
    internPool = bigger;
  }
  internPool.set(b.subarray(start, start + len), internPoolUsed);
  const m = slot << 2;
  internMeta[m] = h;
  internMeta[m + 1] = internPoolUsed;
  internMeta[m + 2] = len;
  internMeta[m + 3] = kind;
  internNames[slot] = name;
  internPoolUsed += len;
  if (++internCount > (internSize * 3) >> 2 && internSize < INTERN_MAX_SIZE) internGrow();
}

/** Doubles the table. */
function internGrow(): void {
  const oldMeta = internMeta;
  const oldNames = internNames;
  const oldSize = internSize;
  internSize *= 2;
  internMask = internSize - 1;
  internMeta = new Int32Array(internSize * 4);
  internNames = new Array<string>(internSize).fill('');
  for (let k = 0; k < oldSize; k++) {
    const m = k << 2;
    if (oldMeta[m + 2] === 0) continue;
    const h = oldMeta[m]!;
    let slot = (h ^ (h >>> 13)) & internMask;
    while (internMeta[(slot << 2) + 2] !== 0) slot = (slot + 1) & internMask;
    internMeta.set(oldMeta.subarray(m, m + 4), slot << 2);
    internNames[slot] = oldNames[k]!;
  }
}

/** Whether b[start, end) has a "'". */
function hasQuote(b: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] === 39) return true;
  return false;
}

/** Whether the name at offset `off` of the pool is b[start, start + len). */
function sameBytes(off: number, b: Uint8Array, start: number, len: number): boolean {
  const pool = internPool;
  for (let k = 0; k < len; k++) if (pool[off + k] !== b[start + k]) return false;
  return true;
}

for (const [kw, type] of [
  ['if', T.IF],
  ['then', T.THEN],
  ['else', T.ELSE],
  ['assert', T.ASSERT],
  ['with', T.WITH],
  ['let', T.LET],
  ['in', T.IN],
  ['rec', T.REC],
  ['inherit', T.INHERIT],
  ['or', T.OR_KW],
] as const) {
  // (the same hash as in lexIdent)
  let h = kw.charCodeAt(0);
  for (let k = 1; k < kw.length; k++) h = (h * 31 + kw.charCodeAt(k)) | 0;
  let slot = (h ^ (h >>> 13)) & internMask;
  while (internMeta[(slot << 2) + 2] !== 0) slot = (slot + 1) & internMask;
  internKinds.push(type);
  internAdd(slot, h, kw, internKinds.length - 1, Buffer.from(kw, 'latin1'), 0, kw.length);
}

/**
 * A Chevrotain token.  (Not made with createTokenInstance: a class with just
 * the fields Chevrotain reads plus our payload is smaller and keeps one hidden
 * class, which matters for multi-megabyte inputs.)
 */
export class Tok implements IToken {
  tokenTypeIdx: number;
  constructor(
    public tokenType: TokenType,
    public image: string,
    public startOffset: number,
    public endOffset: number,
    /** STR / IND_STR: the (unescaped) value; INT_LIT / FLOAT_LIT: the number; LEXERR: the message. */
    public payload: unknown,
  ) {
    this.tokenTypeIdx = tokenType.tokenTypeIdx!;
  }

  set(tokenType: TokenType, image: string, startOffset: number, endOffset: number, payload: unknown): this {
    this.tokenType = tokenType;
    this.tokenTypeIdx = tokenType.tokenTypeIdx!;
    this.image = image;
    this.startOffset = startOffset;
    this.endOffset = endOffset;
    this.payload = payload;
    return this;
  }
}

/** Zeros after the bytes of the text (the lexer looks at most 4 characters ahead). */
const BYTES_PAD = 8;
const EMPTY_BYTES = Buffer.alloc(BYTES_PAD);

/**
 * A byte buffer given back by a finished lexer (see Lexer.release), for the
 * next one: allocating a buffer per source (an ArrayBuffer, zeroed, counted as
 * external memory by the GC) costs more than filling one.  Buffers larger
 * than SPARE_MAX are not kept.
 */
let spare: Buffer | null = null;
const SPARE_MAX = 1 << 22;

/**
 * The characters of a byte string as bytes, followed by BYTES_PAD zeros (and
 * possibly more bytes of earlier texts, never read).  A character above 255
 * (not a byte string after all) becomes 128, a byte that is special nowhere in
 * the lexer, as such a character is (the token texts are taken from the
 * string itself).
 */
function toByteArray(text: string, start = 0, n = text.length): Buffer {
  let b = spare;
  if (b !== null && b.length >= n + BYTES_PAD) spare = null;
  else b = Buffer.allocUnsafeSlow(Math.max(n + BYTES_PAD, 1 << 12));
  // (with a range, only [start, n) is filled: the lexer never looks back)
  const part = start === 0 && n === text.length ? text : text.slice(start, n);
  if (!/[^\x00-\xff]/.test(part)) {
    b.write(part, start, n - start, 'latin1');
  } else {
    for (let i = start; i < n; i++) {
      const c = text.charCodeAt(i);
      b[i] = c < 256 ? c : 128;
    }
  }
  b.fill(0, n, n + BYTES_PAD);
  return b;
}

/**
 * The tokenizer, producing one token per `next(t)` call, written into the
 * given Tok object (the parser pulls tokens on demand into a small ring of
 * reused objects, so that tokenizing allocates little besides strings).  After the
 * end of the input (or a lexical error, which becomes a LEXERR token), `next`
 * returns end-of-file tokens forever.
 */
export class Lexer {
  private readonly text: string;
  private readonly n: number;
  private i = 0;
  private readonly stack: number[] = [S_INITIAL];
  private state = S_INITIAL;
  private done = false;
  /** Start of the previously returned token (PATH_END and trailing-slash errors are located there). */
  private prevStart = 0;
  /** Offset reported for "unexpected end of file" (normally the text length). */
  eofOffset: number;
  /** The object being filled by next(). */
  private t: Tok;
  /**
   * The text as bytes, followed by BYTES_PAD zeros (reading a typed array is
   * cheaper than charCodeAt, which dispatches on the string's representation).
   * Reads past the end give 0 here where charCodeAt gives NaN: no test below
   * distinguishes them (a NUL byte matters only before the end).
   */
  private bytes: Buffer;
  /** Whether the text has no CR (line comments then end at the next LF). */
  private readonly noCR: boolean;
  /** Whether the text has a NUL byte (strings then need to be checked for one). */
  private readonly hasNul: boolean;

  /**
   * With `range`, only the text [start, end) is read, as if the source ended
   * at `end` (offsets stay those of the whole source): see parseRange.
   */
  constructor(
    src: Source,
    private readonly opts: LexOptions,
    range?: { start: number; end: number },
  ) {
    this.text = src.text;
    this.n = range ? range.end : this.text.length;
    if (range) this.i = this.prevStart = range.start;
    this.bytes = toByteArray(this.text, range?.start, this.n);
    this.eofOffset = this.n;
    this.t = new Tok(chevrotain.EOF, '', 0, 0, undefined);
    this.noCR = this.text.indexOf('\r') < 0;
    this.hasNul = this.text.indexOf('\0') >= 0;
  }

  /**
   * Called when the lexer is no longer used (neither next() nor anything
   * else): its byte buffer may then serve the next lexer.
   */
  release(): void {
    const b = this.bytes;
    this.bytes = EMPTY_BYTES;
    this.done = true;
    if (b !== EMPTY_BYTES && b.length <= SPARE_MAX && (spare === null || spare.length < b.length)) spare = b;
  }

  private tok(type: TokenType, image: string, start: number, end: number, payload: unknown): Tok {
    this.prevStart = start;
    return this.t.set(type, image, start, end, payload);
  }

  private error(msg: string, pos: number): Tok {
    this.done = true;
    return this.t.set(T.LEXERR, '', pos, pos, msg);
  }

  private nulCheck(value: string, pos: number): Tok | null {
    if (!this.hasNul || value.indexOf('\0') < 0) return null;
    return this.error(
      `input string '${value.replace(/\0/g, NUL_SIGN)}' cannot be represented as Nix string because it contains null bytes`,
      pos,
    );
  }

  private pushState(s: number): void {
    this.stack.push(s);
    this.state = s;
  }

  private popState(): void {
    const st = this.stack;
    if (st.length > 1) st.pop();
    this.state = st[st.length - 1]!;
  }

  private setState(s: number): void {
    this.stack[this.stack.length - 1] = s;
    this.state = s;
  }

  /** End of a run of path characters starting at j. */
  private pathRun(j: number): number {
    const b = this.bytes;
    const n = this.n;
    while (j < n && (cls[b[j]!]! & C_PATH) !== 0) j++;
    return j;
  }

  /** From j (at a `/`), scans `(/PATH_CHAR+)+/?` and returns the end. */
  private pathSegments(j: number): number {
    const b = this.bytes;
    const n = this.n;
    while (b[j]! === 47 && j + 1 < n && (cls[b[j + 1]!]! & C_PATH) !== 0) {
      j = this.pathRun(j + 2);
    }
    if (b[j]! === 47) j++;
    return j;
  }

  /** A path literal [start, end): enters the path start conditions. */
  private pathTok(type: TokenType, start: number, end: number): Tok {
    const image = this.text.slice(start, end);
    this.i = end;
    this.pushState(this.bytes[end - 1]! === 47 ? S_INPATH_SLASH : S_INPATH);
    return this.tok(type, image, start, end - 1, image);
  }

  private op(type: TokenType, image: string, len: number): Tok {
    const i = this.i;
    this.i = i + len;
    this.prevStart = i;
    return this.t.set(type, image, i, i + len - 1, undefined);
  }

  /** Whether t is an end-of-file token. */
  static isEof(t: IToken): boolean {
    return t.tokenTypeIdx === chevrotain.EOF.tokenTypeIdx;
  }

  /** Reads the next token into t (and returns t). */
  next(t: Tok): Tok {
    this.t = t;
    if (this.state > S_DEFAULT || this.done) return this.nextSpecial();
    // The most frequent case inline: whitespace, then an identifier or keyword.
    // (The scan stops at the end of the text: the padding is not whitespace.)
    const b = this.bytes;
    let i = this.i;
    let c = b[i]!;
    while (c === 32 || c === 10 || c === 9 || c === 13) c = b[++i]!;
    this.i = i;
    if ((cls[c]! & C_ID_START) !== 0) return this.lexIdent(i, c);
    return this.lexDefault();
  }

  /** next() in the other start conditions, or after the end. */
  private nextSpecial(): Tok {
    if (this.done) return this.end();
    switch (this.state) {
      case S_STRING:
        return this.lexString();
      case S_IND_STRING:
        return this.lexIndString();
      default:
        return this.lexInPath();
    }
  }

  private end(): Tok {
    this.done = true;
    return this.t.set(chevrotain.EOF, '', this.n, this.n, undefined);
  }

  private lexDefault(): Tok {
    const text = this.text;
    const b = this.bytes;
    const n = this.n;
    let i = this.i;
    let c: number;
    // Whitespace and comments.
    for (;;) {
      if (i >= n) {
        this.i = i;
        return this.end();
      }
      c = b[i]!;
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        i++;
      } else if (c === 35) {
        // A line comment: up to the next LF or CR (most sources have no CR at all).
        if (this.noCR) {
          const e = text.indexOf('\n', i + 1);
          i = e < 0 ? n : e;
        } else {
          i++;
          while (i < n) {
            const d = b[i]!;
            if (d === 10 || d === 13) break;
            i++;
          }
        }
      } else if (c === 47 && b[i + 1]! === 42) {
        const e = text.indexOf('*/', i + 2);
        if (e < 0) break;
        i = e + 2;
      } else break;
    }
    this.i = i;
    // Identifiers and keywords (the most frequent tokens) first.
    if ((cls[c]! & C_ID_START) !== 0) return this.lexIdent(i, c);
    // Then the tokens of one character that is a token by itself.
    const single = SINGLE[c]!;
    if (single !== null) {
      this.i = i + 1;
      this.prevStart = i;
      return this.t.set(single, SINGLE_IMAGE[c]!, i, i, undefined);
    }
    switch (c) {
      case 47: {
        // '/'
        const d = b[i + 1]!;
        if (d === 47) return this.op(T.UPDATE, '//', 2);
        if (d === 36 && b[i + 2]! === 123) return this.pathTok(T.PATH, i, i + 1); // `/${`
        if (i + 1 < n && (cls[d]! & C_PATH) !== 0) return this.pathTok(T.PATH, i, this.pathSegments(i));
        return this.op(T.SLASH, '/', 1);
      }
      case 126: {
        // '~'
        if (b[i + 1]! === 47) {
          const d = b[i + 2]!;
          if (d === 36 && b[i + 3]! === 123) return this.pathTok(T.HPATH, i, i + 2); // `~/${`
          if (i + 2 < n && (cls[d]! & C_PATH) !== 0) return this.pathTok(T.HPATH, i, this.pathSegments(i + 1));
        }
        return this.op(T.UNDEF, '~', 1);
      }
      case 60: {
        // '<'
        const d = b[i + 1]!;
        if (i + 1 < n && (cls[d]! & C_PATH) !== 0) {
          // <PATH_CHAR+(/PATH_CHAR+)*>
          let j = this.pathRun(i + 1);
          while (b[j]! === 47 && j + 1 < n && (cls[b[j + 1]!]! & C_PATH) !== 0) {
            j = this.pathRun(j + 2);
          }
          if (b[j]! === 62) {
            const image = text.slice(i, j + 1);
            this.i = j + 1;
            return this.tok(T.SPATH, image, i, j, image);
          }
        }
        if (d === 61) return this.op(T.LEQ, '<=', 2);
        if (d === 124) {
          if (!this.opts.pipeOperators) return this.pipeError(i);
          return this.op(T.PIPE_FROM, '<|', 2);
        }
        return this.op(T.LT, '<', 1);
      }
      case 62:
        return b[i + 1]! === 61 ? this.op(T.GEQ, '>=', 2) : this.op(T.GT, '>', 1);
      case 61:
        return b[i + 1]! === 61 ? this.op(T.EQ, '==', 2) : this.op(T.EQUALS, '=', 1);
      case 33:
        return b[i + 1]! === 61 ? this.op(T.NEQ, '!=', 2) : this.op(T.BANG, '!', 1);
      case 38:
        return b[i + 1]! === 38 ? this.op(T.AND, '&&', 2) : this.op(T.UNDEF, '&', 1);
      case 124: {
        const d = b[i + 1]!;
        if (d === 124) return this.op(T.OR, '||', 2);
        if (d === 62) {
          if (!this.opts.pipeOperators) return this.pipeError(i);
          return this.op(T.PIPE_INTO, '|>', 2);
        }
        return this.op(T.UNDEF, '|', 1);
      }
      case 36:
        if (b[i + 1]! === 123) {
          this.pushState(S_DEFAULT);
          return this.op(T.DOLLAR_CURLY, '${', 2);
        }
        return this.op(T.UNDEF, '$', 1);
      case 123:
        this.pushState(S_DEFAULT);
        return this.op(T.LCURLY, '{', 1);
      case 125:
        if (this.state !== S_INITIAL) this.popState();
        return this.op(T.RCURLY, '}', 1);
      case 34:
        this.pushState(S_STRING);
        return this.op(T.DQUOTE, '"', 1);
      case 39: {
        if (b[i + 1]! === 39) {
          // `''( *\n)?`
          let j = i + 2;
          while (b[j]! === 32) j++;
          if (b[j]! === 10) j++;
          else j = i + 2;
          this.pushState(S_IND_STRING);
          return this.op(T.IND_STRING_OPEN, "''", j - i);
        }
        return this.op(T.UNDEF, "'", 1);
      }
      case 0:
        // flex hands a NUL byte to bison as token 0, i.e. the end of the input.
        this.eofOffset = i + 1;
        return this.end();
    }
    const k = cls[c]!;
    if ((k & C_PATH) === 0) return this.op(T.UNDEF, text[i]!, 1);
    // A path character: letters, digits, '.', '_', '-', '+'.  Paths and URIs
    // compete with identifiers, numbers and operators (longest match).
    const r = this.pathOrUri(i, this.pathRun(i + 1), k);
    if (r) return r;
    if ((k & C_DIGIT) !== 0) {
      // INT [0-9]+ or FLOAT (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?
      let e = i + 1;
      while (e < n && (cls[b[e]!]! & C_DIGIT) !== 0) e++;
      if (b[e]! === 46) {
        if (c !== 48) {
          let q = e + 1;
          while (q < n && (cls[b[q]!]! & C_DIGIT) !== 0) q++;
          return this.lexFloat(i, q);
        }
        if (e === i + 1) {
          let q = e + 1;
          while (q < n && (cls[b[q]!]! & C_DIGIT) !== 0) q++;
          if (q > e + 1) return this.lexFloat(i, q);
        }
      }
      let value: number | bigint;
      if (e - i <= 15) {
        // (exact: below 2^53)
        let v = 0;
        for (let q = i; q < e; q++) v = v * 10 + (b[q]! - 48);
        value = v;
      } else {
        const image = text.slice(i, e);
        const big = BigInt(image);
        if (big > MAX_INT) return this.error(`invalid integer '${image}'`, i);
        value = big <= 9007199254740991n ? Number(big) : big;
      }
      this.i = e;
      // (the image of an integer is not used)
      return this.tok(T.INT_LIT, '', i, e - 1, value);
    }
    if (c === 46) {
      // '.'
      const d = b[i + 1]!;
      if (d === 46 && b[i + 2]! === 46) return this.op(T.ELLIPSIS, '...', 3);
      if (i + 1 < n && (cls[d]! & C_DIGIT) !== 0) {
        let q = i + 2;
        while (q < n && (cls[b[q]!]! & C_DIGIT) !== 0) q++;
        return this.lexFloat(i, q);
      }
      return this.op(T.DOT, '.', 1);
    }
    if (c === 45) return b[i + 1]! === 62 ? this.op(T.IMPL, '->', 2) : this.op(T.MINUS, '-', 1);
    // '+'
    return b[i + 1]! === 43 ? this.op(T.CONCAT, '++', 2) : this.op(T.PLUS, '+', 1);
  }

  /** An identifier or keyword at i (c: its first character), unless a path or URI starts there. */
  private lexIdent(i: number, c: number): Tok {
    const text = this.text;
    const b = this.bytes;
    let e = i + 1;
    let h = c;
    // (The scan stops at the end of the text: the padding is no identifier character.)
    for (; ; e++) {
      const d = b[e]!;
      if ((cls[d]! & C_ID) === 0) break;
      h = (h * 31 + d) | 0;
    }
    // A path or URI may start here if the name is followed by one of their
    // characters and has no "'" (identifier characters are path characters,
    // except "'").
    const after = b[e]!;
    if ((after === 47 || after === 46 || after === 43 || after === 58) && !hasQuote(b, i, e)) {
      const r = this.pathOrUri(i, this.pathRun(e), cls[c]!);
      if (r) return r;
    }
    // The name, shared with its earlier occurrences (see internNames), and whether it is a keyword.
    const len = e - i;
    const meta = internMeta;
    let slot = (h ^ (h >>> 13)) & internMask;
    let name: string;
    let type: TokenType;
    for (;;) {
      const m = slot << 2;
      const l = meta[m + 2]!;
      if (l === 0) {
        type = T.ID;
        if (len <= INTERN_MAX_LEN && internCount < (INTERN_MAX_SIZE * 3) >> 2) {
          name = ownString(text, i, e);
          internAdd(slot, h, name, 0, b, i, len);
        } else {
          name = text.slice(i, e);
        }
        break;
      }
      if (meta[m] === h && l === len && sameBytes(meta[m + 1]!, b, i, len)) {
        name = internNames[slot]!;
        type = internKinds[meta[m + 3]!]!;
        break;
      }
      slot = (slot + 1) & internMask;
    }
    this.i = e;
    this.prevStart = i;
    return this.t.set(type, name, i, e - 1, undefined);
  }

  /**
   * A path or URI starting at i, given the end j of the run of path
   * characters from i (k: the class of the first character); null if none.
   */
  private pathOrUri(i: number, j: number, k: number): Tok | null {
    const text = this.text;
    const b = this.bytes;
    const n = this.n;
    const after = b[j]!;
    if (after === 47) {
      const d = b[j + 1]!;
      if (d === 36 && b[j + 2]! === 123) return this.pathTok(T.PATH, i, j + 1); // `seg/${`
      if (j + 1 < n && (cls[d]! & C_PATH) !== 0) return this.pathTok(T.PATH, i, this.pathSegments(j));
    } else if (after === 58 && (k & C_LETTER) !== 0) {
      // URI: [a-zA-Z][a-zA-Z0-9+.-]*:[URI chars]+
      for (let q = i + 1; q < j; q++) if ((cls[b[q]!]! & C_URI_SCHEME) === 0) return null;
      let e = j + 1;
      while (e < n && (cls[b[e]!]! & C_URI) !== 0) e++;
      if (e > j + 1) {
        const image = text.slice(i, e);
        this.i = e;
        return this.tok(T.URI, image, i, e - 1, image);
      }
    }
    return null;
  }

  private lexFloat(start: number, mantEnd: number): Tok {
    const text = this.text;
    const b = this.bytes;
    let e = mantEnd;
    const d = b[e]!;
    if (d === 69 || d === 101) {
      let q = e + 1;
      const s = b[q]!;
      if (s === 43 || s === 45) q++;
      const q0 = q;
      while (q < this.n && (cls[b[q]!]! & C_DIGIT) !== 0) q++;
      if (q > q0) e = q;
    }
    const image = text.slice(start, e);
    const v = parseFloat(image);
    // strtod's ERANGE: overflow, or underflow to a subnormal number or zero.
    if (!isFinite(v) || (v !== 0 && v < DBL_MIN) || (v === 0 && /[1-9]/.test(image.slice(0, mantissaLength(image))))) {
      return this.error(`invalid float '${image}'`, start);
    }
    this.i = e;
    return this.tok(T.FLOAT_LIT, image, start, e - 1, v);
  }

  private pipeError(pos: number): Tok {
    return this.error(
      "experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it",
      pos,
    );
  }

  /** Inside "…". */
  private lexString(): Tok {
    const text = this.text;
    const b = this.bytes;
    const n = this.n;
    const i = this.i;
    if (i >= n) return this.end();
    const c = b[i]!;
    if (c === 34) {
      this.popState();
      return this.op(T.DQUOTE, '"', 1);
    }
    if (c === 36 && b[i + 1]! === 123) {
      this.pushState(S_DEFAULT);
      return this.op(T.DOLLAR_CURLY, '${', 2);
    }
    // ([^$"\\]|\$[^{"\\]|\\ANY|\$\\ANY)* with a trailing '$' allowed before '"'
    let j = i;
    let plain = true;
    while (j < n) {
      const d = b[j]!;
      if (d === 34) break;
      if (d === 92) {
        if (j + 1 >= n) break;
        plain = false;
        j += 2;
      } else if (d === 36) {
        if (j + 1 >= n) break;
        const e = b[j + 1]!;
        if (e === 123) break;
        if (e === 34) {
          j++;
          break;
        }
        if (e === 92) {
          if (j + 2 >= n) break;
          plain = false;
          j += 3;
        } else {
          if (e === 13) plain = false;
          j += 2;
        }
      } else {
        if (d === 13) plain = false;
        j++;
      }
    }
    // Nothing matched: a lone '$', '\' or '$\' at the end of the input, for
    // which flex returns the end of the input.
    if (j === i) return this.end();
    const raw = text.slice(i, j);
    const value = plain ? raw : unescapeStr(raw);
    const err = this.nulCheck(value, i);
    if (err) return err;
    this.i = j;
    return this.tok(T.STR, raw, i, j - 1, value);
  }

  /** Inside ''…''. */
  private lexIndString(): Tok {
    const text = this.text;
    const b = this.bytes;
    const n = this.n;
    const i = this.i;
    if (i >= n) return this.end();
    const c = b[i]!;
    if (c === 39) {
      if (b[i + 1]! === 39) {
        const d = b[i + 2]!;
        if (d === 36) return this.indEsc("''$", 3, '$');
        if (d === 39) return this.indEsc("'''", 3, "''");
        if (d === 92 && i + 3 < n) {
          const value = unescapeStr(text.slice(i + 2, i + 4));
          const err = this.nulCheck(value, i);
          if (err) return err;
          return this.indEsc(text.slice(i, i + 4), 4, value);
        }
        this.popState();
        return this.op(T.IND_STRING_CLOSE, "''", 2);
      }
      const d = b[i + 1]!;
      if (d === 36 || i + 1 >= n) return this.indEsc("'", 1, "'");
    } else if (c === 36) {
      const d = b[i + 1]!;
      if (d === 123) {
        this.pushState(S_DEFAULT);
        return this.op(T.DOLLAR_CURLY, '${', 2);
      }
      if (d === 39 || i + 1 >= n) return this.indEsc('$', 1, '$');
    }
    // ([^$']|\$[^{']|'[^'$])+
    let j = i;
    while (j < n) {
      const d = b[j]!;
      if (d === 36 || d === 39) {
        if (j + 1 >= n) break;
        const e = b[j + 1]!;
        if (e === 39 || (d === 36 ? e === 123 : e === 36)) break;
        j += 2;
      } else j++;
    }
    const raw = text.slice(i, j);
    const err = this.nulCheck(raw, i);
    if (err) return err;
    this.i = j;
    return this.tok(T.IND_STR, raw, i, j - 1, raw);
  }

  private indEsc(image: string, len: number, value: string): Tok {
    const i = this.i;
    this.i = i + len;
    return this.tok(T.IND_STR_ESC, image, i, i + len - 1, value);
  }

  /** After a path literal (INPATH / INPATH_SLASH). */
  private lexInPath(): Tok {
    const text = this.text;
    const b = this.bytes;
    const n = this.n;
    const i = this.i;
    const c = i < n ? b[i]! : -1;
    if (c === 36 && b[i + 1]! === 123) {
      this.setState(S_INPATH);
      this.pushState(S_DEFAULT);
      return this.op(T.DOLLAR_CURLY, '${', 2);
    }
    // {PATH}|{PATH_SEG}|{PATH_CHAR}+
    if (c >= 0) {
      const j = this.pathRun(i);
      let e = -1;
      if (b[j]! === 47) {
        if (j + 1 < n && (cls[b[j + 1]!]! & C_PATH) !== 0) e = this.pathSegments(j);
        else e = j + 1;
      } else if (j > i) e = j;
      if (e > 0) {
        const raw = text.slice(i, e);
        this.i = e;
        this.setState(b[e - 1]! === 47 ? S_INPATH_SLASH : S_INPATH);
        return this.tok(T.STR, raw, i, e - 1, raw);
      }
    }
    if (this.state === S_INPATH_SLASH) {
      // Located at the offending character, or (at the end of the input)
      // where flex's location last was: the previous token.
      return this.error('path has a trailing slash', c >= 0 ? i : this.prevStart);
    }
    // End of the path: a zero-width PATH_END, located (as in CppNix) at the previous token.
    this.popState();
    const p = this.prevStart;
    return this.t.set(T.PATH_END, '', p, p - 1, undefined);
  }
}

/** Tokenizes a whole source (the parser itself pulls tokens from a Lexer). */
export function lex(src: Source, opts: LexOptions): LexResult {
  const lx = new Lexer(src, opts);
  const tokens: IToken[] = [];
  for (;;) {
    const t = lx.next(new Tok(chevrotain.EOF, '', 0, 0, undefined));
    if (Lexer.isEof(t)) break;
    tokens.push(t);
  }
  lx.release();
  return { tokens, eofOffset: lx.eofOffset };
}

function mantissaLength(image: string): number {
  const e = image.search(/[eE]/);
  return e < 0 ? image.length : e;
}

/** CppNix's string unescaping: `\n \r \t`, `\x` = x, and CR / CR LF turned into LF. */
export function unescapeStr(s: string): string {
  let out = '';
  const n = s.length;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      out += s.slice(start, i);
      const d = s[i + 1];
      if (d === undefined) {
        start = i + 1;
        break;
      }
      out += d === 'n' ? '\n' : d === 'r' ? '\r' : d === 't' ? '\t' : d;
      i++;
      start = i + 1;
    } else if (c === 13) {
      out += s.slice(start, i) + '\n';
      if (s.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  return out + s.slice(start);
}
