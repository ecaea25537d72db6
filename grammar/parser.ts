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

import type { IToken, TokenType } from 'chevrotain';
import type {
  AttrDef,
  AttrName,
  EAttrs,
  ECall,
  EConcatStrings,
  EPath,
  EStr,
  EVar,
  Expr,
  Formal,
  ELambda,
} from './ast.js';
import { Source } from './ast.js';
import { chevrotain } from './chevrotain.js';
import { NixParseError, showPos } from './errors.js';
import { replay } from './lalr.js';
import { ALL_TOKEN_TYPES, BinOp, IndStrPart, PathStart, PrefixOp, SYMBOLS, T, bisonSymbolOf, lex } from './lexer.js';
import type { LexResult } from './lexer.js';
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
const P_HAS = 12;
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
const customOpt = new Map<string, OptDecision>([['expr/Repetition/0', headAhead]]);

// Chevrotain 11 exposes the default strategy as a (documented, experimental) class.
type LookaheadStrategy = InstanceType<typeof LLkLookaheadStrategy>;

class NixLookahead extends LLkLookaheadStrategy {
  override buildLookaheadForAlternation(
    options: Parameters<LookaheadStrategy['buildLookaheadForAlternation']>[0],
  ): ReturnType<LookaheadStrategy['buildLookaheadForAlternation']> {
    const f = customOr.get(`${options.rule.name}/${options.prodOccurrence}`);
    if (f) return f as unknown as ReturnType<LookaheadStrategy['buildLookaheadForAlternation']>;
    return super.buildLookaheadForAlternation(options);
  }
  override buildLookaheadForOptional(
    options: Parameters<LookaheadStrategy['buildLookaheadForOptional']>[0],
  ): ReturnType<LookaheadStrategy['buildLookaheadForOptional']> {
    const f = customOpt.get(`${options.rule.name}/${options.prodType}/${options.prodOccurrence}`);
    if (f) return f as unknown as ReturnType<LookaheadStrategy['buildLookaheadForOptional']>;
    return super.buildLookaheadForOptional(options);
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

interface SelectTail {
  path: AttrName[];
  def: Expr | undefined;
}

const CURSED_OR: SelectTail = { path: [], def: undefined };

interface StrParts {
  parts: Expr[];
  partPos: number[];
  /** Whether there is an interpolation (`${…}`) among the parts. */
  interp: boolean;
}

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

class NixParser extends EmbeddedActionsParser {
  // Per-parse context.
  src: Source = new Source(null, '«none»', '');
  opts: ParseOptions = { basePath: '/' };
  /** Set by `select`: the result is `e or` (CppNix's "cursed or" call). */
  lastCursed = false;
  /** The end offset of that `or`. */
  lastCursedEnd = 0;

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
  public start = this.RULE('start', (): Expr => this.SUBRULE(this.expr));

  /** `expr` (CppNix's expr_function / expr_if / expr_pipe / expr_op). */
  public expr = this.RULE('expr', (): Expr => {
    const rec = this.RECORDING_PHASE;
    const heads: Head[] = [];
    this.MANY(() => {
      const h = this.OR(this.headAlts);
      if (!rec) heads.push(h);
    });

    // ---- operator expression (shunting-yard) ----
    const exprs: Expr[] = [];
    const starts: number[] = [];
    const ops: number[] = [];
    const opPos: number[] = [];

    // First operand.
    this.MANY2(() => {
      const t = this.CONSUME(PrefixOp);
      if (!rec) {
        ops.push(t.tokenTypeIdx === TI_BANG ? OP_NOT : OP_NEG);
        opPos.push(t.startOffset);
      }
    });
    let start = this.LA(1).startOffset;
    let app = this.SUBRULE(this.select);
    this.MANY3(() => {
      const a = this.SUBRULE2(this.select);
      if (!rec) {
        if (this.lastCursed) this.warnCursedOr(a);
        app = makeCall(start, app, a);
      }
    });
    if (!rec) {
      exprs.push(app);
      starts.push(start);
    }
    this.MANY4(() => {
      this.CONSUME(T.QUESTION);
      const path = this.SUBRULE(this.attrpath);
      if (!rec) this.hasAttr(exprs, starts, ops, opPos, path);
    });

    // Further operands.
    this.MANY5(() => {
      const opTok = this.CONSUME(BinOp);
      if (!rec) this.binop(opTok, exprs, starts, ops, opPos);
      this.MANY6(() => {
        const t = this.CONSUME2(PrefixOp);
        if (!rec) {
          ops.push(t.tokenTypeIdx === TI_BANG ? OP_NOT : OP_NEG);
          opPos.push(t.startOffset);
        }
      });
      start = this.LA(1).startOffset;
      app = this.SUBRULE3(this.select);
      this.MANY7(() => {
        const a = this.SUBRULE4(this.select);
        if (!rec) {
          if (this.lastCursed) this.warnCursedOr(a);
          app = makeCall(start, app, a);
        }
      });
      if (!rec) {
        exprs.push(app);
        starts.push(start);
      }
      this.MANY8(() => {
        this.CONSUME2(T.QUESTION);
        const path = this.SUBRULE2(this.attrpath);
        if (!rec) this.hasAttr(exprs, starts, ops, opPos, path);
      });
    });
    if (rec) return app;
    while (ops.length) this.reduceOp(exprs, starts, ops, opPos);
    let body = exprs[0]!;

    // ---- apply the heads, innermost first ----
    for (let k = heads.length - 1; k >= 0; k--) body = this.applyHead(heads[k]!, body);
    return body;
  });

  private headAlts = [
    {
      // x: body
      ALT: (): Head => {
        const id = this.CONSUME(T.ID);
        this.CONSUME(T.COLON);
        return { kind: 0, pos: id.startOffset, arg: id.image };
      },
    },
    {
      // x @ { … }: body
      ALT: (): Head => {
        const id = this.CONSUME2(T.ID);
        this.CONSUME(T.AT);
        const fs = this.SUBRULE(this.formalSet);
        this.CONSUME2(T.COLON);
        return { kind: 0, pos: id.startOffset, arg: id.image, formals: fs };
      },
    },
    {
      // { … } (@ x)?: body
      ALT: (): Head => {
        const pos = this.LA(1).startOffset;
        const fs = this.SUBRULE2(this.formalSet);
        let arg: string | undefined;
        this.OPTION(() => {
          this.CONSUME2(T.AT);
          arg = this.CONSUME3(T.ID).image;
        });
        this.CONSUME3(T.COLON);
        return { kind: 0, pos, arg, formals: fs };
      },
    },
    {
      ALT: (): Head => {
        const kw = this.CONSUME(T.ASSERT);
        const cond = this.SUBRULE(this.expr);
        this.CONSUME(T.SEMI);
        return { kind: 1, pos: kw.startOffset, a: cond };
      },
    },
    {
      ALT: (): Head => {
        const kw = this.CONSUME(T.WITH);
        const e = this.SUBRULE2(this.expr);
        this.CONSUME2(T.SEMI);
        return { kind: 2, pos: kw.startOffset, a: e };
      },
    },
    {
      ALT: (): Head => {
        const kw = this.CONSUME(T.LET);
        const attrs = newAttrs(kw.startOffset, true);
        this.SUBRULE(this.binds, { ARGS: [attrs] });
        this.CONSUME(T.IN);
        return { kind: 3, pos: kw.startOffset, attrs };
      },
    },
    {
      ALT: (): Head => {
        const kw = this.CONSUME(T.IF);
        const c = this.SUBRULE3(this.expr);
        this.CONSUME(T.THEN);
        const t = this.SUBRULE4(this.expr);
        this.CONSUME(T.ELSE);
        return { kind: 4, pos: kw.startOffset, a: c, b: t };
      },
    },
  ];

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
      if (!dup || formals[k]!.pos < dupFirst) {
        if (!dup || formals[k]!.name !== dup.name) {
          dup = formals[k + 1]!;
          dupFirst = formals[k]!.pos;
        }
      }
    }
    if (dup) throw this.err(`duplicate formal function argument '${dup.name}'`, dup.pos);
    if (arg !== undefined && formals.some((f) => f.name === arg)) {
      throw this.err(`duplicate formal function argument '${arg}'`, pos);
    }
  }

  // ---- operator precedence ----

  private binop(opTok: IToken, exprs: Expr[], starts: number[], ops: number[], opPos: number[]): void {
    const k = opTok.tokenTypeIdx;
    const p = binPrec[k]!;
    const assoc = binAssoc[k]!;
    while (ops.length) {
      const top = ops[ops.length - 1]!;
      const tp = top === OP_NOT ? P_NOT : top === OP_NEG ? P_NEG : binPrec[top]!;
      if (tp > p) {
        this.reduceOp(exprs, starts, ops, opPos);
        continue;
      }
      if (tp === p) {
        if (p === P_PIPE && top !== k) throw new SyntaxSignal();
        if (assoc === A_NONASSOC) throw new SyntaxSignal();
        if (assoc === A_LEFT) {
          this.reduceOp(exprs, starts, ops, opPos);
          continue;
        }
      }
      break;
    }
    ops.push(k);
    opPos.push(opTok.startOffset);
  }

  private hasAttr(exprs: Expr[], starts: number[], ops: number[], opPos: number[], path: AttrName[]): void {
    // Only unary minus binds tighter than `?`.
    while (ops.length && ops[ops.length - 1] === OP_NEG) this.reduceOp(exprs, starts, ops, opPos);
    const e = exprs[exprs.length - 1]!;
    const start = starts[starts.length - 1]!;
    exprs[exprs.length - 1] = { kind: 'hasAttr', pos: start, expr: e, path };
  }

  private reduceOp(exprs: Expr[], starts: number[], ops: number[], opPos: number[]): void {
    const op = ops.pop()!;
    const pos = opPos.pop()!;
    if (op === OP_NOT) {
      const e = exprs.pop()!;
      starts.pop();
      exprs.push({ kind: 'not', pos, expr: e });
      starts.push(pos);
      return;
    }
    if (op === OP_NEG) {
      const e = exprs.pop()!;
      starts.pop();
      exprs.push({ kind: 'call', pos, fn: synthVar('__sub'), args: [{ kind: 'int', pos: -1, value: 0 }, e] });
      starts.push(pos);
      return;
    }
    const r = exprs.pop()!;
    const rs = starts.pop()!;
    const l = exprs[exprs.length - 1]!;
    const ls = starts[starts.length - 1]!;
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
      case TI_PLUS: {
        const c: EConcatStrings = { kind: 'concat', pos, forceString: false, parts: [l, r], partPos: [ls, rs] };
        e = c;
        break;
      }
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
    exprs[exprs.length - 1] = e;
  }

  // ---- select / simple expressions ----

  /** CppNix's expr_select (and expr_simple). */
  public select = this.RULE('select', (): Expr => {
    const start = this.LA(1).startOffset;
    const e = this.OR(this.atomAlts);
    const tail = this.OR5(this.selectTailAlts);
    if (tail === null || this.RECORDING_PHASE) {
      this.lastCursed = false;
      return e;
    }
    if (tail === CURSED_OR) {
      this.lastCursed = true;
      return { kind: 'call', pos: start, fn: e, args: [{ kind: 'var', pos: start, name: 'or' }] };
    }
    this.lastCursed = false;
    const { path, def } = tail as SelectTail;
    return def ? { kind: 'select', pos: start, expr: e, path, def } : { kind: 'select', pos: start, expr: e, path };
  });

  private selectTailAlts = [
    {
      // . attrpath (or default)?
      ALT: (): SelectTail | null => {
        this.CONSUME1(T.DOT);
        const path = this.SUBRULE1(this.attrpath);
        let def: Expr | undefined;
        this.OPTION2(() => {
          this.CONSUME1(T.OR_KW);
          def = this.SUBRULE1(this.select);
          if (!this.RECORDING_PHASE && this.lastCursed) this.warnCursedOr(def);
        });
        return { path, def };
      },
    },
    {
      // e or: a call of e with the variable `or` (kept for backwards compatibility)
      ALT: (): SelectTail | null => {
        const t = this.CONSUME2(T.OR_KW);
        this.lastCursedEnd = t.startOffset + 2;
        return CURSED_OR;
      },
    },
    { ALT: (): SelectTail | null => null },
  ];

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
        const q = this.CONSUME1(T.DQUOTE);
        const sp = this.SUBRULE1(this.stringParts);
        this.CONSUME2(T.DQUOTE);
        return this.RECORDING_PHASE ? (undefined as unknown as Expr) : stringExpr(sp, q.startOffset);
      },
    },
    {
      ALT: (): Expr => {
        const open = this.CONSUME1(T.IND_STRING_OPEN);
        const parts: IndPart[] = [];
        this.MANY1(() => {
          this.OR2([
            {
              ALT: () => {
                const t = this.CONSUME1(IndStrPart);
                parts.push({ s: t.payload as string, indent: t.tokenType === T.IND_STR, pos: t.startOffset });
              },
            },
            {
              ALT: () => {
                const d = this.CONSUME1(T.DOLLAR_CURLY);
                const e = this.SUBRULE1(this.expr);
                this.CONSUME1(T.RCURLY);
                parts.push({ e, indent: false, pos: d.startOffset });
              },
            },
          ]);
        });
        this.CONSUME1(T.IND_STRING_CLOSE);
        return this.RECORDING_PHASE ? (undefined as unknown as Expr) : stripIndentation(open.startOffset, parts);
      },
    },
    {
      ALT: (): Expr => {
        const t = this.CONSUME1(PathStart);
        const path = this.RECORDING_PHASE ? (undefined as unknown as EPath) : this.pathStart(t);
        return this.OR3([
          {
            ALT: (): Expr => {
              this.CONSUME1(T.PATH_END);
              return path;
            },
          },
          {
            ALT: (): Expr => {
              const parts: Expr[] = [path];
              const partPos: number[] = [t.startOffset];
              this.OPTION1(() => {
                const s = this.CONSUME1(T.STR);
                parts.push({ kind: 'str', pos: s.startOffset, value: s.payload as string });
                partPos.push(s.startOffset);
              });
              const d = this.CONSUME2(T.DOLLAR_CURLY);
              parts.push(this.SUBRULE2(this.expr));
              partPos.push(d.startOffset);
              this.CONSUME2(T.RCURLY);
              this.MANY2(() => {
                this.OR4([
                  {
                    ALT: () => {
                      const s = this.CONSUME2(T.STR);
                      parts.push({ kind: 'str', pos: s.startOffset, value: s.payload as string });
                      partPos.push(s.startOffset);
                    },
                  },
                  {
                    ALT: () => {
                      const d2 = this.CONSUME3(T.DOLLAR_CURLY);
                      parts.push(this.SUBRULE3(this.expr));
                      partPos.push(d2.startOffset);
                      this.CONSUME3(T.RCURLY);
                    },
                  },
                ]);
              });
              this.CONSUME2(T.PATH_END);
              return { kind: 'concat', pos: t.startOffset, forceString: false, parts, partPos };
            },
          },
        ]);
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
        const kw = this.CONSUME1(T.LET);
        this.CONSUME1(T.LCURLY);
        const attrs = newAttrs(kw.startOffset, true);
        this.SUBRULE1(this.binds, { ARGS: [attrs] });
        this.CONSUME4(T.RCURLY);
        return { kind: 'select', pos: -1, expr: attrs, path: [{ name: 'body', pos: -1 }] };
      },
    },
    {
      ALT: (): Expr => {
        const kw = this.CONSUME1(T.REC);
        this.CONSUME2(T.LCURLY);
        const attrs = newAttrs(kw.startOffset, true);
        this.SUBRULE2(this.binds, { ARGS: [attrs] });
        this.CONSUME5(T.RCURLY);
        return attrs;
      },
    },
    {
      ALT: (): Expr => {
        const lc = this.CONSUME3(T.LCURLY);
        const attrs = newAttrs(lc.startOffset, false);
        this.SUBRULE3(this.binds, { ARGS: [attrs] });
        this.CONSUME6(T.RCURLY);
        return attrs;
      },
    },
    {
      ALT: (): Expr => {
        const lb = this.CONSUME1(T.LBRACKET);
        const elems: Expr[] = [];
        this.MANY3(() => {
          const e = this.SUBRULE2(this.select);
          if (!this.RECORDING_PHASE) {
            if (this.lastCursed) this.warnCursedOr(e);
            elems.push(e);
          }
        });
        this.CONSUME1(T.RBRACKET);
        return { kind: 'list', pos: lb.startOffset, elems };
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

  /** The inside of a `"…"` string (the quotes are consumed by the caller). */
  public stringParts = this.RULE('stringParts', (): StrParts => {
    const parts: Expr[] = [];
    const partPos: number[] = [];
    const sp: StrParts = { parts, partPos, interp: false };
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            const s = this.CONSUME(T.STR);
            parts.push({ kind: 'str', pos: s.startOffset, value: s.payload as string });
            partPos.push(s.startOffset);
          },
        },
        {
          ALT: () => {
            const d = this.CONSUME(T.DOLLAR_CURLY);
            parts.push(this.SUBRULE(this.expr));
            partPos.push(d.startOffset);
            this.CONSUME(T.RCURLY);
            sp.interp = true;
          },
        },
      ]);
    });
    return sp;
  });

  /** An attribute path `a.b."c".${d}`. */
  public attrpath = this.RULE('attrpath', (): AttrName[] => {
    const path: AttrName[] = [this.SUBRULE(this.attrName)];
    this.MANY(() => {
      this.CONSUME(T.DOT);
      path.push(this.SUBRULE2(this.attrName));
    });
    return path;
  });

  public attrName = this.RULE('attrName', (): AttrName => this.OR(this.attrNameAlts));

  private attrNameAlts = [
    {
      ALT: (): AttrName => {
        const t = this.CONSUME(T.ID);
        return { name: t.image, pos: t.startOffset };
      },
    },
    {
      ALT: (): AttrName => {
        const t = this.CONSUME(T.OR_KW);
        return { name: 'or', pos: t.startOffset };
      },
    },
    {
      ALT: (): AttrName => {
        const q = this.CONSUME(T.DQUOTE);
        const sp = this.SUBRULE(this.stringParts);
        this.CONSUME2(T.DQUOTE);
        if (this.RECORDING_PHASE) return { name: '', pos: 0 };
        return stringAttrName(sp, q.startOffset);
      },
    },
    {
      ALT: (): AttrName => {
        const d = this.CONSUME(T.DOLLAR_CURLY);
        const e = this.SUBRULE(this.expr);
        this.CONSUME(T.RCURLY);
        // `${"a"}` (a plain string literal) is a static name.
        if (!this.RECORDING_PHASE && e.kind === 'str') return { name: e.value, pos: d.startOffset };
        return { expr: e, pos: d.startOffset };
      },
    },
  ];

  /** Bindings of an attribute set / let, added to `attrs`. */
  public binds = this.RULE('binds', (attrs: EAttrs): void => {
    const rec = this.RECORDING_PHASE;
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.INHERIT);
            let from: Expr | undefined;
            this.OPTION(() => {
              this.CONSUME(T.LPAREN);
              from = this.SUBRULE(this.expr);
              this.CONSUME(T.RPAREN);
            });
            const names: AttrName[] = [];
            this.MANY2(() => {
              const a = this.SUBRULE(this.attrName);
              if (!rec) {
                if (!('name' in a)) throw this.err('dynamic attributes not allowed in inherit', a.pos);
                names.push(a);
              }
            });
            this.CONSUME(T.SEMI);
            if (!rec) this.addInherits(attrs, names, from);
          },
        },
        {
          ALT: () => {
            const pos = this.LA(1).startOffset;
            const path = this.SUBRULE(this.attrpath);
            this.CONSUME(T.EQUALS);
            const e = this.SUBRULE2(this.expr);
            this.CONSUME2(T.SEMI);
            if (!rec) this.addAttr(attrs, path, e, pos);
          },
        },
      ]);
    });
  });

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

  /** `{ a, b ? e, ... }` */
  public formalSet = this.RULE('formalSet', (): { formals: Formal[]; ellipsis: boolean } => {
    const formals: Formal[] = [];
    let ellipsis = false;
    this.CONSUME(T.LCURLY);
    this.OR([
      { ALT: () => this.CONSUME(T.RCURLY) },
      {
        ALT: () => {
          this.CONSUME(T.ELLIPSIS);
          ellipsis = true;
          this.CONSUME2(T.RCURLY);
        },
      },
      {
        ALT: () => {
          formals.push(this.SUBRULE(this.formal));
          this.MANY(() => {
            this.CONSUME(T.COMMA);
            formals.push(this.SUBRULE2(this.formal));
          });
          this.OPTION(() => {
            this.CONSUME2(T.COMMA);
            this.OPTION2(() => {
              this.CONSUME2(T.ELLIPSIS);
              ellipsis = true;
            });
          });
          this.CONSUME3(T.RCURLY);
        },
      },
    ]);
    return { formals, ellipsis };
  });

  public formal = this.RULE('formal', (): Formal => {
    const id = this.CONSUME(T.ID);
    const f: Formal = { name: id.image, pos: id.startOffset };
    this.OPTION(() => {
      this.CONSUME(T.QUESTION);
      f.def = this.SUBRULE(this.expr);
    });
    return f;
  });

  /** Resets per-parse state and returns the remaining error. */
  setup(src: Source, opts: ParseOptions, tokens: IToken[]): void {
    this.src = src;
    this.opts = opts;
    this.lastCursed = false;
    this.input = tokens;
  }

  release(): void {
    this.src = new Source(null, '«none»', '');
    this.opts = { basePath: '/' };
    this.input = [];
  }
}

// ---------------------------------------------------------------------------
// Strings

function stringExpr(sp: StrParts, quotePos: number): Expr {
  const { parts, partPos } = sp;
  if (!sp.interp) return { kind: 'str', pos: quotePos, value: parts.length ? (parts[0] as EStr).value : '' };
  return { kind: 'concat', pos: partPos[0]!, forceString: true, parts, partPos };
}

function stringAttrName(sp: StrParts, quotePos: number): AttrName {
  const { parts, partPos } = sp;
  if (!sp.interp) return { name: parts.length ? (parts[0] as EStr).value : '', pos: quotePos };
  return { expr: { kind: 'concat', pos: partPos[0]!, forceString: true, parts, partPos }, pos: quotePos };
}

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
  const lexed = lex(src, { pipeOperators: opts.experimentalFeatures?.has('pipe-operators') ?? false });
  const p = getParser();
  p.setup(src, opts, lexed.tokens);
  let result: Expr;
  try {
    result = p.start();
    if (p.errors.length) throw new SyntaxSignal();
  } catch (e) {
    if (e instanceof NixParseError) throw e;
    if (e instanceof SyntaxSignal) throw syntaxError(src, lexed, p);
    if (e instanceof RangeError) {
      const t = p.la(1);
      throw new NixParseError('stack overflow (the expression is nested too deeply)', {
        src,
        offset: t.tokenType === chevrotain.EOF ? lexed.eofOffset : t.startOffset,
      });
    }
    throw e;
  } finally {
    p.release();
  }
  return result;
}

function syntaxError(src: Source, lexed: LexResult, p: NixParser): NixParseError {
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
