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
    this.code = BLACKHOLE;
    let v: Value;
    try {
      v = code(this.env!);
    } catch (e) {
      this.code = code;
      if (e instanceof InfiniteRecursionError && e.thunk === this) {
        e.at(this.pos);
        e.addTrace('entering the infinite recursion');
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
}

export class Attrs {
  private sortedKeys: string[] | null = null;
  constructor(
    readonly m: Map<string, Value>,
    /** Positions of attributes, for the sets made by an attrset literal. */
    public positions: AttrPositions | null = null,
    /** For `//`: the sets whose positions to consult after this one's. */
    public posParents: Attrs[] | null = null,
  ) {}

  get size(): number {
    return this.m.size;
  }

  get(name: string): Value | undefined {
    return this.m.get(name);
  }

  has(name: string): boolean {
    return this.m.has(name);
  }

  /** Names in byte order (cached). */
  keys(): string[] {
    if (this.sortedKeys === null) this.sortedKeys = [...this.m.keys()].sort(compareBytes);
    return this.sortedKeys;
  }

  /** Positions of attributes added one by one (dynamic attributes). */
  private extraPos: Map<string, Pos> | null = null;

  setPos(name: string, pos: Pos): void {
    (this.extraPos ??= new Map()).set(name, pos);
  }

  posOf(name: string): Pos | undefined {
    if (!this.m.has(name)) return undefined;
    const x = this.extraPos?.get(name);
    if (x) return x;
    if (this.positions) {
      const off = this.positions.offsets.get(name);
      if (off !== undefined) return { src: this.positions.src, offset: off };
    }
    if (this.posParents) {
      for (const p of this.posParents) {
        const r = p.posOf(name);
        if (r) return r;
      }
    }
    return undefined;
  }

  static readonly EMPTY = new Attrs(new Map());
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface LambdaInfo {
  name: string | undefined;
  pos: Pos;
  /** null for `x: …` */
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
