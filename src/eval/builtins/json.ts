// JSON: toJSON, fromJSON, and the `--json` output of the CLI.

import { constants as bufferConstants } from 'node:buffer';
import type { Pos } from '../../../grammar/ast.js';
import { NixError, STRING_TOO_LONG } from '../errors.js';
import { atMaxDepth, coerceToString, enterDepth, forceStringNoCtx, leaveDepth, mergeContexts, normInt, peelToStringOutPath } from '../ops.js';
import { Attrs, EMPTY_CTX, Lambda, Layout, NixFloat, NixPath, NixStr, PrimOp, PrimOpApp, mkStr, typeName, type Context, type Value } from '../value.js';
import { jsonSyntaxError } from './json-errors.js';
import { argCtx, determinePos, forceAt, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'toJSON',
    args: ['e'],
    doc: 'Return a string containing a JSON representation of *e*. Strings, integers, floats, Booleans, nulls and lists are mapped to their JSON equivalents. Sets (except derivations) are represented as objects. Derivations are translated to a JSON string containing the derivation’s output path. Paths are copied to the store and represented as a JSON string of the resulting store path.',
    fn: ([e]) => {
      const acc = { ctx: EMPTY_CTX as Context };
      const s = valueToJSON(e!, null, true, acc);
      return mkStr(s, acc.ctx);
    },
  });

  r.add({
    name: 'fromJSON',
    args: ['e'],
    doc: 'Convert a JSON string to a Nix value. For example,\n\n```nix\nbuiltins.fromJSON \'\'{"x": [1, 2, 3], "y": null}\'\'\n```\n\nreturns the value `{ x = [ 1 2 3 ]; y = null; }`.',
    fn: ([e], site) => {
      const text = forceStringNoCtx(e!, null, argCtx('fromJSON', 0));
      try {
        return parseJSON(text, null);
      } catch (err) {
        // as CppNix, only the JSON parser's own errors get this frame (not
        // "outside of Nix integer range" or "null bytes", which are Nix's)
        if (err instanceof NixError && err.msg.startsWith('[json.exception.')) err.addTrace('while decoding a JSON string', site.pos);
        throw err;
      }
    },
  });
}

/**
 * The JSON text of a value, as CppNix's printValueAsJSON (strict: forces
 * everything).  Sets with `__toString` or `outPath` are peeled first (what
 * `__toString` returns must be a string or a path); attribute errors get
 * "while evaluating attribute 'X'" at the attribute, list element errors
 * "while evaluating list element at index N" at the list's position.
 */
export function valueToJSON(v: Value, pos: Pos | null, copyToStore: boolean, acc: { ctx: Context }): string {
  return jsonOf(v, pos, copyToStore, acc, (b, len) => {
    if (len > bufferConstants.MAX_STRING_LENGTH) throw new NixError(STRING_TOO_LONG, pos);
    return b.toString('latin1', 0, len);
  });
}

/**
 * The JSON text of `v` given to `write` as bytes (`--json` output): a JS
 * string holds at most 512 MiB, a Buffer several GiB.  With `copyToStore`,
 * paths become store paths (nix-instantiate --eval --json).  Nothing is written
 * when the value has no JSON form.
 */
export function writeValueJSON(v: Value, acc: { ctx: Context }, write: (bytes: Buffer) => void, copyToStore = false): void {
  jsonOf(v, null, copyToStore, acc, (b, len) => write(b.subarray(0, len)));
}

function jsonOf<R>(v: Value, pos: Pos | null, copyToStore: boolean, acc: { ctx: Context }, done: (b: Buffer, len: number) => R): R {
  // (forcing a value may run a toJSON of its own: the state of this one is
  // kept aside meanwhile)
  const outer = { buf, n, acc: ctxAcc };
  buf = nesting === 0 ? spare : Buffer.allocUnsafe(1 << 12);
  n = 0;
  ctxAcc = acc;
  nesting++;
  try {
    go(v, pos, copyToStore);
    return done(buf, n);
  } finally {
    // the buffer of a toJSON that is not inside another is kept for the next
    if (--nesting === 0 && buf.length <= SPARE_MAX) spare = buf;
    buf = outer.buf;
    n = outer.n;
    ctxAcc = outer.acc;
  }
}

// The text is built in a growing buffer (one flat string at the end, no rope
// of pieces) by the functions below, at module level: closures made at each
// call would share their type feedback but start out with code specialised to
// the first call's context (measured: the same toJSON about 2x slower).  They
// write to the state of the toJSON in progress:
let buf = Buffer.allocUnsafe(0);
let n = 0;
let ctxAcc: { ctx: Context } = { ctx: EMPTY_CTX };
/** How many toJSONs are in progress (one inside the other). */
let nesting = 0;
/** The buffer of the last outermost toJSON (up to SPARE_MAX bytes), for the next. */
let spare = Buffer.allocUnsafe(1 << 16);
const SPARE_MAX = 1 << 24;

/** Room for `need` more bytes after the first `used` (the text so far, n, unless a literal is being written). */
function grow(need: number, used = n): void {
  let size = buf.length * 2;
  while (size < used + need) size *= 2;
  const b = Buffer.allocUnsafe(size);
  buf.copy(b, 0, 0, used);
  buf = b;
}
/** Text written as it is (punctuation, numbers, escaped strings). */
function raw(s: string): void {
  const len = s.length;
  if (n + len > buf.length) grow(len);
  if (len < 32) {
    const b = buf;
    for (let i = 0; i < len; i++) b[n + i] = s.charCodeAt(i);
    n += len;
  } else n += buf.write(s, n, 'latin1');
}
/** One byte (ASCII punctuation). */
function byte(c: number): void {
  if (n === buf.length) grow(1);
  buf[n++] = c;
}
/**
 * A string literal.  The bytes are copied as they come until one needs
 * escaping or, at or above 0x80, checking: the rest goes through `escaped`.
 */
function str(s: string): void {
  const len = s.length;
  if (n + len + 2 > buf.length) grow(len + 2);
  const b = buf;
  let j = n;
  b[j++] = 0x22;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return escaped(s, i, j);
    b[j++] = c;
  }
  b[j++] = 0x22;
  n = j;
}
/**
 * The rest of a string literal from `s[from]`, written at `buf[j]`, as
 * nlohmann::json writes it: `"` and `\\` escaped, control characters as
 * \b \t \n \f \r or \u00XX, UTF-8 sequences as they are (an invalid
 * one is an error).
 */
function escaped(s: string, from: number, j: number): void {
  const len = s.length;
  // (at most 6 bytes per byte: \u00XX)
  if (j + 6 * (len - from) + 1 > buf.length) grow(6 * (len - from) + 1, j);
  const b = buf;
  for (let i = from; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x80) {
      if (c === 0x22 || c === 0x5c) b[j++] = 0x5c;
      b[j++] = c;
    } else if (c < 0x20) {
      b[j++] = 0x5c;
      const e = c === 8 ? 0x62 : c === 9 ? 0x74 : c === 10 ? 0x6e : c === 12 ? 0x66 : c === 13 ? 0x72 : 0;
      if (e !== 0) b[j++] = e;
      else {
        b[j++] = 0x75;
        b[j++] = 0x30;
        b[j++] = 0x30;
        b[j++] = HEX.charCodeAt(c >> 4);
        b[j++] = HEX.charCodeAt(c & 15);
      }
    } else {
      const k = utf8SeqLen(s, i);
      if (k === 0) throw new NixError(`JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index ${i}: 0x${c.toString(16).toUpperCase().padStart(2, '0')}`);
      for (let m = 0; m < k; m++) b[j++] = s.charCodeAt(i + m);
      i += k - 1;
    }
  }
  b[j++] = 0x22;
  n = j;
}
/** One value; each counts against max-call-depth, as CppNix's addCallDepth(pos). */
function go(v: Value, pos: Pos | null, copyToStore: boolean): void {
  enterDepth(pos);
  try {
    put(v, pos, copyToStore);
  } finally {
    leaveDepth();
  }
}
// (the loops below write their brackets and commas from inside: a long
// first loop is compiled while it runs (OSR), and a call after it that had
// never run would throw that compilation away)
function object(a: Attrs, copyToStore: boolean): void {
  // a literal's set (or one over a shared Layout) is read slot by slot in
  // the order of its names, the others by name
  const order = a.slotOrder();
  const keys = order === null ? a.keys() : null;
  const len = order !== null ? order.length : keys!.length;
  for (let i = 0; ; i++) {
    if (i === 0) byte(0x7b);
    if (i === len) {
      byte(0x7d);
      break;
    }
    if (i !== 0) byte(0x2c);
    const k = order !== null ? a.slotName(order[i]!) : keys![i]!;
    const x = order !== null ? a.slotValue(order[i]!) : a.get(k)!;
    str(k);
    byte(0x3a);
    // (a plain string, number, boolean or null needs its position only past
    // max-call-depth: the lookup is skipped, as the forcing is)
    if ((typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' || x === null) && !atMaxDepth()) {
      if (typeof x === 'string') str(x);
      else raw(String(x));
      continue;
    }
    const apos = a.posOf(k) ?? null;
    try {
      go(x, apos, copyToStore);
    } catch (e) {
      if (e instanceof NixError) e.addTrace(`while evaluating attribute '${k}'`, apos);
      throw e;
    }
  }
}
function put(v: Value, pos: Pos | null, copyToStore: boolean): void {
  v = forceAt(v, pos);
  if (typeof v === 'string') str(v);
  else if (v === null) raw('null');
  else if (v === true) raw('true');
  else if (v === false) raw('false');
  else if (typeof v === 'number' || typeof v === 'bigint') raw(String(v));
  else if (v instanceof NixStr) {
    ctxAcc.ctx = mergeContexts(ctxAcc.ctx, v.ctx);
    str(v.s);
  } else if (v instanceof NixFloat) raw(jsonFloat(v.v));
  else if (v instanceof NixPath) {
    const r = coerceToString(v, pos, { copyToStore });
    ctxAcc.ctx = mergeContexts(ctxAcc.ctx, r.ctx);
    str(r.s);
  } else if (Array.isArray(v)) {
    for (let i = 0; ; i++) {
      if (i === 0) byte(0x5b);
      if (i === v.length) {
        byte(0x5d);
        break;
      }
      if (i !== 0) byte(0x2c);
      try {
        go(v[i]!, pos, copyToStore);
      } catch (e) {
        if (e instanceof NixError) e.addTrace(`while evaluating list element at index ${i}`, pos);
        throw e;
      }
    }
  } else if (v instanceof Attrs) {
    // (most sets have neither `__toString` nor `outPath`: no peeling then)
    if (!v.coercible()) return object(v, copyToStore);
    peelToStringOutPath(v, pos, true, (peeled, cameThroughToString) => {
      // a path that `__toString` returned is not copied to the store
      if (!(peeled instanceof Attrs)) return go(peeled, pos, copyToStore && !cameThroughToString);
      object(peeled, copyToStore);
    });
  } else if (v instanceof Lambda || v instanceof PrimOp || v instanceof PrimOpApp) {
    throw new NixError(`cannot convert ${typeName(v)} to JSON`, determinePos(v, pos));
  }
}

const HEX = '0123456789abcdef';

/** Length of the valid UTF-8 sequence starting at i, or 0. */
function utf8SeqLen(s: string, i: number): number {
  const c = s.charCodeAt(i);
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    min = 0x10000;
  } else return 0;
  let cp = c & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const d = s.charCodeAt(i + k);
    if (!(d >= 0x80 && d <= 0xbf)) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/** A float as nlohmann::json prints it: shortest round-trip digits, `1.0` for integral values. */
export function jsonFloat(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  const a = Math.abs(x);
  // JavaScript prints the same shortest digits, in the same notation when the
  // integer part has 1 to 15 digits (only the `.0` of integral values differs)
  if (a >= 1 && a < 1e15) {
    const s = String(x);
    return s.includes('.') ? s : s + '.0';
  }
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const neg = x < 0;
  const e = Math.abs(x).toExponential(); // shortest digits: d.ddddde±N
  const [mant, expS] = e.split('e') as [string, string];
  const digits = mant.replace('.', '');
  const k = digits.length;
  const n = Number(expS) + 1; // position of the decimal point relative to the digits
  let s: string;
  if (k <= n && n <= 15) s = digits + '0'.repeat(n - k) + '.0';
  else if (0 < n && n <= 15) s = digits.slice(0, n) + '.' + digits.slice(n);
  else if (-4 < n && n <= 0) s = '0.' + '0'.repeat(-n) + digits;
  else {
    const ex = n - 1;
    s = (k === 1 ? digits : digits[0] + '.' + digits.slice(1)) + 'e' + (ex < 0 ? '-' : '+') + String(Math.abs(ex)).padStart(2, '0');
  }
  return neg ? '-' + s : s;
}

/** Bytes inside a JSON string: 0 plain, 1 ends the run (quote, backslash, control character), 2 starts a UTF-8 sequence. */
const STRING_BYTE = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) t[b] = 1;
  t[0x22] = 1;
  t[0x5c] = 1;
  t.fill(2, 0x80);
  return t;
})();

const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/** Parses JSON text (a byte string) into a Nix value. */
export function parseJSON(text: string, pos: Pos | null): Value {
  let i = 0;
  const n = text.length;
  // The text is not JSON: nlohmann::json's message for it, from a second,
  // exact reading (json-errors.ts).  This parser accepts exactly what
  // nlohmann's accepts, so that reading always finds the error.
  const fail = (): never => {
    throw new NixError(jsonSyntaxError(text) ?? 'fromJSON: the text was rejected, but nlohmann::json would accept it (a tsnix bug)', pos);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const str = (): string => {
    i++; // opening quote
    let r = '';
    for (;;) {
      if (i >= n) fail();
      const c = text[i]!;
      if (c === '"') {
        i++;
        return r;
      }
      if (c === '\\') {
        const d = text[i + 1];
        i += 2;
        switch (d) {
          case '"':
            r += '"';
            break;
          case '\\':
            r += '\\';
            break;
          case '/':
            r += '/';
            break;
          case 'b':
            r += '\b';
            break;
          case 'f':
            r += '\f';
            break;
          case 'n':
            r += '\n';
            break;
          case 'r':
            r += '\r';
            break;
          case 't':
            r += '\t';
            break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
            let cp = parseInt(hex, 16);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdfff) {
              // a high surrogate needs a low one after it; a low one alone is an error
              if (cp >= 0xdc00 || text[i] !== '\\' || text[i + 1] !== 'u') fail();
              const lo = text.slice(i + 2, i + 6);
              if (!/^[0-9a-fA-F]{4}$/.test(lo)) fail();
              const low = parseInt(lo, 16);
              if (low < 0xdc00 || low > 0xdfff) fail();
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
              i += 6;
            }
            r += Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
            break;
          }
          default:
            fail();
        }
        continue;
      }
      // copy the run of plain characters at once (UTF-8 sequences must be valid)
      let j = i;
      while (j < n) {
        const k = STRING_BYTE[text.charCodeAt(j)]!;
        if (k === 0) j++;
        else if (k === 1) break;
        else {
          const len = utf8SeqLen(text, j);
          if (len === 0) fail();
          j += len;
        }
      }
      if (j === i) fail(); // a control character
      r += text.slice(i, j);
      i = j;
    }
  };
  // Objects with the same names in the same order (the records of a list)
  // share one Layout; an object with a repeated name is a Map (the last value wins).
  const layouts = new Map<string, Layout | null>();
  const object = (keys: string[], vals: Value[]): Attrs => {
    if (keys.length <= 64 && layouts.size < 4096) {
      const key = keys.join('\0');
      let layout = layouts.get(key);
      if (layout === undefined) {
        layout = new Set(keys).size === keys.length ? new Layout(keys) : null;
        layouts.set(key, layout);
      }
      if (layout !== null) return Attrs.slots(layout, vals, null);
    }
    const m = new Map<string, Value>();
    for (let j = 0; j < keys.length; j++) m.set(keys[j]!, vals[j + 1]!);
    return new Attrs(m);
  };
  const value = (): Value => {
    ws();
    if (i >= n) fail();
    const c = text[i]!;
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return new Attrs(new Map());
      }
      const keys: string[] = [];
      const vals: Value[] = [null];
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        if (k.includes('\0')) throw new NixError(`input string '${k.replace(/\0/g, '\xe2\x90\x80')}' cannot be represented as Nix string because it contains null bytes`, pos);
        ws();
        if (text[i] !== ':') fail();
        i++;
        keys.push(k);
        vals.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return object(keys, vals);
        }
        fail();
      }
    }
    if (c === '[') {
      i++;
      const l: Value[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return l;
      }
      for (;;) {
        l.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return l;
        }
        fail();
      }
    }
    if (c === '"') {
      const s = str();
      if (s.includes('\0')) throw new NixError(`input string '${s.replace(/\0/g, '\xe2\x90\x80')}' cannot be represented as Nix string because it contains null bytes`, pos);
      return s;
    }
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    // plain integers of up to 15 digits: no regex, no bigint
    {
      let j = i;
      const neg = text.charCodeAt(j) === 45;
      if (neg) j++;
      const start = j;
      let x = 0;
      while (j < n) {
        const d = text.charCodeAt(j) - 48;
        if (d < 0 || d > 9) break;
        x = x * 10 + d;
        j++;
      }
      const len = j - start;
      const next = j < n ? text.charCodeAt(j) : 0;
      if (len > 0 && len <= 15 && (len === 1 || text.charCodeAt(start) !== 48) && next !== 46 && next !== 101 && next !== 69) {
        i = j;
        return neg && x !== 0 ? -x : x;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail();
    const tok = m![0];
    i += tok.length;
    if (m![2] === undefined && m![3] === undefined) {
      const b = BigInt(tok);
      if (b > 9223372036854775807n) {
        if (tok.startsWith('-')) throw new NixError(`number ${tok} outside of Nix integer range`, pos);
        if (b > 18446744073709551615n) return new NixFloat(Number(tok));
        throw new NixError(`unsigned json number ${tok} outside of Nix integer range`, pos);
      }
      if (b < -9223372036854775808n) return new NixFloat(Number(tok));
      return normInt(b);
    }
    const x = Number(tok);
    if (!Number.isFinite(x)) throw new NixError(`[json.exception.out_of_range.406] number overflow parsing '${tok}'`, pos);
    return new NixFloat(x);
  };
  if (text.startsWith('\xef\xbb\xbf')) i = 3; // a byte order mark
  const v = value();
  ws();
  if (i < n) fail();
  return v;
}
