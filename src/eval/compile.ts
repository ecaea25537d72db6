// Compiles the bound AST (grammar/bind.ts) into JS closures.  `compile(e)`
// gives code that evaluates `e` to weak head normal form; `lazy(e)` gives
// code that returns a value or a thunk without evaluating (constants and
// variables need no thunk).  Environments follow the binder's scope layout.

import type { AttrName, EAttrs, ELambda, Expr, Pos, Source, VarRef } from '../../grammar/ast.js';
import { printExpr } from '../../grammar/print.js';
import { toBytes } from '../../grammar/errors.js';
import { compareValues, primDiv, primMul, primSub } from './builtins/arith.js';
import { AssertionError, InfiniteRecursionError, NixError } from './errors.js';
import {
  arith,
  call1,
  call2,
  callN,
  coerceToString,
  didYouMean,
  eqValues,
  forceAttrs,
  forceBool,
  forceList,
  mergeContexts,
  type CoerceOptions,
} from './ops.js';
import { printForError } from './print.js';
import {
  Attrs,
  Layout,
  EMPTY_CTX,
  Env,
  Lambda,
  NixFloat,
  NixPath,
  NixStr,
  Thunk,
  UNMADE,
  filledArray,
  mkStr,
  namesKey,
  isDerivationAttrs,
  typeName,
  type Code,
  type PosTable,
  type Context,
  type LambdaInfo,
  type Value,
} from './value.js';

export interface CompileContext {
  /** The base environment: `builtins`, `true`, `map`, … */
  globals: Map<string, Value>;
  /**
   * Set literals of constants to evaluate once and share: only for literals
   * whose sets never escape as values of their own (a shared non-empty set
   * would print as «repeated» where CppNix makes two), see derivation.ts.
   */
  shared?: ReadonlySet<EAttrs>;
}

export class Compiler {
  constructor(
    private readonly ctx: CompileContext,
    private readonly src: Source,
  ) {}

  private pos(offset: number): Pos | null {
    return offset < 0 ? null : { src: this.src, offset };
  }

  /** Code returning the value of `e` (possibly a thunk): no evaluation happens. */
  lazy(e: Expr): Code {
    switch (e.kind) {
      case 'int':
      case 'str': {
        const v = e.value;
        return () => v;
      }
      case 'float': {
        const v = new NixFloat(e.value);
        return () => v;
      }
      case 'path': {
        const v = new NixPath(e.value);
        return () => v;
      }
      case 'var': {
        const r = e.resolved;
        if (r && r.type === 'local') {
          const { level, index } = r;
          const slot = index + 1;
          switch (level) {
            case 0:
              return (env) => env[slot]!;
            case 1:
              return (env) => (env[0] as Env)[slot]!;
            case 2:
              return (env) => ((env[0] as Env)[0] as Env)[slot]!;
            default:
              return (env) => {
                let x = env;
                for (let i = 0; i < level; i++) x = x[0] as Env;
                return x[slot]!;
              };
          }
        }
        if (r && r.type === 'builtin') {
          const v = this.ctx.globals.get(r.name);
          if (v !== undefined) return () => v;
        }
        break;
      }
    }
    // (lambdas get a thunk too: unforced, they print as <CODE> like CppNix's)
    // Compiled when first forced: most bindings of most files are never
    // used, and their closures would cost more memory than their AST.
    let code: Code | undefined;
    const first: Code = (env) => (code ??= this.compile(e))(env);
    return (env) => new Thunk(code ?? first, env);
  }

  /** The code of the thunks of `e` (as `lazy` makes them), compiled when first run. */
  private thunkCode(e: Expr): { code: Code } {
    let compiled: Code | undefined;
    // (thunks made before the first run keep this wrapper; later ones get the compiled code)
    const holder: { code: Code } = { code: (env) => (holder.code = compiled ??= this.compile(e))(env) };
    return holder;
  }

  /** Whether `lazy(e)` makes a thunk (else it gives a value without allocating). Keep in step with `lazy`. */
  private makesThunk(e: Expr): boolean {
    switch (e.kind) {
      case 'int':
      case 'str':
      case 'float':
      case 'path':
        return false;
      case 'var': {
        const r = e.resolved;
        if (r && r.type === 'local') return false;
        if (r && r.type === 'builtin' && this.ctx.globals.get(r.name) !== undefined) return false;
        return true;
      }
      default:
        return true;
    }
  }

  /**
   * Like `lazy`, for values created while their recursive scope is being
   * filled: a variable of that same scope may not have its slot yet, so it
   * gets a thunk instead of the slot's current content.
   */
  lazyRec(e: Expr): Code {
    if (e.kind === 'var' && e.resolved?.type === 'local' && e.resolved.level === 0) {
      // a slot filled already is shared (as CppNix does); a later one needs a thunk
      const code = this.compile(e);
      const index = e.resolved.index;
      const slot = index + 1;
      return (env) => env[slot] ?? new Thunk(code, env);
    }
    return this.lazy(e);
  }

  compile(e: Expr): Code {
    switch (e.kind) {
      case 'int':
      case 'str': {
        const v = e.value;
        return () => v;
      }
      case 'float': {
        const v = new NixFloat(e.value);
        return () => v;
      }
      case 'path': {
        const v = new NixPath(e.value);
        return () => v;
      }
      case 'var':
        return this.variable(e.name, e.resolved, e.pos);
      case 'select':
        return this.select(e.expr, e.path, e.def, e.pos);
      case 'hasAttr':
        return this.hasAttr(e.expr, e.path, e.pos);
      case 'attrs':
        return this.attrs(e);
      case 'list': {
        const elems = e.elems.map((x) => this.lazy(x));
        const n = elems.length;
        if (n === 0) return () => [];
        return (env) => {
          const r = filledArray(n, null);
          for (let i = 0; i < n; i++) r[i] = elems[i]!(env);
          return r;
        };
      }
      case 'lambda':
        return this.lambda(e);
      case 'call':
        return this.call(e.fn, e.args, e.pos);
      case 'let': {
        const bindings = this.recBindings(e.attrs);
        const body = this.compile(e.body);
        return (env) => body(bindings(env));
      }
      case 'with': {
        const attrs = this.lazy(e.attrs);
        const body = this.compile(e.body);
        return (env) => body([env, attrs(env)]);
      }
      case 'if': {
        const cond = this.compile(e.cond);
        const th = this.compile(e.then);
        const el = this.compile(e.else);
        const pos = this.pos(e.pos);
        return (env) => {
          const c = cond(env);
          if (c === true) return th(env);
          if (c === false) return el(env);
          throw withFrame(() => forceBool(c, pos), 'while evaluating a branch condition', pos);
        };
      }
      case 'assert': {
        const cond = this.compile(e.cond);
        const body = this.compile(e.body);
        const pos = this.pos(e.pos);
        const text = printExpr(e.cond);
        const condExpr = e.cond;
        return (env) => {
          let c: Value;
          try {
            c = cond(env);
            if (c !== true && c !== false) forceBool(c, pos);
          } catch (err) {
            if (err instanceof NixError) err.addTrace(`while evaluating the condition of the assertion '${text}'`, pos);
            throw err;
          }
          if (c === true) return body(env);
          if (condExpr.kind === 'binary' && condExpr.op === '==') {
            const err = this.explainInequality(condExpr.lhs, condExpr.rhs, env, this.pos(condExpr.pos));
            if (err) {
              err.addTrace(`while evaluating the condition of the assertion '${text}'`, pos);
              throw err;
            }
          }
          throw new AssertionError(`assertion '${text}' failed`, pos);
        };
      }
      case 'not': {
        const x = this.operand(e.expr, "in the argument of '!'");
        const pos = this.pos(e.expr.pos);
        return (env) => {
          const v = x(env);
          if (typeof v === 'boolean') return !v;
          throw withFrame(() => forceBool(v, pos), "in the argument of '!'", pos);
        };
      }
      case 'binary':
        return this.binary(e.op, e.lhs, e.rhs, e.pos);
      case 'concat':
        return this.concat(e.parts, e.forceString, e.pos, e.partPos);
      case 'deferred':
        return this.compile(e.ctx.expand(e));
      case 'curPos': {
        const p = this.src.position(e.pos);
        const v = new Attrs(
          new Map<string, Value>([
            ['column', p.column],
            ['file', this.src.path ?? this.src.origin],
            ['line', p.line],
          ]),
        );
        return () => v;
      }
    }
  }

  private explainInequality(lhs: Expr, rhs: Expr, env: Env, opPos: Pos | null): NixError | null {
    const a = this.compile(lhs)(env);
    const b = this.compile(rhs)(env);
    return explainNotEqual(a, b, opPos);
  }

  private variable(name: string, r: VarRef | undefined, offset: number): Code {
    const pos = this.pos(offset);
    if (!r) throw new NixError(`internal error: unbound variable '${name}'`, pos);
    if (r.type === 'local') {
      const { level, index } = r;
      const slot = index + 1;
      const get = (e: Env): Value => {
        const v = e[slot]!;
        if (v instanceof Thunk) {
          let x: Value;
          try {
            x = v.force();
          } catch (err) {
            // the position of a blackhole is where it was forced (CppNix's tryFixupBlackHolePos)
            if (err instanceof InfiniteRecursionError && err.thunk === v) err.at(pos);
            throw err;
          }
          e[slot] = x;
          return x;
        }
        return v;
      };
      switch (level) {
        case 0:
          return get;
        case 1:
          return (env) => get(env[0] as Env);
        case 2:
          return (env) => get((env[0] as Env)[0] as Env);
        default:
          return (env) => {
            let x = env;
            for (let i = 0; i < level; i++) x = x[0] as Env;
            return get(x);
          };
      }
    }
    if (r.type === 'builtin') {
      const v = this.ctx.globals.get(name);
      if (v === undefined) throw new NixError(`undefined variable '${name}'`, pos);
      return () => (v instanceof Thunk ? v.force() : v);
    }
    const levels = r.levels;
    return (env) => {
      for (const level of levels) {
        let x = env;
        for (let i = 0; i < level; i++) x = x[0] as Env;
        const attrs = forceAttrs(x[1]!, pos);
        const v = attrs.get(name);
        if (v !== undefined) return v instanceof Thunk ? v.force() : v;
      }
      throw new NixError(`undefined variable '${name}'`, pos);
    };
  }

  /** Code computing an attribute name (static or dynamic); null for a dynamic name that is null. */
  private attrName(a: AttrName): (env: Env) => string | null {
    if ('name' in a) {
      const n = a.name;
      return () => n;
    }
    const code = this.compile(a.expr);
    // errors point at the name's expression (inside `${ }`), as CppNix's do
    const pos = this.pos(a.expr.pos);
    return (env) => {
      let v: Value;
      try {
        v = code(env);
        if (v === null) return null;
        if (typeof v === 'string') return v;
        if (v instanceof NixStr) return v.s;
        throw new NixError(`expected a string but found ${typeName(v)}: ${printForError(v)}`, pos);
      } catch (err) {
        if (err instanceof NixError) err.addTrace('while evaluating an attribute name', pos);
        throw err;
      }
    };
  }

  private static showPath(path: AttrName[]): string {
    return path.map((a) => ('name' in a ? a.name : `"\${${printExpr(a.expr)}}"`)).join('.');
  }

  private select(target: Expr, path: AttrName[], def: Expr | undefined, offset: number): Code {
    const t = this.compile(target);
    const pos = this.pos(offset);
    const names = path.map((a) => this.attrName(a));
    const dflt = def ? this.compile(def) : null;
    const shown = Compiler.showPath(path);
    const subject = (env: Env): Value => {
      try {
        return t(env);
      } catch (err) {
        if (err instanceof NixError) err.addTrace('while selecting an attribute', pos);
        throw err;
      }
    };
    // Frames CppNix adds when evaluating a selected attribute fails.
    const frames = (err: unknown, found: Attrs | null, foundName: string, i: number, env: Env) => {
      if (!(err instanceof NixError) || (err instanceof SelectError && err.site === pos)) return;
      if (found) {
        const so = path.slice(0, i + 1).map((a, j) => ('name' in a ? a.name : j === i ? foundName : `"\${${printExpr(a.expr)}}"`));
        err.addTrace(`from the definition of '${so.join('.')}'`, found.posOf(foundName) ?? null);
      }
      err.addTrace(`while evaluating the attribute '${shown}'`, pos);
      void env;
    };
    if (path.length === 1 && 'name' in path[0]! && !dflt) {
      const name = path[0].name;
      return (env) => {
        const v = subject(env);
        if (v instanceof Attrs) {
          let x: Value | undefined;
          try {
            x = v.forceAttr(name);
          } catch (err) {
            frames(err, v, name, 0, env);
            throw err;
          }
          if (x !== undefined) return x;
        }
        return selectFail(v, name, pos, shown);
      };
    }
    return (env) => {
      let v: Value = subject(env);
      let found: Attrs | null = null;
      let foundName = '';
      let at = -1;
      try {
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!(env);
          if (name === null) {
            if (dflt) return dflt(env);
            throw new SelectError('dynamic attribute name evaluated to null', pos, pos);
          }
          if (!(v instanceof Attrs)) {
            if (dflt) return dflt(env);
            return selectFail(v, name, pos, shown);
          }
          found = v;
          foundName = name;
          at = i;
          const x = v.forceAttr(name);
          if (x === undefined) {
            if (dflt) return dflt(env);
            return selectFail(v, name, pos, shown);
          }
          v = x;
        }
      } catch (err) {
        frames(err, found, foundName, at, env);
        throw err;
      }
      return v;
    };
  }

  private hasAttr(target: Expr, path: AttrName[], offset: number): Code {
    const t = this.operand(target, "in the argument of '?'");
    const names = path.map((a) => this.attrName(a));
    void offset;
    return (env) => {
      let v: Value = t(env);
      for (let i = 0; i < names.length; i++) {
        if (!(v instanceof Attrs)) return false;
        const name = names[i]!(env);
        if (name === null) return false;
        // (the last name is only looked for: a literal's unmade value stays unmade)
        if (i === names.length - 1) return v.has(name);
        const x = v.forceAttr(name);
        if (x === undefined) return false;
        v = x;
      }
      return true;
    };
  }

  private attrPositions(a: EAttrs): { src: Source; offsets: Map<string, number> } {
    const offsets = new Map<string, number>();
    for (const [k, d] of a.attrs) offsets.set(k, d.pos);
    return { src: this.src, offsets };
  }

  /**
   * Code that creates the recursive scope of a `let` or `rec { }`: the new
   * environment, whose slots hold the static attributes in definition order.
   */
  private recBindings(a: EAttrs): (env: Env) => Env {
    const names = [...a.attrs.keys()];
    const n = names.length;
    const defs = [...a.attrs.values()];
    const fromSrc = a.inheritFrom.map((x) => this.lazyRec(x));
    // value code per slot; `outer` = evaluated in the enclosing env (inherit), else in the new one
    const slotCode: { code: Code; outer: boolean; from: number }[] = defs.map((d, i) => {
      if (d.kind === 'plain') return { code: this.lazyRec(d.expr), outer: false, from: -1 };
      if (d.kind === 'inherit') return { code: this.lazy(d.expr), outer: true, from: -1 };
      return { code: inheritSelect(names[i]!, this.pos(d.pos)), outer: false, from: d.from };
    });
    return (env) => {
      // (null, not a hole: lazyRec tells unfilled slots by `??`)
      const inner: Env = filledArray(n + 1, null);
      inner[0] = env as unknown as Value;
      // (one environment per `inherit (e)` source, shared by its names)
      const srcs = fromSrc.length ? fromSrc.map((f) => [null, f(inner)] as Env) : null;
      for (let i = 0; i < n; i++) {
        const s = slotCode[i]!;
        if (s.from >= 0) inner[i + 1] = new Thunk(s.code, srcs![s.from]!);
        else inner[i + 1] = s.code(s.outer ? env : inner);
      }
      return inner;
    };
  }

  private attrs(a: EAttrs): Code {
    if (this.ctx.shared?.has(a)) {
      const code = this.attrsCode(a);
      let v: Value | undefined;
      return (env) => (v ??= code(env));
    }
    return this.attrsCode(a);
  }

  private attrsCode(a: EAttrs): Code {
    const positions = this.attrPositions(a);
    // shared by every set this literal makes (never mutated)
    const posTables = [positions];
    const layout = new Layout([...a.attrs.keys()]);
    const dyn = a.dynamic.map((d) => ({ name: this.attrName({ expr: d.name, pos: d.pos }), value: this.lazy(d.value), pos: this.pos(d.pos) }));
    /**
     * Layouts of the set with dynamic attributes, by their names (joined by
     * NUL): a literal like makeOverridable's `{ override = …; ${x} = …; }`
     * makes sets of very few name combinations, which then share a Layout
     * and a position table instead of a Map and a table each (bounded).
     */
    const dynLayouts = new Map<string, { layout: Layout; posTables: PosTable[] }>();
    const dynLayout = (base: Layout, names: string[], poses: (Pos | null)[]): { layout: Layout; posTables: PosTable[] } | null => {
      const key = namesKey(names);
      if (key === null) return null;
      let r = dynLayouts.get(key);
      if (r !== undefined) return r;
      if (dynLayouts.size >= 16) return null;
      const layout = new Layout([...base.keys, ...names]);
      if (base.lazyCodes !== null) layout.lazyCodes = [...base.lazyCodes, ...names.map(() => null)];
      const offsets = new Map(positions.offsets);
      for (let i = 0; i < names.length; i++) {
        const p = poses[i];
        if (p) offsets.set(names[i]!, p.offset);
      }
      r = { layout, posTables: [{ src: positions.src, offsets }] };
      dynLayouts.set(key, r);
      return r;
    };
    /** The set with the dynamic attributes added. */
    const withDynamic = (env: Env, base: Attrs): Attrs => {
      // (arrays of the exact size: growing them by push allocates 17 slots at once)
      const names = new Array<string>(dyn.length);
      const values = new Array<Value>(dyn.length);
      const poses = new Array<Pos | null>(dyn.length);
      let k = 0;
      for (let i = 0; i < dyn.length; i++) {
        const d = dyn[i]!;
        const name = d.name(env);
        if (name === null) continue;
        let j = k - 1;
        while (j >= 0 && names[j] !== name) j--;
        if (j >= 0 || base.has(name)) {
          const prev = j >= 0 ? poses[j] : base.posOf(name);
          throw new NixError(`dynamic attribute '${name}' already defined at ${prev ? showPosText(prev) : UNKNOWN_POS}`, d.pos);
        }
        names[k] = name;
        values[k] = d.value(env);
        poses[k++] = d.pos;
      }
      if (k === 0) return base;
      if (k < dyn.length) names.length = values.length = poses.length = k;
      const bl = base.slotLayout;
      const ext = bl !== null ? dynLayout(bl, names, poses) : null;
      return ext !== null ? base.extended(ext.layout, values, ext.posTables) : slowDynamic(base, names, values, poses);
    };
    /** withDynamic's result as a Map (names already checked). */
    const slowDynamic = (base: Attrs, names: string[], values: Value[], poses: (Pos | null)[]): Attrs => {
      const m = base.toMap();
      let pm: Map<string, Pos> | null = null;
      for (let i = 0; i < names.length; i++) {
        m.set(names[i]!, values[i]!);
        const p = poses[i];
        if (p) (pm ??= new Map()).set(names[i]!, p);
      }
      const attrs = new Attrs(m, positions);
      if (pm) attrs.addPosTable(pm);
      return attrs;
    };
    if (a.rec) {
      const bindings = this.recBindings(a);
      const hasOverrides = a.attrs.has('__overrides');
      const names = layout.keys;
      return (env) => {
        const inner = bindings(env);
        // the set's values are the scope's slots (forcing a variable updates both)
        let attrs = Attrs.slots(layout, inner, posTables);
        if (hasOverrides) {
          const ov = forceAttrs(attrs.get('__overrides')!, null, 'while evaluating the `__overrides` attribute');
          const m = attrs.toMap();
          ov.forEach((k, v) => {
            m.set(k, v);
            const idx = names.indexOf(k);
            if (idx >= 0) inner[idx + 1] = v;
          });
          // (an overridden or added attribute is defined where the override is)
          attrs = new Attrs(m, null, [ov, attrs]);
        }
        if (dyn.length) attrs = withDynamic(inner, attrs);
        return attrs;
      };
    }
    const defs = [...a.attrs.values()];
    const fromSrc = a.inheritFrom.map((x) => this.lazy(x));
    const codes: Code[] = defs.map((d, i) => (d.kind === 'inheritFrom' ? inheritSelect(layout.keys[i]!, this.pos(d.pos)) : this.lazy(d.expr)));
    const froms = defs.map((d) => (d.kind === 'inheritFrom' ? d.from : -1));
    const n = layout.keys.length;
    if (n === 0 && dyn.length === 0) {
      // one set for all evaluations: an empty set has nothing to share or mutate
      // (and is never printed as «repeated»)
      const empty = Attrs.slots(layout, [null], posTables);
      return () => empty;
    }
    const hasFrom = fromSrc.length > 0;
    // Values that need a thunk get it when first asked for (many never are:
    // a package's attributes that only its build would read).
    const deferred = defs.map((d) => d.kind === 'plain' && this.makesThunk(d.expr));
    if (!hasFrom && deferred.some((x) => x)) {
      layout.lazyCodes = defs.map((d, i) => (deferred[i] ? this.thunkCode((d as { expr: Expr }).expr) : null));
      return (env) => {
        const vals = filledArray(n + 1, env as unknown as Value);
        for (let i = 0; i < n; i++) vals[i + 1] = deferred[i] ? UNMADE : codes[i]!(env);
        const attrs = Attrs.slots(layout, vals, posTables);
        return dyn.length ? withDynamic(env, attrs) : attrs;
      };
    }
    return (env) => {
      const vals = filledArray(n + 1, null);
      if (hasFrom) {
        // (one environment per `inherit (e)` source, shared by its names)
        const srcs = fromSrc.map((f) => [null, f(env)] as Env);
        for (let i = 0; i < n; i++) {
          const from = froms[i]!;
          vals[i + 1] = from >= 0 ? new Thunk(codes[i]!, srcs[from]!) : codes[i]!(env);
        }
      } else for (let i = 0; i < n; i++) vals[i + 1] = codes[i]!(env);
      const attrs = Attrs.slots(layout, vals, posTables);
      return dyn.length ? withDynamic(env, attrs) : attrs;
    };
  }

  private lambda(e: ELambda): Code {
    const pos = this.pos(e.pos)!;
    const formals = e.formals
      ? {
          names: e.formals.formals.map((f) => f.name),
          // as CppNix's maybeThunk: a default that is a variable bound already shares its value
          defaults: e.formals.formals.map((f) => (f.def ? this.lazyRec(f.def) : null)),
          ellipsis: e.formals.ellipsis,
          poses: e.formals.formals.map((f) => f.pos),
        }
      : null;
    const info: LambdaInfo = {
      name: e.name,
      pos,
      formals,
      arg: e.arg,
      slots: formals ? formals.names.length + (e.arg !== undefined ? 1 : 0) : 1,
      // compiled on the first call (see `lazy`)
      body: (env) => (info.body = this.compile(e.body))(env),
    };
    return (env) => new Lambda(info, env);
  }

  private call(fnExpr: Expr, argExprs: Expr[], offset: number): Code {
    const pos = this.pos(offset);
    // Operators desugared into builtin calls get direct code.
    if (fnExpr.kind === 'var' && fnExpr.resolved?.type === 'builtin' && argExprs.length === 2) {
      const op = BINOPS[fnExpr.name];
      if (op) {
        const a = this.compile(argExprs[0]!);
        const b = this.compile(argExprs[1]!);
        const name = fnExpr.name.slice(2);
        return (env) => {
          try {
            return op(a(env), b(env), pos);
          } catch (err) {
            if (err instanceof NixError) err.addTrace(`while calling the '${name}' builtin`, pos);
            throw err;
          }
        };
      }
    }
    const fn = this.compile(fnExpr);
    const args = argExprs.map((x) => this.lazy(x));
    if (args.length === 1) {
      const a0 = args[0]!;
      return (env) => call1(fn(env), a0(env), pos);
    }
    if (args.length === 2) {
      const a0 = args[0]!;
      const a1 = args[1]!;
      return (env) => call2(fn(env), a0(env), a1(env), pos);
    }
    return (env) => {
      const f = fn(env);
      const vs = new Array<Value>(args.length);
      for (let i = 0; i < args.length; i++) vs[i] = args[i]!(env);
      return callN(f, vs, pos);
    };
  }

  /** Code for an operand: errors get CppNix's "in the left operand of 'OP'" frame at the operand. */
  private operand(e: Expr, frame: string): Code {
    const code = this.compile(e);
    const pos = this.pos(e.pos);
    return (env) => {
      try {
        return code(env);
      } catch (err) {
        if (err instanceof NixError) err.addTrace(frame, pos);
        throw err;
      }
    };
  }

  private binary(op: string, lhs: Expr, rhs: Expr, offset: number): Code {
    const a = this.operand(lhs, `in the left operand of '${op}'`);
    const b = this.operand(rhs, `in the right operand of '${op}'`);
    const pa = this.pos(lhs.pos);
    const pb = this.pos(rhs.pos);
    const pos = this.pos(offset);
    const la = `in the left operand of '${op}'`;
    const rb = `in the right operand of '${op}'`;
    switch (op) {
      case '==':
        return (env) => eqValues(a(env), b(env), pos);
      case '!=':
        return (env) => !eqValues(a(env), b(env), pos);
      case '&&':
        return (env) => {
          if (!boolOperand(a(env), pa, la)) return false;
          return boolOperand(b(env), pb, rb);
        };
      case '||':
        return (env) => {
          if (boolOperand(a(env), pa, la)) return true;
          return boolOperand(b(env), pb, rb);
        };
      case '->':
        return (env) => {
          if (!boolOperand(a(env), pa, la)) return true;
          return boolOperand(b(env), pb, rb);
        };
      case '//':
        return (env) => {
          const x = a(env);
          const y = b(env);
          return updateAttrs(
            x instanceof Attrs ? x : forceAttrs(x, pa, la),
            y instanceof Attrs ? y : forceAttrs(y, pb, rb),
          );
        };
      case '++':
        return (env) => {
          const x0 = a(env);
          const y0 = b(env);
          const x = Array.isArray(x0) ? x0 : forceList(x0, pos, 'while evaluating one of the elements to concatenate');
          const y = Array.isArray(y0) ? y0 : forceList(y0, pos, 'while evaluating one of the elements to concatenate');
          if (x.length === 0) return y;
          if (y.length === 0) return x;
          return x.concat(y);
        };
    }
    throw new NixError(`internal error: unknown operator ${op}`, pos);
  }

  private concat(parts: Expr[], forceString: boolean, offset: number, partPos?: number[]): Code {
    const codes = parts.map((p) => this.compile(p));
    // the parser records where each part starts (the `${` of an interpolation)
    const poses = parts.map((p, i) => this.pos(partPos?.[i] ?? p.pos));
    const pos = this.pos(offset);
    if (!forceString && codes.length === 2) {
      const [a, b] = codes as [Code, Code];
      const pa = poses[0] ?? pos;
      const pb = poses[1] ?? pos;
      return (env) => {
        let x: Value;
        try {
          x = a(env);
        } catch (err) {
          if (err instanceof NixError) err.addTrace("in an operand of '+'", pa);
          throw err;
        }
        if (typeof x === 'number') {
          let y: Value;
          try {
            y = b(env);
          } catch (err) {
            if (err instanceof NixError) err.addTrace("in an operand of '+'", pb);
            throw err;
          }
          if (typeof y === 'number') {
            const r = x + y;
            if (Number.isSafeInteger(r)) return r;
          }
          return concatValues([x, y], env, pos, poses, false);
        }
        return concatValues([x, b], env, pos, poses, false);
      };
    }
    return (env) => concatValues(codes, env, pos, poses, forceString);
  }
}

type BinOp = (a: Value, b: Value, pos: Pos | null) => Value;

/** `a - b` etc. call these directly: CppNix desugars them to the builtins (whose errors carry no position). */
function arithOp(op: '-' | '*' | '/', prim: (a: Value, b: Value) => Value): BinOp {
  return (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = op === '-' ? a - b : op === '*' ? a * b : NaN;
      if (Number.isSafeInteger(r)) return r === 0 ? 0 : r;
    }
    return prim(a, b);
  };
}

const BINOPS: Record<string, BinOp> = {
  __sub: arithOp('-', primSub),
  __mul: arithOp('*', primMul),
  __div: arithOp('/', primDiv),
  __lessThan: (a, b) => (typeof a === 'number' && typeof b === 'number' ? a < b : compareValues(a, b, '')),
};

const UNKNOWN_POS = toBytes('«unknown»');

function showPosText(p: Pos): string {
  const { line, column } = p.src.position(p.offset);
  return `${p.src.origin}:${line}:${column}`;
}

/** Code selecting `name` from the inherit source held in slot 0 of its env. */
function inheritSelect(name: string, pos: Pos | null): Code {
  return (env) => {
    const a = forceAttrs(env[1]!, pos);
    const v = a.get(name);
    if (v === undefined) {
      const e = new NixError(`attribute '${name}' missing`, pos);
      e.hint = didYouMean(name, a.keys());
      throw e;
    }
    return v instanceof Thunk ? v.force() : v;
  };
}

function boolOperand(v: Value, pos: Pos | null, ctx: string): boolean {
  if (typeof v === 'boolean') return v;
  // CppNix reports these type errors at the operand, with the operand frame too
  throw withFrame(() => forceBool(v, pos), ctx, pos);
}

/** Runs `f`, which must throw; returns the error with a frame added. */
function withFrame(f: () => unknown, msg: string, pos: Pos | null): unknown {
  try {
    f();
  } catch (e) {
    if (e instanceof NixError) e.addTrace(msg, pos);
    return e;
  }
  return new NixError(msg, pos);
}


/** Bound on the layers of a `//` result (each layer is one more map lookup per miss). */
const MAX_LAYERS = 8;

export function updateAttrs(x: Attrs, y: Attrs): Attrs {
  if (y.isEmpty()) return x;
  if (x.isEmpty()) return y;
  const dx = x.depth;
  const dy = y.depth;
  // a small set onto a persistent map (the fold `acc // { k = v; }`): O(|y| log |x|)
  if (dy === 0 && x.isPersistent && y.size * 16 <= x.size) return persistentUpdate(x, y);
  // else no copy until all attributes are needed (see Attrs)
  if (dx < MAX_LAYERS && dy < MAX_LAYERS) return Attrs.layered(x, y, (dx > dy ? dx : dy) + 1);
  // Too many layers: one copy.  Of a big set that a small one lands on, a
  // persistent one, which the next steps of a fold then update for little.
  // (Made only here, once a set has had layers: made for every small update
  // of a big set, it would cost more than the layer it saves, as much as 10x
  // the update of a 200 000-name set that nothing updates again.)
  // (sizeAtMost: counting the names of x would cost a walk over its layers)
  const nx = x.sizeAtMost();
  if (dy === 0 && nx >= 64 && y.size * 16 <= nx) return persistentUpdate(x, y);
  const m = x.toMap();
  y.forEach((k, v) => m.set(k, v));
  return new Attrs(m, null, [y, x]);
}

function persistentUpdate(x: Attrs, y: Attrs): Attrs {
  const p = x.asPersistent().withMutations((t) => {
    y.forEach((k, v) => t.set(k, v));
  });
  return Attrs.fromPersistent(p, [y, x]);
}

/** Errors raised by a select itself (no "while evaluating the attribute" frames). */
class SelectError extends NixError {
  constructor(
    msg: string,
    pos: Pos | null,
    /** The select that raised it: that select adds no frames of its own (outer ones do). */
    readonly site: Pos | null,
  ) {
    super(msg, pos);
  }
}

function selectFail(v: Value, name: string, pos: Pos | null, shown: string): never {
  if (!(v instanceof Attrs)) {
    const e = new SelectError(`expected a set but found ${typeName(v)}: ${printForError(v)}`, null, pos);
    e.addTrace('while selecting an attribute', pos);
    throw e;
  }
  // current CppNix: no position of its own, the select's frame shows it
  const e = new SelectError(`attribute '${name}' missing`, null, pos);
  e.hint = didYouMean(name, v.keys());
  e.addTrace(`while evaluating the attribute '${shown}'`, pos);
  throw e;
}

/** How interpolated values are coerced (one object for all calls). */
const SEGMENT = 'while evaluating a path segment';
const PATH_SEGMENT: CoerceOptions = { errCtx: SEGMENT };
const STRING_SEGMENT: CoerceOptions = { copyToStore: true, errCtx: SEGMENT };

/** Part `i` of a concatenation: a constant or the value of its code ("in an operand of '+'" frames for `+`). */
function concatPart(parts: (Code | Value)[], i: number, env: Env, pos: Pos | null, poses: (Pos | null)[], forceString: boolean): Value {
  const p = parts[i]!;
  if (typeof p !== 'function') return p;
  if (forceString) return (p as Code)(env);
  try {
    return (p as Code)(env);
  } catch (e) {
    if (e instanceof NixError) e.addTrace("in an operand of '+'", poses[i] ?? pos);
    throw e;
  }
}

/** Interpolation and `+` on strings and paths (ExprConcatStrings). */
function concatValues(parts: (Code | Value)[], env: Env, pos: Pos | null, poses: (Pos | null)[], forceString: boolean): Value {
  const first = concatPart(parts, 0, env, pos, poses, forceString);
  // `"${./p}…"` is a string (the path is copied to the store); `./a/${x}` and `p + "…"` are paths
  if (!forceString && first instanceof NixPath) {
    let s = first.path;
    for (let i = 1; i < parts.length; i++) {
      const r = coerceToString(concatPart(parts, i, env, pos, poses, forceString), poses[i] ?? pos, PATH_SEGMENT);
      if (r.ctx.size) throw new NixError(`a string that refers to a store path cannot be appended to a path`, pos);
      s += r.s;
    }
    return new NixPath(canonPath(s));
  }
  if (!forceString && (typeof first === 'number' || typeof first === 'bigint' || first instanceof NixFloat)) {
    let acc: Value = first;
    for (let i = 1; i < parts.length; i++) {
      let v = concatPart(parts, i, env, pos, poses, forceString);
      if (v instanceof Thunk) v = v.force();
      if (!(typeof v === 'number' || typeof v === 'bigint' || v instanceof NixFloat)) {
        throw new NixError(`cannot add ${typeName(v)} to ${typeName(acc)}`, poses[i] ?? pos);
      }
      // CppNix reports overflows at the operand being added
      acc = arith('+', acc, v, poses[i] ?? pos);
    }
    return acc;
  }
  let s = '';
  let ctx: Context = EMPTY_CTX;
  for (let i = 0; i < parts.length; i++) {
    const v = i === 0 ? first : concatPart(parts, i, env, pos, poses, forceString);
    if (typeof v === 'string') {
      s += v;
      continue;
    }
    const r = coerceToString(v, poses[i] ?? pos, STRING_SEGMENT);
    s += r.s;
    if (r.ctx.size) ctx = mergeContexts(ctx, r.ctx);
  }
  return mkStr(s, ctx);
}

/** A `/` followed by an empty, `.` or `..` component. */
const NOT_CANONICAL = /\/\.{0,2}(?:\/|$)/;

/** Canonicalises an absolute path: removes `.`, `..`, duplicate and trailing slashes. */
export function canonPath(p: string): string {
  if (!p.startsWith('/')) return p;
  // (most paths are canonical already: no empty, `.` or `..` component, no trailing slash)
  if (!NOT_CANONICAL.test(p)) return p;
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return '/' + out.join('/');
}

/**
 * The explanation CppNix gives when an `assert a == b` fails: an error
 * without position, with "while comparing …" frames at the `==` (opPos) and
 * "where left/right hand side is" frames at the attributes' definitions.
 */
export function explainNotEqual(a: Value, b: Value, opPos: Pos | null, top = true): NixError | null {
  if (a instanceof Thunk) a = a.force();
  if (b instanceof Thunk) b = b.force();
  const show = (v: Value) => printForError(v);
  const isNum = (v: Value) => typeof v === 'number' || typeof v === 'bigint' || v instanceof NixFloat;
  const fail = (msg: string) => new AssertionError(msg, null);
  if (isNum(a) && isNum(b)) {
    if (eqValues(a, b, opPos)) return null;
    return fail(`${typeName(a)} with value '${show(a)}' is not equal to ${typeName(b)} with value '${show(b)}'`);
  }
  const isStr = (v: Value) => typeof v === 'string' || v instanceof NixStr;
  if (typeName(a) !== typeName(b) && !(isStr(a) && isStr(b))) {
    return fail(`${typeName(a)} of value '${show(a)}' is not equal to ${typeName(b)} of value '${show(b)}'`);
  }
  if (typeof a === 'boolean') return a === b ? null : fail(`boolean '${show(a)}' is not equal to boolean '${show(b)}'`);
  if (a === null) return null;
  if (isStr(a)) return eqValues(a, b, opPos) ? null : fail(`string '${show(a)}' is not equal to string '${show(b)}'`);
  if (a instanceof NixPath) return a.path === (b as NixPath).path ? null : fail(`path '${a.path}' is not equal to path '${(b as NixPath).path}'`);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length)
      return fail(`list of size '${a.length}' is not equal to list of size '${b.length}', left hand side is '${show(a)}', right hand side is '${show(b)}'`);
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const e = explainNotEqual(a[i]!, b[i]!, opPos, false);
      if (e) return e.addTrace(`while comparing list element ${i}`, opPos);
    }
    return null;
  }
  if (a instanceof Attrs && b instanceof Attrs) {
    if (isDerivationAttrs(a) && isDerivationAttrs(b)) {
      const oa = a.get('outPath');
      const ob = b.get('outPath');
      if (oa !== undefined && ob !== undefined) {
        const e = explainNotEqual(oa, ob, opPos, false);
        return e ? e.addTrace("while comparing a derivation by its 'outPath' attribute", opPos) : null;
      }
    }
    const ka = a.keys();
    const kb = b.keys();
    if (ka.length !== kb.length || ka.some((k, i) => kb[i] !== k)) {
      return fail(`attribute names of attribute set '${show(a)}' differs from attribute set '${show(b)}'`);
    }
    for (const k of ka) {
      const x = a.get(k)!;
      const y = b.get(k)!;
      if (x === y) continue;
      const e = explainNotEqual(x, y, opPos, false);
      if (e) {
        e.addTrace('where right hand side is', b.posOf(k) ?? null);
        e.addTrace('where left hand side is', a.posOf(k) ?? null);
        e.addTrace(`while comparing attribute '${k}'`, opPos);
        return e;
      }
    }
    return null;
  }
  if (top) return fail('distinct functions and immediate comparisons of identical functions compare as unequal');
  return eqValues(a, b, opPos, true) ? null : fail(`${typeName(a)} of value '${show(a)}' is not equal to ${typeName(b)} of value '${show(b)}'`);
}

