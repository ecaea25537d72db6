// The canonical printed form of an expression, as `nix-instantiate --parse`
// shows it (CppNix's Expr::show), and the small printing helpers shared with
// the rest of the project (string literals, identifiers, floats).
//
// All strings are byte strings (see ast.ts).

import type { AttrName, EAttrs, Expr } from './ast.js';

const RESERVED = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit']);

/** A string literal: `"…"` with `"`, `\`, newline, CR, tab and `${` escaped. */
export function escapeString(s: string): string {
  // Fast path: nothing to escape.
  let i = 0;
  const n = s.length;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92 || c === 10 || c === 13 || c === 9 || (c === 36 && s.charCodeAt(i + 1) === 123)) break;
  }
  if (i === n) return '"' + s + '"';
  let out = '"' + s.slice(0, i);
  let start = i;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    let rep: string;
    if (c === 34) rep = '\\"';
    else if (c === 92) rep = '\\\\';
    else if (c === 10) rep = '\\n';
    else if (c === 13) rep = '\\r';
    else if (c === 9) rep = '\\t';
    else if (c === 36 && s.charCodeAt(i + 1) === 123) rep = '\\$';
    else continue;
    out += s.slice(start, i) + rep;
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

/** An attribute name / variable name, quoted when it is not a plain identifier or is a keyword. */
export function printIdentifier(s: string): string {
  const n = s.length;
  if (n === 0) return '""';
  const c = s.charCodeAt(0);
  if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95)) return escapeString(s);
  for (let i = 1; i < n; i++) {
    const d = s.charCodeAt(i);
    if (
      !(
        (d >= 97 && d <= 122) ||
        (d >= 65 && d <= 90) ||
        (d >= 48 && d <= 57) ||
        d === 95 ||
        d === 39 ||
        d === 45
      )
    ) {
      return escapeString(s);
    }
  }
  if (n <= 7 && RESERVED.has(s)) return '"' + s + '"';
  return s;
}

/**
 * A float as C++'s `std::ostream << double` prints it (the `%g` format with
 * precision 6): `1`, `0.1`, `1e+06`, `1.5e-07`, `123457`, `inf`, `nan`.
 */
export function formatFloat(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (Number.isNaN(v)) {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, v);
    return dv.getUint8(0) & 0x80 ? '-nan' : 'nan';
  }
  if (!isFinite(v)) return v < 0 ? '-inf' : 'inf';
  const neg = v < 0;
  const [digits, exp] = roundTo6(neg ? -v : v);
  let out: string;
  if (exp < -4 || exp >= 6) {
    out =
      stripZeros(digits[0]! + '.' + digits.slice(1)) + 'e' + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
  } else if (exp >= 0) {
    out = stripZeros(digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1));
  } else {
    out = stripZeros('0.' + '0'.repeat(-exp - 1) + digits);
  }
  return neg ? '-' + out : out;
}

function stripZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let e = s.length;
  while (s.charCodeAt(e - 1) === 48) e--;
  if (s.charCodeAt(e - 1) === 46) e--;
  return s.slice(0, e);
}

/**
 * A finite float below 1e21 in magnitude with six decimals, as C's `%f`
 * (std::to_string) prints it: like toFixed(6), except that an exact tie
 * rounds to even, as printf does (toFixed rounds it up).
 */
export function formatFixed6(v: number): string {
  const s = v.toFixed(6);
  const a = Math.abs(v);
  const longer = a.toFixed(7);
  if (longer.charCodeAt(longer.length - 1) !== 0x35 || !isExactTie(a, -1)) return s;
  // an exact tie, which toFixed rounded up: round to even instead
  const digits = longer.slice(0, -1).replace('.', '');
  let kept = BigInt(digits);
  if (kept % 2n === 1n) kept += 1n;
  const t = kept.toString().padStart(7, '0');
  return `${v < 0 ? '-' : ''}${t.slice(0, -6)}.${t.slice(-6)}`;
}

/** Six significant digits of a positive finite double, rounded half-to-even on the exact value. */
function roundTo6(a: number): [string, number] {
  const s = a.toExponential(5); // d.ddddde±x, rounded (ties away from zero on the exact value)
  let digits = s[0]! + s.slice(2, 7);
  let exp = parseInt(s.slice(s.indexOf('e') + 1), 10);
  // toExponential resolves exact ties upwards; printf rounds them to even.
  // (a tie needs a 7th significant digit of 5)
  if (a.toExponential(6).charCodeAt(7) !== 0x35) return [digits, exp];
  const longer = a.toExponential(25);
  const lexp = parseInt(longer.slice(longer.indexOf('e') + 1), 10);
  const ld = longer[0]! + longer.slice(2, longer.indexOf('e'));
  if (ld[6] === '5' && /^0*$/.test(ld.slice(7)) && isExactTie(a, lexp)) {
    // Exact tie: round to even.
    const base = ld.slice(0, 6);
    if (Number(base[5]) % 2 === 0) {
      digits = base;
      exp = lexp;
    } else {
      // round up
      const up = String(Number(base) + 1);
      if (up.length > 6) {
        digits = up.slice(0, 6);
        exp = lexp + 1;
      } else {
        digits = up;
        exp = lexp;
      }
    }
  }
  return [digits, exp];
}

/** Whether a * 10^(5 - exp) has a fractional part of exactly one half. */
function isExactTie(a: number, exp: number): boolean {
  // a = m * 2^e exactly.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (bexp === 0) e = -1074;
  else {
    m |= 1n << 52n;
    e = bexp - 1075;
  }
  // value * 10^k * 2, with k = 5 - exp, must be an odd integer.
  const k = 5 - exp;
  let num = m * 2n;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (k >= 0) num *= 10n ** BigInt(k);
  else den *= 10n ** BigInt(-k);
  if (num % den !== 0n) return false;
  return (num / den) % 2n === 1n;
}

/** An attribute path as CppNix shows it in messages and in `--parse` output. */
export function showAttrPath(path: readonly AttrName[]): string {
  let s = '';
  for (let i = 0; i < path.length; i++) {
    if (i) s += '.';
    const a = path[i]!;
    s += 'name' in a ? printIdentifier(a.name) : '"${' + printExpr(a.expr) + '}"';
  }
  return s;
}

// The printer appends to `out`.  It recurses (fastest), but below a certain
// depth it switches to an explicit stack, so that deeply nested expressions
// cannot overflow the JS stack.
let out = '';
const MAX_DEPTH = 400;
/**
 * Finished pieces of the output.  (A long `+=` chain is a tree of cons
 * strings that stays alive, and is copied by the GC, until flattened; so the
 * output is cut into flattened chunks as it grows.)
 */
let chunks: string[] = [];
const CHUNK = 1 << 15;

function flush(): void {
  out.charCodeAt(0); // flattens the cons string
  chunks.push(out);
  out = '';
}

/** The expression as `nix-instantiate --parse` prints it (without trailing newline). */
export function printExpr(root: Expr): string {
  const savedOut = out;
  const savedChunks = chunks;
  out = '';
  chunks = [];
  try {
    show(root, 0);
    if (!chunks.length) return out;
    chunks.push(out);
    return chunks.join('');
  } finally {
    out = savedOut;
    chunks = savedChunks;
  }
}

function showPath(path: readonly AttrName[], d: number): void {
  for (let i = 0; i < path.length; i++) {
    if (i) out += '.';
    const a = path[i]!;
    if ('name' in a) out += printIdentifier(a.name);
    else {
      out += '"${';
      show(a.expr, d);
      out += '}"';
    }
  }
}

function showBindings(e: EAttrs, d: number): void {
  const names = [...e.attrs.keys()].sort(); // UTF-16 order = byte order for byte strings
  let inherits = '';
  let froms: string[] | null = null;
  for (const name of names) {
    const def = e.attrs.get(name)!;
    if (def.kind === 'inherit') inherits += ' ' + printIdentifier(name);
    else if (def.kind === 'inheritFrom') {
      froms ??= [];
      froms[def.from] = (froms[def.from] ?? '') + ' ' + printIdentifier(name);
    }
  }
  if (inherits) out += 'inherit' + inherits + '; ';
  if (froms) {
    for (let i = 0; i < froms.length; i++) {
      const f = froms[i];
      if (f === undefined) continue;
      out += 'inherit (';
      show(e.inheritFrom[i]!, d);
      out += ')' + f + '; ';
    }
  }
  for (const name of names) {
    const def = e.attrs.get(name)!;
    if (def.kind === 'plain') {
      out += printIdentifier(name) + ' = ';
      show(def.expr, d);
      out += '; ';
    }
  }
  for (const dyn of e.dynamic) {
    out += '"${';
    show(dyn.name, d);
    out += '}" = ';
    show(dyn.value, d);
    out += '; ';
  }
}

function show(e: Expr, d: number): void {
  if (e.kind === 'deferred') e = e.ctx.expand(e);
  if (d > MAX_DEPTH) {
    showIter(e);
    return;
  }
  if (out.length > CHUNK) flush();
  d++;
  switch (e.kind) {
    case 'int':
      out += String(e.value);
      return;
    case 'float':
      out += formatFloat(e.value);
      return;
    case 'str':
      out += escapeString(e.value);
      return;
    case 'path':
      out += e.value;
      return;
    case 'var':
      out += printIdentifier(e.name);
      return;
    case 'curPos':
      out += '__curPos';
      return;
    case 'select':
      out += '(';
      show(e.expr, d);
      out += ').';
      showPath(e.path, d);
      if (e.def) {
        out += ' or (';
        show(e.def, d);
        out += ')';
      }
      return;
    case 'hasAttr':
      out += '((';
      show(e.expr, d);
      out += ') ? ';
      showPath(e.path, d);
      out += ')';
      return;
    case 'attrs':
      out += e.rec ? 'rec { ' : '{ ';
      showBindings(e, d);
      out += '}';
      return;
    case 'list':
      out += '[ ';
      for (const x of e.elems) {
        out += '(';
        show(x, d);
        out += ') ';
      }
      out += ']';
      return;
    case 'lambda':
      out += '(';
      if (e.formals) {
        out += '{ ';
        let first = true;
        for (const f of e.formals.formals) {
          if (first) first = false;
          else out += ', ';
          out += printIdentifier(f.name);
          if (f.def) {
            out += ' ? ';
            show(f.def, d);
          }
        }
        if (e.formals.ellipsis) out += first ? '...' : ', ...';
        out += ' }';
        if (e.arg !== undefined) out += ' @ ';
      }
      if (e.arg !== undefined) out += printIdentifier(e.arg);
      out += ': ';
      show(e.body, d);
      out += ')';
      return;
    case 'call':
      out += '(';
      show(e.fn, d);
      for (const a of e.args) {
        out += ' ';
        show(a, d);
      }
      out += ')';
      return;
    case 'let':
      out += '(let ';
      showBindings(e.attrs, d);
      out += 'in ';
      show(e.body, d);
      out += ')';
      return;
    case 'with':
      out += '(with ';
      show(e.attrs, d);
      out += '; ';
      show(e.body, d);
      out += ')';
      return;
    case 'if':
      out += '(if ';
      show(e.cond, d);
      out += ' then ';
      show(e.then, d);
      out += ' else ';
      show(e.else, d);
      out += ')';
      return;
    case 'assert':
      out += 'assert ';
      show(e.cond, d);
      out += '; ';
      show(e.body, d);
      return;
    case 'not':
      out += '(! ';
      show(e.expr, d);
      out += ')';
      return;
    case 'binary':
      out += '(';
      show(e.lhs, d);
      out += ' ' + e.op + ' ';
      show(e.rhs, d);
      out += ')';
      return;
    case 'concat': {
      out += '(';
      let first = true;
      for (const p of e.parts) {
        if (first) first = false;
        else out += ' + ';
        show(p, d);
      }
      out += ')';
      return;
    }
  }
}

// ---- the same with an explicit stack (items: strings to output or
// expressions to show, pushed in reverse order) ----

type Item = string | Expr;

/** Pushes the pieces of an attribute path (reversed). */
function pushAttrPath(st: Item[], path: readonly AttrName[]): void {
  for (let i = path.length - 1; i >= 0; i--) {
    const a = path[i]!;
    if ('name' in a) st.push(printIdentifier(a.name));
    else st.push('}"', a.expr, '"${');
    if (i) st.push('.');
  }
}

/** Pushes the bindings of an attribute set / let (reversed). */
function pushBindings(st: Item[], e: EAttrs): void {
  const names = [...e.attrs.keys()].sort();
  const pieces: Item[] = [];
  let inherits = '';
  const inheritsFrom = new Map<number, string>();
  for (const name of names) {
    const d = e.attrs.get(name)!;
    if (d.kind === 'inherit') inherits += ' ' + printIdentifier(name);
    else if (d.kind === 'inheritFrom') inheritsFrom.set(d.from, (inheritsFrom.get(d.from) ?? '') + ' ' + printIdentifier(name));
  }
  if (inherits) pieces.push('inherit' + inherits + '; ');
  for (const from of [...inheritsFrom.keys()].sort((a, b) => a - b)) {
    pieces.push('inherit (', e.inheritFrom[from]!, ')' + inheritsFrom.get(from)! + '; ');
  }
  for (const name of names) {
    const d = e.attrs.get(name)!;
    if (d.kind === 'plain') pieces.push(printIdentifier(name) + ' = ', d.expr, '; ');
  }
  for (const d of e.dynamic) pieces.push('"${', d.name, '}" = ', d.value, '; ');
  for (let i = pieces.length - 1; i >= 0; i--) st.push(pieces[i]!);
}

function showIter(root: Expr): void {
  const st: Item[] = [root];
  while (st.length) {
    let e = st.pop()!;
    if (typeof e === 'string') {
      out += e;
      continue;
    }
    if (e.kind === 'deferred') e = e.ctx.expand(e);
    if (out.length > CHUNK) flush();
    switch (e.kind) {
      case 'int':
      case 'float':
      case 'str':
      case 'path':
      case 'var':
      case 'curPos':
        show(e, 0);
        break;
      case 'select':
        if (e.def) st.push(')', e.def, ' or (');
        pushAttrPath(st, e.path);
        st.push(').', e.expr);
        out += '(';
        break;
      case 'hasAttr':
        st.push(')');
        pushAttrPath(st, e.path);
        st.push(') ? ', e.expr);
        out += '((';
        break;
      case 'attrs':
        st.push('}');
        pushBindings(st, e);
        out += e.rec ? 'rec { ' : '{ ';
        break;
      case 'list':
        st.push(']');
        for (let i = e.elems.length - 1; i >= 0; i--) st.push(') ', e.elems[i]!, '(');
        out += '[ ';
        break;
      case 'lambda': {
        st.push(')', e.body, ': ');
        const pieces: Item[] = [];
        if (e.formals) {
          pieces.push('{ ');
          let first = true;
          for (const f of e.formals.formals) {
            if (first) first = false;
            else pieces.push(', ');
            pieces.push(printIdentifier(f.name));
            if (f.def) pieces.push(' ? ', f.def);
          }
          if (e.formals.ellipsis) pieces.push(first ? '...' : ', ...');
          pieces.push(' }');
          if (e.arg !== undefined) pieces.push(' @ ');
        }
        if (e.arg !== undefined) pieces.push(printIdentifier(e.arg));
        for (let i = pieces.length - 1; i >= 0; i--) st.push(pieces[i]!);
        out += '(';
        break;
      }
      case 'call':
        st.push(')');
        for (let i = e.args.length - 1; i >= 0; i--) st.push(e.args[i]!, ' ');
        st.push(e.fn);
        out += '(';
        break;
      case 'let':
        st.push(')', e.body, 'in ');
        pushBindings(st, e.attrs);
        out += '(let ';
        break;
      case 'with':
        st.push(')', e.body, '; ', e.attrs);
        out += '(with ';
        break;
      case 'if':
        st.push(')', e.else, ' else ', e.then, ' then ', e.cond);
        out += '(if ';
        break;
      case 'assert':
        st.push(e.body, '; ', e.cond);
        out += 'assert ';
        break;
      case 'not':
        st.push(')', e.expr);
        out += '(! ';
        break;
      case 'binary':
        st.push(')', e.rhs, ' ' + e.op + ' ', e.lhs);
        out += '(';
        break;
      case 'concat':
        st.push(')');
        for (let i = e.parts.length - 1; i >= 0; i--) {
          st.push(e.parts[i]!);
          if (i) st.push(' + ');
        }
        out += '(';
        break;
    }
  }
}
