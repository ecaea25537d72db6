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

/**
 * A lexical environment: one array, whose element 0 is the enclosing
 * environment (or null) and element i + 1 the value of slot i (one object per
 * scope, so a call of `x: …` allocates just `[up, x]`).
 */
export type Env = Value[];

/** Compiled code: evaluates to a value in weak head normal form (a thunk's code also gets the thunk). */
export type Code = (env: Env, self?: Thunk) => Value;

const BLACKHOLE: Code = () => {
  throw new Error('blackhole');
};

/** The code of a thunk whose evaluation failed: `v` holds the error (see Thunk.force). */
const FAILED: Code = () => {
  throw new Error('failed');
};

export class Thunk {
  /**
   * Before evaluation the environment of `code`; then the result (or, after
   * a failure, the error).  One field for both keeps a thunk at two fields.
   */
  v: Value | Env | null;
  constructor(
    public code: Code | null,
    env: Env | null,
  ) {
    this.v = env;
  }

  /**
   * A thunk of the application `f a` made by a builtin (map, genList): `apply`
   * gets `a` as its environment and finds `f` with Thunk.appFunction.
   */
  static app(apply: Code, f: Value, a: Value): Thunk {
    return new AppThunk(apply, f, a);
  }

  /** The function of a thunk made by Thunk.app. */
  static appFunction(t: Thunk): Value {
    return (t as AppThunk).f;
  }

  force(): Value {
    const code = this.code;
    if (code === null) return this.v as Value;
    if (code === BLACKHOLE) throw infiniteRecursion(null, this);
    // As CppNix (2.34+), an evaluation error is memoised: forcing the thunk
    // again throws a copy of it, with the frames it had gathered by then.
    if (code === FAILED) throw (this.v as unknown as NixError).clone();
    this.code = BLACKHOLE;
    const env = this.v as Env;
    let v: Value;
    try {
      v = code(env, this);
    } catch (e) {
      if (e instanceof InfiniteRecursionError && e.thunk === this) e.addTrace('entering the infinite recursion');
      if (e instanceof NixError) {
        // (the error object keeps gathering frames while it propagates, as CppNix's does)
        this.code = FAILED;
        this.v = e as unknown as Value;
      } else {
        // interruptions and JS errors are not memoised: the thunk can be forced again
        this.code = code;
      }
      throw e;
    }
    this.v = v;
    this.code = null;
    return v;
  }
}

/** See Thunk.app. */
class AppThunk extends Thunk {
  constructor(
    apply: Code,
    readonly f: Value,
    a: Value,
  ) {
    super(apply, a as unknown as Env);
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

/**
 * Positions of several tables folded into one, first table winning (see
 * mergePosTables): a fold of `//` keeps a bounded list of tables without
 * losing the positions of its first steps.  The tables (the last of which
 * may be an earlier FoldedPositions) become one persistent map, shared with
 * that earlier one, only when a position is first asked for: most folds
 * never ask.
 */
export class FoldedPositions {
  private map: IMap<string, Pos> | null = null;
  constructor(private tables: PosTable[] | null) {}

  get(name: string): Pos | undefined {
    return (this.map ?? this.resolve()).get(name);
  }

  private resolve(): IMap<string, Pos> {
    // the chain of unresolved ones (as long as the fold, a loop: no recursion), from the oldest
    const chain: FoldedPositions[] = [];
    for (let f: PosTable | undefined = this; f instanceof FoldedPositions && f.map === null; f = f.tables!.at(-1)) chain.push(f);
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i]!;
      const ts = c.tables!;
      const last = ts[ts.length - 1];
      const stop = last instanceof FoldedPositions ? ts.length - 1 : ts.length;
      c.map = (last instanceof FoldedPositions ? last.map! : IMap<string, Pos>()).withMutations((m) => {
        // from the last table to the first: a table's positions replace those of the tables after it
        for (let j = stop - 1; j >= 0; j--) {
          const t = ts[j]!;
          if (t instanceof Map) t.forEach((p, name) => m.set(name, p));
          else if (t instanceof FoldedPositions) (t.map ?? t.resolve()).forEach((p, name) => m.set(name, p));
          else if (typeof t !== 'function') t.offsets.forEach((_, name) => m.set(name, posInTables([t], name)!));
        }
      });
      c.tables = null;
    }
    return this.map!;
  }
}

/** Where attributes were defined: a literal's table, single positions, folded tables, or a lookup made on demand. */
type PosTable = AttrPositions | Map<string, Pos> | FoldedPositions | ((name: string) => Pos | undefined);

/**
 * A slot of a literal's set whose thunk is not made yet (see Layout.lazyCodes).
 * Never leaves Attrs: a read of an unmade slot makes it (`Attrs.make`).
 */
export const UNMADE: Value = Object.freeze([]) as unknown as Value;

/**
 * A new array of `n` elements, each `x`.  Up to 16 elements it is made by an
 * array literal: V8 tracks where literals are allocated and, when most of
 * what a literal makes lives long (the sets and environments of a package
 * set do), allocates them straight in the old generation instead of copying
 * each one out of the young generation at the next scavenges (`new Array(n)`
 * gets no such tracking).  The literal must not be constant: a constant one
 * shares a copy-on-write backing store that the first write copies.
 */
export function filledArray(n: number, x: Value): Value[] {
  switch (n) {
    case 1: return [x];
    case 2: return [x, x];
    case 3: return [x, x, x];
    case 4: return [x, x, x, x];
    case 5: return [x, x, x, x, x];
    case 6: return [x, x, x, x, x, x];
    case 7: return [x, x, x, x, x, x, x];
    case 8: return [x, x, x, x, x, x, x, x];
    case 9: return [x, x, x, x, x, x, x, x, x];
    case 10: return [x, x, x, x, x, x, x, x, x, x];
    case 11: return [x, x, x, x, x, x, x, x, x, x, x];
    case 12: return [x, x, x, x, x, x, x, x, x, x, x, x];
    case 13: return [x, x, x, x, x, x, x, x, x, x, x, x, x];
    case 14: return [x, x, x, x, x, x, x, x, x, x, x, x, x, x];
    case 15: return [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x];
    case 16: return [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x];
    default: return new Array<Value>(n).fill(x);
  }
}

/**
 * Element 0 of the values of a copy (removeAttrs) of a set with unmade
 * slots: an unmade slot of the copy is made by the set it was copied from,
 * so that both share one thunk (the value is computed once).
 */
class LazyCopy {
  constructor(
    readonly src: Attrs,
    /** Slot of the copy -> slot of `src`. */
    readonly from: readonly number[],
  ) {}
}

/**
 * The names of a family of attribute sets, in definition order: every set
 * made by one attribute set literal (or by mapAttrs of such a set) shares one
 * Layout and keeps only an array of values.  Small layouts are searched
 * linearly; bigger ones get an index on first use (shared too).
 */
export class Layout {
  private index: Map<string, number> | null = null;
  /**
   * For the sets of a (non-`rec`) literal whose values need thunks: the code
   * making the thunk of each name (see Attrs.slots); such a set keeps UNMADE
   * in a slot until the value is first asked for, and its environment in
   * element 0 of its values.
   */
  lazyCodes: readonly ({ code: Code } | null)[] | null = null;
  /** Layouts of this one without some names (removeAttrs), by the removed names. */
  private without: Map<string, { layout: Layout; from: number[] }> | null = null;
  /** Names in byte order, made on demand (see sortedNames). */
  private sorted: string[] | null = null;
  /** The indexes of `keys` in byte order of the names, made on demand (see sortedOrder). */
  private order: number[] | null = null;
  /** Whether the names include `__toString` or `outPath` (see Attrs.coercible), once asked. */
  coercible: boolean | undefined = undefined;
  constructor(readonly keys: readonly string[]) {}

  /** The names in byte order (cached). */
  sortedNames(): string[] {
    return (this.sorted ??= sortedNames([...this.keys]));
  }

  /** The indexes of `keys` taken in byte order of the names (cached). */
  sortedOrder(): number[] {
    return (this.order ??= this.sortedNames().map((k) => this.indexOf(k)));
  }

  indexOf(name: string): number {
    const ks = this.keys;
    if (ks.length <= 8) {
      for (let i = 0; i < ks.length; i++) if (ks[i] === name) return i;
      return -1;
    }
    let ix = this.index;
    if (ix === null) {
      ix = this.index = new Map();
      for (let i = 0; i < ks.length; i++) ix.set(ks[i]!, i);
    }
    const i = ix.get(name);
    return i === undefined ? -1 : i;
  }

  /** Layouts of some of this one's names, by the bit mask of their indexes (see subset). */
  private subsets: Map<number, Layout> | null = null;

  /** This layout with only the names whose bit is set in `mask` (for layouts of at most 30 names), shared. */
  subset(mask: number): Layout {
    let r = this.subsets?.get(mask);
    if (r === undefined) {
      r = new Layout(this.keys.filter((_, i) => (mask & (1 << i)) !== 0));
      // (bounded, as `without`)
      if ((this.subsets ??= new Map()).size < 64) this.subsets.set(mask, r);
    }
    return r;
  }

  /** This layout without the names at `drop` (sorted indexes), and where each remaining name was. */
  minus(drop: number[]): { layout: Layout; from: number[] } {
    const key = drop.join(',');
    let r = this.without?.get(key);
    if (r === undefined) {
      const keys: string[] = [];
      const from: number[] = [];
      for (let i = 0, j = 0; i < this.keys.length; i++) {
        if (j < drop.length && drop[j] === i) j++;
        else {
          keys.push(this.keys[i]!);
          from.push(i);
        }
      }
      r = { layout: new Layout(keys), from };
      // (bounded: removeAttrs with computed name lists must not grow it forever)
      if ((this.without ??= new Map()).size < 32) this.without.set(key, r);
    }
    return r;
  }
}

/**
 * A key for a list of names in a cache of Layouts: one string naming the
 * list unambiguously (joined by NUL), or null when a name contains NUL.
 */
export function namesKey(names: readonly string[]): string | null {
  for (const n of names) if (n.includes('\0')) return null;
  return names.length === 1 ? names[0]! : names.join('\0');
}

/** `mapAttrs f src` made lazily: the value of an attribute is made when it is first looked up. */
class Mapped {
  private cache: Map<string, Value> | null = null;
  constructor(
    readonly src: Attrs,
    private readonly f: (name: string, v: Value) => Value,
  ) {}

  get(name: string): Value | undefined {
    const c = this.cache;
    if (c !== null) {
      const x = c.get(name);
      if (x !== undefined) return x;
    }
    const v = this.src.get(name);
    if (v === undefined) return undefined;
    const t = this.f(name, v);
    (this.cache ??= new Map()).set(name, t);
    return t;
  }

  /** All attributes, in the order of `src` (values made so far are kept). */
  toMap(): Map<string, Value> {
    const m = new Map<string, Value>();
    const c = this.cache;
    this.src.forEach((k, v) => {
      const x = c === null ? undefined : c.get(k);
      m.set(k, x !== undefined ? x : this.f(k, v));
    });
    return m;
  }
}

/**
 * An attribute set, in one of five representations:
 *   - a Layout and an array of values (sets made by literals, `rec`, mapAttrs);
 *   - a native Map (sets made by builtins);
 *   - a persistent map (immutable.js): a `//` of a small set onto a big one,
 *     so that the common `acc // { k = v; }` fold is not quadratic;
 *   - layered: other `//` results keep `upper` over `lower` until something
 *     needs all of their attributes, so that `drv // { … }` costs no copy when
 *     only a few attributes are ever looked up;
 *   - mapped: `mapAttrs` of a big set makes each value on first lookup.
 * Iteration is in the order a copy of `lower` updated by `upper` would have
 * (definition order for literals).  Hot paths use get/has/size/forEach.
 */
export class Attrs {
  /** Layered sets (`lower // upper`): the upper set. */
  private rep: Layout | Map<string, Value> | IMap<string, Value> | Attrs | Mapped;
  /** With a Layout: the values (index for index); layered: the lower set. */
  private vals: Value[] | Attrs | null = null;
  /**
   * Where attributes were defined: tables consulted in order (see posOf);
   * never mutated, only replaced.  Layered: undefined until merged.
   */
  private posTables: PosTable[] | null | undefined;
  /**
   * Layered: depth + 16 * (size + 1) (size -1 until counted); native and
   * persistent maps: the names in byte order once asked for, else null.
   * (One field for both: a layered set is one object, no Layers beside it.)
   */
  private aux: string[] | number | null = null;

  constructor(m: Map<string, Value>, positions: AttrPositions | null = null, posFrom: Attrs[] | null = null) {
    this.rep = m;
    this.posTables = positions ? [positions] : posFrom ? mergePosTables(posFrom) : null;
  }

  /**
   * A set of `layout`'s names with values `vals` (taken, not copied): the
   * value of `layout.keys[i]` is `vals[i + 1]` (element 0 is not a value: a
   * `rec` set shares its scope's environment).  `posTables` is shared.
   */
  static slots(layout: Layout, vals: Value[], posTables: PosTable[] | null): Attrs {
    const a = new Attrs(EMPTY_MAP);
    a.rep = layout;
    a.vals = vals;
    a.posTables = posTables;
    return a;
  }

  /**
   * This set (made by a literal: see slotLayout) with more attributes after
   * its own: `layout` has this set's names and then those of `extra`, and the
   * same lazyCodes for this set's names.  Unmade slots stay unmade.
   */
  extended(layout: Layout, extra: Value[], posTables: PosTable[] | null): Attrs {
    const vs = this.vals as Value[];
    const n = vs.length;
    const vals = filledArray(n + extra.length, null);
    // (element 0: the environment of unmade slots, only for lazy layouts)
    vals[0] = layout.lazyCodes !== null ? vs[0]! : null;
    for (let i = 1; i < n; i++) vals[i] = vs[i]!;
    for (let i = 0; i < extra.length; i++) vals[n + i] = extra[i]!;
    return Attrs.slots(layout, vals, posTables);
  }

  /** `mapAttrs`: `f(name, value)` gives each new value, when it is first needed. */
  static mapped(src: Attrs, f: (name: string, v: Value) => Value): Attrs {
    const a = new Attrs(EMPTY_MAP);
    a.rep = new Mapped(src, f);
    return a;
  }

  /** `removeAttrs` (positions kept). */
  without(names: string[]): Attrs {
    const r = this.rep;
    if (r instanceof Layout) {
      // (kept sorted by insertion: Array.prototype.sort allocates a work array per call)
      const drop: number[] = [];
      for (const n of names) {
        const i = r.indexOf(n);
        if (i < 0 || drop.includes(i)) continue;
        let j = drop.length;
        drop.push(i);
        for (; j > 0 && drop[j - 1]! > i; j--) drop[j] = drop[j - 1]!;
        drop[j] = i;
      }
      if (drop.length === 0) return this;
      const { layout, from } = r.minus(drop);
      const vs = this.vals as Value[];
      const vals = filledArray(from.length + 1, null);
      // (unmade slots stay unmade: the copy makes them through this set, see LazyCopy)
      // (element 0 is null once all slots are made, and in sets that were never lazy:
      // mapAttrs results share a literal's layout but not its unmade slots)
      const lazy = vs[0] !== null && (r.lazyCodes !== null || vs[0] instanceof LazyCopy);
      vals[0] = lazy ? (new LazyCopy(this, from) as unknown as Value) : null;
      for (let i = 0; i < from.length; i++) vals[i + 1] = vs[from[i]! + 1]!;
      return Attrs.slots(layout, vals, this.posTables as PosTable[] | null);
    }
    const m = this.toMap();
    for (const n of names) m.delete(n);
    return new Attrs(m, null, [this]);
  }

  static fromPersistent(p: IMap<string, Value>, posFrom: Attrs[]): Attrs {
    const a = new Attrs(EMPTY_MAP, null, posFrom);
    a.rep = p;
    return a;
  }

  /** `lower // upper` without copying either (both non-empty); `depth` is 1 + the greater of their depths. */
  static layered(lower: Attrs, upper: Attrs, depth: number): Attrs {
    const a = new Attrs(EMPTY_MAP);
    a.rep = upper;
    a.vals = lower;
    a.posTables = undefined;
    a.aux = depth;
    return a;
  }

  /** Layers under this set (0 when not layered), to bound the cost of lookups. */
  get depth(): number {
    // (only a layered set keeps a number in aux)
    const aux = this.aux;
    return typeof aux === 'number' ? aux % 16 : 0;
  }

  /** The layout and values of a set made by a literal (or null). */
  get slotLayout(): Layout | null {
    return this.rep instanceof Layout ? this.rep : null;
  }

  /** The attributes as a Map that the caller may keep but must not mutate. */
  asMap(): Map<string, Value> {
    const r = this.rep;
    if (r instanceof Map) return r;
    if (r instanceof Mapped) return (this.rep = r.toMap());
    if (r instanceof Attrs) {
      // one copy of the bottom set, then the upper layers from the bottom up
      // (the intermediate layers of a `((a // b) // c) // d` chain get no Map)
      const ups: Attrs[] = [];
      let a: Attrs = this;
      while (a.rep instanceof Attrs) {
        ups.push(a.rep);
        a = a.vals as Attrs;
      }
      const m = a.toMap();
      for (let i = ups.length - 1; i >= 0; i--) ups[i]!.forEach((k, v) => m.set(k, v));
      this.posTables = this.positionTables;
      this.rep = m;
      this.vals = null;
      this.aux = null;
      return m;
    }
    return this.toMap();
  }

  /** A new Map of the attributes (the caller owns it). */
  toMap(): Map<string, Value> {
    const r = this.rep;
    if (r instanceof Layout) {
      const m = new Map<string, Value>();
      const ks = r.keys;
      const vs = this.vals as Value[];
      for (let i = 0; i < ks.length; i++) {
        const v = vs[i + 1]!;
        m.set(ks[i]!, v === UNMADE ? this.make(r, i) : v);
      }
      return m;
    }
    // (copied with forEach: `new Map(map)` and for-of make an array per entry)
    const m = new Map<string, Value>();
    const from = r instanceof Attrs || r instanceof Mapped ? this.asMap() : r;
    from.forEach((v: Value, k: string) => m.set(k, v));
    return m;
  }

  /** Whether the set is a persistent map already (asPersistent costs nothing then). */
  get isPersistent(): boolean {
    const r = this.rep;
    return !(r instanceof Layout || r instanceof Map || r instanceof Attrs || r instanceof Mapped);
  }

  /** The attributes as a persistent map. */
  asPersistent(): IMap<string, Value> {
    const r = this.rep;
    if (r instanceof Layout || r instanceof Map || r instanceof Attrs || r instanceof Mapped) return IMap(this.asMap());
    return r;
  }

  /** Makes the thunk of an unmade slot (see Layout.lazyCodes and LazyCopy). */
  private make(layout: Layout, i: number): Value {
    const vals = this.vals as Value[];
    const head = vals[0];
    let t: Value;
    if (head instanceof LazyCopy) {
      const src = head.src;
      const j = head.from[i]!;
      t = (src.vals as Value[])[j + 1]!;
      if (t === UNMADE) t = src.make(src.rep as Layout, j);
    } else t = new Thunk(layout.lazyCodes![i]!.code, head as Env);
    vals[i + 1] = t;
    // once every slot is made, the environment (or source set) is no longer
    // needed here: let it go, as the thunks do once forced (small sets only:
    // the check is a scan)
    if (vals.length <= 33 && !vals.includes(UNMADE, 1)) vals[0] = null;
    return t;
  }

  get size(): number {
    const r = this.rep;
    if (r instanceof Layout) return r.keys.length;
    if (r instanceof Map) return r.size;
    if (r instanceof Attrs) {
      const aux = this.aux as number;
      let n = Math.floor(aux / 16) - 1;
      if (n < 0) {
        const lower = this.vals as Attrs;
        n = lower.size;
        r.forEachName((k) => {
          if (!lower.has(k)) n++;
        });
        this.aux = (aux % 16) + 16 * (n + 1);
      }
      return n;
    }
    if (r instanceof Mapped) return r.src.size;
    return r.size;
  }

  /**
   * A bound on `size` that costs no counting: a layered set whose size is
   * not known yet gives the sum of its layers' (exact when no name is in
   * two layers, the usual case of `defaults // args`).
   */
  sizeAtMost(): number {
    const r = this.rep;
    if (r instanceof Attrs) {
      const aux = this.aux as number;
      const n = Math.floor(aux / 16) - 1;
      return n >= 0 ? n : (this.vals as Attrs).sizeAtMost() + r.sizeAtMost();
    }
    return this.size;
  }

  /** Cheaper than `size === 0` for layered sets (never empty). */
  isEmpty(): boolean {
    const r = this.rep;
    if (r instanceof Attrs) return false;
    if (r instanceof Layout) return r.keys.length === 0;
    if (r instanceof Mapped) return r.src.isEmpty();
    return r.size === 0;
  }

  get(name: string): Value | undefined {
    const r = this.rep;
    if (r instanceof Layout) {
      const i = r.indexOf(name);
      if (i < 0) return undefined;
      const v = (this.vals as Value[])[i + 1]!;
      return v === UNMADE ? this.make(r, i) : v;
    }
    if (r instanceof Map) return r.get(name);
    if (r instanceof Attrs) {
      const v = r.get(name);
      return v !== undefined ? v : (this.vals as Attrs).get(name);
    }
    if (r instanceof Mapped) return r.get(name);
    return r.get(name);
  }

  /**
   * The value of `name` forced (undefined when there is none).  A thunk in
   * one of this set's own slots (a literal's, or a builtin's Map) is then
   * replaced there by its value, so that a thunk made and forced by one
   * selection is garbage at once instead of living as long as the set
   * (a value that is a function keeps its thunk: two sets sharing that
   * thunk must still compare equal, see eqValues).
   */
  forceAttr(name: string): Value | undefined {
    const r = this.rep;
    if (r instanceof Layout) {
      const i = r.indexOf(name);
      if (i < 0) return undefined;
      const vals = this.vals as Value[];
      let v: Value = vals[i + 1]!;
      if (v === UNMADE) v = this.make(r, i);
      if (!(v instanceof Thunk)) return v;
      const x = v.force();
      if (!(x instanceof Lambda) && vals[i + 1] === v) vals[i + 1] = x;
      return x;
    }
    if (r instanceof Map) {
      const v = r.get(name);
      if (!(v instanceof Thunk)) return v;
      const x = v.force();
      if (!(x instanceof Lambda) && r !== EMPTY_MAP) r.set(name, x);
      return x;
    }
    if (r instanceof Attrs) {
      const v = r.forceAttr(name);
      return v !== undefined ? v : (this.vals as Attrs).forceAttr(name);
    }
    const v = r.get(name);
    return v instanceof Thunk ? v.force() : v;
  }

  /** Whether the set has `__toString` or `outPath` (what coercions, toJSON and printing peel). */
  coercible(): boolean {
    const r = this.rep;
    if (r instanceof Layout) return (r.coercible ??= r.indexOf('__toString') >= 0 || r.indexOf('outPath') >= 0);
    return this.has('__toString') || this.has('outPath');
  }

  has(name: string): boolean {
    const r = this.rep;
    if (r instanceof Layout) return r.indexOf(name) >= 0;
    if (r instanceof Map) return r.has(name);
    if (r instanceof Attrs) return r.has(name) || (this.vals as Attrs).has(name);
    if (r instanceof Mapped) return r.src.has(name);
    return r.has(name);
  }

  /** Calls `f` for every name, in no particular order; unlike forEach, makes no value (see Layout.lazyCodes). */
  forEachName(f: (name: string) => void): void {
    const r = this.rep;
    if (r instanceof Layout) {
      const ks = r.keys;
      for (let i = 0; i < ks.length; i++) f(ks[i]!);
    } else if (r instanceof Map) {
      for (const k of r.keys()) f(k);
    } else if (r instanceof Mapped) {
      r.src.forEachName(f);
    } else if (r instanceof Attrs) {
      const seen = new Set<string>();
      const once = (k: string): void => {
        if (!seen.has(k)) {
          seen.add(k);
          f(k);
        }
      };
      r.forEachName(once);
      (this.vals as Attrs).forEachName(once);
    } else {
      for (const k of r.keys()) f(k);
    }
  }

  /** Calls `f` for every attribute, in iteration order. */
  forEach(f: (name: string, v: Value) => void): void {
    const r = this.rep;
    if (r instanceof Layout) {
      const ks = r.keys;
      const vs = this.vals as Value[];
      for (let i = 0; i < ks.length; i++) {
        const v = vs[i + 1]!;
        f(ks[i]!, v === UNMADE ? this.make(r, i) : v);
      }
    } else if (r instanceof Map || r instanceof Attrs || r instanceof Mapped) {
      // (Map's forEach: for-of makes an array per entry until optimised)
      (r instanceof Map ? r : this.asMap()).forEach((v, k) => f(k, v));
    } else {
      r.forEach((v, k) => f(k, v));
    }
  }

  /** Iterates over [name, value] pairs, in iteration order. */
  entries(): IterableIterator<[string, Value]> {
    const r = this.rep;
    if (r instanceof Map) return r.entries();
    if (r instanceof Layout || r instanceof Attrs || r instanceof Mapped) return this.asMap().entries();
    return r.entries() as IterableIterator<[string, Value]>;
  }

  /**
   * For a set made by a literal or over a shared Layout: the indexes of its
   * names in byte order (Layout.sortedOrder), to read with `slotName` and
   * `slotValue`; null for the other kinds of set (use keys and get).
   */
  slotOrder(): number[] | null {
    const r = this.rep;
    return r instanceof Layout ? r.sortedOrder() : null;
  }

  /** The name at index `i` of a set that has a slotOrder. */
  slotName(i: number): string {
    return (this.rep as Layout).keys[i]!;
  }

  /** The value at index `i` of a set that has a slotOrder (as `get` of its name). */
  slotValue(i: number): Value {
    const v = (this.vals as Value[])[i + 1]!;
    return v === UNMADE ? this.make(this.rep as Layout, i) : v;
  }

  /** Names in byte order (cached). */
  keys(): string[] {
    const r = this.rep;
    if (r instanceof Layout) return r.sortedNames();
    if (r instanceof Mapped) return r.src.keys();
    // (a layered set becomes a Map first, which leaves aux free for the names)
    const m = r instanceof Attrs ? this.asMap() : r;
    if (this.aux === null) this.aux = sortedNames([...m.keys()]);
    return this.aux as string[];
  }

  /** Positions found on demand by `lookup` (consulted before the other tables). */
  addPosLookup(lookup: (name: string) => Pos | undefined): void {
    this.addPosTable(lookup);
  }

  /** A table consulted before the others. */
  addPosTable(t: Map<string, Pos> | ((name: string) => Pos | undefined)): void {
    if (this.rep instanceof Attrs) this.asMap();
    this.posTables = this.posTables ? [t, ...this.posTables] : [t];
  }

  posOf(name: string): Pos | undefined {
    const r = this.rep;
    if (r instanceof Attrs) return r.has(name) ? r.posOf(name) : (this.vals as Attrs).posOf(name);
    if (!this.posTables || !this.has(name)) return undefined;
    return posInTables(this.posTables, name);
  }

  /** The position tables, for sets made from this one. */
  get positionTables(): PosTable[] | null {
    const r = this.rep;
    if (r instanceof Attrs) {
      const t = this.posTables;
      return t !== undefined ? t : (this.posTables = mergePosTables([r, this.vals as Attrs]));
    }
    return this.posTables as PosTable[] | null;
  }

  static readonly EMPTY = new Attrs(new Map());
}

/** Where `name` (an attribute of the set they belong to) was defined, by position tables (see Attrs.posOf). */
export function posInTables(tables: readonly PosTable[], name: string): Pos | undefined {
  for (const t of tables) {
    if (typeof t === 'function') {
      const p = t(name);
      if (p) return p;
    } else if (t instanceof Map) {
      const p = t.get(name);
      if (p) return p;
    } else if (t instanceof FoldedPositions) {
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

const EMPTY_MAP = new Map<string, Value>();

/** Position tables of a set made from others (first wins); bounded so folds do not accumulate them. */
function mergePosTables(from: Attrs[]): PosTable[] | null {
  let r: PosTable[] | null = null;
  let only: PosTable[] | null = null;
  for (const a of from) {
    const ts = a.positionTables;
    if (!ts || ts === only) continue;
    if (only === null && r === null) {
      // the common case, one source with positions: share its (never mutated) array
      only = ts;
      continue;
    }
    if (r === null) r = [...only!];
    only = null;
    for (const t of ts) if (!r.includes(t)) r.push(t);
  }
  if (r !== null && r.length > MAX_POS_TABLES) r = foldPosTables(r);
  return r ?? only;
}

/** Bound on the position tables of a set (each is one more lookup for a position). */
const MAX_POS_TABLES = 16;
/** Tables left as they are in front of the folded ones. */
const KEEP_POS_TABLES = 8;

/**
 * `tables` with those after the first KEEP_POS_TABLES folded into one
 * FoldedPositions, up to the first lookup function (which cannot be listed:
 * it and the tables after it stay as they are).  Should the list still be
 * too long, the tables past the bound are dropped, their positions lost.
 */
function foldPosTables(tables: PosTable[]): PosTable[] {
  let end = KEEP_POS_TABLES;
  while (end < tables.length && typeof tables[end] !== 'function') end++;
  if (end - KEEP_POS_TABLES < 2) return tables.slice(0, MAX_POS_TABLES);
  const r = tables.slice(0, KEEP_POS_TABLES);
  r.push(new FoldedPositions(tables.slice(KEEP_POS_TABLES, end)));
  for (let i = end; i < tables.length && r.length < MAX_POS_TABLES; i++) r.push(tables[i]!);
  return r;
}

export type { PosTable };

/** Sorts names in byte order, in place (names often come sorted already: fromJSON, listToAttrs of sorted lists). */
function sortedNames(ks: string[]): string[] {
  // (the default order of sort, by UTF-16 code units, is compareBytes's, without a call per comparison)
  for (let i = 1; i < ks.length; i++) if (ks[i - 1]! > ks[i]!) return ks.sort();
  return ks;
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
  const t = v.get('type');
  if (t === undefined) return false;
  const tv = t instanceof Thunk ? t.force() : t;
  return tv === 'derivation' || (tv instanceof NixStr && tv.s === 'derivation');
}
