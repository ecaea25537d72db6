// Printing values in the REPL, as `nix repl` prints them: values are forced
// as far as they are printed (to `maxDepth` levels; deeper sets and lists
// are `{ ... }` / `[ ... ]`), derivations are `«derivation /nix/store/….drv»`,
// functions `«lambda @ FILE:L:C»` / `«primop NAME»`, a set or list printed
// before `«repeated»`, an error inside the value `«error: …»` in place.
// An error of the value itself (depth 0) is thrown, to be shown with its
// trace. All text is a byte string (see grammar/ast.ts); ANSI colours when
// `color` is set.

import { showPos } from '../../grammar/errors.js';
import { NixError, InfiniteRecursionError, rangeErrorMessage } from '../eval/errors.js';
import { Interrupted } from '../eval/ops.js';
import { formatFloat, printAttrName, quoteString } from '../eval/print.js';
import { Attrs, Lambda, NixFloat, NixPath, NixStr, PrimOp, PrimOpApp, Thunk, type Value } from '../eval/value.js';
import { ObjectSet } from '../eval/object-set.js';

export const ANSI = {
  normal: '\x1b[0m',
  bold: '\x1b[1m',
  faint: '\x1b[2m',
  italic: '\x1b[3m',
  underline: '\x1b[4m',
  red: '\x1b[31;1m',
  green: '\x1b[32;1m',
  yellow: '\x1b[33;1m',
  blue: '\x1b[34;1m',
  magenta: '\x1b[35;1m',
  cyan: '\x1b[36;1m',
} as const;

export type Colour = keyof typeof ANSI;

const LAQUO = '\xc2\xab'; // « as UTF-8 bytes
const RAQUO = '\xc2\xbb'; // »
const ELLIPSIS = '\xe2\x80\xa6'; // …

export interface ReplPrintOptions {
  color: boolean;
  /** Levels of sets and lists shown (1 for an ordinary evaluation, Infinity for `:p`). */
  maxDepth: number;
  /** `:p`: a string at the top is printed as it is, without quotes or escapes. */
  rawTopString?: boolean;
}

/** Errors that must never be turned into «error: …» (they end the whole command). */
export function isFatal(e: unknown): boolean {
  return e instanceof Interrupted;
}

/** The message of an error met while printing a nested value (one line). */
export function shortErrorMessage(e: unknown): string {
  if (e instanceof NixError) return e.msg;
  if (e instanceof RangeError) return rangeErrorMessage(e) ?? 'stack overflow; max-call-depth exceeded';
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Whether forcing `t` failed because `t` was being evaluated already (a blackhole). */
function wasBlackhole(e: unknown, t: Thunk): boolean {
  return e instanceof InfiniteRecursionError && e.thunk === t && e.frames.length === 0;
}

export function paint(s: string, c: Colour, color: boolean): string {
  return color ? ANSI[c] + s + ANSI.normal : s;
}

/** The REPL's printout of a value (a byte string). Errors of the value itself are thrown. */
export function printReplValue(v: Value, opts: ReplPrintOptions): string {
  const { color, maxDepth } = opts;
  const out: string[] = [];
  // CppNix remembers every set and list printed (not only along the path):
  // keyed by where the value is stored (its thunk), else the value itself.
  const seen = new ObjectSet<object>();
  const p = (s: string, c: Colour) => out.push(color ? ANSI[c] + s + ANSI.normal : s);

  const printDerivation = (a: Attrs) => {
    let path = '???';
    const dp = a.get('drvPath');
    if (dp !== undefined) {
      try {
        const d = dp instanceof Thunk ? dp.force() : dp;
        if (typeof d === 'string') path = d;
        else if (d instanceof NixStr) path = d.s;
      } catch (e) {
        if (isFatal(e)) throw e;
      }
    }
    p(`${LAQUO}derivation ${path}${RAQUO}`, 'green');
  };

  const go = (slot: Value, depth: number): void => {
    let v: Value = slot;
    if (v instanceof Thunk) {
      if (v.code !== null) {
        try {
          v = v.force();
        } catch (e) {
          if (depth === 0 || isFatal(e)) throw e;
          if (wasBlackhole(e, slot as Thunk)) p(`${LAQUO}potential infinite recursion${RAQUO}`, 'magenta');
          else p(`${LAQUO}error: ${shortErrorMessage(e)}${RAQUO}`, 'red');
          return;
        }
      } else v = v.v as Value;
    }
    if (v instanceof Attrs) {
      const key: object = slot instanceof Thunk ? slot : v;
      if (seen.has(key)) {
        p(`${LAQUO}repeated${RAQUO}`, 'magenta');
        return;
      }
      seen.add(key);
      let isDrv = false;
      try {
        isDrv = isDerivationValue(v);
      } catch (e) {
        if (depth === 0 || isFatal(e)) throw e;
        p(`${LAQUO}error: ${shortErrorMessage(e)}${RAQUO}`, 'red');
        return;
      }
      if (isDrv) {
        printDerivation(v);
        return;
      }
      if (depth >= maxDepth) {
        out.push('{ ... }');
        return;
      }
      const keys = v.keys();
      if (keys.length === 0) {
        out.push('{ }');
        return;
      }
      out.push('{ ');
      for (const k of keys) {
        out.push(printAttrName(k), ' = ');
        go(v.get(k)!, depth + 1);
        out.push('; ');
      }
      out.push('}');
      return;
    }
    if (Array.isArray(v)) {
      const key: object = slot instanceof Thunk ? slot : v;
      if (v.length > 0 && seen.has(key)) {
        p(`${LAQUO}repeated${RAQUO}`, 'magenta');
        return;
      }
      if (v.length > 0) seen.add(key);
      if (depth >= maxDepth) {
        out.push('[ ... ]');
        return;
      }
      if (v.length === 0) {
        out.push('[ ]');
        return;
      }
      out.push('[ ');
      for (const x of v) {
        go(x, depth + 1);
        out.push(' ');
      }
      out.push(']');
      return;
    }
    if (depth === 0 && opts.rawTopString && (typeof v === 'string' || v instanceof NixStr)) {
      out.push(typeof v === 'string' ? v : v.s);
      return;
    }
    printScalar(v, p, out);
  };
  go(v, 0);
  return out.join('');
}

/** A set whose `type` is "derivation" (forces `type`; errors propagate). */
export function isDerivationValue(v: Value): v is Attrs {
  if (!(v instanceof Attrs)) return false;
  const t = v.get('type');
  if (t === undefined) return false;
  const tv = t instanceof Thunk ? t.force() : t;
  return tv === 'derivation' || (tv instanceof NixStr && tv.s === 'derivation');
}

function printScalar(v: Value, p: (s: string, c: Colour) => void, out: string[]): void {
  if (v === null) p('null', 'cyan');
  else if (v === true) p('true', 'cyan');
  else if (v === false) p('false', 'cyan');
  else if (typeof v === 'number' || typeof v === 'bigint') p(String(v), 'cyan');
  else if (v instanceof NixFloat) p(formatFloat(v.v), 'cyan');
  else if (typeof v === 'string') p(quoteString(v), 'magenta');
  else if (v instanceof NixStr) p(quoteString(v.s), 'magenta');
  else if (v instanceof NixPath) p(v.path, 'green');
  else if (v instanceof Lambda) p(`${LAQUO}lambda${v.info.name !== undefined ? ' ' + v.info.name : ''} @ ${showPos(v.info.pos)}${RAQUO}`, 'blue');
  else if (v instanceof PrimOp) p(`${LAQUO}primop ${v.name}${RAQUO}`, 'blue');
  else if (v instanceof PrimOpApp) p(`${LAQUO}partially applied primop ${v.op.name}${RAQUO}`, 'blue');
  else out.push('?');
}

/** A one-line summary of a value for the explorer: scalars in full, sets and lists by size (forces nothing). */
export function summarize(v: Value, color: boolean, maxLen = 60): string {
  const p = (s: string, c: Colour) => (color ? ANSI[c] + s + ANSI.normal : s);
  if (v instanceof Thunk) {
    if (v.code !== null) return p(ELLIPSIS, 'faint');
    v = v.v as Value;
  }
  if (v instanceof Attrs) {
    let drv = false;
    try {
      drv = isDerivationValue(v);
    } catch (e) {
      if (isFatal(e)) throw e;
    }
    if (drv) {
      const dp = v.get('drvPath');
      const d = dp instanceof Thunk ? (dp.code === null ? dp.v : undefined) : dp;
      const s = typeof d === 'string' ? d : d instanceof NixStr ? d.s : ELLIPSIS;
      return p(`${LAQUO}derivation ${s}${RAQUO}`, 'green');
    }
    return v.size === 0 ? '{ }' : `{ ${v.size} attribute${v.size === 1 ? '' : 's'} }`;
  }
  if (Array.isArray(v)) return v.length === 0 ? '[ ]' : `[ ${v.length} element${v.length === 1 ? '' : 's'} ]`;
  if ((typeof v === 'string' || v instanceof NixStr) && (typeof v === 'string' ? v : v.s).length > maxLen) {
    const s = typeof v === 'string' ? v : v.s;
    return p(quoteString(s.slice(0, maxLen)), 'magenta') + p(`${LAQUO}${s.length - maxLen} bytes elided${RAQUO}`, 'faint');
  }
  const out: string[] = [];
  printScalar(v, (s, c) => out.push(p(s, c)), out);
  return out.join('');
}

/** `:t`: CppNix's description of a value's type. */
export function describeType(v: Value): string {
  if (v instanceof Thunk) v = v.force();
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'a Boolean';
  if (typeof v === 'number' || typeof v === 'bigint') return 'an integer';
  if (typeof v === 'string' || v instanceof NixStr) return 'a string';
  if (v instanceof NixFloat) return 'a float';
  if (v instanceof NixPath) return 'a path';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Attrs) return 'a set';
  if (v instanceof Lambda) return 'a function';
  if (v instanceof PrimOp) return `the built-in function '${v.name}'`;
  if (v instanceof PrimOpApp) return `the partially applied built-in function '${v.op.name}'`;
  return 'an unknown value';
}

