// The Nix abstract syntax tree, as produced by grammar/parser.ts.
//
// Conventions shared by the whole project:
// - Every Nix text (source files, string literals, identifiers, paths) is a
//   "byte string": a JS string in which every char code is one byte (0..255),
//   i.e. the UTF-8 bytes decoded as latin1.  Lengths, offsets and columns are
//   therefore byte counts, as in CppNix.
// - Every node carries `pos`, a byte offset into its Source's text (or -1 when
//   the node is synthetic).  `Source.position(offset)` turns it into
//   line/column on demand, so parsing allocates no position objects.
// - Operators that CppNix desugars into calls of builtins (`-`, `*`, `/`, `<`,
//   `>`, `<=`, `>=`, unary `-`, `<path>`) are desugared by the parser in the
//   same way, because `--parse` must print them that way (e.g. `(__sub 1 2)`).

export class Source {
  /** Byte offsets at which each line starts (line 1 starts at 0). */
  private lineStarts: number[] | null = null;

  constructor(
    /** Absolute file path (byte string), or null for `«stdin»` / `«string»` origins. */
    readonly path: string | null,
    /** Display origin: the path, `«stdin»`, `«string»` or `«none»`. */
    readonly origin: string,
    /** The text (byte string, see above). */
    readonly text: string,
  ) {}

  private starts(): number[] {
    if (this.lineStarts) return this.lineStarts;
    const s = [0];
    const t = this.text;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 10) s.push(i + 1);
      else if (c === 13) {
        if (t.charCodeAt(i + 1) === 10) i++;
        s.push(i + 1);
      }
    }
    this.lineStarts = s;
    return s;
  }

  /** 1-based line and column of a byte offset. */
  position(offset: number): { line: number; column: number } {
    const s = this.starts();
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - s[lo]! + 1 };
  }

  /** The text of a 1-based line, without its line terminator. */
  line(n: number): string | undefined {
    const s = this.starts();
    if (n < 1 || n > s.length) return undefined;
    const start = s[n - 1]!;
    let end = n < s.length ? s[n]! : this.text.length;
    while (end > start && (this.text.charCodeAt(end - 1) === 10 || this.text.charCodeAt(end - 1) === 13)) end--;
    return this.text.slice(start, end);
  }

  get lineCount(): number {
    return this.starts().length;
  }
}

/** A resolved position: a source and a byte offset into it. */
export interface Pos {
  readonly src: Source;
  readonly offset: number;
}

export type Expr =
  | EInt
  | EFloat
  | EStr
  | EPath
  | EVar
  | ESelect
  | EHasAttr
  | EAttrs
  | EList
  | ELambda
  | ECall
  | ELet
  | EWith
  | EIf
  | EAssert
  | ENot
  | EBinary
  | EConcatStrings
  | ECurPos
  | EDeferred;

export interface EInt {
  kind: 'int';
  pos: number;
  /** Always within the signed 64-bit range; a number when it is a safe integer, else a bigint. */
  value: number | bigint;
}

export interface EFloat {
  kind: 'float';
  pos: number;
  value: number;
}

/** A string without interpolation (also URIs and the parts of interpolated strings). */
export interface EStr {
  kind: 'str';
  pos: number;
  value: string;
}

/** A path literal without interpolation, already made absolute (relative paths
 * are resolved against the directory of the source, `~/` against $HOME). */
export interface EPath {
  kind: 'path';
  pos: number;
  value: string;
}

export interface EVar {
  kind: 'var';
  pos: number;
  name: string;
  /** Filled by the binder (grammar/bind.ts): how to find the variable at run time. */
  resolved?: VarRef;
}

/**
 * Where a variable lives.
 * - `level`/`index`: a lexical address: go up `level` scopes, take slot `index`.
 * - `with`: not statically bound; look it up in the enclosing `with` scopes,
 *   innermost first; `levels` are their distances (in scopes) from the
 *   variable's scope.  Not found in any: undefined variable at run time.
 * - `builtin`: a global from the base environment (`builtins`, `true`, `map`, …).
 */
export type VarRef =
  | { type: 'local'; level: number; index: number }
  | { type: 'with'; levels: number[] }
  | { type: 'builtin'; name: string };

/** One component of an attribute path: a static name or a dynamic `${e}` / `"…${e}…"` name. */
export type AttrName = { name: string; pos: number } | { expr: Expr; pos: number };

export interface ESelect {
  kind: 'select';
  pos: number;
  expr: Expr;
  path: AttrName[];
  /** The `or` default, if any. */
  def?: Expr;
}

export interface EHasAttr {
  kind: 'hasAttr';
  pos: number;
  expr: Expr;
  path: AttrName[];
}

/**
 * An attribute definition in an attribute set or let.
 * - `plain`: `a = e;` (nested paths such as `a.b = e;` are merged into nested EAttrs).
 *   `e` is the text [start, end) of the source, or start is -1 when it is not
 *   one piece of text (a set made from `a.b = …;` paths or merged with one).
 * - `inherit`: `inherit a;` (expr is an EVar resolved in the scope enclosing the attrs/let).
 * - `inheritFrom`: `inherit (src) a;` (`from` indexes EAttrs.inheritFrom).
 * `pos` is the position of the attribute name.
 */
export type AttrDef =
  | { kind: 'plain'; expr: Expr; pos: number; start: number; end: number }
  | { kind: 'inherit'; expr: EVar; pos: number }
  | { kind: 'inheritFrom'; from: number; pos: number };

export interface DynamicAttrDef {
  name: Expr;
  value: Expr;
  pos: number;
}

export interface EAttrs {
  kind: 'attrs';
  pos: number;
  rec: boolean;
  /** Static attributes, in source order of first definition.  Printing sorts them. */
  attrs: Map<string, AttrDef>;
  /** `"${e}" = v;` attributes, in source order. */
  dynamic: DynamicAttrDef[];
  /** The source expressions of `inherit (e) …`, in source order. */
  inheritFrom: Expr[];
}

export interface EList {
  kind: 'list';
  pos: number;
  elems: Expr[];
}

export interface Formal {
  name: string;
  pos: number;
  def?: Expr;
}

export interface ELambda {
  kind: 'lambda';
  pos: number;
  /** The plain argument name (`x: …`) or the `@` name, if any. */
  arg?: string;
  /** Present for `{ … }:` patterns; sorted by name (as CppNix stores them). */
  formals?: { formals: Formal[]; ellipsis: boolean };
  body: Expr;
  /** Name given by the binder when the lambda is bound directly to an attribute or let variable. */
  name?: string;
}

export interface ECall {
  kind: 'call';
  pos: number;
  fn: Expr;
  args: Expr[];
}

export interface ELet {
  kind: 'let';
  pos: number;
  /** The bindings; always recursive. */
  attrs: EAttrs;
  body: Expr;
}

export interface EWith {
  kind: 'with';
  pos: number;
  attrs: Expr;
  body: Expr;
}

export interface EIf {
  kind: 'if';
  pos: number;
  cond: Expr;
  then: Expr;
  else: Expr;
}

export interface EAssert {
  kind: 'assert';
  pos: number;
  cond: Expr;
  body: Expr;
}

export interface ENot {
  kind: 'not';
  pos: number;
  expr: Expr;
}

/** Binary operators that CppNix keeps as their own nodes. */
export type BinaryOp = '==' | '!=' | '&&' | '||' | '->' | '//' | '++';

export interface EBinary {
  kind: 'binary';
  pos: number;
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
}

/**
 * `a + b` (forceString = false) and interpolated strings / paths
 * (forceString = true).  `"${x}"` is an EConcatStrings with one part.
 */
export interface EConcatStrings {
  kind: 'concat';
  pos: number;
  forceString: boolean;
  parts: Expr[];
  /**
   * The position of each part as CppNix records it (used in traces such as
   * "while evaluating a path segment"): the `${` of an interpolation, the
   * start of a string fragment, the start of each operand of `+`.  Filled by
   * the parser; same length as `parts`.  (Optional addition to the AST.)
   */
  partPos?: number[];
}

export interface ECurPos {
  kind: 'curPos';
  pos: number;
}

/**
 * The value of a `let` or attribute binding whose AST was dropped after
 * binding (see the Deferrer in grammar/bind.ts): it is parsed and bound again from its text
 * [start, end) when first needed (`expand`).  Only the evaluator sees these
 * (State.parseSource); `--parse` and other users of `parse` never do.
 */
export interface EDeferred {
  kind: 'deferred';
  /** The position of the original expression. */
  pos: number;
  start: number;
  end: number;
  /** The binding's name (lambdas bound to it are named after it). */
  name: string;
  /** The binder's scope in which the expression was bound (opaque here). */
  scope: unknown;
  ctx: { expand(d: EDeferred): Expr };
  /** The expression, once expanded. */
  expr: Expr | null;
}
