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
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import type { IToken, TokenType } from 'chevrotain';
import type { AttrDef, AttrName, BinaryOp, DynamicAttrDef, EAttrs, ECall, EStr, EVar, Expr, Formal } from './ast.js';
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

/**
 * Chevrotain's own (undocumented) engine methods, to which NixParser's
 * versions of the DSL methods hand over in case of a syntax error (see "the
 * DSL engine" in NixParser).
 */
type EngineMethod = (this: unknown, ...args: unknown[]) => unknown;
const engine = EmbeddedActionsParser.prototype as unknown as Record<'consumeInternal' | 'subruleInternal' | 'orInternal', EngineMethod>;
const engineHooks = EmbeddedActionsParser.prototype as unknown as Record<'onAfterParse', EngineMethod>;
// Chevrotain's lookahead-function keys: rule short name | DSL method | occurrence (see its grammar/keys.js).
const OR_IDX = 1 << 8;
const OPTION_IDX = 2 << 8;
const MANY_IDX = 3 << 8;
/**
 * The index in NixParser.laFuncs of a lookahead function, from the current
 * rule's short name (rule numbers count from 256, shifted by 12 bits), the
 * DSL method and the occurrence: (rule - 256) << 10 | method | occurrence.
 */
const laIndex = (shortName: number, method: number, occurrence: number): number =>
  ((shortName >> 2) - (256 << 10)) | method | occurrence;
type LaFunc = (this: unknown, alts?: unknown) => unknown;
const noLookahead: LaFunc = () => {
  throw new Error('parser: no lookahead function');
};

/** A grammar rule as Chevrotain returns it from RULE (plus the short name, added by the constructor). */
interface RuleFn {
  ruleName: string;
  originalGrammarAction: (this: unknown) => unknown;
  nixShortName?: number;
}
type AltsArray = readonly { ALT: (this: unknown) => unknown }[];

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
  const t = this.nextType;
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
  switch (this.nextType) {
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
const TI_EOF = I(chevrotain.EOF);
const TI_INT_LIT = I(T.INT_LIT);
const TI_LBRACKET = I(T.LBRACKET);
const TI_STR = I(T.STR);
const TI_IND_STR = I(T.IND_STR);
const TI_IND_STR_ESC = I(T.IND_STR_ESC);
const TI_OR_KW = I(T.OR_KW);
const SELECT_TAIL: Decision = function (this: NixParser) {
  const t = this.nextType;
  return t === TI_DOT ? 0 : t === TI_OR_KW ? 1 : 2;
};

const TI_INHERIT = I(T.INHERIT);
const TI_EQUALS = I(T.EQUALS);
const TI_DQUOTE = I(T.DQUOTE);
const TI_DOLLAR_CURLY = I(T.DOLLAR_CURLY);
/** A binding: inherit, attribute path (general case), or `name =` (special case). */
const BINDING_ALTS: Decision = function (this: NixParser) {
  switch (this.nextType) {
    case TI_INHERIT:
      return 0;
    case TI_ID:
      return this.la(2).tokenTypeIdx === TI_EQUALS ? 2 : 1;
    case TI_OR_KW:
    case TI_DQUOTE:
    case TI_DOLLAR_CURLY:
      return 1;
    default:
      return undefined;
  }
};

const customOr = new Map<string, Decision>([
  ['binds/0', BINDING_ALTS],
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
      return this.nextType === TI_COMMA && this.la(2).tokenTypeIdx === TI_ID;
    },
  ],
  [
    'expr/Option/9',
    function (this: NixParser) {
      return continuesOperand[this.nextType] === 1;
    },
  ],
]);

/** The tables of the table-driven OPTION / MANY decisions, by `rule/prodType/occurrence`. */
const optTables = new Map<string, Uint8Array>();

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
      const r = table[this.nextType]!;
      return r >= 0 ? r : fallback;
    } as unknown as AltFunc;
  }

  override buildLookaheadForOptional(options: OptOptions): OptFunc {
    const key = `${options.rule.name}/${options.prodType}/${options.prodOccurrence}`;
    const f = customOpt.get(key);
    if (f) return f as unknown as OptFunc;
    const cls = OPTIONAL_CLASSES[options.prodType];
    const prod = cls && findProduction(options.rule, cls, options.prodOccurrence);
    if (!prod) return super.buildLookaheadForOptional(options);
    const table = new Uint8Array(TOKEN_TABLE_SIZE);
    const first = new Set<number>();
    firstOfSeq(defOf(prod), first);
    for (const t of first) table[t] = 1;
    optTables.set(key, table);
    return function (this: NixParser): boolean {
      return table[this.nextType] === 1;
    } as unknown as OptFunc;
  }
}

// ---------------------------------------------------------------------------
// AST helpers

// AST node constructors.  Each kind of node is created in one place, with all
// its fields (also those that are absent, i.e. undefined, or filled in later
// by the binder): so each kind has a single shape with its fields inside the
// object.
//
// All of them, and the arrays of the AST, are created in makeNode, one
// function with a case per kind.  The reason is V8's pretenuring: for each
// object or array literal (an "allocation site") V8 watches how many of the
// objects survive garbage collections, and as AST nodes all survive, it soon
// decides to allocate them directly in the old generation (which saves
// copying them from the young one), in two steps.  Each step throws away the
// optimised code of every function into which the literal was inlined, which
// with small constructor functions was most of the parser, to be compiled
// again.  makeNode is too large for V8 to inline (its bytecode is well above
// V8's limit of 460 bytes), so only makeNode itself is recompiled.

type FormalSet = { formals: Formal[]; ellipsis: boolean };

const N_VAR = 0;
const N_LEAF = 1;
const N_CALL = 2;
const N_BINARY = 3;
const N_NOT = 4;
const N_CONCAT = 5;
const N_SELECT = 6;
const N_HAS_ATTR = 7;
const N_ATTRS = 8;
const N_LIST = 9;
const N_LAMBDA = 10;
const N_LET = 11;
const N_WITH = 12;
const N_IF = 13;
const N_ASSERT = 14;
const N_CUR_POS = 15;
const N_NAME = 16;
const N_DYN_NAME = 17;
const N_PLAIN = 18;
const N_INHERIT = 19;
const N_INHERIT_FROM = 20;
const N_DYNAMIC = 21;
const N_FORMAL = 22;
const N_FORMALS = 23;
const N_ARRAY0 = 24;
const N_ARRAY1 = 25;
const N_ARRAY2 = 26;

/** A node of kind k from up to four values (see above); the typed helpers below call it. */
function makeNode(k: number, a: unknown, b: unknown, c: unknown, d: unknown): unknown {
  switch (k) {
    case N_VAR:
      return { kind: 'var', pos: a, name: b, resolved: undefined };
    case N_LEAF:
      // int, float, str and path nodes (one shape)
      return { kind: a, pos: b, value: c };
    case N_CALL:
      return { kind: 'call', pos: a, fn: b, args: c };
    case N_BINARY:
      return { kind: 'binary', pos: a, op: b, lhs: c, rhs: d };
    case N_NOT:
      return { kind: 'not', pos: a, expr: b };
    case N_CONCAT:
      return { kind: 'concat', pos: a, forceString: b, parts: c, partPos: d };
    case N_SELECT:
      return { kind: 'select', pos: a, expr: b, path: c, def: d };
    case N_HAS_ATTR:
      return { kind: 'hasAttr', pos: a, expr: b, path: c };
    case N_ATTRS:
      return { kind: 'attrs', pos: a, rec: b, attrs: new Map(), dynamic: NO_DYNAMIC, inheritFrom: NO_INHERIT_FROM };
    case N_LIST:
      return { kind: 'list', pos: a, elems: b };
    case N_LAMBDA:
      return { kind: 'lambda', pos: a, body: b, arg: c, formals: d, name: undefined };
    case N_LET:
      return { kind: 'let', pos: a, attrs: b, body: c };
    case N_WITH:
      return { kind: 'with', pos: a, attrs: b, body: c };
    case N_IF:
      return { kind: 'if', pos: a, cond: b, then: c, else: d };
    case N_ASSERT:
      return { kind: 'assert', pos: a, cond: b, body: c };
    case N_CUR_POS:
      return { kind: 'curPos', pos: a };
    case N_NAME:
      return { name: a, pos: b };
    case N_DYN_NAME:
      return { expr: a, pos: b };
    case N_PLAIN:
      return { kind: 'plain', expr: a, pos: b, start: c, end: d };
    case N_INHERIT:
      return { kind: 'inherit', expr: a, pos: b };
    case N_INHERIT_FROM:
      return { kind: 'inheritFrom', from: a, pos: b };
    case N_DYNAMIC:
      return { name: a, value: b, pos: c };
    case N_FORMAL:
      return { name: a, pos: b, def: c };
    case N_FORMALS:
      return { formals: a, ellipsis: b };
    case N_ARRAY0:
      return [];
    case N_ARRAY1:
      return [a];
    case N_ARRAY2:
      return [a, b];
    default:
      throw new Error(`parser: no node kind ${k}`);
  }
}

function mkVar(pos: number, name: string): EVar {
  return makeNode(N_VAR, pos, name, undefined, undefined) as EVar;
}

function mkLeaf(kind: 'int' | 'float' | 'str' | 'path', pos: number, value: unknown): Expr {
  return makeNode(N_LEAF, kind, pos, value, undefined) as Expr;
}

function mkCall(pos: number, fn: Expr, args: Expr[]): ECall {
  return makeNode(N_CALL, pos, fn, args, undefined) as ECall;
}

function mkBinary(pos: number, op: BinaryOp, lhs: Expr, rhs: Expr): Expr {
  return makeNode(N_BINARY, pos, op, lhs, rhs) as Expr;
}

function mkNot(pos: number, expr: Expr): Expr {
  return makeNode(N_NOT, pos, expr, undefined, undefined) as Expr;
}

function mkConcat(pos: number, forceString: boolean, parts: Expr[], partPos: number[]): Expr {
  return makeNode(N_CONCAT, pos, forceString, parts, partPos) as Expr;
}

function mkSelect(pos: number, expr: Expr, path: AttrName[], def: Expr | undefined): Expr {
  return makeNode(N_SELECT, pos, expr, path, def) as Expr;
}

function mkHasAttr(pos: number, expr: Expr, path: AttrName[]): Expr {
  return makeNode(N_HAS_ATTR, pos, expr, path, undefined) as Expr;
}

function mkList(pos: number, elems: Expr[]): Expr {
  return makeNode(N_LIST, pos, elems, undefined, undefined) as Expr;
}

function mkLambda(pos: number, body: Expr, arg: string | undefined, formals: FormalSet | undefined): Expr {
  return makeNode(N_LAMBDA, pos, body, arg, formals) as Expr;
}

function mkLet(pos: number, attrs: EAttrs, body: Expr): Expr {
  return makeNode(N_LET, pos, attrs, body, undefined) as Expr;
}

function mkWith(pos: number, attrs: Expr, body: Expr): Expr {
  return makeNode(N_WITH, pos, attrs, body, undefined) as Expr;
}

function mkIf(pos: number, cond: Expr, then: Expr, else_: Expr): Expr {
  return makeNode(N_IF, pos, cond, then, else_) as Expr;
}

function mkAssert(pos: number, cond: Expr, body: Expr): Expr {
  return makeNode(N_ASSERT, pos, cond, body, undefined) as Expr;
}

function mkCurPos(pos: number): Expr {
  return makeNode(N_CUR_POS, pos, undefined, undefined, undefined) as Expr;
}

function mkName(name: string, pos: number): AttrName {
  return makeNode(N_NAME, name, pos, undefined, undefined) as AttrName;
}

/** A dynamic attribute name (`${e}`, `"…${e}…"`). */
function mkDynName(expr: Expr, pos: number): AttrName {
  return makeNode(N_DYN_NAME, expr, pos, undefined, undefined) as AttrName;
}

/** A plain definition; `expr` is the text [start, end) (start -1: not one piece of text, see AttrDef). */
function mkPlain(expr: Expr, pos: number, start: number, end: number): AttrDef {
  return makeNode(N_PLAIN, expr, pos, start, end) as AttrDef;
}

function mkInherit(expr: EVar, pos: number): AttrDef {
  return makeNode(N_INHERIT, expr, pos, undefined, undefined) as AttrDef;
}

function mkInheritFrom(from: number, pos: number): AttrDef {
  return makeNode(N_INHERIT_FROM, from, pos, undefined, undefined) as AttrDef;
}

function mkDynamic(name: Expr, value: Expr, pos: number): DynamicAttrDef {
  return makeNode(N_DYNAMIC, name, value, pos, undefined) as DynamicAttrDef;
}

function mkFormal(name: string, pos: number, def: Expr | undefined): Formal {
  return makeNode(N_FORMAL, name, pos, def, undefined) as Formal;
}

function mkFormals(formals: Formal[], ellipsis: boolean): FormalSet {
  return makeNode(N_FORMALS, formals, ellipsis, undefined, undefined) as FormalSet;
}

/** A new empty array. */
function list0<X>(): X[] {
  return makeNode(N_ARRAY0, undefined, undefined, undefined, undefined) as X[];
}

/** A new array of one element. */
function list1<X>(a: X): X[] {
  return makeNode(N_ARRAY1, a, undefined, undefined, undefined) as X[];
}

/** A new array of two elements. */
function pair<X>(a: X, b: X): X[] {
  return makeNode(N_ARRAY2, a, b, undefined, undefined) as X[];
}

/** The 0 of `0 - e` (unary minus): a leaf that is never modified, so shared. */
const ZERO: Expr = Object.freeze(mkLeaf('int', -1, 0));

const synthVar = (name: string): EVar => mkVar(-1, name);

function makeCall(pos: number, fn: Expr, arg: Expr): Expr {
  if (fn.kind === 'call') {
    fn.args.push(arg);
    return fn;
  }
  return mkCall(pos, fn, list1(arg));
}

// Most attribute sets have no dynamic attributes and no `inherit (e)`: they
// share these (frozen) empty arrays, replaced on the first addition.
const NO_DYNAMIC: DynamicAttrDef[] = Object.freeze([]) as unknown as DynamicAttrDef[];
const NO_INHERIT_FROM: Expr[] = Object.freeze([]) as unknown as Expr[];

function newAttrs(pos: number, rec: boolean): EAttrs {
  return makeNode(N_ATTRS, pos, rec, undefined, undefined) as EAttrs;
}

function addDynamic(a: EAttrs, d: DynamicAttrDef): void {
  if (a.dynamic === NO_DYNAMIC) a.dynamic = list1(d);
  else a.dynamic.push(d);
}

function addInheritFrom(a: EAttrs, e: Expr): void {
  if (a.inheritFrom === NO_INHERIT_FROM) a.inheritFrom = list1(e);
  else a.inheritFrom.push(e);
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
  a: Expr | undefined;
  b: Expr | undefined;
  arg: string | undefined;
  formals: { formals: Formal[]; ellipsis: boolean } | undefined;
  attrs: EAttrs | undefined;
}

function mkHead(
  kind: number,
  pos: number,
  a: Expr | undefined,
  b: Expr | undefined,
  arg: string | undefined,
  formals: { formals: Formal[]; ellipsis: boolean } | undefined,
  attrs: EAttrs | undefined,
): Head {
  return { kind, pos, a, b, arg, formals, attrs };
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

const EMPTY_TABLE = new Uint8Array(TOKEN_TABLE_SIZE);

const RING_SIZE = 32;
const RING_MASK = RING_SIZE - 1;
/**
 * Tokens are lexed this many at a time (the lexer then runs in a loop of its
 * own, and the parser's code for consuming a token stays small).  Lexing ahead
 * makes no difference otherwise: the lexer does not depend on the parser.
 */
const LEX_BATCH = 8;

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
      return list1(items.pop());
    }
    if (n === 0) return list0();
    const out = items.slice(base);
    // (pops: cheaper than setting the length, for the few items there usually are)
    const itemPos = this.itemPos;
    for (let k = 0; k < n; k++) {
      items.pop();
      itemPos.pop();
    }
    return out;
  }

  constructor() {
    super(ALL_TOKEN_TYPES, {
      maxLookahead: 3,
      skipValidations: true,
      lookaheadStrategy: new NixLookahead({ maxLookahead: 3 }),
    });
    this.performSelfAnalysis();
    for (const [key, f] of this.lookAheadFuncsCache) {
      const occurrence = key & 255;
      const method = key & (15 << 8);
      const idx = laIndex(key - occurrence - method, method, occurrence);
      if (method > MANY_IDX || idx < 0 || idx >= 1 << 16) throw new Error('parser: unexpected lookahead key');
      // (filled densely: an array with large holes would be a slow dictionary)
      while (this.laFuncs.length <= idx) this.laFuncs.push(noLookahead);
      this.laFuncs[idx] = f;
    }
    // The short names of the rules, for SUBRULE (see installDsl).
    const shortNames = (this as unknown as { fullRuleNameToShort: Record<string, number> }).fullRuleNameToShort;
    for (const f of Object.values(this) as unknown[]) {
      const r = f as RuleFn;
      if (typeof f === 'function' && r.originalGrammarAction !== undefined) r.nixShortName = shortNames[r.ruleName]!;
    }
    const table = (key: string): Uint8Array => {
      const t = optTables.get(key);
      if (!t) throw new Error(`parser: no lookahead table for ${key}`);
      return t;
    };
    this.gPrefix1 = table('expr/Repetition/2');
    this.gApp1 = table('expr/Repetition/3');
    this.gHas1 = table('expr/Repetition/4');
    this.gBinop = table('expr/Repetition/5');
    this.gPrefix2 = table('expr/Repetition/6');
    this.gApp2 = table('expr/Repetition/7');
    this.gHas2 = table('expr/Repetition/8');
    this.gPathMoreS = table('select/Repetition/5');
    this.gOrDefault = table('select/Option/2');
    this.gPathMoreB = table('binds/Repetition/3');
  }

  // Guards.  Most repetitions and options of the operator and select rules
  // have no iteration at all in a given invocation (`a = 1;` has no heads,
  // prefix operators, applications, `?`, binary operators or select tail):
  // such a MANY / OPTION / OR is only called when its own lookahead decision
  // (the same table, see NixLookahead) says that it will consume something.
  // During grammar recording every DSL method is called.
  private gPrefix1: Uint8Array = EMPTY_TABLE;
  private gApp1: Uint8Array = EMPTY_TABLE;
  private gHas1: Uint8Array = EMPTY_TABLE;
  private gBinop: Uint8Array = EMPTY_TABLE;
  private gPrefix2: Uint8Array = EMPTY_TABLE;
  private gApp2: Uint8Array = EMPTY_TABLE;
  private gHas2: Uint8Array = EMPTY_TABLE;
  private gPathMoreS: Uint8Array = EMPTY_TABLE;
  private gOrDefault: Uint8Array = EMPTY_TABLE;
  private gPathMoreB: Uint8Array = EMPTY_TABLE;

  /** Whether the DSL production guarded by `table` is to be entered (always while recording). */
  private enter(table: Uint8Array): boolean {
    return table[this.nextType] === 1 || this.RECORDING_PHASE;
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

    if (headAhead.call(this) || this.RECORDING_PHASE) this.MANY(this.headLoop);

    // The operator expression: a flat sequence of operands and operators,
    // assembled by precedence as it goes (shunting-yard).
    if (this.enter(this.gPrefix1)) this.MANY2(this.prefix1);
    const start = this.next1().startOffset;
    const first = this.SUBRULE(this.select);
    if (this.RECORDING_PHASE) {
      this.OPTION9(this.exprTail);
      return first;
    }
    let body: Expr;
    if (continuesOperand[this.nextType] === 0 && this.ops.length === opBase) {
      // A single operand (the common case): nothing to assemble.
      body = first;
    } else {
      this.exprs.push(first);
      this.starts.push(start);
      // Function application, `?`, binary operators (one custom decision for the common case of none).
      if (continuesOperand[this.nextType] === 1) this.OPTION9(this.exprTail);
      while (this.ops.length > opBase) this.reduceOp();
      body = this.exprs.pop()!;
      this.starts.pop();
    }
    this.opBase = savedOpBase;

    // Apply the heads, innermost first.
    const heads = this.heads;
    while (heads.length > headBase) body = this.applyHead(heads.pop()!, body);
    return body;
  });

  private exprTail = (): void => {
    if (this.enter(this.gApp1)) this.MANY3(this.app1);
    if (this.enter(this.gHas1)) this.MANY4(this.has1);
    if (this.enter(this.gBinop)) this.MANY5(this.binopLoop);
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
    if (this.enter(this.gPrefix2)) this.MANY6(this.prefix2);
    const start = this.next1().startOffset;
    const e = this.SUBRULE3(this.select);
    if (!this.RECORDING_PHASE) {
      this.exprs.push(e);
      this.starts.push(start);
    }
    if (this.enter(this.gApp2)) this.MANY7(this.app2);
    if (this.enter(this.gHas2)) this.MANY8(this.has2);
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
        return mkHead(0, pos, undefined, undefined, arg, undefined, undefined);
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
        return mkHead(0, pos, undefined, undefined, arg, fs, undefined);
      },
    },
    {
      // { … } (@ x)?: body
      ALT: (): Head => {
        const pos = this.next1().startOffset;
        const fs = this.SUBRULE2(this.formalSet);
        this.lamArg = undefined;
        this.OPTION(this.atArg);
        const h = mkHead(0, pos, undefined, undefined, this.lamArg, fs, undefined);
        this.CONSUME3(T.COLON);
        return h;
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.ASSERT).startOffset;
        const cond = this.SUBRULE(this.expr);
        this.CONSUME(T.SEMI);
        return mkHead(1, pos, cond, undefined, undefined, undefined, undefined);
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.WITH).startOffset;
        const e = this.SUBRULE2(this.expr);
        this.CONSUME2(T.SEMI);
        return mkHead(2, pos, e, undefined, undefined, undefined, undefined);
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.LET).startOffset;
        const attrs = (this.bindsTarget = newAttrs(pos, true));
        this.SUBRULE(this.binds);
        this.CONSUME(T.IN);
        return mkHead(3, pos, undefined, undefined, undefined, undefined, attrs);
      },
    },
    {
      ALT: (): Head => {
        const pos = this.CONSUME(T.IF).startOffset;
        const c = this.SUBRULE3(this.expr);
        this.CONSUME(T.THEN);
        const t = this.SUBRULE4(this.expr);
        this.CONSUME(T.ELSE);
        return mkHead(4, pos, c, t, undefined, undefined, undefined);
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
        if (h.formals) this.validateFormals(h.formals.formals, h.pos, h.arg);
        return mkLambda(h.pos, body, h.arg, h.formals);
      }
      case 1:
        return mkAssert(h.pos, h.a!, body);
      case 2:
        return mkWith(h.pos, h.a!, body);
      case 3:
        if (h.attrs!.dynamic.length) throw this.err('dynamic attributes not allowed in let', h.pos);
        return mkLet(h.pos, h.attrs!, body);
      default:
        return mkIf(h.pos, h.a!, h.b!, body);
    }
  }

  private validateFormals(formals: Formal[], pos: number, arg: string | undefined): void {
    // Sorted by name, then position (an insertion sort for the usual small sets).
    if (formals.length > 16) {
      formals.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.pos - b.pos));
    } else {
      for (let k = 1; k < formals.length; k++) {
        const f = formals[k]!;
        let j = k - 1;
        while (j >= 0) {
          const g = formals[j]!;
          if (g.name < f.name || (g.name === f.name && g.pos < f.pos)) break;
          formals[j + 1] = g;
          j--;
        }
        formals[j + 1] = f;
      }
    }
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
    this.exprs[k] = mkHasAttr(this.starts[k]!, this.exprs[k]!, path);
  }

  private reduceOp(): void {
    const exprs = this.exprs;
    const starts = this.starts;
    const op = this.ops.pop()!;
    const pos = this.opPos.pop()!;
    const k = exprs.length - 1;
    if (op === OP_NOT) {
      exprs[k] = mkNot(pos, exprs[k]!);
      starts[k] = pos;
      return;
    }
    if (op === OP_NEG) {
      exprs[k] = mkCall(pos, synthVar('__sub'), pair(ZERO, exprs[k]!));
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
        e = mkBinary(pos, '==', l, r);
        break;
      case TI_NEQ:
        e = mkBinary(pos, '!=', l, r);
        break;
      case TI_AND:
        e = mkBinary(pos, '&&', l, r);
        break;
      case TI_OR:
        e = mkBinary(pos, '||', l, r);
        break;
      case TI_IMPL:
        e = mkBinary(pos, '->', l, r);
        break;
      case TI_UPDATE:
        e = mkBinary(pos, '//', l, r);
        break;
      case TI_CONCAT:
        e = mkBinary(pos, '++', l, r);
        break;
      case TI_PLUS:
        e = mkConcat(pos, false, pair(l, r), pair(ls, rs));
        break;
      case TI_MINUS:
        e = mkCall(pos, synthVar('__sub'), pair(l, r));
        break;
      case TI_STAR:
        e = mkCall(pos, synthVar('__mul'), pair(l, r));
        break;
      case TI_SLASH:
        e = mkCall(pos, synthVar('__div'), pair(l, r));
        break;
      case TI_LT:
        e = mkCall(pos, synthVar('__lessThan'), pair(l, r));
        break;
      case TI_GT:
        e = mkCall(pos, synthVar('__lessThan'), pair(r, l));
        break;
      case TI_LEQ:
        e = mkNot(pos, mkCall(pos, synthVar('__lessThan'), pair(r, l)));
        break;
      case TI_GEQ:
        e = mkNot(pos, mkCall(pos, synthVar('__lessThan'), pair(l, r)));
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
    const start = this.next1().startOffset;
    // The most frequent alternatives are called directly (the ones the OR
    // would choose for these tokens: a monomorphic call instead of the OR's
    // dispatch through the alternatives).
    let e: Expr;
    switch (this.RECORDING_PHASE ? -1 : this.nextType) {
      case TI_ID:
        e = this.atomVar();
        break;
      case TI_INT_LIT:
        e = this.atomInt();
        break;
      case TI_DQUOTE:
        e = this.atomString();
        break;
      case TI_LCURLY:
        e = this.atomAttrs();
        break;
      case TI_LBRACKET:
        e = this.atomList();
        break;
      default:
        e = this.OR(this.atomAlts);
    }
    // (the third alternative, no tail, is by far the most frequent)
    const t = this.nextType;
    const tail = t === TI_DOT || t === TI_OR_KW || this.RECORDING_PHASE ? this.OR5(this.selectTailAlts) : TAIL_NONE;
    if (tail === TAIL_NONE || this.RECORDING_PHASE) {
      this.lastCursed = false;
      return e;
    }
    if (tail === TAIL_CURSED) {
      this.lastCursed = true;
      return mkCall(start, e, list1(mkVar(start, 'or')));
    }
    this.lastCursed = false;
    return mkSelect(start, e, this.selPath, this.selDef);
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
        if (this.enter(this.gPathMoreS)) this.MANY5(this.pathMoreS);
        const path = this.RECORDING_PHASE ? [] : (this.takeItems(base) as AttrName[]);
        this.selDef = undefined;
        if (this.enter(this.gOrDefault)) this.OPTION2(this.orDefault);
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

  private atomVar = (): Expr => {
    const t = this.CONSUME1(T.ID);
    return t.image === '__curPos' ? mkCurPos(t.startOffset) : mkVar(t.startOffset, t.image);
  };

  private atomInt = (): Expr => {
    const t = this.CONSUME1(T.INT_LIT);
    return mkLeaf('int', t.startOffset, t.payload);
  };

  private atomString = (): Expr => {
    const qpos = this.CONSUME1(T.DQUOTE).startOffset;
    // (stringParts inlined: no rule invocation per string literal)
    const base = this.items.length;
    this.strInterp = false;
    this.MANY4(this.strPartSel);
    this.CONSUME2(T.DQUOTE);
    return this.RECORDING_PHASE ? (undefined as unknown as Expr) : this.stringExpr(base, qpos);
  };

  private atomAttrs = (): Expr => {
    const lc = this.CONSUME3(T.LCURLY);
    const attrs = (this.bindsTarget = newAttrs(lc.startOffset, false));
    this.SUBRULE3(this.binds);
    this.CONSUME6(T.RCURLY);
    return attrs;
  };

  private atomList = (): Expr => {
    const pos = this.CONSUME1(T.LBRACKET).startOffset;
    const base = this.items.length;
    this.MANY3(this.listElem);
    this.CONSUME1(T.RBRACKET);
    if (this.RECORDING_PHASE) return undefined as unknown as Expr;
    const elems = this.takeItems(base) as Expr[];
    return mkList(pos, elems);
  };

  private atomAlts = [
    { ALT: this.atomVar },
    { ALT: this.atomInt },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(T.FLOAT_LIT);
        return mkLeaf('float', t.startOffset, t.payload);
      },
    },
    { ALT: this.atomString },
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
        return mkCall(t.startOffset, synthVar('__findFile'), pair<Expr>(synthVar('__nixPath'), mkLeaf('str', -1, p)));
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
        return mkLeaf('str', t.startOffset, t.image);
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
        return mkSelect(kwPos, attrs, list1(mkName('body', kwPos)), undefined);
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
    { ALT: this.atomAttrs },
    { ALT: this.atomList },
  ];

  private listElem = (): void => {
    const e = this.SUBRULE2(this.select);
    if (!this.RECORDING_PHASE) {
      if (this.lastCursed) this.warnCursedOr(e);
      this.pushItem(e, -1);
    }
  };

  private indPart = (): void => {
    // (a fragment, called directly: see select)
    const t = this.nextType;
    if ((t === TI_IND_STR || t === TI_IND_STR_ESC) && !this.RECORDING_PHASE) this.indFragment();
    else this.OR2(this.indPartAlts);
  };

  private indFragment = (): void => {
    const t = this.CONSUME1(IndStrPart);
    if (!this.RECORDING_PHASE) {
      const p: IndPart = { s: t.payload as string, indent: t.tokenType === T.IND_STR, pos: t.startOffset };
      this.pushItem(p, -1);
    }
  };

  private indPartAlts = [
    { ALT: this.indFragment },
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
        return mkConcat(partPos[0]!, false, parts, partPos);
      },
    },
  ];

  private pathStr1 = (): void => {
    const s = this.CONSUME1(T.STR);
    if (!this.RECORDING_PHASE) this.pushItem(mkLeaf('str', s.startOffset, s.payload), s.startOffset);
  };

  private pathMore = (): void => {
    this.OR4(this.pathMoreAlts);
  };

  private pathMoreAlts = [
    {
      ALT: () => {
        const s = this.CONSUME2(T.STR);
        if (!this.RECORDING_PHASE) this.pushItem(mkLeaf('str', s.startOffset, s.payload), s.startOffset);
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
  private pathStart(t: IToken): Expr {
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
    return mkLeaf('path', pos, value);
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
    // (a fragment, called directly: see select)
    if (this.nextType === TI_STR && !this.RECORDING_PHASE) this.strFragment();
    else this.OR6(this.strPartAlts);
  };

  private strFragment = (): void => {
    const s = this.CONSUME(T.STR);
    // (the fragment itself: stringExpr makes a node of it only if the string has interpolation)
    if (!this.RECORDING_PHASE) this.pushItem(s.payload, s.startOffset);
  };

  private strPartAlts = [
    { ALT: this.strFragment },
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
    if (!this.strInterp) {
      // (at most one fragment)
      let v = '';
      if (this.items.length > base) {
        v = this.items.pop() as string;
        this.itemPos.pop();
      }
      return mkLeaf('str', quotePos, v);
    }
    const partPos = this.itemPos.splice(base);
    const parts = this.items.splice(base) as (Expr | string)[];
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k]!;
      if (typeof p === 'string') parts[k] = mkLeaf('str', partPos[k]!, p);
    }
    return mkConcat(partPos[0]!, true, parts as Expr[], partPos);
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
          return mkName(t.image, t.startOffset);
        },
      },
      {
        ALT: (): AttrName => {
          const t = this.consume(k, T.OR_KW);
          return mkName('or', t.startOffset);
        },
      },
      {
        ALT: (): AttrName => {
          const qpos = this.consume(k, T.DQUOTE).startOffset;
          const base = this.subrule(k, this.stringParts);
          this.consume(k + 10, T.DQUOTE);
          if (this.RECORDING_PHASE) return { name: '', pos: 0 };
          const e = this.stringExpr(base, qpos);
          return e.kind === 'str' ? mkName(e.value, qpos) : mkDynName(e, qpos);
        },
      },
      {
        ALT: (): AttrName => {
          const dpos = this.consume(k, T.DOLLAR_CURLY).startOffset;
          const e = this.subrule(k, this.expr);
          this.consume(k, T.RCURLY);
          // `${"a"}` (a plain string literal) is a static name.
          if (!this.RECORDING_PHASE && e.kind === 'str') return mkName(e.value, dpos);
          return mkDynName(e, dpos);
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
    // (`name = …`, called directly: see select)
    if (this.nextType === TI_ID && !this.RECORDING_PHASE && this.la(2).tokenTypeIdx === TI_EQUALS) this.simpleBinding();
    else this.OR(this.bindingAlts);
  };

  /** `name = e;`: the most frequent binding, a special case of the general one (chosen by BINDING_ALTS when an identifier is followed by `=`). */
  private simpleBinding = (): void => {
    const id = this.CONSUME2(T.ID);
    const name = id.image;
    const pos = id.startOffset;
    this.CONSUME2(T.EQUALS);
    const start = this.next1().startOffset;
    const e = this.SUBRULE3(this.expr);
    const end = this.next1().startOffset;
    this.CONSUME3(T.SEMI);
    if (!this.RECORDING_PHASE) this.addSimpleAttr(this.curAttrs, name, pos, e, start, end);
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
        const pos = this.next1().startOffset;
        // (the attribute path, inlined: no rule invocation)
        const base = this.items.length;
        const a = this.OR3(this.attrNameAlts3);
        if (!this.RECORDING_PHASE) this.pushItem(a, -1);
        if (this.enter(this.gPathMoreB)) this.MANY3(this.pathMoreB);
        const path = this.RECORDING_PHASE ? [] : (this.takeItems(base) as AttrName[]);
        this.CONSUME(T.EQUALS);
        const start = this.next1().startOffset;
        const e = this.SUBRULE2(this.expr);
        const end = this.next1().startOffset;
        this.CONSUME2(T.SEMI);
        if (!this.RECORDING_PHASE) this.addAttr(this.curAttrs, path, e, pos, start, end);
      },
    },
    { ALT: this.simpleBinding },
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
      addInheritFrom(attrs, from);
      fromIdx = attrs.inheritFrom.length - 1;
    }
    for (const a of names) {
      const name = (a as { name: string }).name;
      const prev = attrs.attrs.get(name);
      if (prev) throw this.dupAttr(showAttrPath([a]), a.pos, prev.pos);
      const def: AttrDef =
        fromIdx < 0
          ? mkInherit(mkVar(a.pos, name), a.pos)
          : mkInheritFrom(fromIdx, a.pos);
      attrs.attrs.set(name, def);
    }
  }

  /** addAttr for a path of one static name. */
  private addSimpleAttr(attrs: EAttrs, name: string, pos: number, e: Expr, start: number, end: number): void {
    const j = attrs.attrs.get(name);
    if (j) {
      const path = [mkName(name, pos)];
      if (j.kind === 'plain' && j.expr.kind === 'attrs' && e.kind === 'attrs') this.mergeAttrs(j, e, path);
      else throw this.dupAttr(showAttrPath(path), pos, j.pos);
    } else {
      attrs.attrs.set(name, mkPlain(e, pos, start, end));
    }
  }

  /** Adds `path = e;` to attrs, creating / merging nested attribute sets as CppNix does. */
  private addAttr(attrs: EAttrs, path: AttrName[], e: Expr, pos: number, start: number, end: number): void {
    let cur = attrs;
    const last = path.length - 1;
    for (let k = 0; k < last; k++) {
      const a = path[k]!;
      if ('name' in a) {
        const j = cur.attrs.get(a.name);
        if (j) {
          if (j.kind === 'plain' && j.expr.kind === 'attrs') {
            cur = j.expr;
            // (its set gets attributes from elsewhere in the text)
            j.start = -1;
          } else throw this.dupAttr(showAttrPath(path), pos, j.pos);
        } else {
          const nested = newAttrs(-1, false);
          cur.attrs.set(a.name, mkPlain(nested, pos, -1, -1));
          cur = nested;
        }
      } else {
        const nested = newAttrs(-1, false);
        addDynamic(cur, mkDynamic(a.expr, nested, pos));
        cur = nested;
      }
    }
    const a = path[last]!;
    if ('name' in a) {
      const j = cur.attrs.get(a.name);
      if (j) {
        if (j.kind === 'plain' && j.expr.kind === 'attrs' && e.kind === 'attrs') this.mergeAttrs(j, e, path);
        else throw this.dupAttr(showAttrPath(path), pos, j.pos);
      } else {
        cur.attrs.set(a.name, mkPlain(e, pos, start, end));
      }
    } else {
      addDynamic(cur, mkDynamic(a.expr, e, pos));
    }
  }

  /**
   * Merges the attribute set literal `src` into the set of the definition
   * `into` (`a.b = …; a = { … };`), which is then no longer one piece of text.
   */
  private mergeAttrs(into: AttrDef & { kind: 'plain' }, src: EAttrs, prefix: AttrName[]): void {
    into.start = -1;
    const dst = into.expr as EAttrs;
    const offset = dst.inheritFrom.length;
    for (const [name, def] of src.attrs) {
      const j = dst.attrs.get(name);
      const path = [...prefix, { name, pos: def.pos }];
      if (j) {
        if (j.kind === 'plain' && j.expr.kind === 'attrs' && def.kind === 'plain' && def.expr.kind === 'attrs') {
          this.mergeAttrs(j, def.expr, path);
        } else {
          throw this.dupAttr(showAttrPath(path), def.pos, j.pos);
        }
      } else {
        dst.attrs.set(name, def.kind === 'inheritFrom' ? mkInheritFrom(def.from + offset, def.pos) : def);
      }
    }
    for (const d of src.dynamic) addDynamic(dst, d);
    for (const f of src.inheritFrom) addInheritFrom(dst, f);
  }

  // ---- function parameters ----

  /** `{ a, b ? e, ... }` */
  public formalSet = this.RULE('formalSet', (): { formals: Formal[]; ellipsis: boolean } => {
    this.CONSUME(T.LCURLY);
    const base = this.items.length;
    const ellipsis = this.OR(this.formalSetAlts);
    if (this.RECORDING_PHASE) return { formals: [], ellipsis };
    return mkFormals(this.takeItems(base) as Formal[], ellipsis);
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
    const name = id.image;
    const pos = id.startOffset;
    this.formalDef = undefined;
    this.OPTION(this.formalDefault);
    return mkFormal(name, pos, this.formalDef);
  });

  private formalDefault = (): void => {
    this.CONSUME(T.QUESTION);
    this.formalDef = this.SUBRULE(this.expr);
  };

  // ---- token input: pulled from the lexer in batches, through a small ring buffer ----

  /** Chevrotain's (undocumented) index of the last consumed token. */
  declare currIdx: number;
  lexer: Lexer | null = null;
  /**
   * The last tokens lexed, as reused objects (the ring holds RING_SIZE of
   * them, of which at most LEX_BATCH + 3 are not consumed yet): a token must
   * not be used after further tokens have been consumed (read its fields at
   * once).
   */
  readonly ring: Tok[] = Array.from({ length: RING_SIZE }, () => new Tok(chevrotain.EOF, '', 0, 0, undefined));
  /**
   * Number of tokens taken from the lexer so far (absolute index of the next
   * one).  While parsing, LA(1) is always among them (see advance).
   */
  lexed = 0;
  /**
   * The tokenTypeIdx of LA(1), kept up to date by advance: the
   * lookahead decisions and guards read it (instead of LA(1).tokenTypeIdx).
   */
  nextType = 0;
  private readonly noTok = new Tok(chevrotain.EOF, '', 0, 0, undefined);

  /** Lexes tokens up to (at least) the one of absolute index upTo. */
  private fill(upTo: number): void {
    const lx = this.lexer!;
    const ring = this.ring;
    let k = this.lexed;
    const end = Math.max(upTo + 1, k + LEX_BATCH);
    for (; k < end; k++) lx.next(ring[k & RING_MASK]!);
    this.lexed = k;
  }

  /** LA(1), which is always lexed already. */
  next1(): Tok {
    return this.ring[(this.currIdx + 1) & RING_MASK]!;
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

  /**
   * The token that CONSUME and LA return while the grammar is being recorded.
   * Chevrotain's own (RECORDING_PHASE_TOKEN, END_OF_FILE) hold their offsets in
   * double-valued fields (END_OF_FILE's are NaN): a `pos` read from them
   * during recording would make V8 store `pos` as a boxed double in every AST
   * node shape for the rest of the process (an extra heap object per node).
   * This one has small-integer offsets.
   */
  private readonly recordTok = new Tok(chevrotain.EOF, '', -1, -1, undefined);

  LA_RECORD(_howMuch: number): IToken {
    return this.recordTok;
  }

  consumeInternalRecord(tokType: TokenType, occurrence: number, options: unknown): IToken {
    (chevrotain.EmbeddedActionsParser.prototype as unknown as { consumeInternalRecord: (this: NixParser, ...a: unknown[]) => IToken }).consumeInternalRecord.call(
      this,
      tokType,
      occurrence,
      options,
    );
    return this.recordTok;
  }

  moveToTerminatedState(): void {
    // Keep the position: the token at which parsing stopped stays LA(1).
  }

  /** (Chevrotain pads its token vector here, which this parser does not use.) */
  onBeforeParse(_ruleName: string): void {}

  /** Chevrotain's check that all the input was parsed (the start rule consumes the end of the input). */
  onAfterParse(ruleName: string): void {
    if (this.nextType !== TI_EOF) engineHooks.onAfterParse.call(this, ruleName);
  }

  // ---- the DSL engine: lean versions of Chevrotain's methods ----
  //
  // Chevrotain's DSL methods (CONSUME, SUBRULE, OR, MANY, OPTION and their
  // numbered variants) call the "…Internal" methods of its recognizer engine,
  // which are general: token categories, GATE / DEF option objects, error
  // recovery, CST building, a rule stack for recovery and error messages,
  // rest-parameter rule arguments.  This parser uses none of that on its
  // successful path (no recovery, no CST, no rule arguments, no gates, the
  // alternatives of an OR always as an array), so NixParser has its own
  // versions of the DSL methods (installed on its prototype below the class,
  // see installDsl) which do just the work that remains, each in one
  // function; whenever something goes wrong (a token mismatch, no viable
  // alternative), they hand over to Chevrotain's engine, which records the
  // error exactly as before.  (While the grammar is recorded, Chevrotain
  // routes the DSL methods to its "…Record" methods, so these only run while
  // parsing.)

  declare currRuleShortName: number;
  declare lookAheadFuncsCache: Map<number, LaFunc>;
  /** The lookahead functions of lookAheadFuncsCache, in an array indexed by laIndex(). */
  laFuncs: LaFunc[] = [];

  /**
   * Consumes LA(1), whose type has been checked; returns it.  (LA(1) is
   * always lexed: the next batch of tokens is lexed when it would not be.)
   */
  advance(): Tok {
    const cur = ++this.currIdx;
    if (cur + 1 >= this.lexed) this.fill(cur + 1);
    const ring = this.ring;
    this.nextType = ring[(cur + 1) & RING_MASK]!.tokenTypeIdx;
    return ring[cur & RING_MASK]!;
  }

  /** Prepares a parse. */
  setup(src: Source, opts: ParseOptions, lexer: Lexer): void {
    this.src = src;
    this.opts = opts;
    this.lastCursed = false;
    this.reset();
    this.lexer = lexer;
    this.lexed = 0;
    this.fill(0);
    this.nextType = this.ring[0]!.tokenTypeIdx;
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

/**
 * Installs NixParser's versions of the DSL methods (see "the DSL engine" in
 * the class).  Each numbered variant is a closure over its occurrence index;
 * the closures of one kind share their code.
 */
function installDsl(proto: Record<string, unknown>): void {
  const suffix = (i: number) => (i === 0 ? '' : String(i));
  for (let i = 0; i <= 9; i++) {
    proto['CONSUME' + suffix(i)] = makeConsume(i);
    proto['SUBRULE' + suffix(i)] = makeSubrule(i);
    proto['OR' + suffix(i)] = makeOr(i);
    proto['MANY' + suffix(i)] = makeMany(i);
    proto['OPTION' + suffix(i)] = makeOption(i);
  }
  // The variants with the occurrence index as an argument.
  proto.consume = function (this: NixParser, idx: number, tokType: TokenType, options?: unknown): IToken {
    const k = this.nextType;
    if (k === tokType.tokenTypeIdx || (tokType.isParent === true && tokType.categoryMatchesMap![k] === true)) return this.advance();
    return engine.consumeInternal.call(this, tokType, idx, options) as IToken;
  };
  const subrules = Array.from({ length: 256 }, (_, i) => makeSubrule(i));
  proto.subrule = function (this: NixParser, idx: number, rule: RuleFn, options?: unknown): unknown {
    return subrules[idx]!.call(this, rule, options);
  };
}

function makeConsume(idx: number) {
  return function (this: NixParser, tokType: TokenType, options?: unknown): IToken {
    const k = this.nextType;
    if (k === tokType.tokenTypeIdx || (tokType.isParent === true && tokType.categoryMatchesMap![k] === true)) return this.advance();
    return engine.consumeInternal.call(this, tokType, idx, options) as IToken;
  };
}

function makeSubrule(idx: number) {
  return function (this: NixParser, rule: RuleFn, options?: unknown): unknown {
    if (options !== undefined) return engine.subruleInternal.call(this, rule, idx, options);
    // Only the short name of the current rule matters (the lookahead
    // functions are keyed by it).  Chevrotain's rule stacks serve error
    // recovery and the first rule's catch-all: the invocation of the start
    // rule still goes through Chevrotain's wrapper, which catches recognition
    // errors thrown here as it would have caught them from a nested wrapper.
    const saved = this.currRuleShortName;
    this.currRuleShortName = rule.nixShortName!;
    // (The same call three times: each call site then sees a single function
    // for the two most frequent rules, a cheaper call than a polymorphic one.)
    let r: unknown;
    if (rule === (this.select as unknown)) r = rule.originalGrammarAction.call(this);
    else if (rule === (this.expr as unknown)) r = rule.originalGrammarAction.call(this);
    else r = rule.originalGrammarAction.call(this);
    this.currRuleShortName = saved;
    return r;
  };
}

function makeOr(idx: number) {
  return function (this: NixParser, alts: AltsArray): unknown {
    const i = this.laFuncs[laIndex(this.currRuleShortName, OR_IDX, idx)]!.call(this, alts) as number | undefined;
    if (i !== undefined) return alts[i]!.ALT.call(this);
    return engine.orInternal.call(this, alts, idx);
  };
}

function makeMany(idx: number) {
  return function (this: NixParser, action: (this: NixParser) => void): void {
    const la = this.laFuncs[laIndex(this.currRuleShortName, MANY_IDX, idx)]!;
    // (as Chevrotain: an iteration that consumes nothing ends the repetition)
    while (la.call(this) === true) {
      const before = this.currIdx;
      action.call(this);
      if (this.currIdx <= before) break;
    }
  };
}

function makeOption(idx: number) {
  return function (this: NixParser, action: (this: NixParser) => unknown): unknown {
    return this.laFuncs[laIndex(this.currRuleShortName, OPTION_IDX, idx)]!.call(this) === true ? action.call(this) : undefined;
  };
}

installDsl(NixParser.prototype as unknown as Record<string, unknown>);

// ---------------------------------------------------------------------------
// Strings

/** CppNix's indentation stripping of `''…''` strings. */
function stripIndentation(pos: number, es: IndPart[]): Expr {
  if (es.length === 0) return mkLeaf('str', pos, '');
  const minIndent = minIndentation(es);

  // Strip that much from each line.
  const parts: Expr[] = list0();
  const partPos: number[] = list0();
  let atStartOfLine = true;
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
    let len = s.length;
    if (k === n - 1) {
      // The last line is removed if it consists only of spaces (checked here,
      // on the fragment itself: stripping removes only spaces).
      const nl = s.lastIndexOf('\n');
      if (nl >= 0) {
        let q = nl + 1;
        while (q < len && s.charCodeAt(q) === 32) q++;
        if (q === len) len = nl + 1;
      }
    }
    let s2 = '';
    let runStart = 0;
    let j = 0;
    while (j < len) {
      if (atStartOfLine) {
        // A run of spaces, of which the first (minIndent - curDropped) are dropped.
        let q = j;
        while (q < len && s.charCodeAt(q) === 32) q++;
        const drop = Math.min(q - j, minIndent - curDropped);
        if (drop > 0) {
          s2 += s.slice(runStart, j);
          runStart = j + drop;
        }
        curDropped += q - j;
        j = q;
        if (j >= len) break;
        if (s.charCodeAt(j++) === 10) {
          curDropped = 0;
        } else {
          atStartOfLine = false;
          curDropped = 0;
        }
      } else {
        const nl = s.indexOf('\n', j);
        if (nl < 0) break;
        atStartOfLine = true;
        j = nl + 1;
      }
    }
    s2 = runStart === 0 && len === s.length ? s : s2 + s.slice(runStart, len);
    if (s2 !== '') {
      parts.push(mkLeaf('str', p.pos, s2));
      partPos.push(p.pos);
    }
  }
  if (parts.length === 0) return mkLeaf('str', pos, '');
  if (parts.length === 1 && parts[0]!.kind === 'str') return mkLeaf('str', pos, (parts[0] as EStr).value);
  return mkConcat(pos, true, parts, partPos);
}

/** The minimum indentation of the lines of an indented string.  Whitespace-only lines (including a final one) do not count. */
function minIndentation(es: IndPart[]): number {
  let atStartOfLine = true;
  let minIndent = 1000000;
  let curIndent = 0;
  for (let k = 0; k < es.length; k++) {
    const p = es[k]!;
    if (p.s === undefined || !p.indent) {
      if (atStartOfLine) {
        atStartOfLine = false;
        if (curIndent < minIndent) minIndent = curIndent;
      }
      continue;
    }
    const s = p.s;
    const len = s.length;
    let j = 0;
    while (j < len) {
      if (atStartOfLine) {
        const c = s.charCodeAt(j++);
        if (c === 32) curIndent++;
        else if (c === 10) curIndent = 0;
        else {
          atStartOfLine = false;
          if (curIndent < minIndent) minIndent = curIndent;
        }
      } else {
        // (the rest of the line does not matter)
        const nl = s.indexOf('\n', j);
        if (nl < 0) break;
        atStartOfLine = true;
        curIndent = 0;
        j = nl + 1;
      }
    }
  }
  return minIndent;
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
  return parseIn(src, opts, undefined);
}

/**
 * Parses the expression that is the text [start, end) of `src` (the value of
 * a binding, see bind.ts's Deferrer), with the positions it has in the whole source.
 */
export function parseRange(src: Source, start: number, end: number, opts: ParseOptions): Expr {
  return parseIn(src, opts, { start, end });
}

type Range = { start: number; end: number } | undefined;

function parseIn(src: Source, opts: ParseOptions, range: Range): Expr {
  // Warnings are buffered, so that a retry (see below) does not repeat them.
  const userWarn = opts.warn;
  let warnings: [string, number][] = [];
  const popts: ParseOptions = userWarn ? { ...opts, warn: (m, p) => void warnings.push([m, p]) } : opts;
  const flush = () => {
    if (userWarn) for (const [m, p] of warnings) userWarn(m, p);
  };
  let result: Expr;
  try {
    result = parseHere(src, popts, range);
  } catch (e) {
    if (!(e instanceof DeepNesting)) {
      flush();
      throw e;
    }
    // Too deeply nested for this thread's stack: retry in a worker thread with a large stack.
    const r = workerThreads().isMainThread ? parseInWorker(src, opts, range) : null;
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

function parseHere(src: Source, opts: ParseOptions, range: Range): Expr {
  const lexOpts = { pipeOperators: opts.experimentalFeatures?.has('pipe-operators') ?? false };
  const lexer = new Lexer(src, lexOpts, range);
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
    lexer.release();
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

// (required when first needed: a worker_threads module loaded while the
// start-up snapshot is built cannot start workers once it is deserialized)
let workerThreadsModule: typeof import('node:worker_threads') | undefined;
function workerThreads(): typeof import('node:worker_threads') {
  return (workerThreadsModule ??= createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads'));
}
let workerAvailable: boolean | undefined;

/** Parses in a worker thread with a 1 GiB stack, synchronously.  Null if that is not possible. */
function parseInWorker(src: Source, opts: ParseOptions, range: Range): WorkerReply | null {
  // (Under a TypeScript test runner there is no compiled worker script.)
  workerAvailable ??= WORKER_URL.protocol === 'file:' && fs.existsSync(fileURLToPath(WORKER_URL));
  if (!workerAvailable) return null;
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const { MessageChannel, Worker, receiveMessageOnPort } = workerThreads();
  const { port1, port2 } = new MessageChannel();
  const { warn: _warn, ...rest } = opts;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_URL, {
      workerData: { path: src.path, origin: src.origin, text: src.text, range, opts: rest, port: port2, shared },
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
