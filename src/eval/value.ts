// Nix values.
//
//   null, booleans               JS null / boolean
//   integers                     JS number when a safe integer, else bigint (always within int64)
//   floats                       NixFloat
//   strings                      JS string (a byte string, see grammar/ast.ts) when without
//                                context, NixStr when they carry a context
//   paths                        NixPath
//   lists                        JS arrays (never mutated once built); elements may be thunks
//   attribute sets               Attrs
//   functions                    Lambda, PrimOp, PrimOpApp (a partially applied primop)
//   not yet evaluated            Thunk
//
// Functions that take a `Value` accept thunks; `force` returns a value in weak
// head normal form (never a Thunk).

import { Map as IMap } from 'immutable';
import type { Pos, Source } from '../../grammar/ast.js';
import { InfiniteRecursionError, NixError, infiniteRecursion } from './errors.js';

export type Value =
  | null
  | boolean
  | number
  | bigint
  | NixFloat
  | string
  | NixStr
  | NixPath
  | Value[]
  | Attrs
  | Lambda
  | PrimOp
  | PrimOpApp
  | Thunk;

export class NixFloat {
  constructor(readonly v: number) {}
}

/** A string's context: store paths it depends on, in CppNix's encoding
 * (`/nix/store/…` opaque, `=/nix/store/….drv` all outputs of a derivation,
 * `!out!/nix/store/….drv` one output).  Never mutated once shared. */
export type Context = ReadonlySet<string>;

export class NixStr {
  constructor(
    readonly s: string,
    readonly ctx: Context,
  ) {}
}

export class NixPath {
  constructor(readonly path: string) {}
}

/** A lexical environment: one scope's slots and the enclosing environment. */
export class Env {
  constructor(
    readonly up: Env | null,
    readonly vals: Value[],
  ) {}
}

/** Compiled code: evaluates to a value in weak head normal form. */
export type Code = (env: Env) => Value;

const BLACKHOLE: Code = () => {
  throw new Error('blackhole');
};

/** The code of a thunk whose evaluation failed: `v` holds the error (see Thunk.force). */
const FAILED: Code = () => {
  throw new Error('failed');
};

export class Thunk {
  /** The result once evaluated. */
  v: Value | undefined = undefined;
  constructor(
    public code: Code | null,
    public env: Env | null,
    /** For "infinite recursion" messages. */
    public pos: Pos | null = null,
  ) {}

  force(): Value {
    const code = this.code;
    if (code === null) return this.v as Value;
    if (code === BLACKHOLE) throw infiniteRecursion(null, this);
    // As CppNix (2.34+), an evaluation error is memoised: forcing the thunk
    // again throws a copy of it, with the frames it had gathered by then.
    if (code === FAILED) throw (this.v as unknown as NixError).clone();
    this.code = BLACKHOLE;
    let v: Value;
    try {
      v = code(this.env!);
    } catch (e) {
      if (e instanceof InfiniteRecursionError && e.thunk === this) e.addTrace('entering the infinite recursion');
      if (e instanceof NixError) {
        // (the error object keeps gathering frames while it propagates, as CppNix's does)
        this.code = FAILED;
        this.v = e as unknown as Value;
        this.env = null;
      } else {
        // interruptions and JS errors are not memoised: the thunk can be forced again
        this.code = code;
      }
      throw e;
    }
    this.v = v;
    this.code = null;
    this.env = null;
    return v;
  }
}

/** A value that is already known: no evaluation needed. */
export function evaluated(v: Value): Value {
  return v;
}

export function force(v: Value): Value {
  return v instanceof Thunk ? v.force() : v;
}

/** Where attributes of a set were defined (for unsafeGetAttrPos and traces). */
export interface AttrPositions {
  src: Source;
  offsets: ReadonlyMap<string, number>;
  /** Cache of Pos objects made from `offsets`. */
  poses?: Map<string, Pos>;
}

/** Where attributes were defined: a literal's table, single positions, or a lookup made on demand. */
type PosTable = AttrPositions | Map<string, Pos> | ((name: string) => Pos | undefined);

/**
 * An attribute set.  Usually a native Map; a set made by `//` of a small set
 * onto a big one is a persistent map (immutable.js) so that the common
 * `acc // { k = v; }` fold is not quadratic; other `//` results are layered
 * (`upper` over `lower`, both kept) until something needs all of their
 * attributes, so that `drv // { … }` costs no copy when only a few attributes
 * are ever looked up.  `m` gives a native Map in every case (made once on
 * demand, in the order a copy of `lower` updated by `upper` would have); hot
 * paths use get/has/size.
 */
export class Attrs {
  private sortedKeys: string[] | null = null;
  private native: Map<string, Value> | null;
  private persistent: IMap<string, Value> | null = null;
  /** A layered set (native and persistent null): `upper`'s attributes win over `lower`'s. */
  private layers: Layers | null = null;
  /** Where attributes were defined: tables consulted in order (see posOf). */
  private posTables: PosTable[] | null;

  constructor(m: Map<string, Value>, positions: AttrPositions | null = null, posFrom: Attrs[] | null = null) {
    this.native = m;
    this.posTables = positions ? [positions] : posFrom ? mergePosTables(posFrom) : null;
  }

  static fromPersistent(p: IMap<string, Value>, posFrom: Attrs[]): Attrs {
    const a = new Attrs(EMPTY_MAP, null, posFrom);
    a.native = null;
    a.persistent = p;
    return a;
  }

  /** `lower // upper` without copying either (both non-empty). */
  static layered(lower: Attrs, upper: Attrs): Attrs {
    const a = new Attrs(EMPTY_MAP, null, [upper, lower]);
    a.native = null;
    a.layers = { upper, lower, depth: Math.max(lower.depth, upper.depth) + 1, size: -1 };
    return a;
  }

  /** Layers under this set (0 when native or persistent), to bound the cost of lookups. */
  get depth(): number {
    return this.layers === null ? 0 : this.layers.depth;
  }

  /** The attributes as a native Map (do not mutate). */
  get m(): Map<string, Value> {
    if (this.native === null) {
      if (this.persistent !== null) this.native = new Map(this.persistent);
      else {
        // one copy of the bottom set, then the upper layers from the bottom up
        // (the intermediate layers of a `((a // b) // c) // d` chain get no Map)
        const ups: Attrs[] = [];
        let a: Attrs = this;
        while (a.layers !== null) {
          ups.push(a.layers.upper);
          a = a.layers.lower;
        }
        const m = new Map(a.m);
        for (let i = ups.length - 1; i >= 0; i--) for (const [k, v] of ups[i]!.entries()) m.set(k, v);
        this.native = m;
        this.layers = null;
      }
    }
    return this.native;
  }

  /** The attributes as a persistent map (made once on demand). */
  asPersistent(): IMap<string, Value> {
    if (this.persistent === null) this.persistent = IMap(this.m);
    return this.persistent;
  }

  get size(): number {
    if (this.native !== null) return this.native.size;
    if (this.persistent !== null) return this.persistent.size;
    const l = this.layers!;
    if (l.size < 0) {
      let n = l.lower.size;
      for (const k of l.upper.m.keys()) if (!l.lower.has(k)) n++;
      l.size = n;
    }
    return l.size;
  }

  /** Cheaper than `size === 0` for layered sets (never empty). */
  isEmpty(): boolean {
    if (this.native !== null) return this.native.size === 0;
    if (this.persistent !== null) return this.persistent.size === 0;
    return false;
  }

  get(name: string): Value | undefined {
    if (this.native !== null) return this.native.get(name);
    if (this.persistent !== null) return this.persistent.get(name);
    const v = this.layers!.upper.get(name);
    return v !== undefined ? v : this.layers!.lower.get(name);
  }

  has(name: string): boolean {
    if (this.native !== null) return this.native.has(name);
    if (this.persistent !== null) return this.persistent.has(name);
    return this.layers!.upper.has(name) || this.layers!.lower.has(name);
  }

  /** Iterates over [name, value] pairs (unordered). */
  entries(): IterableIterator<[string, Value]> {
    if (this.native !== null) return this.native.entries();
    if (this.persistent !== null) return this.persistent.entries() as IterableIterator<[string, Value]>;
    return this.m.entries();
  }

  /** Names in byte order (cached). */
  keys(): string[] {
    if (this.sortedKeys === null) {
      this.sortedKeys = [...(this.persistent !== null ? this.persistent.keys() : this.m.keys())].sort(compareBytes);
    }
    return this.sortedKeys;
  }

  /** Positions found on demand by `lookup` (consulted before the other tables). */
  addPosLookup(lookup: (name: string) => Pos | undefined): void {
    (this.posTables ??= []).unshift(lookup);
  }

  setPos(name: string, pos: Pos): void {
    const first = this.posTables?.[0];
    if (first instanceof Map) first.set(name, pos);
    else (this.posTables ??= []).unshift(new Map([[name, pos]]));
  }

  posOf(name: string): Pos | undefined {
    if (!this.has(name) || !this.posTables) return undefined;
    for (const t of this.posTables) {
      if (typeof t === 'function') {
        const p = t(name);
        if (p) return p;
      } else if (t instanceof Map) {
        const p = t.get(name);
        if (p) return p;
      } else {
        const off = t.offsets.get(name);
        if (off !== undefined) {
          // one Pos object per attribute definition, made on first use
          let cache = t.poses;
          if (!cache) cache = (t as { poses?: Map<string, Pos> }).poses = new Map();
          let p = cache.get(name);
          if (!p) cache.set(name, (p = { src: t.src, offset: off }));
          return p;
        }
      }
    }
    return undefined;
  }

  static readonly EMPTY = new Attrs(new Map());
}

const EMPTY_MAP = new Map<string, Value>();

interface Layers {
  upper: Attrs;
  lower: Attrs;
  depth: number;
  /** Number of attributes, -1 until asked. */
  size: number;
}

/** Position tables of a set made from others (first wins); bounded so folds do not accumulate them. */
function mergePosTables(from: Attrs[]): PosTable[] | null {
  let r: PosTable[] | null = null;
  for (const a of from) {
    const ts = (a as unknown as { posTables: PosTable[] | null }).posTables;
    if (!ts) continue;
    for (const t of ts) {
      r ??= [];
      if (!r.includes(t)) r.push(t);
      if (r.length >= 16) return r;
    }
  }
  return r;
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface LambdaInfo {
  name: string | undefined;
  pos: Pos;
  /** null for `x: …` */
  /** `defaults[i]`: code giving the default's value or a thunk of it (null: no default). */
  formals: { names: string[]; defaults: (Code | null)[]; ellipsis: boolean; poses: number[] } | null;
  /** The `x` of `x: …` or the `@` name. */
  arg: string | undefined;
  /** Number of slots of the lambda's environment. */
  slots: number;
  body: Code;
}

export class Lambda {
  constructor(
    readonly info: LambdaInfo,
    readonly env: Env,
  ) {}
}

/** Information about the call of a primop, for error messages and nested calls. */
export interface CallSite {
  pos: Pos | null;
}

export type PrimOpFn = (args: Value[], site: CallSite) => Value;

export class PrimOp {
  constructor(
    readonly name: string,
    readonly arity: number,
    readonly fn: PrimOpFn,
    /** Documentation for `:doc`. */
    readonly doc?: { args: string[]; text: string },
    /** Errors get a "while calling the 'X' builtin" frame (CppNix's PrimOp::addTrace). */
    readonly addTrace = true,
  ) {}
}

export class PrimOpApp {
  constructor(
    readonly op: PrimOp,
    readonly args: Value[],
  ) {}
}

export function isFunction(v: Value): boolean {
  return v instanceof Lambda || v instanceof PrimOp || v instanceof PrimOpApp;
}

/** CppNix's type names, as in "expected a list but found an integer". */
export function typeName(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'a Boolean';
    case 'number':
    case 'bigint':
      return 'an integer';
    case 'string':
      return 'a string';
  }
  if (v instanceof NixStr) return 'a string';
  if (v instanceof NixFloat) return 'a float';
  if (v instanceof NixPath) return 'a path';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Attrs) return 'a set';
  if (v instanceof Lambda) return 'a function';
  if (v instanceof PrimOp) return 'a built-in function';
  if (v instanceof PrimOpApp) return 'a partially applied built-in function';
  if (v instanceof Thunk) return 'a thunk';
  return 'an unknown value';
}

/** `builtins.typeOf` names. */
export function typeOf(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
  }
  if (v instanceof NixStr) return 'string';
  if (v instanceof NixFloat) return 'float';
  if (v instanceof NixPath) return 'path';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Attrs) return 'set';
  if (isFunction(v)) return 'lambda';
  throw new NixError('typeOf: unexpected value');
}

export const EMPTY_CTX: Context = new Set();

export function mkStr(s: string, ctx: Context | null | undefined): Value {
  return ctx && ctx.size ? new NixStr(s, ctx) : s;
}

export function strOf(v: string | NixStr): string {
  return typeof v === 'string' ? v : v.s;
}

export function ctxOf(v: string | NixStr): Context {
  return typeof v === 'string' ? EMPTY_CTX : v.ctx;
}

export function isString(v: Value): v is string | NixStr {
  return typeof v === 'string' || v instanceof NixStr;
}

export function isInt(v: Value): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

export function mergeCtx(a: Context, b: Context): Context {
  if (a.size === 0) return b;
  if (b.size === 0 || a === b) return a;
  const r = new Set(a);
  for (const x of b) r.add(x);
  return r;
}

/** A set whose `type` attribute is "derivation". */
export function isDerivationAttrs(v: Attrs): boolean {
  const t = v.m.get('type');
  if (t === undefined) return false;
  const tv = t instanceof Thunk ? t.force() : t;
  return tv === 'derivation' || (tv instanceof NixStr && tv.s === 'derivation');
}
