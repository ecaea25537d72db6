/**
 * TOML 1.0 parser with the behaviour of `builtins.fromTOML` in CppNix.
 *
 * CppNix parses with the toml11 library (version 4, TOML 1.0.0 spec, no
 * extensions) and converts the result to Nix values.  This module accepts
 * and rejects the same documents, produces the same values and reproduces
 * toml11's error report for the first error of a document, e.g.
 *
 *     [error] toml::parse_dec_integer: too large integer: current max digits = 2^63
 *      --> fromTOML
 *        |
 *      1 | attr = 9223372036854775808
 *        |                           ^-- must be < 2^63
 *
 * (CppNix prefixes that with "while parsing TOML: ").
 *
 * Input and output strings are Nix byte strings (one char per byte); strings
 * in the document are kept as the UTF-8 bytes they are written with, and
 * `\uXXXX` escapes are encoded to UTF-8 bytes.
 *
 * Representation of values:
 *  - tables: `Map<string, TomlValue>` in document order (CppNix sorts them
 *    anyway when building the attribute set);
 *  - integers: `bigint` (64-bit signed range; larger literals are errors);
 *  - floats: `{ float: number }` (a negative NaN, from `-nan`, carries the
 *    sign bit; CppNix prints it as `-nan`);
 *  - booleans, strings, arrays: JS booleans, strings and arrays;
 *  - dates and times: `TomlDateTime`, whose `value` is the text CppNix puts
 *    in `{ _type = "timestamp"; value = ...; }` when the experimental feature
 *    `parse-toml-timestamps` is on: "T" as delimiter, fractional seconds
 *    padded to 3, 6 or 9 digits (at most 9 kept), "Z" for a zero offset.
 *    Without that feature CppNix fails with "Dates and times are not
 *    supported" (see `parseToml`'s `timestamps` option).
 *
 * Known gap: after an error toml11 keeps parsing to collect further errors
 * and reports all of them (an error inside an array is even reported
 * twice); only the first one is reproduced here.
 */

// ---------------------------------------------------------------------------
// Public types

export class TomlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TomlError';
  }
}

export interface TomlFloat {
  readonly float: number;
}

export type TomlDateTimeKind = 'offset-datetime' | 'local-datetime' | 'local-date' | 'local-time';

export class TomlDateTime {
  constructor(
    readonly kind: TomlDateTimeKind,
    /** Formatted as CppNix does for `parse-toml-timestamps`. */
    readonly value: string,
  ) {}
}

export type TomlValue = string | bigint | boolean | TomlFloat | TomlDateTime | TomlValue[] | TomlTable;
export type TomlTable = Map<string, TomlValue>;

export interface ParseTomlOptions {
  /**
   * Accept dates and times (CppNix's experimental feature
   * `parse-toml-timestamps`).  When false (the default) a document containing
   * one fails with "Dates and times are not supported", like CppNix.
   */
  timestamps?: boolean;
}

/**
 * `builtins.fromTOML`: parses `text` and applies CppNix's conversion checks
 * (no NUL bytes in keys or strings; dates only with `timestamps`).  Throws
 * TomlError whose message is what CppNix prints after "while parsing TOML: ".
 */
export function parseToml(text: string, opts: ParseTomlOptions = {}): TomlTable {
  const table = parseTomlDocument(text);
  checkForNix(table, opts.timestamps ?? false);
  return table;
}

/** Parses a TOML document without the Nix-specific checks. */
export function parseTomlDocument(text: string): TomlTable {
  const p = new Parser(text);
  try {
    return toPublic(p.parseFile());
  } catch (e) {
    if (e instanceof Fail) throw new TomlError(formatError(e.info));
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Nix conversion checks

/** U+2400 SYMBOL FOR NULL, as UTF-8 bytes. */
const NUL_SYMBOL = '\xe2\x90\x80';

function checkString(s: string): void {
  if (s.includes('\0')) {
    throw new TomlError(
      `error: input string '${s.replace(/\0/g, NUL_SYMBOL)}' cannot be represented as Nix string because it contains null bytes`,
    );
  }
}

function checkForNix(v: TomlValue, timestamps: boolean): void {
  if (typeof v === 'string') {
    checkString(v);
  } else if (v instanceof Map) {
    for (const [k, x] of v) {
      checkString(k);
      checkForNix(x, timestamps);
    }
  } else if (Array.isArray(v)) {
    for (const x of v) checkForNix(x, timestamps);
  } else if (v instanceof TomlDateTime) {
    if (!timestamps) throw new TomlError('Dates and times are not supported');
  }
}

// ---------------------------------------------------------------------------
// Sources, regions and toml11-style error reports

interface Source {
  readonly text: string;
  readonly name: string;
}

function lineOf(src: Source, pos: number): number {
  let n = 1;
  const t = src.text;
  let i = t.indexOf('\n');
  while (i >= 0 && i < pos) {
    n++;
    i = t.indexOf('\n', i + 1);
  }
  return n;
}

/**
 * A span of a source, with toml11's line bookkeeping.  Line numbers are
 * computed lazily (only error reports need them): `lineA`/`lineB` are the
 * positions whose lines are the first/last line (-1: line 0).
 */
interface Region {
  src: Source;
  first: number;
  last: number;
  length: number;
  lineA: number;
  lineB: number;
}

/** toml11 `region(loc)`: the character at `pos` (or the last one at EOF). */
function regionAt(src: Source, pos: number): Region {
  if (pos >= src.text.length) {
    if (pos === 0) return { src, first: 0, last: 0, length: 0, lineA: -1, lineB: -1 };
    return { src, first: pos - 1, last: pos, length: 1, lineA: pos - 1, lineB: pos };
  }
  return { src, first: pos, last: pos + 1, length: 1, lineA: pos, lineB: pos };
}

/** toml11 `region(first, last)`. */
function regionSpan(src: Source, a: number, b: number): Region {
  return { src, first: a, last: b, length: b - a, lineA: a, lineB: b };
}

function firstLineOf(r: Region): number {
  return r.lineA < 0 ? 0 : lineOf(r.src, r.lineA);
}

function lastLineOf(r: Region): number {
  return r.lineB < 0 ? 0 : lineOf(r.src, r.lineB);
}

/** toml11 `region::take_line`: the line(s) around [begin, end], capped. */
function takeLine(src: Source, begin: number, end: number): [string, number] {
  const t = src.text;
  const cappedBegin = begin <= 30 ? 0 : begin - 30;
  const cappedEnd = t.length - end <= 30 ? t.length : end + 30;
  let lfBefore = begin; // position after the LF found, or cappedBegin
  while (lfBefore > cappedBegin && t[lfBefore - 1] !== '\n') lfBefore--;
  let lfAfter = t.indexOf('\n', end);
  if (lfAfter < 0 || lfAfter > cappedEnd) lfAfter = cappedEnd;
  let offset = begin - lfBefore;
  let s = t.slice(lfBefore, lfAfter);
  if (lfBefore !== 0 && t[lfBefore - 1] !== '\n') {
    s = '... ' + s;
    offset += 4;
  }
  if (lfAfter !== t.length && t[lfAfter] !== '\n') s = s + ' ...';
  return [s, offset];
}

/** toml11 `region::as_lines`. */
function asLines(r: Region): [string, number][] {
  if (r.length === 0) return [['', 0]];
  const t = r.src.text;
  const begin = r.first;
  const end = r.last - 1;
  const firstLine = firstLineOf(r);
  const lastLine = lastLineOf(r);
  if (firstLine === lastLine) return [takeLine(r.src, begin, end)];
  const afterBegin = t.length - begin;
  const beforeEnd = end;
  const cappedFileEnd = afterBegin > 60 ? begin + 50 : t.length;
  const cappedFileBegin = beforeEnd > 60 ? end - 50 : 0;
  let firstLineEnd = t.indexOf('\n', begin);
  if (firstLineEnd < 0 || firstLineEnd >= cappedFileEnd) firstLineEnd = cappedFileEnd;
  let lastLineBegin = t.indexOf('\n', cappedFileBegin);
  if (lastLineBegin < 0 || lastLineBegin >= end) lastLineBegin = end;
  const firstL = takeLine(r.src, begin, firstLineEnd);
  const lastL = takeLine(r.src, lastLineBegin, end);
  if (firstLine + 1 === lastLine) return [firstL, lastL];
  return [firstL, ['...', 0], lastL];
}

interface SourceLocation {
  name: string;
  firstLine: number;
  lastLine: number;
  length: number;
  lines: string[];
  firstOffset: number;
  lastOffset: number;
}

function sourceLocation(r: Region): SourceLocation {
  const ls = asLines(r);
  return {
    name: r.src.name,
    firstLine: firstLineOf(r),
    lastLine: lastLineOf(r),
    length: r.length,
    lines: ls.map((x) => x[0]),
    firstOffset: ls[0]![1] + 1,
    lastOffset: ls[ls.length - 1]![1] + 1,
  };
}

interface ErrorInfo {
  title: string;
  locs: [Region, string][];
  suffix: string;
}

function errorInfo(title: string, locs: [Region, string][], suffix = ''): ErrorInfo {
  return { title, locs, suffix };
}

class Fail {
  constructor(readonly info: ErrorInfo) {}
}

function fail(title: string, r: Region, msg: string, suffix = ''): never {
  throw new Fail(errorInfo(title, [[r, msg]], suffix));
}

function intWidth(i: number): number {
  let w = 0;
  while (i !== 0) {
    i = Math.floor(i / 10);
    w++;
  }
  return w;
}

const CHAR_NAMES: Record<number, string> = {
  0x00: '(NUL)',
  0x20: '(SPACE)',
  0x0a: '(LINE FEED)',
  0x0d: '(CARRIAGE RETURN)',
  0x09: '(TAB)',
  0x0b: '(VERTICAL TAB)',
  0x0c: '(FORM FEED)',
  0x1b: '(ESCAPE)',
};

function isGraph(c: number): boolean {
  return c >= 0x21 && c <= 0x7e;
}

/** toml11 `show_char`. */
function showChar(c: number): string {
  if (isGraph(c)) return String.fromCharCode(c);
  return '0x' + (c & 0xff).toString(16).padStart(2, '0') + (CHAR_NAMES[c] ?? '');
}

function formatLine(lnw: number, num: number, line: string): string {
  let out = ' ' + String(num).padStart(lnw, ' ') + ' | ';
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    out += isGraph(c) || c === 0x20 ? line[i] : showChar(c);
  }
  return out + '\n';
}

function formatUnderline(lnw: number, col: number, len: number, msg: string): string {
  return ' '.repeat(lnw + 1) + ' | ' + ' '.repeat(col === 0 ? 0 : col - 1) + '^'.repeat(Math.max(len, 0)) + '-- ' + msg + '\n';
}

function formatLocation(lnw: number, prevName: string, loc: SourceLocation, msg: string): string {
  let out = '';
  if (loc.name !== prevName) {
    out += ' --> ' + loc.name + '\n';
    if (loc.lines.length > 0) out += ' '.repeat(lnw + 1) + ' |\n';
  }
  const n = loc.lines.length;
  const firstLine = loc.lines[0] ?? '';
  const lastLine = loc.lines[n - 1] ?? '';
  if (n === 1) {
    const limit = firstLine.length < loc.firstOffset ? 1 : firstLine.length - loc.firstOffset + 1;
    out += formatLine(lnw, loc.firstLine, firstLine);
    out += formatUnderline(lnw, loc.firstOffset, Math.min(limit, loc.length), msg);
  } else if (n === 2) {
    out += formatLine(lnw, loc.firstLine, firstLine);
    out += formatUnderline(lnw, loc.firstOffset, firstLine.length - loc.firstOffset + 1, '');
    out += formatLine(lnw, loc.lastLine, lastLine);
    out += formatUnderline(lnw, 1, loc.lastOffset, msg);
  } else if (n > 2) {
    out += formatLine(lnw, loc.firstLine, firstLine);
    out += formatUnderline(lnw, loc.firstOffset, firstLine.length - loc.firstOffset + 1, 'and');
    if (n === 3) {
      const mid = loc.lines[1]!;
      out += formatLine(lnw, loc.firstLine + 1, mid);
      out += formatUnderline(lnw, 1, mid.length, 'and');
    } else {
      out += formatLine(lnw, loc.firstLine + 1, ' ...');
      out += ' '.repeat(lnw + 1) + ' |\n';
    }
    out += formatLine(lnw, loc.lastLine, lastLine);
    out += formatUnderline(lnw, 1, loc.lastOffset, msg);
  }
  return out;
}

/** toml11 `format_error`. */
function formatError(e: ErrorInfo): string {
  let out = '[error] ' + e.title + '\n';
  const locs = e.locs.map(([r, m]) => [sourceLocation(r), m] as const);
  let lnw = 0;
  for (const [l] of locs) lnw = Math.max(lnw, intWidth(l.lastLine));
  let first = true;
  let prevName = '';
  for (const [l, m] of locs) {
    if (!first) out += ' '.repeat(lnw + 1) + ' | ...\n' + ' '.repeat(lnw + 1) + ' |\n';
    out += formatLocation(lnw, prevName, l, m);
    prevName = l.name;
    first = false;
  }
  return out + e.suffix;
}

// ---------------------------------------------------------------------------
// Scanners (the TOML grammar), with toml11's "expected ..." descriptions

interface Scanner {
  /** New position after a match, or -1. */
  scan(t: string, pos: number): number;
  /** What was expected where scanning fails, and that position. */
  expected(t: string, pos: number): [string, number];
}

const ch = (c: string | number): Scanner => {
  const code = typeof c === 'number' ? c : c.charCodeAt(0);
  return {
    scan: (t, p) => (p < t.length && t.charCodeAt(p) === code ? p + 1 : -1),
    expected: (_t, p) => [showChar(code), p],
  };
};

const chEither = (cs: string): Scanner => ({
  scan: (t, p) => (p < t.length && cs.includes(t[p]!) ? p + 1 : -1),
  expected: (_t, p) => {
    const parts = [...cs].map((c) => showChar(c.charCodeAt(0)));
    if (parts.length === 1) return [parts[0]!, p];
    if (parts.length === 2) return [parts[0] + ' or ' + parts[1], p];
    return [parts.map((x, i) => (i + 1 === parts.length ? 'or ' + x : x)).join(', '), p];
  },
});

const inRange = (a: number, b: number): Scanner => ({
  scan: (t, p) => {
    if (p >= t.length) return -1;
    const c = t.charCodeAt(p);
    return a <= c && c <= b ? p + 1 : -1;
  },
  expected: (_t, p) => ['from `' + showChar(a) + '` to `' + showChar(b) + '`', p],
});

const lit = (s: string): Scanner => ({
  scan: (t, p) => (t.startsWith(s, p) ? p + s.length : -1),
  expected: (_t, p) => [s, p],
});

const seq = (...xs: Scanner[]): Scanner => ({
  scan: (t, p) => {
    for (const x of xs) {
      p = x.scan(t, p);
      if (p < 0) return -1;
    }
    return p;
  },
  expected: (t, p) => {
    for (const x of xs) {
      const q = x.scan(t, p);
      if (q < 0) return x.expected(t, p);
      p = q;
    }
    return ['', p];
  },
});

const either = (...xs: Scanner[]): Scanner => ({
  scan: (t, p) => {
    for (const x of xs) {
      const q = x.scan(t, p);
      if (q >= 0) return q;
    }
    return -1;
  },
  // toml11 threads the same (mutated) location through every alternative.
  expected: (t, p) => {
    let [out, q] = xs[0]!.expected(t, p);
    for (let i = 1; i < xs.length; i++) {
      const [e, r] = xs[i]!.expected(t, q);
      q = r;
      out += xs.length === 2 ? ' or ' + e : ', ' + (i + 1 === xs.length ? 'or ' : '') + e;
    }
    return [out, q];
  },
});

const repeatExact = (n: number, x: Scanner): Scanner => ({
  scan: (t, p) => {
    for (let i = 0; i < n; i++) {
      p = x.scan(t, p);
      if (p < 0) return -1;
    }
    return p;
  },
  expected: (t, p) => {
    for (let i = 0; i < n; i++) {
      const q = x.scan(t, p);
      if (q < 0) return x.expected(t, p);
      p = q;
    }
    return ['', p];
  },
});

const repeatAtLeast = (n: number, x: Scanner): Scanner => ({
  scan: (t, p) => {
    for (let i = 0; i < n; i++) {
      p = x.scan(t, p);
      if (p < 0) return -1;
    }
    while (p < t.length) {
      const q = x.scan(t, p);
      if (q < 0) return p;
      p = q;
    }
    return p;
  },
  expected: (t, p) => {
    for (let i = 0; i < n; i++) {
      const q = x.scan(t, p);
      if (q < 0) return x.expected(t, p);
      p = q;
    }
    return ['', p];
  },
});

const maybe = (x: Scanner): Scanner => ({
  scan: (t, p) => {
    const q = x.scan(t, p);
    return q < 0 ? p : q;
  },
  expected: (_t, p) => ['', p],
});

const named = (desc: string, x: Scanner): Scanner => ({
  scan: x.scan,
  expected: (_t, p) => [desc, p],
});

const utf8_2 = seq(inRange(0xc2, 0xdf), inRange(0x80, 0xbf));
const utf8_3 = seq(
  either(
    seq(ch(0xe0), inRange(0xa0, 0xbf)),
    seq(inRange(0xe1, 0xec), inRange(0x80, 0xbf)),
    seq(ch(0xed), inRange(0x80, 0x9f)),
    seq(inRange(0xee, 0xef), inRange(0x80, 0xbf)),
  ),
  inRange(0x80, 0xbf),
);
const utf8_4 = seq(
  either(seq(ch(0xf0), inRange(0x90, 0xbf)), seq(inRange(0xf1, 0xf3), inRange(0x80, 0xbf)), seq(ch(0xf4), inRange(0x80, 0x8f))),
  inRange(0x80, 0xbf),
  inRange(0x80, 0xbf),
);
const nonAscii = named('non-ascii utf-8 bytes', either(utf8_2, utf8_3, utf8_4));

const wschar = chEither(' \t');
const ws = repeatAtLeast(0, wschar);
const newline = either(ch('\n'), lit('\r\n'));
const allowedCommentChar = either(ch(0x09), inRange(0x20, 0x7e), nonAscii);
const comment = seq(ch('#'), repeatAtLeast(0, allowedCommentChar));
const booleanS = either(lit('true'), lit('false'));
const digit = named('digit [0-9]', inRange(0x30, 0x39));
const alpha = named('alpha [a-zA-Z]', either(inRange(0x61, 0x7a), inRange(0x41, 0x5a)));
const hexdig = named('hex [0-9a-fA-F]', either(digit, inRange(0x61, 0x66), inRange(0x41, 0x46)));
const underscored = (d: Scanner): Scanner => repeatAtLeast(0, either(d, seq(ch('_'), d)));
const decInt = seq(
  maybe(chEither('+-')),
  either(seq(inRange(0x31, 0x39), repeatAtLeast(1, either(digit, seq(ch('_'), digit)))), digit),
);
const hexInt = seq(lit('0x'), hexdig, underscored(hexdig));
const digit07 = inRange(0x30, 0x37);
const octInt = seq(lit('0o'), digit07, underscored(digit07));
const digit01 = chEither('01');
const binInt = seq(lit('0b'), digit01, underscored(digit01));
const integerS = either(hexInt, octInt, binInt, decInt);
const zeroPrefixableInt = seq(digit, underscored(digit));
const fractionalPart = seq(ch('.'), zeroPrefixableInt);
const exponentPart = seq(chEither('eE'), maybe(chEither('+-')), zeroPrefixableInt);
const floatingS = either(
  seq(decInt, either(exponentPart, seq(fractionalPart, maybe(exponentPart)))),
  seq(maybe(chEither('+-')), either(lit('inf'), lit('nan'))),
);
const digits2 = repeatExact(2, digit);
const localDateS = seq(repeatExact(4, digit), ch('-'), digits2, ch('-'), digits2);
const localTimeS = seq(digits2, ch(':'), digits2, ch(':'), digits2, maybe(seq(ch('.'), repeatAtLeast(1, digit))));
const timeOffsetS = either(chEither('zZ'), seq(chEither('+-'), digits2, ch(':'), digits2));
const timeDelim = chEither('Tt ');
const localDatetimeS = seq(localDateS, timeDelim, localTimeS);
const offsetDatetimeS = seq(localDateS, timeDelim, seq(localTimeS, timeOffsetS));
const escaped = seq(
  ch('\\'),
  either(chEither('"\\bfnrt'), seq(ch('u'), repeatExact(4, hexdig)), seq(ch('U'), repeatExact(8, hexdig))),
);
const basicChar = either(either(wschar, ch(0x21), inRange(0x23, 0x5b), inRange(0x5d, 0x7e), nonAscii), escaped);
const basicStringS = seq(ch('"'), repeatAtLeast(0, basicChar), ch('"'));
const escapedNewline = seq(ch('\\'), ws, newline, repeatAtLeast(0, either(wschar, newline)));
const mlbContent = either(basicChar, newline, escapedNewline);
const mlbQuotes = either(lit('""'), ch('"'));
const mlBasicStringS = seq(
  lit('"""'),
  maybe(newline),
  repeatAtLeast(0, mlbContent),
  repeatAtLeast(0, seq(mlbQuotes, repeatAtLeast(1, mlbContent))),
  lit('"""'),
  maybe(mlbQuotes),
);
const literalChar = either(ch(0x09), inRange(0x20, 0x26), inRange(0x28, 0x7e), nonAscii);
const literalStringS = seq(ch("'"), repeatAtLeast(0, literalChar), ch("'"));
const mllContent = either(literalChar, newline);
const mllQuotes = either(lit("''"), ch("'"));
const mlLiteralStringS = seq(
  lit("'''"),
  maybe(newline),
  repeatAtLeast(0, mllContent),
  repeatAtLeast(0, seq(mllQuotes, repeatAtLeast(1, mllContent))),
  lit("'''"),
  maybe(mllQuotes),
);
const unquotedKey = repeatAtLeast(1, either(alpha, digit, ch(0x2d), ch(0x5f)));
const simpleKey = either(unquotedKey, either(basicStringS, literalStringS));
const dotSep = seq(ws, ch('.'), ws);
const keyS = named(
  'basic key([a-zA-Z0-9_-]) or quoted key(" or \')',
  either(seq(simpleKey, repeatAtLeast(1, seq(dotSep, simpleKey))), simpleKey),
);
const keyvalSep = seq(ws, ch('='), ws);
const stdTableS = seq(ch('['), ws, keyS, ws, ch(']'));
const arrayTableS = seq(lit('[['), ws, keyS, ws, lit(']]'));
const wsBracket = seq(ws, ch('['));
const wsNewline = seq(ws, newline);
const commentNewline = seq(comment, newline);
const spaces1 = repeatAtLeast(1, ch(' '));
const tabs1 = repeatAtLeast(1, ch('\t'));

// ---------------------------------------------------------------------------
// Internal document model

type TableFmt = 'implicit' | 'dotted' | 'multiline' | 'oneline';

class TTable {
  readonly map = new Map<string, Node>();
  constructor(
    public fmt: TableFmt,
    public reg: Region,
  ) {}
}

class TArray {
  constructor(
    readonly items: Node[],
    /** true for arrays of tables defined with [[...]] */
    readonly aot: boolean,
    public reg: Region,
  ) {}
}

class TLeaf {
  constructor(
    readonly value: string | bigint | boolean | TomlFloat | TomlDateTime,
    readonly reg: Region,
  ) {}
}

type Node = TTable | TArray | TLeaf;

function isArrayOfTables(n: Node): n is TArray {
  return n instanceof TArray && n.items.length > 0 && n.items.every((x) => x instanceof TTable);
}

function toPublic(t: TTable): TomlTable {
  const out: TomlTable = new Map();
  for (const [k, v] of t.map) out.set(k, nodeToPublic(v));
  return out;
}

function nodeToPublic(n: Node): TomlValue {
  if (n instanceof TTable) return toPublic(n);
  if (n instanceof TArray) return n.items.map(nodeToPublic);
  return n.value;
}

// ---------------------------------------------------------------------------
// Values

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

interface LocalTime {
  hour: number;
  minute: number;
  second: number;
  ms: number;
  us: number;
  ns: number;
}

function formatDate(d: LocalDate): string {
  return pad(d.year, 4) + '-' + pad(d.month, 2) + '-' + pad(d.day, 2);
}

function formatTime(t: LocalTime): string {
  let s = pad(t.hour, 2) + ':' + pad(t.minute, 2) + ':' + pad(t.second, 2);
  if (t.ms !== 0 || t.us !== 0 || t.ns !== 0) {
    s += '.' + pad(t.ms, 3);
    if (t.us !== 0 || t.ns !== 0) {
      s += pad(t.us, 3);
      if (t.ns !== 0) s += pad(t.ns, 3);
    }
  }
  return s;
}

function formatOffset(hour: number, minute: number): string {
  if (hour === 0 && minute === 0) return 'Z';
  let m = hour * 60 + minute;
  let sign = '+';
  if (m < 0) {
    sign = '-';
    m = -m;
  }
  return sign + pad(Math.floor(m / 60), 2) + ':' + pad(m % 60, 2);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

function negativeNaN(): number {
  const f = new Float64Array([NaN]);
  const b = new Uint8Array(f.buffer);
  b[7] = b[7]! | 0x80;
  return f[0]!;
}

/** UTF-8 bytes (as a byte string) of a code point. */
function utf8(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return String.fromCharCode(
    0xf0 | (cp >> 18),
    0x80 | ((cp >> 12) & 0x3f),
    0x80 | ((cp >> 6) & 0x3f),
    0x80 | (cp & 0x3f),
  );
}

// ---------------------------------------------------------------------------
// Parser (follows toml11's structure so errors come out the same)

const HINT_INT = 'Hint: valid  : -42, 1_000, 1_2_3_4_5, 0xC0FFEE, 0b0010, 0o755\nHint: invalid: _42, 1__000, 0123\n';
const HINT_FLOAT = 'Hint: valid  : +1.0, -2e-2, 3.141_592_653_589, inf, nan\nHint: invalid: .0, 1., _1.0, 1.0_, 1_.0, 1.0__0\n';
const HINT_TIME =
  'Hint: valid  : 1979-05-27T07:32:00, 1979-05-27 07:32:00.999999\nHint: invalid: 1979-05-27T7:32:00, 1979-05-27 17:32\n';

type ValueKind =
  | 'boolean'
  | 'integer'
  | 'floating'
  | 'string'
  | 'offset_datetime'
  | 'local_datetime'
  | 'local_date'
  | 'local_time'
  | 'array'
  | 'table';

type InsertKind = 'std_table' | 'array_table' | 'dotted_keys';

class Parser {
  private readonly src: Source;
  private readonly t: string;
  private pos = 0;

  constructor(text: string) {
    let t = text;
    if (t.length > 0 && t[t.length - 1] !== '\n' && t[t.length - 1] !== '\r') t += '\n';
    this.t = t;
    this.src = { text: t, name: 'fromTOML' };
  }

  private eof(p = this.pos): boolean {
    return p >= this.t.length;
  }
  private cur(p = this.pos): string {
    return p < this.t.length ? this.t[p]! : '\0';
  }
  private at(p: number): Region {
    return regionAt(this.src, p);
  }
  private span(a: number, b: number): Region {
    return regionSpan(this.src, a, b);
  }

  /** toml11 make_syntax_error: "expected ..." at the point the scanner fails. */
  private syntaxError(title: string, s: Scanner, p: number, suffix = ''): never {
    const [exp, q] = s.expected(this.t, p);
    fail(title, this.at(q), 'expected ' + exp, suffix);
  }

  parseFile(): TTable {
    const root = new TTable('multiline', this.at(0));
    if (this.t.length === 0) return root;
    if (this.t.startsWith('\xef\xbb\xbf')) this.pos = 3;
    const first = this.pos;

    // Leading comment lines.
    while (!this.eof()) {
      const c = this.parseCommentLine(this.pos);
      if (c.found) {
        this.pos = c.pos;
      } else {
        const q = wsNewline.scan(this.t, this.pos);
        if (q < 0) this.pos = first;
        else this.pos = q;
        break;
      }
    }

    this.pos = this.parseTable(this.pos, root);

    while (!this.eof()) {
      this.pos = this.skipMultilineSpacer(this.pos, true).pos;
      const start = this.pos;
      let kind: InsertKind | null = null;
      let end = arrayTableS.scan(this.t, start);
      if (end >= 0) kind = 'array_table';
      else {
        end = stdTableS.scan(this.t, start);
        if (end >= 0) kind = 'std_table';
      }
      if (kind === null) {
        if (this.t.startsWith('[[', start)) {
          this.syntaxError('toml::parse_file: invalid array-table key', arrayTableS, start);
        }
        this.syntaxError('toml::parse_file: invalid table key', stdTableS, start);
      }
      const reg = this.span(start, end);
      let p = ws.scan(this.t, start + (kind === 'array_table' ? 2 : 1));
      const keys = this.parseKey(p);
      p = ws.scan(this.t, keys.end);
      p += kind === 'array_table' ? 2 : 1;

      const c = this.parseCommentLine(p);
      if (c.found) {
        p = c.pos;
      } else {
        p = ws.scan(this.t, p);
        if (!this.eof(p)) {
          const q = newline.scan(this.t, p);
          if (q < 0) this.syntaxError('toml::parse_file: newline (or EOF) expected', newline, p);
          p = q;
        }
      }
      const tab = new TTable('multiline', reg);
      const target = this.insertValue(kind, root, keys.keys, reg, tab);
      this.pos = this.parseTable(p, target as TTable);
    }
    return root;
  }

  /** Skips `ws comment newline`; {found: false} leaves the position alone. */
  private parseCommentLine(p0: number): { found: boolean; pos: number } {
    const t = this.t;
    const p = ws.scan(t, p0);
    const q = comment.scan(t, p);
    if (q < 0) return { found: false, pos: p0 };
    if (this.eof(q)) return { found: true, pos: q };
    const r = newline.scan(t, q);
    if (r >= 0) return { found: true, pos: r };
    // toml11 skips to the next line before reporting.
    let loc = q;
    while (!this.eof(loc)) {
      loc++;
      if (this.cur(loc) === '\n') {
        loc++;
        break;
      }
    }
    fail(
      'toml::parse_comment_line: newline (LF / CRLF) or EOF is expected',
      this.at(loc),
      'but got this',
      'Hint: most of the control characters are not allowed in comments',
    );
  }

  private skipMultilineSpacer(p: number, newlineFound = false): { found: boolean; newline: boolean; pos: number } {
    const t = this.t;
    let found = false;
    let nl = newlineFound;
    while (!this.eof(p)) {
      let q = commentNewline.scan(t, p);
      if (q >= 0) {
        nl = true;
        found = true;
        p = q;
        continue;
      }
      q = newline.scan(t, p);
      if (q >= 0) {
        nl = true;
        found = true;
        p = q;
        continue;
      }
      q = spaces1.scan(t, p);
      if (q < 0) q = tabs1.scan(t, p);
      if (q >= 0) {
        found = true;
        p = q;
        continue;
      }
      break;
    }
    return { found, newline: nl, pos: p };
  }

  /** Key/value lines of a table, up to the next table header. */
  private parseTable(p: number, table: TTable): number {
    let newlineFound = true;
    while (!this.eof(p)) {
      const start = p;
      const sp = this.skipMultilineSpacer(p, newlineFound);
      p = sp.pos;
      if (this.eof(p)) break;
      if (wsBracket.scan(this.t, p) >= 0) {
        p = start;
        break;
      }
      newlineFound = newlineFound || sp.newline;
      if (!newlineFound) fail('toml::parse_table: newline (LF / CRLF) or EOF is expected', this.at(p), 'here');
      newlineFound = false;
      const kv = this.parseKeyValuePair(p);
      p = kv.pos;
      const c = this.parseCommentLine(p);
      if (c.found) {
        p = c.pos;
        newlineFound = true;
      }
      this.insertValue('dotted_keys', table, kv.keys, kv.keyReg, kv.value);
    }
    return p;
  }

  private parseKeyValuePair(p: number): { keys: string[]; keyReg: Region; value: Node; pos: number } {
    const k = this.parseKey(p);
    const q = keyvalSep.scan(this.t, k.end);
    if (q < 0) this.syntaxError('toml::parse_key_value_pair: invalid key value separator `=`', keyvalSep, k.end);
    const v = this.parseValue(q);
    return { keys: k.keys, keyReg: k.reg, value: v.node, pos: v.pos };
  }

  private parseKey(p0: number): { keys: string[]; reg: Region; end: number } {
    let p = p0;
    const keys: string[] = [];
    while (!this.eof(p)) {
      const k = this.parseSimpleKey(p);
      keys.push(k.key);
      p = k.pos;
      const q = dotSep.scan(this.t, p);
      if (q < 0) break;
      p = q;
    }
    if (keys.length === 0) fail('toml::parse_key: expected a new key, but got nothing', this.at(p0), 'reached EOF');
    return { keys, reg: this.span(p0, p), end: p };
  }

  private parseSimpleKey(p: number): { key: string; pos: number } {
    const c = this.cur(p);
    if (c === '"') {
      const s = this.parseBasicStringOnly(p);
      return { key: s.value, pos: s.pos };
    }
    if (c === "'") {
      const s = this.parseLiteralStringOnly(p);
      return { key: s.value, pos: s.pos };
    }
    const q = unquotedKey.scan(this.t, p);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_simple_key: invalid key: key must be "quoted", \'quoted-literal\', or bare key.',
        unquotedKey,
        p,
        'Hint: non-ASCII scripts are allowed in toml v1.1.0, but not in v1.0.0.\n',
      );
    }
    return { key: this.t.slice(p, q), pos: q };
  }

  // -- values ---------------------------------------------------------------

  private guessValueType(p: number): ValueKind {
    const t = this.t;
    const lowercaseMsg = (w: string): string =>
      `toml::parse_value: \`${w}\` must be in lowercase. A string must be surrounded by quotes.`;
    switch (this.cur(p)) {
      case '"':
      case "'":
        return 'string';
      case '[':
        return 'array';
      case '{':
        return 'table';
      case 't':
      case 'f':
        return 'boolean';
      case 'T':
        this.syntaxError(lowercaseMsg('true'), booleanS, p);
        break;
      case 'F':
        this.syntaxError(lowercaseMsg('false'), booleanS, p);
        break;
      case 'i':
        if (t.startsWith('inf', p)) return 'floating';
        this.syntaxError(lowercaseMsg('inf'), floatingS, p);
        break;
      case 'I':
        this.syntaxError(lowercaseMsg('inf'), floatingS, p);
        break;
      case 'n':
        if (t.startsWith('nan', p)) return 'floating';
        this.syntaxError(lowercaseMsg('nan'), floatingS, p);
        break;
      case 'N':
        this.syntaxError(lowercaseMsg('nan'), floatingS, p);
        break;
    }
    return this.guessNumberType(p);
  }

  private guessNumberType(first: number): ValueKind {
    const t = this.t;
    if (offsetDatetimeS.scan(t, first) >= 0) return 'offset_datetime';
    let q = localDatetimeS.scan(t, first);
    if (q >= 0) {
      const c = this.cur(q);
      if (c === '+' || c === '-') {
        this.syntaxError(
          'bad offset: must be [+-]HH:MM or Z',
          timeOffsetS,
          q,
          'Hint: valid  : +09:00, -05:30\nHint: invalid: +9:00,  -5:30\n',
        );
      }
      return 'local_datetime';
    }
    q = localDateS.scan(t, first);
    if (q >= 0) {
      if (!this.eof(q)) {
        const c = this.cur(q);
        if (c === 'T' || c === 't') {
          this.syntaxError('bad time: must be HH:MM:SS.subsec', localTimeS, q + 1, HINT_TIME);
        }
        if (c === ' ') {
          const r = q + 1;
          if (!this.eof(r) && this.cur(r) >= '0' && this.cur(r) <= '9') {
            this.syntaxError('bad time: must be HH:MM:SS.subsec', localTimeS, r, HINT_TIME);
          }
        }
        if (c >= '0' && c <= '9') {
          this.syntaxError('bad datetime: missing T or space', chEither('Tt '), q, HINT_TIME);
        }
      }
      return 'local_date';
    }
    if (localTimeS.scan(t, first) >= 0) return 'local_time';
    q = floatingS.scan(t, first);
    if (q >= 0) {
      if (!this.eof(q) && this.cur(q) === '_') {
        fail('bad float: `_` must be surrounded by digits', this.at(q), 'invalid underscore', HINT_FLOAT);
      }
      return 'floating';
    }
    q = integerS.scan(t, first);
    if (q >= 0) {
      if (!this.eof(q)) {
        const c = this.cur(q);
        if (c === '_') {
          const s = t.slice(first, q);
          if (q - first <= 2 && (s === '0' || s === '-0' || s === '+0')) {
            fail('bad integer: leading zero is not allowed in decimal int', this.at(q), 'leading zero', HINT_INT);
          }
          fail('bad integer: `_` must be surrounded by digits', this.at(q), 'invalid underscore', HINT_INT);
        }
        if (c >= '0' && c <= '9') {
          if (c === '0') {
            fail('bad integer: leading zero', this.at(q - 1), 'leading zero is not allowed', HINT_INT);
          }
          fail('bad integer: invalid digit after an integer', this.at(q), 'this digit is not allowed', HINT_INT);
        }
        if (c === ':' || c === '-') {
          fail(
            'bad datetime: invalid format',
            this.at(q),
            'here',
            'Hint: valid  : 1979-05-27T07:32:00-07:00, 1979-05-27 07:32:00.999999Z\nHint: invalid: 1979-05-27T7:32:00-7:00, 1979-05-27 7:32-00:30',
          );
        }
        if (c === '.' || c === 'e' || c === 'E') {
          fail('bad float: invalid format', this.at(q), 'here', HINT_FLOAT);
        }
      }
      return 'integer';
    }
    // toml11 reports these at the (unmoved) start position.
    if (!this.eof(first) && this.cur(first) === '.') {
      fail(
        'bad float: integer part is required before decimal point',
        this.at(first),
        'missing integer part',
        HINT_FLOAT,
      );
    }
    if (!this.eof(first) && this.cur(first) === '_') {
      fail('bad number: `_` must be surrounded by digits', this.at(first), 'digits required before `_`', HINT_INT);
    }
    fail('bad format: unknown value appeared', this.at(first), 'here');
  }

  private parseValue(p: number): { node: Node; pos: number } {
    switch (this.guessValueType(p)) {
      case 'boolean':
        return this.parseBoolean(p);
      case 'integer':
        return this.parseInteger(p);
      case 'floating':
        return this.parseFloating(p);
      case 'string':
        return this.parseString(p);
      case 'offset_datetime':
        return this.parseOffsetDatetime(p);
      case 'local_datetime':
        return this.parseLocalDatetime(p);
      case 'local_date': {
        const d = this.parseLocalDateOnly(p);
        return { node: new TLeaf(new TomlDateTime('local-date', formatDate(d.date)), this.span(p, d.pos)), pos: d.pos };
      }
      case 'local_time': {
        const tm = this.parseLocalTimeOnly(p);
        return {
          node: new TLeaf(new TomlDateTime('local-time', formatTime(tm.time)), this.span(p, tm.pos)),
          pos: tm.pos,
        };
      }
      case 'array':
        return this.parseArray(p);
      case 'table':
        return this.parseInlineTable(p);
    }
  }

  private parseBoolean(p: number): { node: Node; pos: number } {
    const q = booleanS.scan(this.t, p);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_boolean: invalid boolean: boolean must be `true` or `false`, in lowercase. string must be surrounded by `"`',
        booleanS,
        p,
      );
    }
    return { node: new TLeaf(this.t.slice(p, q) === 'true', this.span(p, q)), pos: q };
  }

  private parseInteger(first: number): { node: Node; pos: number } {
    let p = first;
    const c = this.cur(p);
    if (c === '+' || c === '-') p++;
    if (this.cur(p) === '0' && !this.eof(p)) {
      p++;
      if (!this.eof(p)) {
        const prefix = this.cur(p);
        if (prefix === 'b') return this.parsePrefixedInteger(first, binInt, 2, 'bin', '0b0101, 0b1111_0000');
        if (prefix === 'o') return this.parsePrefixedInteger(first, octInt, 8, 'oct', '0o775, 0o04_44');
        if (prefix === 'x') return this.parsePrefixedInteger(first, hexInt, 16, 'hex', '0xC0FFEE, 0xDEAD_BEEF');
        if (prefix >= '0' && prefix <= '9') {
          fail('toml::parse_integer: leading zero in an decimal integer is not allowed', this.at(first), 'leading zero');
        }
      }
    }
    return this.parseDecInteger(first);
  }

  private parseDecInteger(p: number): { node: Node; pos: number } {
    const q = decInt.scan(this.t, p);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_dec_integer: invalid integer: dec_int must be like: 42, 123_456_789',
        decInt,
        p,
      );
    }
    const v = BigInt(this.t.slice(p, q).replace(/_/g, '').replace(/^\+/, ''));
    if (v > INT64_MAX || v < INT64_MIN) {
      fail(
        'toml::parse_dec_integer: too large integer: current max digits = 2^63',
        this.at(q),
        'must be < 2^63',
      );
    }
    return { node: new TLeaf(v, this.span(p, q)), pos: q };
  }

  private parsePrefixedInteger(
    p: number,
    s: Scanner,
    base: 2 | 8 | 16,
    name: string,
    example: string,
  ): { node: Node; pos: number } {
    const q = s.scan(this.t, p);
    if (q < 0) {
      this.syntaxError(`toml::parse_${name}_integer: invalid integer: ${name}_int must be like: ${example}`, s, p);
    }
    const digits = this.t.slice(p + 2, q).replace(/_/g, '');
    const prefix = base === 2 ? '0b' : base === 8 ? '0o' : '0x';
    const v = BigInt(prefix + digits);
    if (v > INT64_MAX) {
      fail(
        `toml::parse_${name}_integer: too large integer: current max value = 2^63`,
        this.at(q),
        'must be < 2^63',
      );
    }
    return { node: new TLeaf(v, this.span(p, q)), pos: q };
  }

  private parseFloating(p: number): { node: Node; pos: number } {
    const q = floatingS.scan(this.t, p);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_floating: invalid floating: float must be like: -3.14159_26535, 6.022e+23, inf, or nan (lowercase).',
        floatingS,
        p,
      );
    }
    const s = this.t.slice(p, q).replace(/_/g, '');
    let v: number;
    if (s === 'inf' || s === '+inf') v = Infinity;
    else if (s === '-inf') v = -Infinity;
    else if (s === 'nan' || s === '+nan') v = NaN;
    else if (s === '-nan') v = negativeNaN();
    else {
      v = Number(s);
      if (!Number.isFinite(v)) {
        fail('toml::parse_floating: failed to read floating point value from stream', this.at(q), 'here');
      }
    }
    return { node: new TLeaf({ float: v }, this.span(p, q)), pos: q };
  }

  // -- dates and times ------------------------------------------------------

  private parseLocalDateOnly(first: number): { date: LocalDate; pos: number } {
    const q = localDateS.scan(this.t, first);
    if (q < 0) {
      this.syntaxError('toml::parse_local_date: invalid date: date must be like: 1234-05-06, yyyy-mm-dd.', localDateS, first);
    }
    const s = this.t.slice(first, q);
    const year = Number(s.slice(0, 4));
    const month = Number(s.slice(5, 7));
    const day = Number(s.slice(8, 10));
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const maxDay = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
    if (month < 1 || month > 12 || day < 1 || day > maxDay) {
      fail(
        'toml::parse_local_date: invalid date.',
        this.at(first),
        'month must be 01-12, day must be any of 01-28,29,30,31 depending on the month/year.',
      );
    }
    return { date: { year, month, day }, pos: q };
  }

  private parseLocalTimeOnly(first: number): { time: LocalTime; pos: number } {
    const q = localTimeS.scan(this.t, first);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_local_time: invalid time: time must be HH:MM:SS(.sss) (subseconds are optional)',
        localTimeS,
        first,
      );
    }
    const s = this.t.slice(first, q);
    const hour = Number(s.slice(0, 2));
    const minute = Number(s.slice(3, 5));
    if (hour >= 24 || minute >= 60) {
      fail('toml::parse_local_time: invalid time.', this.at(first), 'hour must be 00-23, minute must be 00-59.');
    }
    const second = Number(s.slice(6, 8));
    if (second > 60) fail('toml::parse_local_time: invalid time.', this.at(first), 'second must be 00-60.');
    let ms = 0;
    let us = 0;
    let ns = 0;
    if (s.length > 8) {
      const frac = (s.slice(9) + '000000000').slice(0, 9);
      ms = Number(frac.slice(0, 3));
      us = Number(frac.slice(3, 6));
      ns = Number(frac.slice(6, 9));
    }
    return { time: { hour, minute, second, ms, us, ns }, pos: q };
  }

  private parseDelimiter(p: number, what: string): number {
    const c = this.cur(p);
    if (c === 'T' || c === 't' || c === ' ') return p + 1;
    const msg =
      what === 'local'
        ? 'toml::parse_local_datetime: expect date-time delimiter `T`, `t` or ` `(space).'
        : 'toml::parse_offset_datetime: expect date-time delimiter `T` or ` `(space).';
    fail(msg, this.at(p), 'here');
  }

  private parseLocalDatetime(first: number): { node: Node; pos: number } {
    const d = this.parseLocalDateOnly(first);
    const p = this.parseDelimiter(d.pos, 'local');
    const tm = this.parseLocalTimeOnly(p);
    const value = formatDate(d.date) + 'T' + formatTime(tm.time);
    return { node: new TLeaf(new TomlDateTime('local-datetime', value), this.span(first, tm.pos)), pos: tm.pos };
  }

  private parseOffsetDatetime(first: number): { node: Node; pos: number } {
    const d = this.parseLocalDateOnly(first);
    const p = this.parseDelimiter(d.pos, 'offset');
    const tm = this.parseLocalTimeOnly(p);
    const q = timeOffsetS.scan(this.t, tm.pos);
    if (q < 0) {
      this.syntaxError(
        'toml::parse_offset_datetime: invalid offset: offset must be like: Z, +01:00, or -10:00.',
        timeOffsetS,
        tm.pos,
      );
    }
    const o = this.t.slice(tm.pos, q);
    let oh = 0;
    let om = 0;
    if (o[0] === '+' || o[0] === '-') {
      const h = Number(o.slice(1, 3));
      const m = Number(o.slice(4, 6));
      oh = o[0] === '+' ? h : -h;
      om = o[0] === '+' ? m : -m;
    }
    if (oh < -24 || oh > 24 || om < -60 || om > 60) {
      fail(
        'toml::parse_offset_datetime: too large offset: |hour| <= 24, |minute| <= 60',
        this.span(first, q),
        'here',
      );
    }
    const value = formatDate(d.date) + 'T' + formatTime(tm.time) + formatOffset(oh, om);
    return { node: new TLeaf(new TomlDateTime('offset-datetime', value), this.span(first, q)), pos: q };
  }

  // -- strings --------------------------------------------------------------

  private parseString(p: number): { node: Node; pos: number } {
    const t = this.t;
    if (t[p] === '"') {
      if (t.startsWith('"""', p)) return this.parseMlBasicString(p);
      const s = this.parseBasicStringOnly(p);
      return { node: new TLeaf(s.value, this.span(p, s.pos)), pos: s.pos };
    }
    if (t.startsWith("'''", p)) return this.parseMlLiteralString(p);
    const s = this.parseLiteralStringOnly(p);
    return { node: new TLeaf(s.value, this.span(p, s.pos)), pos: s.pos };
  }

  /**
   * Decodes the escape at the start of `rest` (which starts with a
   * backslash); `rest` is also the "internal temporary" source toml11 uses
   * for errors.  Returns the bytes and the length consumed.
   */
  private decodeEscape(body: string, k: number): [string, number] {
    const c = body[k + 1];
    switch (c) {
      case '\\':
        return ['\\', 2];
      case '"':
        return ['"', 2];
      case 'b':
        return ['\b', 2];
      case 'f':
        return ['\f', 2];
      case 'n':
        return ['\n', 2];
      case 'r':
        return ['\r', 2];
      case 't':
        return ['\t', 2];
    }
    // \uXXXX or \UXXXXXXXX (already validated by the grammar)
    const n = c === 'u' ? 4 : 8;
    const cp = parseInt(body.slice(k + 2, k + 2 + n), 16);
    const tmp: Source = { text: body.slice(k), name: 'internal temporary' };
    const reg = regionSpan(tmp, 1, 2 + n);
    if (cp >= 0xd800 && cp <= 0xdfff) fail('toml::parse_utf8_codepoint: [0xD800, 0xDFFF] is not a valid UTF-8', reg, 'here');
    if (cp >= 0x110000) {
      fail('toml::parse_utf8_codepoint: input codepoint is too large.', reg, 'must be in range [0x00, 0x10FFFF]');
    }
    return [utf8(cp), 2 + n];
  }

  private parseBasicStringOnly(p: number): { value: string; pos: number } {
    const q = basicStringS.scan(this.t, p);
    if (q < 0) this.syntaxError('toml::parse_basic_string: invalid string format', basicStringS, p);
    const body = this.t.slice(p + 1, q - 1);
    let out = '';
    let i = 0;
    while (i < body.length) {
      const k = body.indexOf('\\', i);
      if (k < 0) {
        out += body.slice(i);
        break;
      }
      out += body.slice(i, k);
      const [s, n] = this.decodeEscape(body, k);
      out += s;
      i = k + n;
    }
    return { value: out, pos: q };
  }

  private parseMlBasicString(p: number): { node: Node; pos: number } {
    const q = mlBasicStringS.scan(this.t, p);
    if (q < 0) this.syntaxError('toml::parse_ml_basic_string: invalid string format', mlBasicStringS, p);
    let body = this.t.slice(p + 3, q - 3);
    if (body[0] === '\n') body = body.slice(1);
    else if (body.startsWith('\r\n')) body = body.slice(2);
    let out = '';
    let i = 0;
    while (i < body.length) {
      const k = body.indexOf('\\', i);
      if (k < 0) {
        out += body.slice(i);
        break;
      }
      out += body.slice(i, k);
      const e = escapedNewline.scan(body, k);
      if (e >= 0) {
        i = e;
      } else {
        const [s, n] = this.decodeEscape(body, k);
        out += s;
        i = k + n;
      }
    }
    return { node: new TLeaf(out, this.span(p, q)), pos: q };
  }

  private parseLiteralStringOnly(p: number): { value: string; pos: number } {
    const q = literalStringS.scan(this.t, p);
    if (q < 0) this.syntaxError('toml::parse_literal_string: invalid string format', literalStringS, p);
    return { value: this.t.slice(p + 1, q - 1), pos: q };
  }

  private parseMlLiteralString(p: number): { node: Node; pos: number } {
    const q = mlLiteralStringS.scan(this.t, p);
    if (q < 0) this.syntaxError('toml::parse_ml_literal_string: invalid string format', mlLiteralStringS, p);
    let body = this.t.slice(p + 3, q - 3);
    if (body[0] === '\n') body = body.slice(1);
    else if (body.startsWith('\r\n')) body = body.slice(2);
    return { node: new TLeaf(body, this.span(p, q)), pos: q };
  }

  // -- arrays and inline tables ---------------------------------------------

  private parseArray(first: number): { node: Node; pos: number } {
    let p = first + 1;
    const items: Node[] = [];
    p = this.skipMultilineSpacer(p).pos;
    let commaFound = true;
    while (!this.eof(p)) {
      if (this.cur(p) === ']') break;
      if (!commaFound) fail('toml::parse_array: expected value-separator `,` or closing `]`', this.at(p), 'here');
      const v = this.parseValue(p);
      p = this.skipMultilineSpacer(v.pos).pos;
      const q = ch(',').scan(this.t, p);
      commaFound = q >= 0;
      if (commaFound) p = q;
      const c = this.parseCommentLine(p);
      if (c.found) p = c.pos;
      if (commaFound) p = this.skipMultilineSpacer(p, c.found).pos;
      items.push(v.node);
    }
    if (this.cur(p) !== ']' || this.eof(p)) {
      fail('toml::parse_array: missing closing bracket `]`', this.at(p), 'expected `]`, reached EOF');
    }
    p++;
    return { node: new TArray(items, false, this.span(first, p)), pos: p };
  }

  private parseInlineTable(first: number): { node: Node; pos: number } {
    let p = first + 1;
    const table = new TTable('oneline', this.at(first));
    p = ws.scan(this.t, p);
    let stillEmpty = true;
    let commaFound = false;
    while (!this.eof(p)) {
      if (this.cur(p) === '}') {
        if (commaFound) {
          fail('toml::parse_inline_table: trailing comma is not allowed in TOML-v1.0.0)', this.at(p), 'here');
        }
        break;
      }
      if (!commaFound && !stillEmpty) {
        fail('toml::parse_inline_table: expected value-separator `,` or closing `}`', this.at(p), 'here');
      }
      stillEmpty = false;
      const kv = this.parseKeyValuePair(p);
      this.insertValue('dotted_keys', table, kv.keys, kv.keyReg, kv.value);
      p = ws.scan(this.t, kv.pos);
      const q = ch(',').scan(this.t, p);
      commaFound = q >= 0;
      if (commaFound) p = q;
      p = ws.scan(this.t, p);
    }
    if (this.eof(p) || this.cur(p) !== '}') {
      fail('toml::parse_inline_table: missing closing bracket `}`', this.at(p), 'expected `}`, reached line end');
    }
    p++;
    table.reg = this.span(first, p);
    return { node: table, pos: p };
  }

  // -- assembling tables ----------------------------------------------------

  /**
   * toml11 `insert_value`: adds `val` under `keys` (dotted key, [table] or
   * [[array of tables]]) with TOML's rules on reopening tables.  Returns the
   * node the following key/value pairs go into.
   */
  private insertValue(kind: InsertKind, root: TTable, keys: string[], keyReg: Region, val: Node): Node {
    let cur = root;
    const err2: (title: string, m1: string, r2: Region, m2: string) => never = (title, m1, r2, m2) => {
      throw new Fail(errorInfo(title, [[keyReg, m1], [r2, m2]]));
    };
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const found = cur.map.get(key);
      if (i + 1 < keys.length) {
        if (found === undefined) {
          const t = new TTable(kind === 'dotted_keys' ? 'dotted' : 'implicit', keyReg);
          cur.map.set(key, t);
          cur = t;
        } else if (found instanceof TTable) {
          if (found.fmt === 'oneline') {
            err2(
              'toml::insert_value: failed to insert a value: inline table is immutable',
              'inserting this',
              found.reg,
              'to this table',
            );
          }
          if (kind === 'dotted_keys' && found.fmt !== 'dotted') {
            err2(
              'toml::insert_value: reopening a table using dotted keys',
              'dotted key cannot reopen a table',
              found.reg,
              'this table is already closed',
            );
          }
          cur = found;
        } else if (isArrayOfTables(found)) {
          if (!found.aot) {
            err2('toml::insert_value:inline array of tables are immutable', 'inserting this', found.reg, 'inline array of tables');
          }
          if (kind === 'dotted_keys') {
            err2(
              'toml::insert_value:dotted key cannot reopen an array-of-tables',
              'inserting this',
              found.reg,
              'to this array-of-tables.',
            );
          }
          cur = found.items[found.items.length - 1] as TTable;
        } else {
          err2(
            'toml::insert_value: failed to insert a value, value already exists',
            'while inserting this',
            found.reg,
            'non-table value already exists',
          );
        }
        continue;
      }
      // The last key.
      if (kind === 'dotted_keys') {
        if (found !== undefined) {
          err2(
            'toml::insert_value: failed to insert a value, value already exists',
            'inserting this',
            found.reg,
            'but value already exists',
          );
        }
        cur.map.set(key, val);
        return val;
      }
      if (kind === 'std_table') {
        if (found === undefined) {
          cur.map.set(key, val);
          return val;
        }
        if (!(found instanceof TTable) || found.fmt !== 'implicit') {
          err2(
            'toml::insert_value: failed to insert a table, table already defined',
            'inserting this',
            found.reg,
            'this table is explicitly defined',
          );
        }
        // `val` is a fresh, empty table: nothing to merge.
        found.fmt = 'multiline';
        found.reg = val.reg;
        return found;
      }
      // array_table
      if (found === undefined) {
        cur.map.set(key, new TArray([val], true, keyReg));
        return val;
      }
      if (!isArrayOfTables(found)) {
        err2(
          'toml::insert_value: failed to insert an array of tables, value already exists',
          'while inserting this',
          found.reg,
          'non-table value already exists',
        );
      }
      if (!found.aot) {
        err2(
          'toml::insert_value: failed to insert a table, inline array of tables is immutable',
          'while inserting this',
          found.reg,
          'this is inline array-of-tables',
        );
      }
      found.items.push(val);
      return val;
    }
    throw new Fail(errorInfo('toml::insert_key: no keys found', [[keyReg, 'here']]));
  }
}
