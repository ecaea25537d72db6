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

import type { EAttrs, ELambda, Expr, Source, VarRef } from './ast.js';
import { NixParseError } from './errors.js';

interface Scope {
  names: Map<string, number> | null; // null for a `with` scope
  up: Scope | null;
}

export interface BindOptions {
  /** Names bound in the base environment (`builtins`, `true`, `map`, …). */
  globals: ReadonlySet<string>;
  /** Extra names bound around the expression (the REPL's variables), innermost last. */
  outer?: Map<string, number> | null;
}

export function bind(e: Expr, src: Source, opts: BindOptions): void {
  const top: Scope | null = opts.outer ? { names: opts.outer, up: null } : null;
  new Binder(src, opts.globals).expr(e, top);
}

class Binder {
  constructor(
    private src: Source,
    private globals: ReadonlySet<string>,
  ) {}

  private resolve(name: string, pos: number, scope: Scope | null): VarRef {
    let level = 0;
    const withs: number[] = [];
    for (let s = scope; s; s = s.up, level++) {
      if (s.names === null) {
        withs.push(level);
        continue;
      }
      const idx = s.names.get(name);
      if (idx !== undefined) return { type: 'local', level, index: idx };
    }
    if (this.globals.has(name)) return { type: 'builtin', name };
    if (withs.length) return { type: 'with', levels: withs };
    throw new NixParseError(`undefined variable '${name}'`, { src: this.src, offset: pos });
  }

  expr(e: Expr, scope: Scope | null): void {
    // Iterative on the spine of nested scopes (let/with/lambda bodies) so deep nesting stays shallow on the JS stack.
    for (;;) {
      switch (e.kind) {
        case 'int':
        case 'float':
        case 'str':
        case 'path':
        case 'curPos':
          return;
        case 'var':
          e.resolved = this.resolve(e.name, e.pos, scope);
          return;
        case 'select':
          this.expr(e.expr, scope);
          for (const a of e.path) if ('expr' in a) this.expr(a.expr, scope);
          if (e.def) this.expr(e.def, scope);
          return;
        case 'hasAttr':
          this.expr(e.expr, scope);
          for (const a of e.path) if ('expr' in a) this.expr(a.expr, scope);
          return;
        case 'attrs':
          this.attrs(e, scope);
          return;
        case 'list':
          for (const x of e.elems) this.expr(x, scope);
          return;
        case 'lambda':
          e = this.lambdaHead(e, scope, (s) => (scope = s));
          continue;
        case 'call':
          this.expr(e.fn, scope);
          for (const a of e.args) this.expr(a, scope);
          return;
        case 'let': {
          const inner = this.letBindings(e.attrs, scope);
          scope = inner;
          e = e.body;
          continue;
        }
        case 'with':
          this.expr(e.attrs, scope);
          scope = { names: null, up: scope };
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
        case 'not':
          e = e.expr;
          continue;
        case 'binary':
          this.expr(e.lhs, scope);
          e = e.rhs;
          continue;
        case 'concat':
          for (const p of e.parts) this.expr(p, scope);
          return;
      }
    }
  }

  /** Binds a lambda's formals; returns its body and hands the body's scope to `setScope`. */
  private lambdaHead(e: ELambda, scope: Scope | null, setScope: (s: Scope) => void): Expr {
    const names = new Map<string, number>();
    if (e.formals) {
      for (const f of e.formals.formals) names.set(f.name, names.size);
    }
    if (e.arg !== undefined) names.set(e.arg, names.size);
    const inner: Scope = { names, up: scope };
    if (e.formals) for (const f of e.formals.formals) if (f.def) this.expr(f.def, inner);
    setScope(inner);
    return e.body;
  }

  private nameLambdas(a: EAttrs): void {
    for (const [name, def] of a.attrs) {
      if (def.kind !== 'plain') continue;
      // as CppNix's ExprLambda::setName: `f = a: b: …` names the inner lambdas too
      for (let e: Expr = def.expr; e.kind === 'lambda' && e.name === undefined; e = e.body) e.name = name;
    }
  }

  private letBindings(a: EAttrs, scope: Scope | null): Scope {
    if (a.dynamic.length) {
      throw new NixParseError('dynamic attributes not allowed in let', { src: this.src, offset: a.dynamic[0]!.pos });
    }
    return this.recScope(a, scope);
  }

  private recScope(a: EAttrs, scope: Scope | null): Scope {
    this.nameLambdas(a);
    const names = new Map<string, number>();
    for (const k of a.attrs.keys()) names.set(k, names.size);
    const inner: Scope = { names, up: scope };
    for (const src of a.inheritFrom) this.expr(src, inner);
    for (const def of a.attrs.values()) {
      if (def.kind === 'plain') this.expr(def.expr, inner);
      else if (def.kind === 'inherit') this.expr(def.expr, scope);
    }
    for (const d of a.dynamic) {
      this.expr(d.name, inner);
      this.expr(d.value, inner);
    }
    return inner;
  }

  private attrs(a: EAttrs, scope: Scope | null): void {
    if (a.rec) {
      this.recScope(a, scope);
      return;
    }
    this.nameLambdas(a);
    for (const src of a.inheritFrom) this.expr(src, scope);
    for (const def of a.attrs.values()) {
      if (def.kind !== 'inheritFrom') this.expr(def.expr, scope);
    }
    for (const d of a.dynamic) {
      this.expr(d.name, scope);
      this.expr(d.value, scope);
    }
  }
}
