// The operations every part of the evaluator shares: forcing with type
// checks, calling functions, arithmetic, comparison, equality, coercion to
// strings.  Builtins are written in terms of these.

import type { Pos } from '../../grammar/ast.js';
import { NixError, nativeStackOverflow, rangeErrorMessage } from './errors.js';
import { ObjectSet } from './object-set.js';
import { formatFixed6 } from '../../grammar/print.js';
import { formatFloat, printForError } from './print.js';
import {
  Attrs,
  EMPTY_CTX,
  Env,
  Lambda,
  NixFloat,
  NixPath,
  NixStr,
  PrimOp,
  PrimOpApp,
  Thunk,
  compareBytes,
  filledArray,
  force,
  isDerivationAttrs,
  typeName,
  type CallSite,
  type Context,
  type LambdaInfo,
  type Value,
} from './value.js';

// ---------------------------------------------------------------- forcing

/** A type error.  With an error context, the position goes to the context's frame (as CppNix does). */
function expected(what: string, v: Value, pos: Pos | null, ctx: string | undefined): NixError {
  const e = new NixError(`expected ${what} but found ${typeName(v)}: ${printForError(v)}`, ctx ? null : pos);
  if (ctx) e.addTrace(ctx, pos);
  return e;
}

/** Forces a thunk; errors get the context frame. */
function forceCtx(t: Thunk, pos: Pos | null, ctx: string | undefined): Value {
  if (!ctx) return t.force();
  try {
    return t.force();
  } catch (e) {
    if (e instanceof NixError) e.addTrace(ctx, pos);
    throw e;
  }
}

export function forceAttrs(v: Value, pos: Pos | null = null, ctx?: string): Attrs {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (v instanceof Attrs) return v;
  throw expected('a set', v, pos, ctx);
}

export function forceList(v: Value, pos: Pos | null = null, ctx?: string): Value[] {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (Array.isArray(v)) return v;
  throw expected('a list', v, pos, ctx);
}

export function forceInt(v: Value, pos: Pos | null = null, ctx?: string): number | bigint {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  throw expected('an integer', v, pos, ctx);
}

/** An int as a JS number (for indices and counts); large values saturate. */
export function forceSmallInt(v: Value, pos: Pos | null = null, ctx?: string): number {
  const n = forceInt(v, pos, ctx);
  return typeof n === 'number' ? n : Number(n);
}

export function forceFloatOrInt(v: Value, pos: Pos | null = null, ctx?: string): number {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof NixFloat) return v.v;
  throw expected('a float', v, pos, ctx);
}

export function forceBool(v: Value, pos: Pos | null = null, ctx?: string): boolean {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (typeof v === 'boolean') return v;
  throw expected('a Boolean', v, pos, ctx);
}

export function forceFunction(v: Value, pos: Pos | null = null, ctx?: string): Value {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (v instanceof Lambda || v instanceof PrimOp || v instanceof PrimOpApp) return v;
  if (v instanceof Attrs && v.has('__functor')) return v;
  throw expected('a function', v, pos, ctx);
}

/** A string value (with its context); no coercion. */
export function forceStringValue(v: Value, pos: Pos | null = null, ctx?: string): string | NixStr {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (typeof v === 'string' || v instanceof NixStr) return v;
  throw expected('a string', v, pos, ctx);
}

/** A string's bytes; no coercion; the context is dropped. */
export function forceString(v: Value, pos: Pos | null = null, ctx?: string): string {
  if (v instanceof Thunk) v = forceCtx(v, pos, ctx);
  if (typeof v === 'string') return v;
  if (v instanceof NixStr) return v.s;
  throw expected('a string', v, pos, ctx);
}

/** A string without context, or an error naming the context. */
export function forceStringNoCtx(v: Value, pos: Pos | null = null, ctx?: string): string {
  const s = forceStringValue(v, pos, ctx);
  if (typeof s === 'string') return s;
  if (s.ctx.size === 0) return s.s;
  const first = [...s.ctx][0]!;
  const e = new NixError(`the string '${s.s}' is not allowed to refer to a store path (such as '${decodeCtxPath(first)}')`, pos);
  if (ctx) e.addTrace(ctx);
  throw e;
}

function decodeCtxPath(c: string): string {
  if (c.startsWith('=')) return c.slice(1);
  if (c.startsWith('!')) return c.slice(c.indexOf('!', 1) + 1);
  return c;
}

/** Deeply forces a value (lists and attribute sets recursively). */
export function forceDeep(v: Value): Value {
  const seen = new ObjectSet<object>();
  const go = (v: Value): void => {
    if (v instanceof Thunk) v = v.force();
    if (Array.isArray(v) || v instanceof Attrs) {
      enterDepth(null);
      try {
        goInner(v);
      } finally {
        leaveDepth();
      }
    }
  };
  const goInner = (v: Value[] | Attrs): void => {
    if (Array.isArray(v)) {
      if (!seen.add(v)) return;
      for (let i = 0; i < v.length; i++) {
        try {
          go(v[i]!);
        } catch (e) {
          if (e instanceof NixError) e.addTrace(`while evaluating list element at index ${i}`);
          throw e;
        }
      }
    } else if (v instanceof Attrs) {
      if (!seen.add(v)) return;
      v.forEach((k, x) => {
        try {
          go(x);
        } catch (e) {
          if (e instanceof NixError) e.addTrace(`while evaluating the attribute '${k}'`, v.posOf(k) ?? null);
          throw e;
        }
      });
    }
  };
  // (the walk itself is one level, as CppNix's forceValueDeep)
  enterDepth(null);
  try {
    go(v);
  } finally {
    leaveDepth();
  }
  return v instanceof Thunk ? v.force() : v;
}

// ---------------------------------------------------------------- calling

let callDepth = 0;
/** max-call-depth + 1: CppNix's addCallDepth fails when the depth before the call exceeds max-call-depth. */
let maxCallDepth = 10001;

export function setMaxCallDepth(n: number): void {
  maxCallDepth = n + 1;
}

/** Whether lambda calls add "while calling" / "from call site" frames (CppNix: only with --show-trace). */
let showTrace = true;

export function setShowTrace(b: boolean): void {
  showTrace = b;
}

/** Thrown when another thread sets the interrupt flag (Ctrl-C in the REPL); not a NixError, so nothing catches it. */
export class Interrupted extends Error {}

/** A shared flag (set by the REPL's UI thread on Ctrl-C), checked on every call and walk step; null: never. */
let interruptFlag: Int32Array | null = null;

export function setInterruptFlag(flag: Int32Array | null): void {
  interruptFlag = flag;
}

/** One level more against max-call-depth; false (nothing counted) past it. */
function deeper(): boolean {
  if (interruptFlag !== null && Atomics.load(interruptFlag, 0) !== 0) throw new Interrupted('interrupted by the user');
  if (++callDepth > maxCallDepth) {
    callDepth--;
    return false;
  }
  return true;
}

/** Counts one level of a recursive walk (toJSON, deepSeq, …) against max-call-depth. */
export function enterDepth(pos: Pos | null): void {
  if (!deeper()) throw stackOverflow(pos);
}

export function leaveDepth(): void {
  callDepth--;
}

/** Whether one more level would pass max-call-depth (enterDepth would throw). */
export function atMaxDepth(): boolean {
  return callDepth + 1 > maxCallDepth;
}

/**
 * Counts one level of a recursion that CppNix does not count (equality,
 * comparison, toXML, `__toString`/`outPath` chains): on a cyclic value
 * CppNix recurses until its native stack is exhausted, which is what this
 * reports past max-call-depth (see nativeStackOverflow).  Without it,
 * tsnix's own stack (1 GiB, see bin/tsnix) takes seconds to fill.
 */
export function enterNativeDepth(): void {
  if (!deeper()) throw nativeStackOverflow();
}

/** Where a function was defined (for "return value of the function" frames), if known. */
export function fnPos(f: Value, fallback: Pos | null): Pos | null {
  if (f instanceof Thunk && f.code === null) f = f.v as Value;
  return f instanceof Lambda ? f.info.pos : fallback;
}

export function lambdaName(l: Lambda): string {
  return l.info.name !== undefined ? `'${l.info.name}'` : 'anonymous lambda';
}

/** Calls a function value with one argument. */
export function call1(fn: Value, arg: Value, pos: Pos | null): Value {
  if (fn instanceof Thunk) fn = fn.force();
  if (fn instanceof Lambda) return callLambda(fn, arg, pos);
  return callN(fn, [arg], pos);
}

/** `f a b` without an arguments array when `f` is a lambda (the common curried case). */
export function call2(fn: Value, a: Value, b: Value, pos: Pos | null): Value {
  if (fn instanceof Thunk) fn = fn.force();
  if (fn instanceof Lambda) return call1(callLambda(fn, a, pos), b, pos);
  return callN(fn, [a, b], pos);
}

/** Calls a function value with several arguments (curried application). */
export function callN(fn: Value, args: Value[], pos: Pos | null): Value {
  let i = 0;
  while (i < args.length) {
    if (fn instanceof Thunk) fn = fn.force();
    if (fn instanceof Lambda) {
      fn = callLambda(fn, args[i++]!, pos);
      continue;
    }
    if (fn instanceof PrimOp && i === 0 && args.length === fn.arity) {
      // the common case: a builtin called with exactly its arguments
      return force(callPrimOp(fn, args, pos));
    }
    if (fn instanceof PrimOp || fn instanceof PrimOpApp) {
      const op = fn instanceof PrimOp ? fn : fn.op;
      const have = fn instanceof PrimOp ? [] : fn.args;
      const need = op.arity - have.length;
      const avail = args.length - i;
      if (avail < need) {
        return new PrimOpApp(op, have.concat(args.slice(i)));
      }
      const all = have.length ? have.concat(args.slice(i, i + need)) : args.slice(i, i + need);
      i += need;
      fn = callPrimOp(op, all, pos);
      continue;
    }
    if (fn instanceof Attrs) {
      const f = fn.get('__functor');
      if (f !== undefined) {
        // `f.__functor f arg` (a functor whose function gives a functor again
        // recurses here: counted, see enterNativeDepth)
        const inner = callN(f, [fn], pos);
        enterNativeDepth();
        try {
          fn = callN(inner, [args[i++]!], pos);
        } finally {
          leaveDepth();
        }
        continue;
      }
    }
    throw new NixError(`attempt to call something which is not a function but ${typeName(fn)}: ${printForError(fn)}`, pos);
  }
  return fn instanceof Thunk ? fn.force() : fn;
}

const NO_SITE: CallSite = { pos: null };

export function callPrimOp(op: PrimOp, args: Value[], pos: Pos | null): Value {
  // (a small object per call is cheaper than looking one up per position)
  const site = pos === null ? NO_SITE : { pos };
  // a builtin's call counts against max-call-depth as a lambda's does (CppNix's callFunction)
  enterDepth(pos);
  try {
    return op.fn(args, site);
  } catch (e) {
    if (e instanceof NixError && op.addTrace) {
      // The "while calling" frame shows the call's position: the error and the
      // frames added inside the builtin (argument frames) do not repeat it.
      if (pos) {
        if (e.pos && e.pos.src === pos.src && e.pos.offset === pos.offset && e.frames.length === 0) e.pos = null;
        for (const f of e.frames) if (f.pos && f.pos.src === pos.src && f.pos.offset === pos.offset) f.pos = null;
      }
      e.addTrace(`while calling the '${op.name}' builtin`, pos);
    }
    else if (e instanceof RangeError) {
      const m = rangeErrorMessage(e);
      throw m === null ? stackOverflow(pos) : new NixError(m, null).addTrace(`while calling the '${op.name}' builtin`, pos);
    }
    throw e;
  } finally {
    leaveDepth();
  }
}

export function stackOverflow(pos: Pos | null): NixError {
  return new NixError('stack overflow; max-call-depth exceeded', pos);
}

export function callLambda(fn: Lambda, arg: Value, pos: Pos | null): Value {
  const info = fn.info;
  const env: Env = info.formals === null ? [fn.env as unknown as Value, arg] : bindFormals(fn, arg, pos);
  enterDepth(pos);
  try {
    return info.body(env);
  } catch (e) {
    throw callFrames(e, info, pos);
  } finally {
    leaveDepth();
  }
}

function callFrames(e: unknown, info: LambdaInfo, pos: Pos | null): unknown {
  if (e instanceof NixError) {
    if (!showTrace) return e;
    e.addTrace(`while calling ${info.name !== undefined ? `'${info.name}'` : 'anonymous lambda'}`, info.pos);
    if (pos) e.addTrace('from call site', pos);
    return e;
  }
  if (e instanceof RangeError) return stackOverflow(pos);
  return e;
}

/** The environment of a call of a lambda with formals `{ a, b ? d, … } @ x`. */
function bindFormals(fn: Lambda, arg: Value, pos: Pos | null): Env {
  const info = fn.info;
  const f = info.formals!;
  // (slot i is vals[i + 1]; element 0 is the enclosing environment)
  const vals: Env = filledArray(info.slots + 1, null);
  vals[0] = fn.env as unknown as Value;
  const env = vals;
  let attrs: Attrs;
  try {
    attrs = forceAttrs(arg, pos);
  } catch (e) {
    if (e instanceof NixError) e.addTrace(`while evaluating the value passed for the lambda argument`, info.pos);
    throw e;
  }
  const names = f.names;
  if (info.arg !== undefined) vals[names.length + 1] = attrs;
  let used = 0;
  for (let i = 0; i < names.length; i++) {
    const v = attrs.get(names[i]!);
    if (v !== undefined) {
      vals[i + 1] = v;
      used++;
    } else {
      const d = f.defaults[i];
      if (d === null || d === undefined) {
        const e = new NixError(`function '${info.name ?? 'anonymous lambda'}' called without required argument '${names[i]}'`, info.pos);
        if (pos) e.addTrace('from call site', pos);
        throw e;
      }
      vals[i + 1] = d(env);
    }
  }
  // (sizeAtMost first: counting a layered set's names costs a walk over them)
  if (!f.ellipsis && used < attrs.sizeAtMost() && used < attrs.size) {
    const allowed = new Set(names);
    for (const k of attrs.keys()) {
      if (!allowed.has(k)) {
        const e = new NixError(`function '${info.name ?? 'anonymous lambda'}' called with unexpected argument '${k}'`, info.pos);
        e.hint = didYouMean(k, names);
        if (pos) e.addTrace('from call site', pos);
        throw e;
      }
    }
  }
  return env;
}

/**
 * CppNix's "Did you mean one of a, b or c?" suggestions: the candidates at
 * an edit distance of at most 2, the 5 nearest, nearest first (then by name).
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | null {
  const scored: [number, string][] = [];
  for (const c of candidates) {
    const d = levenshtein(name, c);
    if (d <= 2) scored.push([d, c]);
  }
  if (scored.length === 0) return null;
  scored.sort((a, b) => a[0] - b[0] || compareBytes(a[1], b[1]));
  const names = scored.slice(0, 5).map((s) => s[1]);
  if (names.length === 1) return `Did you mean ${names[0]}?`;
  return `Did you mean one of ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}?`;
}

function levenshtein(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n]!;
}

// ---------------------------------------------------------------- integers

const INT_MAX = 9223372036854775807n;
const INT_MIN = -9223372036854775808n;

/** Normalises a bigint result into the int representation (number when safe). */
export function normInt(r: bigint): number | bigint {
  return r >= -9007199254740991n && r <= 9007199254740991n ? Number(r) : r;
}

function checked(r: bigint, what: string, a: number | bigint, op: string, b: number | bigint, pos: Pos | null): number | bigint {
  if (r > INT_MAX || r < INT_MIN) throw new NixError(`integer overflow in ${what} ${a} ${op} ${b}`, pos);
  return normInt(r);
}

export function intAdd(a: number | bigint, b: number | bigint, pos: Pos | null): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (Number.isSafeInteger(r)) return r;
  }
  return checked(BigInt(a) + BigInt(b), 'adding', a, '+', b, pos);
}

export function intSub(a: number | bigint, b: number | bigint, pos: Pos | null): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a - b;
    if (Number.isSafeInteger(r)) return r;
  }
  return checked(BigInt(a) - BigInt(b), 'subtracting', a, '-', b, pos);
}

export function intMul(a: number | bigint, b: number | bigint, pos: Pos | null): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a * b;
    if (Number.isSafeInteger(r)) return r === 0 ? 0 : r;
  }
  return checked(BigInt(a) * BigInt(b), 'multiplying', a, '*', b, pos);
}

export function intDiv(a: number | bigint, b: number | bigint, pos: Pos | null): number | bigint {
  if (b === 0 || b === 0n) throw new NixError('division by zero', pos);
  if (typeof a === 'number' && typeof b === 'number' && Math.abs(a) < 2147483648) {
    const r = Math.trunc(a / b);
    return r === 0 ? 0 : r;
  }
  return checked(BigInt(a) / BigInt(b), 'dividing', a, '/', b, pos);
}

/** `+`, `-`, `*`, `/` on numbers: ints stay ints, a float operand makes a float. */
export function arith(op: '+' | '-' | '*' | '/', a: Value, b: Value, pos: Pos | null, ctxA?: string, ctxB?: string): Value {
  if (typeof a === 'number' && typeof b === 'number') {
    if (op === '+') {
      const r = a + b;
      if (Number.isSafeInteger(r)) return r;
    } else if (op === '-') {
      const r = a - b;
      if (Number.isSafeInteger(r)) return r;
    }
  }
  if (a instanceof Thunk) a = a.force();
  if (b instanceof Thunk) b = b.force();
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
    switch (op) {
      case '+':
        return intAdd(a, b, pos);
      case '-':
        return intSub(a, b, pos);
      case '*':
        return intMul(a, b, pos);
      case '/':
        return intDiv(a, b, pos);
    }
  }
  const x = forceFloatOrInt(a, pos, ctxA);
  const y = forceFloatOrInt(b, pos, ctxB);
  switch (op) {
    case '+':
      return new NixFloat(x + y);
    case '-':
      return new NixFloat(x - y);
    case '*':
      return new NixFloat(x * y);
    case '/':
      if (y === 0) throw new NixError('division by zero', pos);
      return new NixFloat(x / y);
  }
}

// ---------------------------------------------------------------- comparison

function isNumber(v: Value): boolean {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof NixFloat;
}

function numVal(v: Value): number | bigint {
  return v instanceof NixFloat ? v.v : (v as number | bigint);
}

/** `a < b` (numbers, strings, paths, lists lexicographically). */
export function lessThan(a: Value, b: Value, pos: Pos | null): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a < b;
  if (a instanceof Thunk) a = a.force();
  if (b instanceof Thunk) b = b.force();
  if (isNumber(a) && isNumber(b)) {
    const x = numVal(a);
    const y = numVal(b);
    if (typeof x === 'bigint' && typeof y === 'bigint') return x < y;
    if (typeof x === 'bigint' || typeof y === 'bigint') {
      // mixed: compare exactly when the other side is integral
      if (typeof x === 'bigint' && Number.isInteger(y)) return x < BigInt(y as number);
      if (typeof y === 'bigint' && Number.isInteger(x)) return BigInt(x as number) < y;
      return Number(x) < Number(y);
    }
    return x < y;
  }
  const sa = typeof a === 'string' ? a : a instanceof NixStr ? a.s : null;
  const sb = typeof b === 'string' ? b : b instanceof NixStr ? b.s : null;
  if (sa !== null && sb !== null) return sa < sb;
  if (a instanceof NixPath && b instanceof NixPath) return a.path < b.path;
  if (Array.isArray(a) && Array.isArray(b)) {
    enterNativeDepth();
    try {
      for (let i = 0; ; i++) {
        if (i === b.length) return false;
        if (i === a.length) return true;
        if (!eqValues(a[i]!, b[i]!, pos, true)) return lessThan(a[i]!, b[i]!, pos);
      }
    } finally {
      leaveDepth();
    }
  }
  const sameType = typeName(a) === typeName(b);
  if (sameType) {
    throw new NixError(
      `cannot compare ${typeName(a)} with ${typeName(b)}; values of that type are incomparable (values are ${printForError(a)} and ${printForError(b)})`,
      pos,
    );
  }
  throw new NixError(`cannot compare ${typeName(a)} with ${typeName(b)}; values are ${printForError(a)} and ${printForError(b)}`, pos);
}

/** `==`.  `inner`: the values are elements of lists or sets (then identical values are equal, as in CppNix). */
export function eqValues(a: Value, b: Value, pos: Pos | null, inner = false): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (inner && a === b) return true;
  if (a instanceof Thunk) a = a.force();
  if (b instanceof Thunk) b = b.force();
  if (inner && a === b && !(a instanceof Lambda)) return true;
  if (isNumber(a) && isNumber(b)) {
    const x = numVal(a);
    const y = numVal(b);
    if (typeof x === typeof y) return x === y;
    if (typeof x === 'bigint') return Number.isInteger(y) && x === BigInt(y as number);
    if (typeof y === 'bigint') return Number.isInteger(x) && y === BigInt(x as number);
    return x === y;
  }
  if (a === null || typeof a === 'boolean') return a === b;
  if (typeof a === 'string' || a instanceof NixStr) {
    if (typeof b === 'string') return (typeof a === 'string' ? a : a.s) === b;
    if (b instanceof NixStr) return (typeof a === 'string' ? a : a.s) === b.s;
    return false;
  }
  if (a instanceof NixPath) return b instanceof NixPath && a.path === b.path;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    if (a.length === 0) return true;
    enterNativeDepth();
    try {
      for (let i = 0; i < a.length; i++) if (!eqValues(a[i]!, b[i]!, pos, true)) return false;
    } finally {
      leaveDepth();
    }
    return true;
  }
  if (a instanceof Attrs) {
    if (!(b instanceof Attrs)) return false;
    enterNativeDepth();
    try {
      if (isDerivationAttrs(a) && isDerivationAttrs(b)) {
        const oa = a.get('outPath');
        const ob = b.get('outPath');
        if (oa !== undefined && ob !== undefined) return eqValues(oa, ob, pos, true);
      }
      if (a.size !== b.size) return false;
      for (const k of a.keys()) {
        const y = b.get(k);
        if (y === undefined) return false;
        if (!eqValues(a.get(k)!, y, pos, true)) return false;
      }
    } finally {
      leaveDepth();
    }
    return true;
  }
  // functions are never equal
  return false;
}

// ---------------------------------------------------------------- strings

export interface CoerceOptions {
  /** Also coerce ints, floats, booleans, null and lists (toString, interpolation into derivations). */
  coerceMore?: boolean;
  /** Copy paths into the store and return their store paths (string interpolation). */
  copyToStore?: boolean;
  /** For error frames: what is being coerced. */
  errCtx?: string;
  /** `__toString` must return something string-like (toJSON's rule). */
  strictToString?: boolean;
}

export interface CoerceResult {
  s: string;
  ctx: Context;
}

/** Hook for copying a path to the store (set by the evaluator when a store is available). */
export let copyPathToStore: (path: string, pos: Pos | null) => { path: string } = () => {
  throw new NixError('copying paths to the store is not implemented yet');
};

export function setCopyPathToStore(f: typeof copyPathToStore): void {
  copyPathToStore = f;
}

/** Coerces a value to a string as CppNix's coerceToString does. */
export function coerceToString(v: Value, pos: Pos | null, opts: CoerceOptions = {}): CoerceResult {
  // as CppNix's forceValue: an error evaluating the value gets no context frame
  if (v instanceof Thunk) v = v.force();
  if (v instanceof Attrs && v.coercible()) {
    return peelToStringOutPath(v, pos, !!opts.strictToString, (p) => coerceToString(p, pos, opts));
  }
  if (typeof v === 'string') return { s: v, ctx: EMPTY_CTX };
  if (v instanceof NixStr) return { s: v.s, ctx: v.ctx };
  if (v instanceof NixPath) {
    if (opts.copyToStore) {
      const p = copyPathToStore(v.path, pos).path;
      return { s: p, ctx: new Set([p]) };
    }
    return { s: v.path, ctx: EMPTY_CTX };
  }
  if (opts.coerceMore) {
    if (v === null || v === false) return { s: '', ctx: EMPTY_CTX };
    if (v === true) return { s: '1', ctx: EMPTY_CTX };
    if (typeof v === 'number' || typeof v === 'bigint') return { s: String(v), ctx: EMPTY_CTX };
    if (v instanceof NixFloat) return { s: floatToString(v.v), ctx: EMPTY_CTX };
    if (Array.isArray(v)) {
      let s = '';
      let ctx: Context = EMPTY_CTX;
      for (let i = 0; i < v.length; i++) {
        let r: CoerceResult;
        try {
          // an element's own type error says "one element of the list"; any error of it gets the caller's frame
          r = coerceToString(v[i]!, pos, { ...opts, errCtx: 'while evaluating one element of the list' });
        } catch (e) {
          if (e instanceof NixError && opts.errCtx) e.addTrace(opts.errCtx, pos);
          throw e;
        }
        s += r.s;
        if (r.ctx.size) ctx = mergeContexts(ctx, r.ctx);
        // CppNix: a space after every element but the last, except after an empty list
        if (i < v.length - 1) {
          const el = v[i] instanceof Thunk ? (v[i] as Thunk).force() : v[i];
          if (!(Array.isArray(el) && el.length === 0)) s += ' ';
        }
      }
      return { s, ctx };
    }
  }
  const err = new NixError(`cannot coerce ${typeName(v)} to a string: ${printForError(v)}`, opts.errCtx ? null : pos);
  if (opts.errCtx) err.addTrace(opts.errCtx, pos);
  throw err;
}

/**
 * CppNix's peelToStringOutPath: a set with `__toString` is replaced by what
 * calling it returns, one with `outPath` by that attribute, repeatedly; `cb`
 * gets the final value.  Frames: "while calling the `__toString` attribute",
 * "while using the result of the `__toString` attribute", "while using
 * (evaluating) the `outPath` attribute", at the attribute.  With
 * `checkToStringReturn` (toJSON), `__toString` must end in a string or path.
 */
export function peelToStringOutPath<R>(v: Value, pos: Pos | null, checkToStringReturn: boolean, cb: (peeled: Value, cameThroughToString: boolean) => R): R {
  let came = false;
  const peel = (v: Value, pos: Pos | null): R => {
    if (v instanceof Thunk) v = v.force();
    if (!(v instanceof Attrs)) {
      if (checkToStringReturn && came && !(typeof v === 'string' || v instanceof NixStr || v instanceof NixPath)) {
        throw new NixError(`\`__toString\` should return a string, but got ${typeName(v)}: ${printForError(v)}`, pos);
      }
      return cb(v, came);
    }
    const ts = v.get('__toString');
    if (ts !== undefined) {
      const tsPos = v.posOf('__toString') ?? null;
      let r: Value;
      try {
        r = callN(ts, [v], tsPos);
      } catch (e) {
        if (e instanceof NixError) e.addTrace('while calling the `__toString` attribute', tsPos);
        throw e;
      }
      came = true;
      enterNativeDepth();
      try {
        return peel(r, tsPos);
      } catch (e) {
        if (e instanceof NixError) e.addTrace('while using the result of the `__toString` attribute', tsPos);
        throw e;
      } finally {
        leaveDepth();
      }
    }
    const op = v.get('outPath');
    if (op !== undefined) {
      const opPos = v.posOf('outPath') ?? null;
      enterNativeDepth();
      try {
        if (op instanceof Thunk) op.force();
        return peel(op, opPos);
      } catch (e) {
        // "evaluating" when the attribute itself failed, "using" when what came of it did
        const failed = op instanceof Thunk && op.code !== null;
        if (e instanceof NixError) e.addTrace(`while ${failed ? 'evaluating' : 'using'} the \`outPath\` attribute`, opPos);
        throw e;
      } finally {
        leaveDepth();
      }
    }
    if (checkToStringReturn && came) {
      throw new NixError(`\`__toString\` must return a string, but got ${typeName(v)}: ${printForError(v)}`, pos);
    }
    return cb(v, came);
  };
  return peel(v, pos);
}

/** `toString` of a float: C++ std::to_string (six decimals). */
export function floatToString(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  // toFixed switches to exponents from 1e21 on; printf's %f never does
  if (Object.is(x, -0)) return '-0.000000';
  if (Math.abs(x) >= 1e21) return `${x < 0 ? '-' : ''}${BigInt(Math.abs(x))}.000000`;
  return formatFixed6(x);
}

export { formatFloat };

export function mergeContexts(a: Context, b: Context): Context {
  if (a.size === 0) return b;
  if (b.size === 0 || a === b) return a;
  const r = new Set(a);
  for (const x of b) r.add(x);
  return r;
}

/** Byte order comparison of strings for sort. */
export { compareBytes };
