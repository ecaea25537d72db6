// How builtin groups declare their builtins.  Each file under
// src/eval/builtins/ exports `register(r: Registry)` and calls `r.add` (or
// `r.value`) for each builtin; src/eval/builtins/index.ts lists the files.

import type { Pos } from '../../../grammar/ast.js';
import { NixError } from '../errors.js';
import { call1, callN, forceAttrs, forceList } from '../ops.js';
import { Lambda, Thunk, type Attrs, type Value, type CallSite } from '../value.js';
import type { EvalState } from '../state.js';

export interface BuiltinDef {
  /** Name without `__` (as in `builtins.NAME`). */
  name: string;
  /** Argument names, for `:doc` and the arity. */
  args: string[];
  /** Documentation shown by `:doc`. */
  doc: string;
  fn: (args: Value[], site: CallSite) => Value;
  /** Also bound at top level without `__` (like `map`, `toString`). */
  global?: boolean;
  /**
   * false: errors get no "while calling the 'X' builtin" frame (CppNix's
   * PrimOp::addTrace, false for addErrorContext, whose own frame says it
   * all).  Honoured by callPrimOp (ops.ts).
   */
  addTrace?: boolean;
}

export interface Registry {
  readonly state: EvalState;
  add(def: BuiltinDef): void;
  /** A constant builtin (`true`, `langVersion`, `currentSystem`, …). */
  value(name: string, v: Value, opts?: { global?: boolean; doc?: string; lazy?: () => Value }): void;
}

/** "first", "second", … for "while evaluating the second argument passed to builtins.X". */
export const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

/** Builtins whose argument frames CppNix words differently. */
const ARG_CTX: Record<string, string[]> = {
  attrNames: ['while evaluating the argument passed to builtins.attrNames'],
  attrValues: ['while evaluating the argument passed to builtins.attrValues'],
  listToAttrs: ['while evaluating the argument passed to builtins.listToAttrs'],
  stringLength: ['while evaluating the argument passed to builtins.stringLength'],
  derivationStrict: ['while evaluating the argument passed to builtins.derivationStrict'],
  elemAt: [
    "while evaluating the first argument passed to 'builtins.elemAt'",
    "while evaluating the second argument passed to 'builtins.elemAt'",
  ],
  head: ["while evaluating the first argument passed to 'builtins.head'"],
  tail: ["while evaluating the first argument passed to 'builtins.tail'"],
  dirOf: ["while evaluating the first argument passed to 'builtins.dirOf'"],
  storePath: ["while evaluating the first argument passed to 'builtins.storePath'"],
  abort: ['while evaluating the error message passed to builtins.abort'],
  // sic: CppNix says "builtin.throw"
  throw: ['while evaluating the error message passed to builtin.throw'],
  addErrorContext: ['while evaluating the error message passed to builtins.addErrorContext'],
  warn: ['while evaluating the first argument; the message passed to builtins.warn'],
  concatStringsSep: [
    'while evaluating the first argument (the separator string) passed to builtins.concatStringsSep',
    'while evaluating the second argument (the list of strings to concat) passed to builtins.concatStringsSep',
  ],
  substring: [
    'while evaluating the first argument (the start offset) passed to builtins.substring',
    'while evaluating the second argument (the substring length) passed to builtins.substring',
    'while evaluating the third argument (the string) passed to builtins.substring',
  ],
  filterSource: [
    'while evaluating the first argument passed to builtins.filterSource',
    "while evaluating the second argument (the path to filter) passed to 'builtins.filterSource'",
  ],
  add: ['while evaluating the first argument of the addition', 'while evaluating the second argument of the addition'],
  sub: ['while evaluating the first argument of the subtraction', 'while evaluating the second argument of the subtraction'],
  mul: ['while evaluating the first argument of the multiplication', 'while evaluating the second argument of the multiplication'],
  div: ['while evaluating the first operand of the division', 'while evaluating the second operand of the division'],
};

/** Internal names CppNix uses in messages (`foldl'` is implemented as foldlStrict). */
const MSG_NAME = new Map<string, string>([["foldl'", 'foldlStrict']]);

const argCtxCache = new Map<string, string[]>();

/** The frame naming argument `n` of a builtin (memoised: builtins ask for it on every call). */
export function argCtx(builtin: string, n: number): string {
  let msgs = argCtxCache.get(builtin);
  if (msgs === undefined) argCtxCache.set(builtin, (msgs = []));
  const hit = msgs[n];
  if (hit !== undefined) return hit;
  // own properties only: `toString` must not find Object.prototype.toString
  const special = Object.hasOwn(ARG_CTX, builtin) ? ARG_CTX[builtin]![n] : undefined;
  const msg = special ?? `while evaluating the ${ORDINALS[n]} argument passed to builtins.${MSG_NAME.get(builtin) ?? builtin}`;
  msgs[n] = msg;
  return msg;
}

// ---------------------------------------------------------------- CppNix's forcing rules for builtins
//
// CppNix calls a primop with the position of the primop value, which is
// none: inside a builtin, argument frames ("while evaluating the first
// argument passed to builtins.X") and the builtin's own errors carry no
// position (the "while calling the 'X' builtin" frame shows the call).
// Builtins therefore pass `null` as the position unless CppNix uses a
// specific one (an attribute's position, a function's position, …).
//
// CppNix's forceInt/forceFloat/forceBool/forceString/forceFunction add the
// context frame to any error, including one raised while evaluating the
// value; forceList/forceAttrs (and coerceToString) add it to type errors
// only.  `listArg`/`attrsArg` follow the latter rule.

/** A list argument: the context frame is added to a type error only. */
export function listArg(v: Value, ctx: string): Value[] {
  return forceList(v instanceof Thunk ? v.force() : v, null, ctx);
}

/** An attribute set argument: the context frame is added to a type error only. */
export function attrsArg(v: Value, ctx: string): Attrs {
  return forceAttrs(v instanceof Thunk ? v.force() : v, null, ctx);
}

/**
 * CppNix's `forceX(v, pos, ctx)` with a real position: the error is
 * positioned at `pos` (as `f` reports it) and gets the frame (ctx, pos).
 */
export function withFrameAt<T>(pos: Pos | null, ctx: string, f: () => T, lazyPos?: () => Pos | null): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NixError) e.addTrace(ctx, lazyPos ? lazyPos() : pos);
    throw e;
  }
}

/**
 * CppNix's Value::determinePos: the position of a function value (used as
 * the call position when a builtin's lazy application is forced); an
 * unevaluated thunk, a primop or a non-function has none (`fallback`).
 */
export function determinePos(v: Value, fallback: Pos | null = null): Pos | null {
  while (v instanceof Thunk) {
    if (v.code !== null) return fallback;
    v = v.v as Value;
  }
  return v instanceof Lambda ? v.info.pos : fallback;
}


/**
 * A lazy application `f a1 … an` made by a builtin (map, genList, mapAttrs,
 * …).  CppNix forces such a value with the position of the function as the
 * call position (its determinePos), which shows as the "from call site"
 * frame of a lambda; it is worked out when the value is forced.
 */
export function lazyCall(f: Value, args: Value[]): Thunk {
  return new Thunk(() => callN(f, args, determinePos(f)), null);
}

/** `lazyCall(f, [a])` in one object (see Thunk.app). */
export function lazyCall1(f: Value, a: Value): Thunk {
  return Thunk.app(APPLY1, f, a);
}

const APPLY1 = (a: unknown, t?: Thunk): Value => {
  const f = Thunk.appFunction(t!);
  let pos = appCallPos;
  if (pos !== null) appCallPos = null;
  else pos = determinePos(f);
  return call1(f, a as Value, pos);
};

/** The call position forceAt gives the lazy application it forces (read and cleared by APPLY1). */
let appCallPos: Pos | null = null;

/**
 * Forces a value as CppNix's forceValue(v, pos): a lazy application made by a
 * builtin (lazyCall1) is called from `pos` (its "from call site" frame, and
 * where a max-call-depth error points), not from the function's position.
 */
export function forceAt(v: Value, pos: Pos | null): Value {
  if (!(v instanceof Thunk)) return v;
  if (v.code === APPLY1) appCallPos = pos;
  return v.force();
}

/** CppNix's getAttr failure: no position, and a frame (without position) saying where the attribute was looked up. */
export function missingAttr(name: string, where: string | null): NixError {
  const e = new NixError(`attribute '${name}' missing`);
  if (where) e.addTrace(where);
  return e;
}
