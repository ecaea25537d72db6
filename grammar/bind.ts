// Variable binding: resolves every variable to a lexical address before
// evaluation (see VarRef in ast.ts) and reports undefined variables, as
// CppNix's bindVars does.  `with` is the only dynamic scope.
//
// Scope layout (the evaluator builds its environments the same way):
// - lambda `x: b`                 one slot: x
// - lambda `{ a, b ? d } @ x: e`  the formals in sorted order, then the `@` name
// - `let …`                       the bindings in the order of EAttrs.attrs
// - `rec { … }`                   the static attributes in the order of EAttrs.attrs
// - `with e; b`                   a scope of its own without names (slot 0 holds e)
// Non-recursive attribute sets open no scope.  Static bindings (locals, then
// globals) take precedence over `with`, as in CppNix.

import type { AttrDef, AttrName, EAttrs, EDeferred, ELambda, Expr, Source, VarRef } from './ast.js';
import { NixParseError } from './errors.js';
import { parseRange, type ParseOptions } from './parser.js';

/**
 * A scope.  `names` maps the names of a small scope (up to SMALL names) to their
 * slots by position, `map` those of a larger one; both are null for a `with`.
 */
interface Scope {
  names: string[] | null;
  map: Map<string, number> | null;
  isWith: boolean;
  up: Scope | null;
}

const NO_NAMES: string[] = [];

/** Scopes with at most this many names are searched linearly. */
const SMALL = 8;

function scopeOf(names: string[], up: Scope | null): Scope {
  if (names.length <= SMALL) return { names, map: null, isWith: false, up };
  const map = new Map<string, number>();
  for (let i = 0; i < names.length; i++) map.set(names[i]!, i);
  return { names: null, map, isWith: false, up };
}

export interface BindOptions {
  /** Names bound in the base environment (`builtins`, `true`, `map`, …). */
  globals: ReadonlySet<string>;
  /** Extra names bound around the expression (the REPL's variables), innermost last. */
  outer?: Map<string, number> | null;
  /**
   * Drop the AST of big bindings once bound, to parse them again (with these
   * options, which must be those `e` was parsed with) when they are first
   * evaluated: see Deferrer.
   */
  defer?: ParseOptions;
}

export function bind(e: Expr, src: Source, opts: BindOptions): void {
  const top: Scope | null = opts.outer ? { names: null, map: opts.outer, isWith: false, up: null } : null;
  const defer = opts.defer ? new Deferrer(src, opts.globals, { ...opts.defer, warn: undefined }) : null;
  new Binder(src, opts.globals, defer).expr(e, top);
}

/** Bindings whose value spans fewer bytes than this keep their AST (a stub is not much smaller). */
const DEFER_MIN_SPAN = 48;

/**
 * Deferred bindings.  Most bindings of most files are never evaluated, but
 * their ASTs would stay alive as long as the code that could evaluate them:
 * holding them costs memory and, above all, garbage collection time (a
 * surviving object is copied twice by V8's young generation).  So once the
 * value of a big `name = e;` binding of a `let` or attribute set has been
 * bound (which reports its undefined variables, as CppNix does on loading
 * a file), its AST is replaced by an EDeferred stub holding its text range
 * and scope; compiling the stub parses and binds that text again, giving
 * the same AST (positions included).  Parse warnings were given the first
 * time and are not repeated.  Bindings inside an expanded one keep their
 * AST, so no text is parsed more than twice.
 */
class Deferrer {
  constructor(
    private readonly src: Source,
    private readonly globals: ReadonlySet<string>,
    private readonly opts: ParseOptions,
  ) {}

  /** A stub for `def`'s value (bound in `scope`), or null if it should keep its AST. */
  stub(def: AttrDef & { kind: 'plain' }, name: string, scope: Scope | null): EDeferred | null {
    if (def.start < 0 || def.end - def.start < DEFER_MIN_SPAN) return null;
    const e = def.expr;
    // (values that need no thunk stay: the compiler shares them rather than deferring them)
    if (e.kind === 'str' || e.kind === 'int' || e.kind === 'float' || e.kind === 'path' || e.kind === 'var' || e.kind === 'deferred') return null;
    return { kind: 'deferred', pos: e.pos, start: def.start, end: def.end, name, scope, ctx: this, expr: null };
  }

  expand(d: EDeferred): Expr {
    if (d.expr !== null) return d.expr;
    const e = parseRange(this.src, d.start, d.end, this.opts);
    for (let x: Expr = e; x.kind === 'lambda' && x.name === undefined; x = x.body) x.name = d.name;
    // (code in use tends to use its own bindings: deferring them again would
    // parse nested bindings once per level)
    new Binder(this.src, this.globals, null).expr(e, d.scope as Scope | null);
    d.expr = e;
    return e;
  }
}

// Variable references are immutable, so equal ones are shared (fewer objects
// to allocate and to keep alive with the AST).
const localRefs: VarRef[][] = [];
const builtinRefs = new Map<string, VarRef>();

function localRef(level: number, index: number): VarRef {
  // (the cache is bounded: deeper or wider scopes get references of their own)
  if (level >= 64 || index >= 1024) return { type: 'local', level, index };
  const row = (localRefs[level] ??= []);
  return (row[index] ??= { type: 'local', level, index });
}

class Binder {
  /** The scope of a lambda's body, set by lambdaHead. */
  private bodyScope: Scope | null = null;

  constructor(
    private src: Source,
    private globals: ReadonlySet<string>,
    private defer: Deferrer | null,
  ) {}

  private resolve(name: string, pos: number, scope: Scope | null): VarRef {
    let level = 0;
    let withs = false;
    for (let s = scope; s !== null; s = s.up, level++) {
      const names = s.names;
      if (names !== null) {
        for (let i = 0; i < names.length; i++) if (names[i] === name) return localRef(level, i);
      } else if (s.isWith) {
        withs = true;
      } else {
        const idx = s.map!.get(name);
        if (idx !== undefined) return localRef(level, idx);
      }
    }
    if (this.globals.has(name)) {
      let r = builtinRefs.get(name);
      if (r === undefined) builtinRefs.set(name, (r = { type: 'builtin', name }));
      return r;
    }
    if (withs) {
      // (the levels of the `with` scopes, collected only now: most variables
      // under a `with` are bound statically)
      const levels: number[] = [];
      level = 0;
      for (let s = scope; s !== null; s = s.up, level++) if (s.isWith) levels.push(level);
      return { type: 'with', levels };
    }
    throw new NixParseError(`undefined variable '${name}'`, { src: this.src, offset: pos });
  }

  expr(e: Expr, scope: Scope | null): void {
    // Iterative on the spine of nested scopes (let/with/lambda bodies) so deep nesting stays shallow on the JS stack.
    // (Indexed loops rather than for…of: this runs mostly before it is optimised.)
    for (;;) {
      switch (e.kind) {
        case 'var':
          e.resolved = this.resolve(e.name, e.pos, scope);
          return;
        case 'call': {
          this.expr(e.fn, scope);
          const args = e.args;
          for (let i = 0; i < args.length; i++) this.expr(args[i]!, scope);
          return;
        }
        case 'select':
          this.expr(e.expr, scope);
          this.attrPath(e.path, scope);
          if (e.def) this.expr(e.def, scope);
          return;
        case 'attrs':
          this.attrs(e, scope);
          return;
        case 'int':
        case 'float':
        case 'str':
        case 'path':
        case 'curPos':
        case 'deferred':
          return;
        case 'lambda':
          e = this.lambdaHead(e, scope);
          scope = this.bodyScope;
          continue;
        case 'concat': {
          const parts = e.parts;
          for (let i = 0; i < parts.length; i++) this.expr(parts[i]!, scope);
          return;
        }
        case 'binary':
          this.expr(e.lhs, scope);
          e = e.rhs;
          continue;
        case 'not':
          e = e.expr;
          continue;
        case 'list': {
          const elems = e.elems;
          for (let i = 0; i < elems.length; i++) this.expr(elems[i]!, scope);
          return;
        }
        case 'let': {
          const inner = this.letBindings(e.attrs, scope);
          scope = inner;
          e = e.body;
          continue;
        }
        case 'with':
          this.expr(e.attrs, scope);
          scope = { names: null, map: null, isWith: true, up: scope };
          e = e.body;
          continue;
        case 'if':
          this.expr(e.cond, scope);
          this.expr(e.then, scope);
          e = e.else;
          continue;
        case 'assert':
          this.expr(e.cond, scope);
          e = e.body;
          continue;
        case 'hasAttr':
          this.expr(e.expr, scope);
          this.attrPath(e.path, scope);
          return;
      }
    }
  }

  /** The dynamic components of an attribute path. */
  private attrPath(path: AttrName[], scope: Scope | null): void {
    for (let i = 0; i < path.length; i++) {
      const a = path[i]!;
      if ('expr' in a) this.expr(a.expr, scope);
    }
  }

  /** Binds a lambda's formals; returns its body and leaves the body's scope in `bodyScope`. */
  private lambdaHead(e: ELambda, scope: Scope | null): Expr {
    const formals = e.formals?.formals;
    let inner: Scope;
    if (!formals) {
      inner = { names: [e.arg!], map: null, isWith: false, up: scope };
    } else {
      const names: string[] = [];
      for (let i = 0; i < formals.length; i++) names.push(formals[i]!.name);
      // (a name that is also a formal is an error of the parser's)
      if (e.arg !== undefined) names.push(e.arg);
      inner = scopeOf(names, scope);
      for (let i = 0; i < formals.length; i++) {
        const def = formals[i]!.def;
        if (def) this.expr(def, inner);
      }
    }
    this.bodyScope = inner;
    return e.body;
  }

  private letBindings(a: EAttrs, scope: Scope | null): Scope {
    if (a.dynamic.length) {
      throw new NixParseError('dynamic attributes not allowed in let', { src: this.src, offset: a.dynamic[0]!.pos });
    }
    return this.recScope(a, scope);
  }

  private recScope(a: EAttrs, scope: Scope | null): Scope {
    // (one pass: names the lambdas and collects the names)
    const names: string[] = (this.scopeNames = []);
    a.attrs.forEach(this.nameAndCollect);
    this.scopeNames = NO_NAMES;
    const inner = scopeOf(names, scope);
    this.defs(a, inner, scope);
    return inner;
  }

  /** The names being collected by nameAndCollect. */
  private scopeNames: string[] = NO_NAMES;

  private readonly nameAndCollect = (def: AttrDef, name: string): void => {
    this.scopeNames.push(name);
    nameLambda(def, name);
  };

  private attrs(a: EAttrs, scope: Scope | null): void {
    if (a.rec) {
      this.recScope(a, scope);
    } else {
      a.attrs.forEach(nameLambda);
      this.defs(a, scope, scope);
    }
  }

  /**
   * The bindings of an attribute set or let: `inherit (e)` sources and
   * definitions in `inner`, plain inherited names in `outer`.
   */
  private defs(a: EAttrs, inner: Scope | null, outer: Scope | null): void {
    const from = a.inheritFrom;
    for (let i = 0; i < from.length; i++) this.expr(from[i]!, inner);
    this.defInner = inner;
    this.defOuter = outer;
    a.attrs.forEach(this.bindDef);
    const dyn = a.dynamic;
    for (let i = 0; i < dyn.length; i++) {
      const d = dyn[i]!;
      this.expr(d.name, inner);
      this.expr(d.value, inner);
    }
  }

  /** The scopes of the bindings being visited by bindDef. */
  private defInner: Scope | null = null;
  private defOuter: Scope | null = null;

  private readonly bindDef = (def: AttrDef, name: string): void => {
    if (def.kind === 'plain') {
      const inner = this.defInner;
      const outer = this.defOuter;
      this.expr(def.expr, inner);
      if (this.defer !== null) {
        const d = this.defer.stub(def, name, inner);
        if (d !== null) def.expr = d;
      }
      this.defInner = inner;
      this.defOuter = outer;
    } else if (def.kind === 'inherit') {
      const v = def.expr;
      v.resolved = this.resolve(v.name, v.pos, this.defOuter);
    }
  };
}

/** As CppNix's ExprLambda::setName: `f = a: b: …` names the inner lambdas too. */
function nameLambda(def: AttrDef, name: string): void {
  if (def.kind !== 'plain') return;
  for (let e: Expr = def.expr; e.kind === 'lambda' && e.name === undefined; e = e.body) e.name = name;
}
