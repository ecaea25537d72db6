// The Nix parser: a Chevrotain EmbeddedActionsParser building the AST of
// ast.ts directly, with CppNix's precedences, desugarings, positions and
// parse-time errors.
//
// Grammar notes (CppNix's grammar is LALR(1); this one is LL(k) with a few
// hand-written lookahead decisions, see NixLookahead below):
// - `expr` is a sequence of "heads" (`x:`, `{…}:`, `assert e;`, `with e;`,
//   `let … in`, `if c then t else`) followed by an operator expression.  The
//   heads are parsed in a loop rather than recursively, so long `else if`
//   chains, curried lambdas and `let` chains do not deepen the JS stack.
// - Operator expressions (prefix `-` `!`, binary operators, `?`) are parsed as
//   a flat sequence and assembled by operator precedence (shunting-yard),
//   including the non-associativity of `==`/`<` etc. and the pipe operators.
// - Syntax errors found here are re-diagnosed by lalr.ts, which replays the
//   tokens through an LALR(1) automaton of CppNix's grammar to word the
//   message exactly like bison.

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort } from 'node:worker_threads';
import type { IToken, TokenType } from 'chevrotain';
import type { AttrDef, AttrName, EAttrs, ELambda, EPath, EStr, EVar, Expr, Formal } from './ast.js';
import { Source } from './ast.js';
import { chevrotain } from './chevrotain.js';
import { NixParseError, showPos } from './errors.js';
import { unflatten } from './flatten.js';
import type { Flat } from './flatten.js';
import { replay } from './lalr.js';
import { ALL_TOKEN_TYPES, BinOp, IndStrPart, Lexer, PathStart, PrefixOp, SYMBOLS, T, Tok, bisonSymbolOf, lex } from './lexer.js';
import { showAttrPath } from './print.js';

export type LintLevel = 'ignore' | 'warn' | 'fatal';

export interface ParseOptions {
  /** Directory against which relative path literals are resolved (byte string). */
  basePath: string;
  /** Home directory for `~/…` paths (byte string); defaults to $HOME. */
  home?: string;
  experimentalFeatures?: ReadonlySet<string>;
  lint?: {
    absolutePathLiterals?: LintLevel;
    shortPathLiterals?: LintLevel;
    /** `--lint-url-literals` (an addition to the original interface). */
    urlLiterals?: LintLevel;
  };
  /**
   * Receives warnings.  `pos` is a byte offset into the source; when it is
   * negative the message is complete in itself (it carries its own `at …:`
   * location, like CppNix's warning about `or` used as an identifier) and no
   * code frame should be shown.
   */
  warn?: (msg: string, pos: number) => void;
}

const { EmbeddedActionsParser, LLkLookaheadStrategy } = chevrotain;

/** Thrown inside the parser when a syntax error is detected by semantic checks. */
class SyntaxSignal extends Error {}

// ---------------------------------------------------------------------------
// Operator precedence

const P_PIPE = 1;
const P_IMPL = 2;
const P_OR = 3;
const P_AND = 4;
const P_EQ = 5;
const P_CMP = 6;
const P_UPDATE = 7;
const P_NOT = 8;
const P_ADD = 9;
const P_MUL = 10;
const P_CONCAT = 11;
// (P_HAS = 12: `?`, applied as soon as it is read, see hasAttr)
const P_NEG = 13;

const A_LEFT = 0;
const A_RIGHT = 1;
const A_NONASSOC = 2;

// Operator codes on the operator stack: a binary operator's tokenTypeIdx, or
// one of these for the prefix operators.
const OP_NOT = -1;
const OP_NEG = -2;

const binPrec: number[] = [];
const binAssoc: number[] = [];
const setBin = (t: TokenType, p: number, a: number) => {
  binPrec[t.tokenTypeIdx!] = p;
  binAssoc[t.tokenTypeIdx!] = a;
};
setBin(T.PIPE_INTO, P_PIPE, A_LEFT);
setBin(T.PIPE_FROM, P_PIPE, A_RIGHT);
setBin(T.IMPL, P_IMPL, A_RIGHT);
setBin(T.OR, P_OR, A_LEFT);
setBin(T.AND, P_AND, A_LEFT);
setBin(T.EQ, P_EQ, A_NONASSOC);
setBin(T.NEQ, P_EQ, A_NONASSOC);
setBin(T.LT, P_CMP, A_NONASSOC);
setBin(T.GT, P_CMP, A_NONASSOC);
setBin(T.LEQ, P_CMP, A_NONASSOC);
setBin(T.GEQ, P_CMP, A_NONASSOC);
setBin(T.UPDATE, P_UPDATE, A_RIGHT);
setBin(T.PLUS, P_ADD, A_LEFT);
setBin(T.MINUS, P_ADD, A_LEFT);
setBin(T.STAR, P_MUL, A_LEFT);
setBin(T.SLASH, P_MUL, A_LEFT);
setBin(T.CONCAT, P_CONCAT, A_RIGHT);

const I = (t: TokenType) => t.tokenTypeIdx!;
/** Size of tables indexed by tokenTypeIdx (Chevrotain numbers token types from 1 up). */
const TOKEN_TABLE_SIZE = Math.max(chevrotain.EOF.tokenTypeIdx!, ...ALL_TOKEN_TYPES.map((t) => t.tokenTypeIdx!)) + 1;
const TI_ID = I(T.ID);
const TI_COLON = I(T.COLON);
const TI_AT = I(T.AT);
const TI_LCURLY = I(T.LCURLY);
const TI_RCURLY = I(T.RCURLY);
const TI_ELLIPSIS = I(T.ELLIPSIS);
const TI_COMMA = I(T.COMMA);
const TI_QUESTION = I(T.QUESTION);
const TI_ASSERT = I(T.ASSERT);
const TI_WITH = I(T.WITH);
const TI_LET = I(T.LET);
const TI_IF = I(T.IF);
const TI_PATH = I(T.PATH);
const TI_EQ = I(T.EQ);
const TI_NEQ = I(T.NEQ);
const TI_AND = I(T.AND);
const TI_OR = I(T.OR);
const TI_IMPL = I(T.IMPL);
const TI_UPDATE = I(T.UPDATE);
const TI_CONCAT = I(T.CONCAT);
const TI_PLUS = I(T.PLUS);
const TI_MINUS = I(T.MINUS);
const TI_STAR = I(T.STAR);
const TI_SLASH = I(T.SLASH);
const TI_LT = I(T.LT);
const TI_GT = I(T.GT);
const TI_LEQ = I(T.LEQ);
const TI_GEQ = I(T.GEQ);
const TI_PIPE_INTO = I(T.PIPE_INTO);
const TI_PIPE_FROM = I(T.PIPE_FROM);
const TI_BANG = I(T.BANG);

// ---------------------------------------------------------------------------
// Custom lookahead decisions (Chevrotain's LL(k) analysis cannot express
// "lambda or expression" without looking 3 tokens ahead into huge sets).

type Decision = (this: NixParser) => number | undefined;
type OptDecision = (this: NixParser) => boolean;

/** At the start of an expression: does a head (lambda / assert / with / let-in / if) follow? */
function headAhead(this: NixParser): boolean {
  const t = this.la(1).tokenTypeIdx;
  switch (t) {
    case TI_ID: {
      const t2 = this.la(2).tokenTypeIdx;
      return t2 === TI_COLON || t2 === TI_AT;
    }
    case TI_LCURLY:
      return formalsAhead(this);
    case TI_ASSERT:
    case TI_WITH:
    case TI_IF:
      return true;
    case TI_LET:
      return this.la(2).tokenTypeIdx !== TI_LCURLY;
    default:
      return false;
  }
}

/** `{` starts a formal parameter set (rather than an attribute set). */
function formalsAhead(p: NixParser): boolean {
  const t2 = p.la(2).tokenTypeIdx;
  if (t2 === TI_RCURLY) {
    const t3 = p.la(3).tokenTypeIdx;
    return t3 === TI_COLON || t3 === TI_AT;
  }
  if (t2 === TI_ELLIPSIS) return true;
  if (t2 === TI_ID) {
    const t3 = p.la(3).tokenTypeIdx;
    return t3 === TI_COMMA || t3 === TI_QUESTION || t3 === TI_RCURLY;
  }
  return false;
}

const HEAD_ALTS: Decision = function (this: NixParser) {
  switch (this.la(1).tokenTypeIdx) {
    case TI_ID:
      return this.la(2).tokenTypeIdx === TI_COLON ? 0 : 1;
    case TI_LCURLY:
      return 2;
    case TI_ASSERT:
      return 3;
    case TI_WITH:
      return 4;
    case TI_LET:
      return 5;
    case TI_IF:
      return 6;
    default:
      return undefined;
  }
};

const TI_DOT = I(T.DOT);
const TI_OR_KW = I(T.OR_KW);
const SELECT_TAIL: Decision = function (this: NixParser) {
  const t = this.la(1).tokenTypeIdx;
  return t === TI_DOT ? 0 : t === TI_OR_KW ? 1 : 2;
};

const customOr = new Map<string, Decision>([
  ['expr/0', HEAD_ALTS],
  ['select/5', SELECT_TAIL],
]);
/** Tokens that can follow the first operand of an operator expression within it. */
const continuesOperand = new Uint8Array(TOKEN_TABLE_SIZE);
for (const t of [
  T.ID, T.INT_LIT, T.FLOAT_LIT, T.DQUOTE, T.IND_STRING_OPEN, T.PATH, T.HPATH, T.SPATH, T.URI, T.LPAREN, T.LET, T.REC,
  T.LCURLY, T.LBRACKET, T.QUESTION, T.EQ, T.NEQ, T.LEQ, T.GEQ, T.UPDATE, T.CONCAT, T.AND, T.OR, T.IMPL, T.PIPE_FROM,
  T.PIPE_INTO, T.LT, T.GT, T.PLUS, T.MINUS, T.STAR, T.SLASH,
]) {
  continuesOperand[t.tokenTypeIdx!] = 1;
}

const customOpt = new Map<string, OptDecision>([
  ['expr/Repetition/0', headAhead],
  [
    // `, name` continues the formals (`, ...` and `, }` end them)
    'formalSet/Repetition/0',
    function (this: NixParser) {
      return this.la(1).tokenTypeIdx === TI_COMMA && this.la(2).tokenTypeIdx === TI_ID;
    },
  ],
  [
    'expr/Option/9',
    function (this: NixParser) {
      return continuesOperand[this.la(1).tokenTypeIdx] === 1;
    },
  ],
]);

// Chevrotain 11 exposes the default strategy as a (documented, experimental) class.
type LookaheadStrategy = InstanceType<typeof LLkLookaheadStrategy>;
type AltOptions = Parameters<LookaheadStrategy['buildLookaheadForAlternation']>[0];
type OptOptions = Parameters<LookaheadStrategy['buildLookaheadForOptional']>[0];
type AltFunc = ReturnType<LookaheadStrategy['buildLookaheadForAlternation']>;
type OptFunc = ReturnType<LookaheadStrategy['buildLookaheadForOptional']>;
type Production = import('chevrotain').IProduction;
type ProductionClass = abstract new (...args: never[]) => Production;

const G = chevrotain;
const defOf = (p: Production): Production[] => (p as unknown as { definition?: Production[] }).definition ?? [];

/** Adds the FIRST tokens (tokenTypeIdx, categories expanded) of a sequence to `out`; returns whether it is nullable. */
function firstOfSeq(seq: readonly Production[], out: Set<number>): boolean {
  for (const p of seq) if (!firstOf(p, out)) return false;
  return true;
}

function firstOf(p: Production, out: Set<number>): boolean {
  if (p instanceof G.Terminal) {
    const t = p.terminalType;
    out.add(t.tokenTypeIdx!);
    for (const c of (t as { categoryMatches?: number[] }).categoryMatches ?? []) out.add(c);
    return false;
  }
  if (p instanceof G.NonTerminal) return firstOfSeq(p.referencedRule.definition, out);
  if (p instanceof G.Alternation) {
    let nullable = false;
    for (const alt of defOf(p)) if (firstOfSeq(defOf(alt), out)) nullable = true;
    return nullable;
  }
  if (p instanceof G.Option || p instanceof G.Repetition || p instanceof G.RepetitionWithSeparator) {
    firstOfSeq(defOf(p), out);
    return true;
  }
  return firstOfSeq(defOf(p), out);
}

/** The production of the given class and occurrence index in a rule (not looking into other rules). */
function findProduction(rule: import('chevrotain').Rule, cls: ProductionClass, idx: number): Production | undefined {
  const stack: Production[] = [...rule.definition];
  while (stack.length) {
    const p = stack.pop()!;
    if (p instanceof cls && (p as { idx?: number }).idx === idx) return p;
    if (!(p instanceof G.NonTerminal) && !(p instanceof G.Terminal)) {
      stack.push(...defOf(p));
    }
  }
  return undefined;
}

const OPTIONAL_CLASSES: Record<string, ProductionClass> = {
  Option: G.Option,
  Repetition: G.Repetition,
  RepetitionMandatory: G.RepetitionMandatory,
  RepetitionWithSeparator: G.RepetitionWithSeparator,
  RepetitionMandatoryWithSeparator: G.RepetitionMandatoryWithSeparator,
};

/**
 * The lookahead decisions.  All decisions of this grammar need one token of
 * lookahead except the few written by hand above (customOr / customOpt), so
 * instead of Chevrotain's general LL(k) analysis (which costs several
 * milliseconds at start-up) each decision is a table indexed by tokenTypeIdx,
 * built from FIRST sets of the recorded grammar.
 */
class NixLookahead extends LLkLookaheadStrategy {
  override buildLookaheadForAlternation(options: AltOptions): AltFunc {
    const f = customOr.get(`${options.rule.name}/${options.prodOccurrence}`);
    if (f) return f as unknown as AltFunc;
    const alt = findProduction(options.rule, G.Alternation, options.prodOccurrence);
    if (!alt) return super.buildLookaheadForAlternation(options);
    const table = new Int16Array(TOKEN_TABLE_SIZE).fill(-1);
    let fallback: number | undefined;
    defOf(alt).forEach((a, i) => {
      const first = new Set<number>();
      if (firstOfSeq(defOf(a), first)) fallback ??= i;
      for (const t of first) if (table[t] === -1) table[t] = i;
    });
    return function (this: NixParser): number | undefined {
      const r = table[this.la(1).tokenTypeIdx]!;
      return r >= 0 ? r : fallback;
    } as unknown as AltFunc;
  }

  override buildLookaheadForOptional(options: OptOptions): OptFunc {
    const f = customOpt.get(`${options.rule.name}/${options.prodType}/${options.prodOccurrence}`);
    if (f) return f as unknown as OptFunc;
    const cls = OPTIONAL_CLASSES[options.prodType];
    const prod = cls && findProduction(options.rule, cls, options.prodOccurrence);
    if (!prod) return super.buildLookaheadForOptional(options);
    const table = new Uint8Array(TOKEN_TABLE_SIZE);
    const first = new Set<number>();
    firstOfSeq(defOf(prod), first);
    for (const t of first) table[t] = 1;
    return function (this: NixParser): boolean {
      return table[this.la(1).tokenTypeIdx] === 1;
    } as unknown as OptFunc;
  }
}

// ---------------------------------------------------------------------------
// AST helpers

const synthVar = (name: string): EVar => ({ kind: 'var', pos: -1, name });

function makeCall(pos: number, fn: Expr, arg: Expr): Expr {
  if (fn.kind === 'call') {
    fn.args.push(arg);
    return fn;
  }
  return { kind: 'call', pos, fn, args: [arg] };
}

function newAttrs(pos: number, rec: boolean): EAttrs {
  return { kind: 'attrs', pos, rec, attrs: new Map(), dynamic: [], inheritFrom: [] };
}

/** CppNix's canonPath without symlink resolution: drops `.`, empty components, resolves `..`. */
export function canonPath(p: string): string {
  const out: string[] = [];
  let i = 0;
  const n = p.length;
  while (i < n) {
    while (i < n && p.charCodeAt(i) === 47) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && p.charCodeAt(j) !== 47) j++;
    const c = p.slice(i, j);
    if (c === '..') out.pop();
    else if (c !== '.') out.push(c);
    i = j;
  }
  return '/' + out.join('/');
}

interface Head {
  kind: number; // 0 lambda, 1 assert, 2 with, 3 let, 4 if
  pos: number;
  a?: Expr;
  b?: Expr;
  arg?: string;
  formals?: { formals: Formal[]; ellipsis: boolean };
  attrs?: EAttrs;
}

const TAIL_NONE = 0;
const TAIL_SELECT = 1;
const TAIL_CURSED = 2;

interface IndPart {
  /** String fragment (undefined for an interpolation). */
  s?: string;
  /** Whether the fragment is subject to indentation stripping. */
  indent: boolean;
  e?: Expr;
  pos: number;
}

// ---------------------------------------------------------------------------
// The parser

const RING_SIZE = 16;
const RING_MASK = RING_SIZE - 1;

class NixParser extends EmbeddedActionsParser {
  // Per-parse context.
  src: Source = new Source(null, '«none»', '');
  opts: ParseOptions = { basePath: '/' };
  /** Set by `select`: the result is `e or` (CppNix's "cursed or" call). */
  lastCursed = false;
  /** The end offset of that `or`. */
  lastCursedEnd = 0;

  // Work stacks shared by all rule invocations (each invocation uses the part
  // above the height it found on entry).  The DSL callbacks below are created
  // once, as fields, and keep their state here instead of in closures, so that
  // parsing allocates little besides the AST.
  /** Operands of operator expressions. */
  private readonly exprs: Expr[] = [];
  /** Start offsets of those operands. */
  private readonly starts: number[] = [];
  /** Pending operators (binary: tokenTypeIdx; prefix: OP_NOT / OP_NEG) and their offsets. */
  private readonly ops: number[] = [];
  private readonly opPos: number[] = [];
  /** Height of `ops` at the start of the innermost operator expression. */
  private opBase = 0;
  /** Heads (lambda, assert, with, let, if) of the expressions being parsed. */
  private readonly heads: Head[] = [];
  /** Miscellaneous lists being built: list elements, attribute paths, inherited names, string parts. */
  private readonly items: unknown[] = [];
  private readonly itemPos: number[] = [];
  /** The attribute set whose bindings are being parsed. */
  private curAttrs: EAttrs = newAttrs(-1, false);
  /** Set by stringParts: whether the string has interpolation. */
  private strInterp = false;
  /** Set by the `or` default of a select. */
  private selDef: Expr | undefined = undefined;
  private selPath: AttrName[] = [];
  /** Set by the `inherit (e)` source. */
  private inheritSrc: Expr | undefined = undefined;
  private formalEllipsis = false;
  private formalDef: Expr | undefined = undefined;
  private lamArg: string | undefined = undefined;
  /** The attribute set for the next `binds` invocation. */
  private bindsTarget: EAttrs = newAttrs(-1, false);

  /** Pushes onto `items` / `itemPos` (which always have the same height). */
  private pushItem(x: unknown, pos: number): void {
    this.items.push(x);
    this.itemPos.push(pos);
  }

  /** Removes and returns the items from `base` up. */
  private takeItems(base: number): unknown[] {
    const items = this.items;
    const n = items.length - base;
    if (n === 1) {
      this.itemPos.pop();
      return [items.pop()];
    }
    if (n === 0) return [];
    const out = items.slice(base);
    items.length = base;
    this.itemPos.length = base;
    return out;
  }

  constructor() {
    super(ALL_TOKEN_TYPES, {
      maxLookahead: 3,
      skipValidations: true,
      lookaheadStrategy: new NixLookahead({ maxLookahead: 3 }),
    });
    this.performSelfAnalysis();
  }

  /** Public access to the lookahead (for the custom lookahead decisions). */
  la(k: number): IToken {
    return this.LA(k);
  }

  // ---- errors and warnings ----

  err(msg: string, offset: number): NixParseError {
    return new NixParseError(msg, { src: this.src, offset });
  }

  lint(level: LintLevel | undefined, msg: string, offset: number): void {
    if (!level || level === 'ignore') return;
    if (level === 'fatal') throw this.err(msg, offset);
    this.opts.warn?.(msg, offset);
  }

  /** CppNix's warning about `e or` used as an argument, list element or default. */
  warnCursedOr(e: Expr): void {
    if (!this.opts.warn) return;
    this.opts.warn(
      `at ${showPos({ src: this.src, offset: e.pos })}: This expression uses \`or\` as an identifier in a way that will change in a future Nix release.\n` +
        `Wrap this entire expression in parentheses to preserve its current meaning:\n` +
        `    (${this.src.text.slice(e.pos, this.lastCursedEnd)})\n` +
        `Give feedback at https://github.com/NixOS/nix/pull/11121`,
      -1,
    );
  }

  dupAttr(path: string, offset: number, prev: number): NixParseError {
    return this.err(`attribute '${path}' already defined at ${showPos({ src: this.src, offset: prev })}`, offset);
  }

  // ---- rules ----

  /** Top level: an expression followed by the end of the input. */
  public start = this.RULE('start', (): Expr => {
    const e = this.SUBRULE(this.expr);
    this.CONSUME(chevrotain.EOF);
    return e;
  });

  /** `expr` (CppNix's expr_function / expr_if / expr_pipe / expr_op). */
  public expr = this.RULE('expr', (): Expr => {
    const headBase = this.heads.length;
    const savedOpBase = this.opBase;
    const opBase = (this.opBase = this.ops.length);

    this.MANY(this.headLoop);

    // The operator expression: a flat sequence of operands and operators,
    // assembled by precedence as it goes (shunting-yard).
    this.MANY2(this.prefix1);
    const start = this.LA(1).startOffset;
    const first = this.SUBRULE(this.select);
    if (!this.RECORDING_PHASE) {
      this.exprs.push(first);
      this.starts.push(start);
    }
    // Function application, `?`, binary operators (one custom decision for the common case of none).
    this.OPTION9(this.exprTail);
    if (this.RECORDING_PHASE) return first;

    while (this.ops.length > opBase) this.reduceOp();
    this.opBase = savedOpBase;
    let body = this.exprs.pop()!;
    this.starts.pop();

    // Apply the heads, innermost first.
    const heads = this.heads;
    while (heads.length > headBase) body = this.applyHead(heads.pop()!, body);
    return body;
  });

  private exprTail = (): void => {
    this.MANY3(this.app1);
    this.MANY4(this.has1);
    this.MANY5(this.binopLoop);
  };

  private headLoop = (): void => {
    const h = this.OR(this.headAlts);
    if (!this.RECORDING_PHASE) this.heads.push(h);
  };

  private prefix1 = (): void => {
    const t = this.CONSUME(PrefixOp);
    if (!this.RECORDING_PHASE) this.pushPrefix(t);
  };

  private prefix2 = (): void => {
    const t = this.CONSUME2(PrefixOp);
    if (!this.RECORDING_PHASE) this.pushPrefix(t);
  };

  private app1 = (): void => {
    const a = this.SUBRULE2(this.select);
    if (!this.RECORDING_PHASE) this.applyArg(a);
  };

  private app2 = (): void => {
    const a = this.SUBRULE4(this.select);
    if (!this.RECORDING_PHASE) this.applyArg(a);
  };

  private has1 = (): void => {
    this.CONSUME(T.QUESTION);
    const path = this.SUBRULE(this.attrpath);
    if (!this.RECORDING_PHASE) this.hasAttr(path);
  };

  private has2 = (): void => {
    this.CONSUME2(T.QUESTION);
    const path = this.SUBRULE2(this.attrpath);
    if (!this.RECORDING_PHASE) this.hasAttr(path);
  };

  private binopLoop = (): void => {
    const opTok = this.CONSUME(BinOp);
    if (!this.RECORDING_PHASE) this.binop(opTok);
    this.MANY6(this.prefix2);
    const start = this.LA(1).startOffset;
    const e = this.SUBRULE3(this.select);
    if (!this.RECORDING_PHASE) {
      this.exprs.push(e);
      this.starts.push(start);
    }
    this.MANY7(this.app2);
    this.MANY8(this.has2);
  };

  private pushPrefix(t: IToken): void {
    this.ops.push(t.tokenTypeIdx === TI_BANG ? OP_NOT : OP_NEG);
    this.opPos.push(t.startOffset);
  }

  /** Function application: the operand on top of the stack applied to `a`. */
  private applyArg(a: Expr): void {
    if (this.lastCursed) this.warnCursedOr(a);
    const k = this.exprs.length - 1;
    this.exprs[k] = makeCall(this.starts[k]!, this.exprs[k]!, a);
  }

  private headAlts = [
    {
      // x: body
      ALT: (): Head => {
        const id = this.CONSUME(T.ID);
        const pos = id.startOffset;
        const arg = id.image;
        this.CONSUME(T.COLON);
        return { kind: 0, pos, arg };
      },
    },
    {
      // x @ { … }: body
      ALT: (): Head => {
        const id = this.CONSUME2(T.ID);
        const pos = id.startOffset;
        const arg = id.image;
        this.CONSUME(T.AT);
        const fs = this.SUBRULE(this.formalSet);
        this.CONSUME2(T.COLON);
        return { kind: 0, pos, arg, formals: fs };
      },
    },
    {
      // { … } (@ x)?: body
      ALT: (): Head => {
        const pos = this.LA(1).startOffset;
        const fs = this.SUBRULE2(this.formalSet);
        this.lamArg = undefined;
        this.OPTION(this.atArg);
        const h: Head = { kind: 0, pos, formals: fs };
        if (this.lamArg !== undefined) h.arg = this.lamArg;
        this.CONSUME3(T.COLON);
        return h;
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.ASSERT).startOffset;
        const cond = this.SUBRULE(this.expr);
        this.CONSUME(T.SEMI);
        return { kind: 1, pos, a: cond };
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.WITH).startOffset;
        const e = this.SUBRULE2(this.expr);
        this.CONSUME2(T.SEMI);
        return { kind: 2, pos, a: e };
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.LET).startOffset;
        const attrs = (this.bindsTarget = newAttrs(pos, true));
        this.SUBRULE(this.binds);
        this.CONSUME(T.IN);
        return { kind: 3, pos, attrs };
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.IF).startOffset;
        const c = this.SUBRULE3(this.expr);
        this.CONSUME(T.THEN);
        const t = this.SUBRULE4(this.expr);
        this.CONSUME(T.ELSE);
        return { kind: 4, pos, a: c, b: t };
      },
    },
  ];

  private atArg = (): void => {
    this.CONSUME2(T.AT);
    this.lamArg = this.CONSUME3(T.ID).image;
  };

  private applyHead(h: Head, body: Expr): Expr {
    switch (h.kind) {
      case 0: {
        const lam: ELambda = { kind: 'lambda', pos: h.pos, body };
        if (h.arg !== undefined) lam.arg = h.arg;
        if (h.formals) {
          this.validateFormals(h.formals.formals, h.pos, h.arg);
          lam.formals = h.formals;
        }
        return lam;
      }
      case 1:
        return { kind: 'assert', pos: h.pos, cond: h.a!, body };
      case 2:
        return { kind: 'with', pos: h.pos, attrs: h.a!, body };
      case 3:
        if (h.attrs!.dynamic.length) throw this.err('dynamic attributes not allowed in let', h.pos);
        return { kind: 'let', pos: h.pos, attrs: h.attrs!, body };
      default:
        return { kind: 'if', pos: h.pos, cond: h.a!, then: h.b!, else: body };
    }
  }

  private validateFormals(formals: Formal[], pos: number, arg: string | undefined): void {
    formals.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.pos - b.pos));
    let dup: Formal | null = null;
    let dupFirst = 0;
    for (let k = 0; k + 1 < formals.length; k++) {
      if (formals[k]!.name !== formals[k + 1]!.name) continue;
      // Several duplicated names: report the one that appears first in the source.
      if (!dup || (formals[k]!.name !== dup.name && formals[k]!.pos < dupFirst)) {
        dup = formals[k + 1]!;
        dupFirst = formals[k]!.pos;
      }
    }
    if (dup) throw this.err(`duplicate formal function argument '${dup.name}'`, dup.pos);
    if (arg !== undefined && formals.some((f) => f.name === arg)) {
      throw this.err(`duplicate formal function argument '${arg}'`, pos);
    }
  }

  // ---- operator precedence ----

  private binop(opTok: IToken): void {
    const ops = this.ops;
    const k = opTok.tokenTypeIdx;
    const p = binPrec[k]!;
    const assoc = binAssoc[k]!;
    while (ops.length > this.opBase) {
      const top = ops[ops.length - 1]!;
      const tp = top === OP_NOT ? P_NOT : top === OP_NEG ? P_NEG : binPrec[top]!;
      if (tp > p) {
        this.reduceOp();
        continue;
      }
      if (tp === p) {
        if (p === P_PIPE && top !== k) throw new SyntaxSignal();
        if (assoc === A_NONASSOC) throw new SyntaxSignal();
        if (assoc === A_LEFT) {
          this.reduceOp();
          continue;
        }
      }
      break;
    }
    ops.push(k);
    this.opPos.push(opTok.startOffset);
  }

  private hasAttr(path: AttrName[]): void {
    // Only unary minus binds tighter than `?`.
    while (this.ops.length > this.opBase && this.ops[this.ops.length - 1] === OP_NEG) this.reduceOp();
    const k = this.exprs.length - 1;
    this.exprs[k] = { kind: 'hasAttr', pos: this.starts[k]!, expr: this.exprs[k]!, path };
  }

  private reduceOp(): void {
    const exprs = this.exprs;
    const starts = this.starts;
    const op = this.ops.pop()!;
    const pos = this.opPos.pop()!;
    const k = exprs.length - 1;
    if (op === OP_NOT) {
      exprs[k] = { kind: 'not', pos, expr: exprs[k]! };
      starts[k] = pos;
      return;
    }
    if (op === OP_NEG) {
      exprs[k] = { kind: 'call', pos, fn: synthVar('__sub'), args: [{ kind: 'int', pos: -1, value: 0 }, exprs[k]!] };
      starts[k] = pos;
      return;
    }
    const r = exprs.pop()!;
    const rs = starts.pop()!;
    const l = exprs[k - 1]!;
    const ls = starts[k - 1]!;
    let e: Expr;
    switch (op) {
      case TI_EQ:
        e = { kind: 'binary', pos, op: '==', lhs: l, rhs: r };
        break;
      case TI_NEQ:
        e = { kind: 'binary', pos, op: '!=', lhs: l, rhs: r };
        break;
      case TI_AND:
        e = { kind: 'binary', pos, op: '&&', lhs: l, rhs: r };
        break;
      case TI_OR:
        e = { kind: 'binary', pos, op: '||', lhs: l, rhs: r };
        break;
      case TI_IMPL:
        e = { kind: 'binary', pos, op: '->', lhs: l, rhs: r };
        break;
      case TI_UPDATE:
        e = { kind: 'binary', pos, op: '//', lhs: l, rhs: r };
        break;
      case TI_CONCAT:
        e = { kind: 'binary', pos, op: '++', lhs: l, rhs: r };
        break;
      case TI_PLUS:
        e = { kind: 'concat', pos, forceString: false, parts: [l, r], partPos: [ls, rs] };
        break;
      case TI_MINUS:
        e = { kind: 'call', pos, fn: synthVar('__sub'), args: [l, r] };
        break;
      case TI_STAR:
        e = { kind: 'call', pos, fn: synthVar('__mul'), args: [l, r] };
        break;
      case TI_SLASH:
        e = { kind: 'call', pos, fn: synthVar('__div'), args: [l, r] };
        break;
      case TI_LT:
        e = { kind: 'call', pos, fn: synthVar('__lessThan'), args: [l, r] };
        break;
      case TI_GT:
        e = { kind: 'call', pos, fn: synthVar('__lessThan'), args: [r, l] };
        break;
      case TI_LEQ:
        e = { kind: 'not', pos, expr: { kind: 'call', pos, fn: synthVar('__lessThan'), args: [r, l] } };
        break;
      case TI_GEQ:
        e = { kind: 'not', pos, expr: { kind: 'call', pos, fn: synthVar('__lessThan'), args: [l, r] } };
        break;
      case TI_PIPE_INTO:
        e = makeCall(pos, r, l);
        break;
      case TI_PIPE_FROM:
        e = makeCall(pos, l, r);
        break;
      default:
        throw new Error('parser: unknown operator');
    }
    exprs[k - 1] = e;
  }

  // ---- select / simple expressions ----

  /** CppNix's expr_select (and expr_simple). */
  public select = this.RULE('select', (): Expr => {
    const start = this.LA(1).startOffset;
    const e = this.OR(this.atomAlts);
    const tail = this.OR5(this.selectTailAlts);
    if (tail === TAIL_NONE || this.RECORDING_PHASE) {
      this.lastCursed = false;
      return e;
    }
    if (tail === TAIL_CURSED) {
      this.lastCursed = true;
      return { kind: 'call', pos: start, fn: e, args: [{ kind: 'var', pos: start, name: 'or' }] };
    }
    this.lastCursed = false;
    const def = this.selDef;
    return def
      ? { kind: 'select', pos: start, expr: e, path: this.selPath, def }
      : { kind: 'select', pos: start, expr: e, path: this.selPath };
  });

  private selectTailAlts = [
    {
      // . attrpath (or default)?
      ALT: (): number => {
        this.CONSUME1(T.DOT);
        // (the attribute path, inlined: no rule invocation)
        const base = this.items.length;
        const a = this.OR7(this.attrNameAlts7);
        if (!this.RECORDING_PHASE) this.pushItem(a, -1);
        this.MANY5(this.pathMoreS);
        const path = this.RECORDING_PHASE ? [] : (this.takeItems(base) as AttrName[]);
        this.selDef = undefined;
        this.OPTION2(this.orDefault);
        this.selPath = path;
        return TAIL_SELECT;
      },
    },
    {
      // e or: a call of e with the variable `or` (kept for backwards compatibility)
      ALT: (): number => {
        const t = this.CONSUME2(T.OR_KW);
        this.lastCursedEnd = t.startOffset + 2;
        return TAIL_CURSED;
      },
    },
    { ALT: (): number => TAIL_NONE },
  ];

  private pathMoreS = (): void => {
    this.CONSUME2(T.DOT);
    const a = this.OR8(this.attrNameAlts8);
    if (!this.RECORDING_PHASE) this.pushItem(a, -1);
  };

  private orDefault = (): void => {
    this.CONSUME1(T.OR_KW);
    const def = this.SUBRULE1(this.select);
    if (!this.RECORDING_PHASE && this.lastCursed) this.warnCursedOr(def);
    this.selDef = def;
  };

  private atomAlts = [
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.ID);
        return t.image === '__curPos' ? { kind: 'curPos', pos: t.startOffset } : { kind: 'var', pos: t.startOffset, name: t.image };
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.INT_LIT);
        return { kind: 'int', pos: t.startOffset, value: t.payload as number | bigint };
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.FLOAT_LIT);
        return { kind: 'float', pos: t.startOffset, value: t.payload as number };
      },
    },
    {
      ALT: (): Expr => {
        const qpos = this.CONSUME1(T.DQUOTE).startOffset;
        // (stringParts inlined: no rule invocation per string literal)
        const base = this.items.length;
        this.strInterp = false;
        this.MANY4(this.strPartSel);
        this.CONSUME2(T.DQUOTE);
        return this.RECORDING_PHASE ? (undefined as unknown as Expr) : this.stringExpr(base, qpos);
      },
    },
    {
      ALT: (): Expr => {
        const open = this.CONSUME1(T.IND_STRING_OPEN).startOffset;
        const base = this.items.length;
        this.MANY1(this.indPart);
        this.CONSUME1(T.IND_STRING_CLOSE);
        if (this.RECORDING_PHASE) return undefined as unknown as Expr;
        return stripIndentation(open, this.takeItems(base) as IndPart[]);
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(PathStart);
        if (!this.RECORDING_PHASE) this.pushItem(this.pathStart(t), t.startOffset);
        return this.OR3(this.pathAlts);
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.SPATH);
        const p = t.image.slice(1, -1);
        return {
          kind: 'call',
          pos: t.startOffset,
          fn: synthVar('__findFile'),
          args: [synthVar('__nixPath'), { kind: 'str', pos: -1, value: p }],
        };
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.URI);
        if (!this.RECORDING_PHASE) {
          const level = this.opts.lint?.urlLiterals;
          if (level && level !== 'ignore') {
            this.lint(
              level,
              `URL literals are ${level === 'fatal' ? 'disallowed' : 'discouraged'}. Consider using a string literal "${t.image}" instead (lint-url-literals)`,
              t.startOffset,
            );
          }
        }
        return { kind: 'str', pos: t.startOffset, value: t.image };
      },
    },
    {
      ALT: (): Expr => {
        this.CONSUME1(T.LPAREN);
        const e = this.SUBRULE4(this.expr);
        this.CONSUME1(T.RPAREN);
        return e;
      },
    },
    {
      // let { … } = (rec { … }).body
      ALT: (): Expr => {
        // (read the offset now: token objects are reused by the lexer)
        const kwPos = this.CONSUME1(T.LET).startOffset;
        this.CONSUME1(T.LCURLY);
        const attrs = (this.bindsTarget = newAttrs(kwPos, true));
        this.SUBRULE1(this.binds);
        this.CONSUME4(T.RCURLY);
        return { kind: 'select', pos: kwPos, expr: attrs, path: [{ name: 'body', pos: kwPos }] };
      },
    },
    {
      ALT: (): Expr => {
        const kw = this.CONSUME1(T.REC);
        this.CONSUME2(T.LCURLY);
        const attrs = (this.bindsTarget = newAttrs(kw.startOffset, true));
        this.SUBRULE2(this.binds);
        this.CONSUME5(T.RCURLY);
        return attrs;
      },
    },
    {
      ALT: (): Expr => {
        const lc = this.CONSUME3(T.LCURLY);
        const attrs = (this.bindsTarget = newAttrs(lc.startOffset, false));
        this.SUBRULE3(this.binds);
        this.CONSUME6(T.RCURLY);
        return attrs;
      },
    },
    {
      ALT: (): Expr => {
        const pos = this.CONSUME1(T.LBRACKET).startOffset;
        const base = this.items.length;
        this.MANY3(this.listElem);
        this.CONSUME1(T.RBRACKET);
        if (this.RECORDING_PHASE) return undefined as unknown as Expr;
        const elems = this.takeItems(base) as Expr[];
        return { kind: 'list', pos, elems };
      },
    },
  ];

  private listElem = (): void => {
    const e = this.SUBRULE2(this.select);
    if (!this.RECORDING_PHASE) {
      if (this.lastCursed) this.warnCursedOr(e);
      this.pushItem(e, -1);
    }
  };

  private indPart = (): void => {
    this.OR2(this.indPartAlts);
  };

  private indPartAlts = [
    {
      ALT: () => {
        const t = this.CONSUME1(IndStrPart);
        if (!this.RECORDING_PHASE) {
          const p: IndPart = { s: t.payload as string, indent: t.tokenType === T.IND_STR, pos: t.startOffset };
          this.pushItem(p, -1);
        }
      },
    },
    {
      ALT: () => {
        const dpos = this.CONSUME1(T.DOLLAR_CURLY).startOffset;
        const e = this.SUBRULE1(this.expr);
        this.CONSUME1(T.RCURLY);
        if (!this.RECORDING_PHASE) {
          const p: IndPart = { e, indent: false, pos: dpos };
          this.pushItem(p, -1);
        }
      },
    },
  ];

  /** After the start of a path literal (already on `items`): its end, or interpolated parts. */
  private pathAlts = [
    {
      ALT: (): Expr => {
        this.CONSUME1(T.PATH_END);
        if (this.RECORDING_PHASE) return undefined as unknown as Expr;
        this.itemPos.pop();
        return this.items.pop() as Expr;
      },
    },
    {
      ALT: (): Expr => {
        const base = this.items.length - 1;
        this.OPTION1(this.pathStr1);
        const dpos = this.CONSUME2(T.DOLLAR_CURLY).startOffset;
        const e = this.SUBRULE2(this.expr);
        if (!this.RECORDING_PHASE) this.pushItem(e, dpos);
        this.CONSUME2(T.RCURLY);
        this.MANY2(this.pathMore);
        this.CONSUME2(T.PATH_END);
        if (this.RECORDING_PHASE) return undefined as unknown as Expr;
        const partPos = this.itemPos.splice(base);
        const parts = this.items.splice(base) as Expr[];
        return { kind: 'concat', pos: partPos[0]!, forceString: false, parts, partPos };
      },
    },
  ];

  private pathStr1 = (): void => {
    const s = this.CONSUME1(T.STR);
    if (!this.RECORDING_PHASE) this.pushItem({ kind: 'str', pos: s.startOffset, value: s.payload as string }, s.startOffset);
  };

  private pathMore = (): void => {
    this.OR4(this.pathMoreAlts);
  };

  private pathMoreAlts = [
    {
      ALT: () => {
        const s = this.CONSUME2(T.STR);
        if (!this.RECORDING_PHASE) this.pushItem({ kind: 'str', pos: s.startOffset, value: s.payload as string }, s.startOffset);
      },
    },
    {
      ALT: () => {
        const dpos = this.CONSUME3(T.DOLLAR_CURLY).startOffset;
        const e = this.SUBRULE3(this.expr);
        if (!this.RECORDING_PHASE) this.pushItem(e, dpos);
        this.CONSUME3(T.RCURLY);
      },
    },
  ];

  /** The value of a PATH / HPATH token (the start of a path literal), with the lints. */
  private pathStart(t: IToken): EPath {
    const lit = t.image;
    const pos = t.startOffset;
    const lint = this.opts.lint;
    let value: string;
    if (t.tokenTypeIdx === TI_PATH) {
      if (lit.charCodeAt(0) === 47) {
        this.lint(
          lint?.absolutePathLiterals,
          `absolute path literals are not portable. Consider replacing path literal '${lit}' by a string, relative path, or parameter (lint-absolute-path-literals)`,
          pos,
        );
        value = canonPath(lit);
      } else {
        if (lit.charCodeAt(0) !== 46) {
          this.lint(
            lint?.shortPathLiterals,
            `relative path literal '${lit}' should be prefixed with '.' for clarity: './${lit}' (lint-short-path-literals)`,
            pos,
          );
        }
        value = canonPath(this.opts.basePath + '/' + lit);
      }
      // A literal such as `./` (followed by interpolation) keeps its trailing slash.
      if (lit.length > 1 && lit.charCodeAt(lit.length - 1) === 47) value += '/';
    } else {
      this.lint(
        lint?.absolutePathLiterals,
        `home path literals are not portable. Consider replacing path literal '${lit}' by a string, relative path, or parameter (lint-absolute-path-literals)`,
        pos,
      );
      value = this.home() + lit.slice(1);
    }
    return { kind: 'path', pos, value };
  }

  private home(): string {
    if (this.opts.home !== undefined) return this.opts.home;
    const h = process.env.HOME;
    return h === undefined ? '' : Buffer.from(h, 'utf8').toString('latin1');
  }

  // ---- strings and attribute names ----

  /**
   * The inside of a `"…"` string (the quotes are consumed by the caller).
   * Returns the parts; their positions are left on `itemPos` (popped by the
   * caller) and `strInterp` tells whether there was an interpolation.
   */
  public stringParts = this.RULE('stringParts', (): number => {
    const base = this.items.length;
    this.strInterp = false;
    this.MANY(this.strPart);
    return base;
  });

  private strPart = (): void => {
    this.OR(this.strPartAlts);
  };

  /** The same in the select rule (another OR occurrence index). */
  private strPartSel = (): void => {
    this.OR6(this.strPartAlts);
  };

  private strPartAlts = [
    {
      ALT: () => {
        const s = this.CONSUME(T.STR);
        if (!this.RECORDING_PHASE) this.pushItem({ kind: 'str', pos: s.startOffset, value: s.payload as string }, s.startOffset);
      },
    },
    {
      ALT: () => {
        const dpos = this.CONSUME(T.DOLLAR_CURLY).startOffset;
        const e = this.SUBRULE(this.expr);
        this.CONSUME(T.RCURLY);
        if (!this.RECORDING_PHASE) this.pushItem(e, dpos);
        // (Set after the nested expression, which may contain strings itself.)
        this.strInterp = true;
      },
    },
  ];

  private stringExpr(base: number, quotePos: number): Expr {
    const n = this.items.length - base;
    if (!this.strInterp) {
      const v = n ? (this.items.pop() as EStr).value : '';
      this.itemPos.length = base;
      return { kind: 'str', pos: quotePos, value: v };
    }
    const partPos = this.itemPos.splice(base);
    const parts = this.items.splice(base) as Expr[];
    return { kind: 'concat', pos: partPos[0]!, forceString: true, parts, partPos };
  }

  /** An attribute path `a.b."c".${d}`. */
  public attrpath = this.RULE('attrpath', (): AttrName[] => {
    const base = this.items.length;
    const a = this.OR(this.attrNameAlts1);
    if (!this.RECORDING_PHASE) this.pushItem(a, -1);
    this.MANY(this.attrpathMore);
    if (this.RECORDING_PHASE) return [];
    return this.takeItems(base) as AttrName[];
  });

  private attrpathMore = (): void => {
    this.CONSUME(T.DOT);
    const a = this.OR2(this.attrNameAlts2);
    if (!this.RECORDING_PHASE) this.pushItem(a, -1);
  };

  /** A single attribute name (in `inherit`). */
  public attrName = this.RULE('attrName', (): AttrName => this.OR(this.attrNameAlts1));

  /**
   * The alternatives of an attribute name (identifier, `or`, string,
   * `${…}`), with DSL occurrence indices based on k (the attrpath rule
   * inlines them twice).
   */
  private makeAttrNameAlts(k: number) {
    return [
      {
        ALT: (): AttrName => {
          const t = this.consume(k, T.ID);
          return { name: t.image, pos: t.startOffset };
        },
      },
      {
        ALT: (): AttrName => {
          const t = this.consume(k, T.OR_KW);
          return { name: 'or', pos: t.startOffset };
        },
      },
      {
        ALT: (): AttrName => {
          const qpos = this.consume(k, T.DQUOTE).startOffset;
          const base = this.subrule(k, this.stringParts);
          this.consume(k + 10, T.DQUOTE);
          if (this.RECORDING_PHASE) return { name: '', pos: 0 };
          const e = this.stringExpr(base, qpos);
          return e.kind === 'str' ? { name: e.value, pos: qpos } : { expr: e, pos: qpos };
        },
      },
      {
        ALT: (): AttrName => {
          const dpos = this.consume(k, T.DOLLAR_CURLY).startOffset;
          const e = this.subrule(k, this.expr);
          this.consume(k, T.RCURLY);
          // `${"a"}` (a plain string literal) is a static name.
          if (!this.RECORDING_PHASE && e.kind === 'str') return { name: e.value, pos: dpos };
          return { expr: e, pos: dpos };
        },
      },
    ];
  }

  private attrNameAlts1 = this.makeAttrNameAlts(1);
  private attrNameAlts2 = this.makeAttrNameAlts(2);
  private attrNameAlts3 = this.makeAttrNameAlts(3);
  private attrNameAlts4 = this.makeAttrNameAlts(4);
  private attrNameAlts7 = this.makeAttrNameAlts(7);
  private attrNameAlts8 = this.makeAttrNameAlts(8);

  // ---- bindings ----

  /** Bindings of an attribute set / let, added to `attrs`. */
  public binds = this.RULE('binds', (): void => {
    const saved = this.curAttrs;
    this.curAttrs = this.bindsTarget;
    this.MANY(this.binding);
    this.curAttrs = saved;
  });

  private binding = (): void => {
    this.OR(this.bindingAlts);
  };

  private bindingAlts = [
    {
      ALT: () => {
        this.CONSUME(T.INHERIT);
        this.inheritSrc = undefined;
        this.OPTION(this.inheritFrom);
        const from = this.inheritSrc;
        const base = this.items.length;
        this.MANY2(this.inheritName);
        this.CONSUME(T.SEMI);
        if (!this.RECORDING_PHASE) this.addInherits(this.curAttrs, this.takeItems(base) as AttrName[], from);
      },
    },
    {
      ALT: () => {
        const pos = this.LA(1).startOffset;
        // (the attribute path, inlined: no rule invocation)
        const base = this.items.length;
        const a = this.OR3(this.attrNameAlts3);
        if (!this.RECORDING_PHASE) this.pushItem(a, -1);
        this.MANY3(this.pathMoreB);
        const path = this.RECORDING_PHASE ? [] : (this.takeItems(base) as AttrName[]);
        this.CONSUME(T.EQUALS);
        const e = this.SUBRULE2(this.expr);
        this.CONSUME2(T.SEMI);
        if (!this.RECORDING_PHASE) this.addAttr(this.curAttrs, path, e, pos);
      },
    },
  ];

  private pathMoreB = (): void => {
    this.CONSUME(T.DOT);
    const a = this.OR4(this.attrNameAlts4);
    if (!this.RECORDING_PHASE) this.pushItem(a, -1);
  };

  private inheritFrom = (): void => {
    this.CONSUME(T.LPAREN);
    const e = this.SUBRULE(this.expr);
    this.CONSUME(T.RPAREN);
    this.inheritSrc = e;
  };

  private inheritName = (): void => {
    const a = this.SUBRULE(this.attrName);
    if (!this.RECORDING_PHASE) {
      if (!('name' in a)) throw this.err('dynamic attributes not allowed in inherit', a.pos);
      this.pushItem(a, -1);
    }
  };

  private addInherits(attrs: EAttrs, names: AttrName[], from: Expr | undefined): void {
    let fromIdx = -1;
    if (from) {
      attrs.inheritFrom.push(from);
      fromIdx = attrs.inheritFrom.length - 1;
    }
    for (const a of names) {
      const name = (a as { name: string }).name;
      const prev = attrs.attrs.get(name);
      if (prev) throw this.dupAttr(showAttrPath([a]), a.pos, prev.pos);
      const def: AttrDef =
        fromIdx < 0
          ? { kind: 'inherit', expr: { kind: 'var', pos: a.pos, name }, pos: a.pos }
          : { kind: 'inheritFrom', from: fromIdx, pos: a.pos };
      attrs.attrs.set(name, def);
    }
  }

  /** Adds `path = e;` to attrs, creating / merging nested attribute sets as CppNix does. */
  private addAttr(attrs: EAttrs, path: AttrName[], e: Expr, pos: number): void {
    let cur = attrs;
    const last = path.length - 1;
    for (let k = 0; k < last; k++) {
      const a = path[k]!;
      if ('name' in a) {
        const j = cur.attrs.get(a.name);
        if (j) {
          if (j.kind === 'plain' && j.expr.kind === 'attrs') cur = j.expr;
          else throw this.dupAttr(showAttrPath(path), pos, j.pos);
        } else {
          const nested = newAttrs(-1, false);
          cur.attrs.set(a.name, { kind: 'plain', expr: nested, pos });
          cur = nested;
        }
      } else {
        const nested = newAttrs(-1, false);
        cur.dynamic.push({ name: a.expr, value: nested, pos });
        cur = nested;
      }
    }
    const a = path[last]!;
    if ('name' in a) {
      const j = cur.attrs.get(a.name);
      if (j) {
        if (j.kind === 'plain' && j.expr.kind === 'attrs' && e.kind === 'attrs') this.mergeAttrs(j.expr, e, path);
        else throw this.dupAttr(showAttrPath(path), pos, j.pos);
      } else {
        cur.attrs.set(a.name, { kind: 'plain', expr: e, pos });
      }
    } else {
      cur.dynamic.push({ name: a.expr, value: e, pos });
    }
  }

  /** Merges the attribute set literal `src` into `dst` (`a.b = …; a = { … };`). */
  private mergeAttrs(dst: EAttrs, src: EAttrs, prefix: AttrName[]): void {
    const offset = dst.inheritFrom.length;
    for (const [name, def] of src.attrs) {
      const j = dst.attrs.get(name);
      const path = [...prefix, { name, pos: def.pos }];
      if (j) {
        if (j.kind === 'plain' && j.expr.kind === 'attrs' && def.kind === 'plain' && def.expr.kind === 'attrs') {
          this.mergeAttrs(j.expr, def.expr, path);
        } else {
          throw this.dupAttr(showAttrPath(path), def.pos, j.pos);
        }
      } else {
        dst.attrs.set(name, def.kind === 'inheritFrom' ? { kind: 'inheritFrom', from: def.from + offset, pos: def.pos } : def);
      }
    }
    for (const d of src.dynamic) dst.dynamic.push(d);
    for (const f of src.inheritFrom) dst.inheritFrom.push(f);
  }

  // ---- function parameters ----

  /** `{ a, b ? e, ... }` */
  public formalSet = this.RULE('formalSet', (): { formals: Formal[]; ellipsis: boolean } => {
    this.CONSUME(T.LCURLY);
    const base = this.items.length;
    const ellipsis = this.OR(this.formalSetAlts);
    if (this.RECORDING_PHASE) return { formals: [], ellipsis };
    return { formals: this.takeItems(base) as Formal[], ellipsis };
  });

  /** The alternatives return whether there is an ellipsis. */
  private formalSetAlts = [
    {
      ALT: (): boolean => {
        this.CONSUME(T.RCURLY);
        return false;
      },
    },
    {
      ALT: (): boolean => {
        this.CONSUME(T.ELLIPSIS);
        this.CONSUME2(T.RCURLY);
        return true;
      },
    },
    {
      ALT: (): boolean => {
        this.pushItem(this.SUBRULE(this.formal), -1);
        this.MANY(this.moreFormals);
        // (Reset here, after the defaults, which may contain formal sets themselves.)
        this.formalEllipsis = false;
        this.OPTION(this.formalsEnd);
        this.CONSUME3(T.RCURLY);
        return this.formalEllipsis;
      },
    },
  ];

  private moreFormals = (): void => {
    this.CONSUME(T.COMMA);
    this.pushItem(this.SUBRULE2(this.formal), -1);
  };

  private formalsEnd = (): void => {
    this.CONSUME2(T.COMMA);
    this.OPTION2(this.formalsEllipsis);
  };

  private formalsEllipsis = (): void => {
    this.CONSUME2(T.ELLIPSIS);
    this.formalEllipsis = true;
  };

  public formal = this.RULE('formal', (): Formal => {
    const id = this.CONSUME(T.ID);
    const f: Formal = { name: id.image, pos: id.startOffset };
    this.formalDef = undefined;
    this.OPTION(this.formalDefault);
    if (this.formalDef) f.def = this.formalDef;
    return f;
  });

  private formalDefault = (): void => {
    this.CONSUME(T.QUESTION);
    this.formalDef = this.SUBRULE(this.expr);
  };

  // ---- token input: pulled from the lexer on demand, through a small ring buffer ----

  /** Chevrotain's (undocumented) index of the last consumed token. */
  declare currIdx: number;
  private lexer: Lexer | null = null;
  /**
   * The last RING_SIZE tokens, as reused objects: a token must not be used
   * after further tokens have been consumed (read its fields at once).
   */
  private readonly ring: Tok[] = Array.from({ length: RING_SIZE }, () => new Tok(chevrotain.EOF, '', 0, 0, undefined));
  /** Number of tokens taken from the lexer so far (absolute index of the next one). */
  private lexed = 0;
  private readonly noTok = new Tok(chevrotain.EOF, '', 0, 0, undefined);

  private fill(upTo: number): void {
    const lx = this.lexer!;
    const ring = this.ring;
    while (this.lexed <= upTo) {
      lx.next(ring[this.lexed & RING_MASK]!);
      this.lexed++;
    }
  }

  override LA_FAST(howMuch: number): IToken {
    const idx = this.currIdx + howMuch;
    if (idx >= this.lexed) this.fill(idx);
    return idx < 0 || idx + RING_SIZE <= this.lexed ? this.noTok : this.ring[idx & RING_MASK]!;
  }

  override LA(howMuch: number): IToken {
    const idx = this.currIdx + howMuch;
    if (idx >= this.lexed) this.fill(idx);
    return idx < 0 || idx + RING_SIZE <= this.lexed ? this.noTok : this.ring[idx & RING_MASK]!;
  }

  moveToTerminatedState(): void {
    // Keep the position: the token at which parsing stopped stays LA(1).
  }

  /** Prepares a parse. */
  setup(src: Source, opts: ParseOptions, lexer: Lexer): void {
    this.src = src;
    this.opts = opts;
    this.lastCursed = false;
    this.reset();
    this.lexer = lexer;
    this.lexed = 0;
    this.exprs.length = 0;
    this.starts.length = 0;
    this.ops.length = 0;
    this.opPos.length = 0;
    this.opBase = 0;
    this.heads.length = 0;
    this.items.length = 0;
    this.itemPos.length = 0;
  }

  /** Drops references to the last input. */
  release(): void {
    this.src = new Source(null, '«none»', '');
    this.opts = { basePath: '/' };
    this.lexer = null;
    for (const t of this.ring) t.set(chevrotain.EOF, '', 0, 0, undefined);
    this.exprs.length = 0;
    this.heads.length = 0;
    this.items.length = 0;
    this.selDef = undefined;
    this.selPath = [];
    this.inheritSrc = undefined;
    this.curAttrs = newAttrs(-1, false);
  }
}

// ---------------------------------------------------------------------------
// Strings

/** CppNix's indentation stripping of `''…''` strings. */
function stripIndentation(pos: number, es: IndPart[]): Expr {
  if (es.length === 0) return { kind: 'str', pos, value: '' };

  // The minimum indentation.  Whitespace-only lines (including a final one) do not count.
  let atStartOfLine = true;
  let minIndent = 1000000;
  let curIndent = 0;
  for (const p of es) {
    if (p.s === undefined || !p.indent) {
      if (atStartOfLine) {
        atStartOfLine = false;
        if (curIndent < minIndent) minIndent = curIndent;
      }
      continue;
    }
    const s = p.s;
    for (let j = 0; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (atStartOfLine) {
        if (c === 32) curIndent++;
        else if (c === 10) curIndent = 0;
        else {
          atStartOfLine = false;
          if (curIndent < minIndent) minIndent = curIndent;
        }
      } else if (c === 10) {
        atStartOfLine = true;
        curIndent = 0;
      }
    }
  }

  // Strip that much from each line.
  const parts: Expr[] = [];
  const partPos: number[] = [];
  atStartOfLine = true;
  let curDropped = 0;
  const n = es.length;
  for (let k = 0; k < n; k++) {
    const p = es[k]!;
    if (p.s === undefined) {
      atStartOfLine = false;
      curDropped = 0;
      parts.push(p.e!);
      partPos.push(p.pos);
      continue;
    }
    const s = p.s;
    let s2 = '';
    let runStart = 0;
    for (let j = 0; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (atStartOfLine) {
        if (c === 32) {
          if (curDropped++ < minIndent) {
            // dropped
            s2 += s.slice(runStart, j);
            runStart = j + 1;
          }
        } else if (c === 10) {
          curDropped = 0;
        } else {
          atStartOfLine = false;
          curDropped = 0;
        }
      } else if (c === 10) {
        atStartOfLine = true;
      }
    }
    s2 += s.slice(runStart);
    if (k === n - 1) {
      // Remove the last line if it consists only of spaces.
      const nl = s2.lastIndexOf('\n');
      if (nl >= 0 && /^ *$/.test(s2.slice(nl + 1))) s2 = s2.slice(0, nl + 1);
    }
    if (s2 !== '') {
      parts.push({ kind: 'str', pos: p.pos, value: s2 });
      partPos.push(p.pos);
    }
  }
  if (parts.length === 0) return { kind: 'str', pos, value: '' };
  if (parts.length === 1 && parts[0]!.kind === 'str') return { kind: 'str', pos, value: (parts[0] as EStr).value };
  return { kind: 'concat', pos, forceString: true, parts, partPos };
}

// ---------------------------------------------------------------------------
// Entry point

let parserInstance: NixParser | null = null;

/** The parser is built once (on first use) and reused. */
function getParser(): NixParser {
  return (parserInstance ??= new NixParser());
}

/** Parses a Nix expression.  Throws NixParseError. */
export function parse(src: Source, opts: ParseOptions): Expr {
  // Warnings are buffered, so that a retry (see below) does not repeat them.
  const userWarn = opts.warn;
  let warnings: [string, number][] = [];
  const popts: ParseOptions = userWarn ? { ...opts, warn: (m, p) => void warnings.push([m, p]) } : opts;
  const flush = () => {
    if (userWarn) for (const [m, p] of warnings) userWarn(m, p);
  };
  let result: Expr;
  try {
    result = parseHere(src, popts);
  } catch (e) {
    if (!(e instanceof DeepNesting)) {
      flush();
      throw e;
    }
    // Too deeply nested for this thread's stack: retry in a worker thread with a large stack.
    const r = isMainThread ? parseInWorker(src, opts) : null;
    if (!r) {
      flush();
      throw e.error;
    }
    warnings = r.warnings;
    flush();
    if (r.error) throw new NixParseError(r.error.msg, { src, offset: r.error.offset });
    if (r.internal !== undefined || !r.flat) throw new Error(`parse worker: ${r.internal ?? 'no result'}`);
    return unflatten(r.flat) as Expr;
  }
  flush();
  return result;
}

/** Thrown by parseHere when the JS stack overflows. */
class DeepNesting extends Error {
  constructor(readonly error: NixParseError) {
    super(error.msg);
  }
}

function parseHere(src: Source, opts: ParseOptions): Expr {
  const lexOpts = { pipeOperators: opts.experimentalFeatures?.has('pipe-operators') ?? false };
  const lexer = new Lexer(src, lexOpts);
  const p = getParser();
  p.setup(src, opts, lexer);
  let result: Expr;
  try {
    result = p.start();
    if (p.errors.length) throw new SyntaxSignal();
  } catch (e) {
    if (e instanceof NixParseError) throw e;
    if (e instanceof SyntaxSignal) throw syntaxError(src, lexOpts, p);
    if (e instanceof RangeError) {
      const t = p.la(1);
      throw new DeepNesting(
        new NixParseError('stack overflow (the expression is nested too deeply)', {
          src,
          offset: t.tokenType === chevrotain.EOF ? lexer.eofOffset : t.startOffset,
        }),
      );
    }
    throw e;
  } finally {
    p.release();
  }
  return result;
}

interface WorkerReply {
  flat?: Flat;
  error?: { msg: string; offset: number };
  internal?: string;
  warnings: [string, number][];
}

const WORKER_URL = new URL('./parse-worker.js', import.meta.url);
let workerAvailable: boolean | undefined;

/** Parses in a worker thread with a 1 GiB stack, synchronously.  Null if that is not possible. */
function parseInWorker(src: Source, opts: ParseOptions): WorkerReply | null {
  // (Under a TypeScript test runner there is no compiled worker script.)
  workerAvailable ??= WORKER_URL.protocol === 'file:' && fs.existsSync(fileURLToPath(WORKER_URL));
  if (!workerAvailable) return null;
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const { warn: _warn, ...rest } = opts;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_URL, {
      workerData: { path: src.path, origin: src.origin, text: src.text, opts: rest, port: port2, shared },
      transferList: [port2],
      resourceLimits: { stackSizeMb: 1024 },
    });
  } catch {
    return null;
  }
  worker.unref();
  Atomics.wait(shared, 0, 0);
  const reply = receiveMessageOnPort(port1)?.message as WorkerReply | undefined;
  port1.close();
  void worker.terminate();
  return reply ?? null;
}

function syntaxError(src: Source, lexOpts: { pipeOperators: boolean }, p: NixParser): NixParseError {
  // Re-tokenize the whole input and replay it through the LALR(1) automaton.
  const lexed = lex(src, lexOpts);
  const r = replay(lexed.tokens, lexed.eofOffset);
  if (r.kind === 'syntax') return new NixParseError(r.message, { src, offset: r.offset });
  if (r.kind === 'lexical') return new NixParseError(String(r.token.payload), { src, offset: r.token.startOffset });
  // The LALR(1) replay accepted the input although this parser did not: should
  // not happen; report the token this parser stopped at.
  const err = p.errors[0];
  const t = err?.token;
  if (!t || t.tokenType === chevrotain.EOF) return new NixParseError('syntax error, unexpected end of file', { src, offset: lexed.eofOffset });
  if (t.tokenType === T.LEXERR) return new NixParseError(String(t.payload), { src, offset: t.startOffset });
  return new NixParseError(`syntax error, unexpected ${SYMBOLS[bisonSymbolOf(t)]![1]}`, { src, offset: t.startOffset });
}
