// The Nix tokenizer.
//
// A hand-written, context-sensitive scanner that reproduces the behaviour of
// CppNix's flex lexer: longest match between the competing token classes
// (identifiers, keywords, numbers, paths, URIs, operators), a stack of start
// conditions for strings, indented strings, `${ }` interpolation and paths
// with interpolation, and the same treatment of odd input (invalid bytes become
// an "invalid token", a NUL byte at top level ends the input, lexical errors
// such as an out-of-range integer are reported when the parser reaches them).
//
// The output is an array of Chevrotain tokens.  Every token type corresponds
// to one terminal of CppNix's (bison) grammar; see SYMBOLS below, whose order
// is the order bison uses when it lists expected tokens in syntax errors.
//
// Input and output strings are byte strings (see ast.ts).

import type { IToken, TokenType } from 'chevrotain';
import type { Source } from './ast.js';
import { toBytes } from './errors.js';
import { chevrotain } from './chevrotain.js';

const { createToken, createTokenInstance } = chevrotain;

/**
 * The terminals of the grammar, indexed by bison symbol number, with the name
 * bison shows for them in syntax errors.  Symbols 0..2 are bison's own
 * (end of input, `error`, undefined token).
 */
export const SYMBOLS: readonly (readonly [string, string])[] = [
  ['$end', 'end of file'],
  ['error', 'error'],
  ['$undefined', 'invalid token'],
  ['ID', 'identifier'],
  ['STR', 'string'],
  ['IND_STR', 'indented string'],
  ['INT_LIT', 'integer'],
  ['FLOAT_LIT', 'floating-point literal'],
  ['PATH', 'path'],
  ['HPATH', toBytes("'~/…' path")],
  ['SPATH', toBytes("'<…>' path")],
  ['PATH_END', 'end of path'],
  ['URI', 'URI'],
  ['IF', "'if'"],
  ['THEN', "'then'"],
  ['ELSE', "'else'"],
  ['ASSERT', "'assert'"],
  ['WITH', "'with'"],
  ['LET', "'let'"],
  ['IN_KW', "'in'"],
  ['REC', "'rec'"],
  ['INHERIT', "'inherit'"],
  ['EQ', "'=='"],
  ['NEQ', "'!='"],
  ['LEQ', "'<='"],
  ['GEQ', "'>='"],
  ['UPDATE', "'//'"],
  ['CONCAT', "'++'"],
  ['AND', "'&&'"],
  ['OR', "'||'"],
  ['IMPL', "'->'"],
  ['OR_KW', "'or'"],
  ['PIPE_FROM', "'<|'"],
  ['PIPE_INTO', "'|>'"],
  ['DOLLAR_CURLY', "'${'"],
  ['IND_STRING_OPEN', 'start of an indented string'],
  ['IND_STRING_CLOSE', 'end of an indented string'],
  ['ELLIPSIS', "'...'"],
  ['REPL_BINDINGS', 'start of REPL bindings'],
  ["'<'", "'<'"],
  ["'>'", "'>'"],
  ['NOT', 'NOT'],
  ["'+'", "'+'"],
  ["'-'", "'-'"],
  ["'*'", "'*'"],
  ["'/'", "'/'"],
  ["'?'", "'?'"],
  ['NEGATE', 'NEGATE'],
  ["':'", "':'"],
  ["'@'", "'@'"],
  ["';'", "';'"],
  ["'!'", "'!'"],
  ["'.'", "'.'"],
  ["'\"'", "'\"'"],
  ["'('", "'('"],
  ["')'", "')'"],
  ["'{'", "'{'"],
  ["'}'", "'}'"],
  ["'['", "'['"],
  ["']'", "']'"],
  ["'='", "'='"],
  ["','", "','"],
];

/** Bison symbol number of a terminal name. */
export function symbolNumber(name: string): number {
  const i = SYMBOLS.findIndex((s) => s[0] === name);
  if (i < 0) throw new Error(`unknown terminal ${name}`);
  return i;
}

const tokenBison: number[] = [];

function tok(name: string, bison: string, categories?: TokenType[]): TokenType {
  const t = categories ? createToken({ name, categories }) : createToken({ name });
  tokenBison[t.tokenTypeIdx!] = symbolNumber(bison);
  return t;
}

function category(name: string): TokenType {
  return createToken({ name });
}

/** Token categories used by the parser. */
export const BinOp = category('BinOp');
export const PrefixOp = category('PrefixOp');
export const IndStrPart = category('IndStrPart');
export const PathStart = category('PathStart');

/** The token types. */
export const T = {
  ID: tok('ID', 'ID'),
  STR: tok('STR', 'STR'),
  /** An indented-string fragment subject to indentation stripping. */
  IND_STR: tok('IND_STR', 'IND_STR', [IndStrPart]),
  /** An indented-string fragment from an escape (`''$`, `'''`, `''\x`, lone `$` or `'`). */
  IND_STR_ESC: tok('IND_STR_ESC', 'IND_STR', [IndStrPart]),
  INT_LIT: tok('INT_LIT', 'INT_LIT'),
  FLOAT_LIT: tok('FLOAT_LIT', 'FLOAT_LIT'),
  PATH: tok('PATH', 'PATH', [PathStart]),
  HPATH: tok('HPATH', 'HPATH', [PathStart]),
  SPATH: tok('SPATH', 'SPATH'),
  PATH_END: tok('PATH_END', 'PATH_END'),
  URI: tok('URI', 'URI'),
  IF: tok('IF', 'IF'),
  THEN: tok('THEN', 'THEN'),
  ELSE: tok('ELSE', 'ELSE'),
  ASSERT: tok('ASSERT', 'ASSERT'),
  WITH: tok('WITH', 'WITH'),
  LET: tok('LET', 'LET'),
  IN: tok('IN', 'IN_KW'),
  REC: tok('REC', 'REC'),
  INHERIT: tok('INHERIT', 'INHERIT'),
  EQ: tok('EQ', 'EQ', [BinOp]),
  NEQ: tok('NEQ', 'NEQ', [BinOp]),
  LEQ: tok('LEQ', 'LEQ', [BinOp]),
  GEQ: tok('GEQ', 'GEQ', [BinOp]),
  UPDATE: tok('UPDATE', 'UPDATE', [BinOp]),
  CONCAT: tok('CONCAT', 'CONCAT', [BinOp]),
  AND: tok('AND', 'AND', [BinOp]),
  OR: tok('OR', 'OR', [BinOp]),
  IMPL: tok('IMPL', 'IMPL', [BinOp]),
  OR_KW: tok('OR_KW', 'OR_KW'),
  PIPE_FROM: tok('PIPE_FROM', 'PIPE_FROM', [BinOp]),
  PIPE_INTO: tok('PIPE_INTO', 'PIPE_INTO', [BinOp]),
  DOLLAR_CURLY: tok('DOLLAR_CURLY', 'DOLLAR_CURLY'),
  IND_STRING_OPEN: tok('IND_STRING_OPEN', 'IND_STRING_OPEN'),
  IND_STRING_CLOSE: tok('IND_STRING_CLOSE', 'IND_STRING_CLOSE'),
  ELLIPSIS: tok('ELLIPSIS', 'ELLIPSIS'),
  LT: tok('LT', "'<'", [BinOp]),
  GT: tok('GT', "'>'", [BinOp]),
  PLUS: tok('PLUS', "'+'", [BinOp]),
  MINUS: tok('MINUS', "'-'", [BinOp, PrefixOp]),
  STAR: tok('STAR', "'*'", [BinOp]),
  SLASH: tok('SLASH', "'/'", [BinOp]),
  QUESTION: tok('QUESTION', "'?'"),
  COLON: tok('COLON', "':'"),
  AT: tok('AT', "'@'"),
  SEMI: tok('SEMI', "';'"),
  BANG: tok('BANG', "'!'", [PrefixOp]),
  DOT: tok('DOT', "'.'"),
  DQUOTE: tok('DQUOTE', "'\"'"),
  LPAREN: tok('LPAREN', "'('"),
  RPAREN: tok('RPAREN', "')'"),
  LCURLY: tok('LCURLY', "'{'"),
  RCURLY: tok('RCURLY', "'}'"),
  LBRACKET: tok('LBRACKET', "'['"),
  RBRACKET: tok('RBRACKET', "']'"),
  EQUALS: tok('EQUALS', "'='"),
  COMMA: tok('COMMA', "','"),
  /** A byte that starts no token (bison's "invalid token"). */
  UNDEF: tok('UNDEF', '$undefined'),
  /** A lexical error (payload: the message); it is reported when the parser reaches it. */
  LEXERR: tok('LEXERR', 'error'),
} as const;

/** All token types (for the parser's vocabulary). */
export const ALL_TOKEN_TYPES: TokenType[] = [BinOp, PrefixOp, IndStrPart, PathStart, ...Object.values(T)];

/** Bison symbol number of a token (by its tokenTypeIdx). */
export function bisonSymbolOf(t: IToken): number {
  return tokenBison[t.tokenTypeIdx] ?? 2;
}

export interface LexOptions {
  /** Whether `|>` and `<|` are allowed (experimental feature `pipe-operators`). */
  pipeOperators: boolean;
}

export interface LexResult {
  tokens: IToken[];
  /** Offset reported for "unexpected end of file" (normally the text length). */
  eofOffset: number;
}

// Character classes.
const C_ID_START = 1;
const C_ID = 2;
const C_PATH = 4;
const C_DIGIT = 8;
const C_URI_SCHEME = 16;
const C_URI = 32;
const C_LETTER = 64;

const cls = new Uint8Array(256);
(() => {
  const add = (chars: string, f: number) => {
    for (let i = 0; i < chars.length; i++) cls[chars.charCodeAt(i)]! |= f;
  };
  const lower = 'abcdefghijklmnopqrstuvwxyz';
  const letters = lower + lower.toUpperCase();
  const digits = '0123456789';
  add(letters, C_ID_START | C_ID | C_PATH | C_URI_SCHEME | C_URI | C_LETTER);
  add('_', C_ID_START | C_ID | C_PATH | C_URI);
  add(digits, C_ID | C_PATH | C_DIGIT | C_URI_SCHEME | C_URI);
  add("'-", C_ID);
  add('.-+', C_PATH | C_URI_SCHEME);
  add("%/?:@&=+$,-_.!~*'", C_URI);
})();

// Lexer start conditions.
const S_INITIAL = 0;
const S_DEFAULT = 1;
const S_STRING = 2;
const S_IND_STRING = 3;
const S_INPATH = 4;
const S_INPATH_SLASH = 5;

const MAX_INT = 9223372036854775807n;
const DBL_MIN = 2.2250738585072014e-308;
const NUL_SIGN = toBytes('␀');

/** Tokenizes a whole source. Never throws: lexical errors become a final LEXERR token. */
export function lex(src: Source, opts: LexOptions): LexResult {
  const text = src.text;
  const n = text.length;
  const tokens: IToken[] = [];
  const stack: number[] = [S_INITIAL];
  let state = S_INITIAL;
  let i = 0;
  let eofOffset = n;

  const T_ID = T.ID;

  const push = (type: TokenType, image: string, start: number, end: number, payload: unknown): IToken => {
    const t = createTokenInstance(type, image, start, end, NaN, NaN, NaN, NaN);
    t.payload = payload;
    tokens.push(t);
    return t;
  };
  const error = (msg: string, pos: number) => {
    push(T.LEXERR, '', pos, pos, msg);
  };
  const nulCheck = (value: string, pos: number): boolean => {
    if (value.indexOf('\0') < 0) return true;
    error(
      `input string '${value.replace(/\0/g, NUL_SIGN)}' cannot be represented as Nix string because it contains null bytes`,
      pos,
    );
    return false;
  };
  const pushState = (s: number) => {
    stack.push(s);
    state = s;
  };
  const popState = () => {
    if (stack.length > 1) stack.pop();
    state = stack[stack.length - 1]!;
  };
  const setState = (s: number) => {
    stack[stack.length - 1] = s;
    state = s;
  };
  /** Scans a run of path characters from j. */
  const pathRun = (j: number): number => {
    while (j < n && (cls[text.charCodeAt(j)]! & C_PATH) !== 0) j++;
    return j;
  };
  /**
   * Length-extends a path literal: given j just after a run of path chars that
   * is followed by `/` + path char, scans `(/PATH_CHAR+)+/?`.  Returns the end.
   */
  const pathSegments = (j: number): number => {
    while (text.charCodeAt(j) === 47 /* / */ && j + 1 < n && (cls[text.charCodeAt(j + 1)]! & C_PATH) !== 0) {
      j = pathRun(j + 2);
    }
    if (text.charCodeAt(j) === 47) j++;
    return j;
  };

  main: while (true) {
    if (state === S_INITIAL || state === S_DEFAULT) {
      // ---- default start condition ----
      if (i >= n) break;
      const c = text.charCodeAt(i);
      switch (c) {
        case 32: // ' '
        case 9: // \t
        case 10: // \n
        case 13: // \r
          i++;
          while (i < n) {
            const d = text.charCodeAt(i);
            if (d === 32 || d === 9 || d === 10 || d === 13) i++;
            else break;
          }
          continue;
        case 35: {
          // '#': comment up to (not including) the line end
          let j = i + 1;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === 10 || d === 13) break;
            j++;
          }
          i = j;
          continue;
        }
        case 47: {
          // '/'
          const d = text.charCodeAt(i + 1);
          if (d === 42 /* * */) {
            const end = text.indexOf('*/', i + 2);
            if (end >= 0) {
              i = end + 2;
              continue;
            }
            push(T.SLASH, '/', i, i, undefined);
            i++;
            continue;
          }
          if (d === 47) {
            push(T.UPDATE, '//', i, i + 1, undefined);
            i += 2;
            continue;
          }
          if (d === 36 /* $ */ && text.charCodeAt(i + 2) === 123 /* { */) {
            // `/${`: a path starting with interpolation
            push(T.PATH, '/', i, i, '/');
            i++;
            pushState(S_INPATH_SLASH);
            continue;
          }
          if (i + 1 < n && (cls[d]! & C_PATH) !== 0) {
            const j = pathSegments(i);
            const image = text.slice(i, j);
            push(T.PATH, image, i, j - 1, image);
            i = j;
            pushState(text.charCodeAt(j - 1) === 47 ? S_INPATH_SLASH : S_INPATH);
            continue;
          }
          push(T.SLASH, '/', i, i, undefined);
          i++;
          continue;
        }
        case 126: {
          // '~'
          if (text.charCodeAt(i + 1) === 47) {
            const d = text.charCodeAt(i + 2);
            if (d === 36 && text.charCodeAt(i + 3) === 123) {
              push(T.HPATH, '~/', i, i + 1, '~/');
              i += 2;
              pushState(S_INPATH_SLASH);
              continue;
            }
            if (i + 2 < n && (cls[d]! & C_PATH) !== 0) {
              const j = pathSegments(i + 1);
              const image = text.slice(i, j);
              push(T.HPATH, image, i, j - 1, image);
              i = j;
              pushState(text.charCodeAt(j - 1) === 47 ? S_INPATH_SLASH : S_INPATH);
              continue;
            }
          }
          push(T.UNDEF, '~', i, i, undefined);
          i++;
          continue;
        }
        case 60: {
          // '<'
          const d = text.charCodeAt(i + 1);
          if ((cls[d]! & C_PATH) !== 0 && i + 1 < n) {
            // SPATH: <PATH_CHAR+(/PATH_CHAR+)*>
            let j = pathRun(i + 1);
            while (text.charCodeAt(j) === 47 && j + 1 < n && (cls[text.charCodeAt(j + 1)]! & C_PATH) !== 0) {
              j = pathRun(j + 2);
            }
            if (text.charCodeAt(j) === 62 /* > */) {
              const image = text.slice(i, j + 1);
              push(T.SPATH, image, i, j, image);
              i = j + 1;
              continue;
            }
          }
          if (d === 61) {
            push(T.LEQ, '<=', i, i + 1, undefined);
            i += 2;
          } else if (d === 124 /* | */) {
            if (!opts.pipeOperators) return pipeError(i);
            push(T.PIPE_FROM, '<|', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.LT, '<', i, i, undefined);
            i++;
          }
          continue;
        }
        case 62: // '>'
          if (text.charCodeAt(i + 1) === 61) {
            push(T.GEQ, '>=', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.GT, '>', i, i, undefined);
            i++;
          }
          continue;
        case 61: // '='
          if (text.charCodeAt(i + 1) === 61) {
            push(T.EQ, '==', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.EQUALS, '=', i, i, undefined);
            i++;
          }
          continue;
        case 33: // '!'
          if (text.charCodeAt(i + 1) === 61) {
            push(T.NEQ, '!=', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.BANG, '!', i, i, undefined);
            i++;
          }
          continue;
        case 38: // '&'
          if (text.charCodeAt(i + 1) === 38) {
            push(T.AND, '&&', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.UNDEF, '&', i, i, undefined);
            i++;
          }
          continue;
        case 124: {
          // '|'
          const d = text.charCodeAt(i + 1);
          if (d === 124) {
            push(T.OR, '||', i, i + 1, undefined);
            i += 2;
          } else if (d === 62) {
            if (!opts.pipeOperators) return pipeError(i);
            push(T.PIPE_INTO, '|>', i, i + 1, undefined);
            i += 2;
          } else {
            push(T.UNDEF, '|', i, i, undefined);
            i++;
          }
          continue;
        }
        case 36: // '$'
          if (text.charCodeAt(i + 1) === 123) {
            push(T.DOLLAR_CURLY, '${', i, i + 1, undefined);
            i += 2;
            pushState(S_DEFAULT);
          } else {
            push(T.UNDEF, '$', i, i, undefined);
            i++;
          }
          continue;
        case 123: // '{'
          push(T.LCURLY, '{', i, i, undefined);
          i++;
          pushState(S_DEFAULT);
          continue;
        case 125: // '}'
          push(T.RCURLY, '}', i, i, undefined);
          i++;
          if (state !== S_INITIAL) popState();
          continue;
        case 34: // '"'
          push(T.DQUOTE, '"', i, i, undefined);
          i++;
          pushState(S_STRING);
          continue;
        case 39: {
          // '\''
          if (text.charCodeAt(i + 1) === 39) {
            // `''( *\n)?`
            let j = i + 2;
            while (text.charCodeAt(j) === 32) j++;
            if (text.charCodeAt(j) === 10) j++;
            else j = i + 2;
            push(T.IND_STRING_OPEN, "''", i, j - 1, undefined);
            i = j;
            pushState(S_IND_STRING);
          } else {
            push(T.UNDEF, "'", i, i, undefined);
            i++;
          }
          continue;
        }
        case 40:
          push(T.LPAREN, '(', i, i, undefined);
          i++;
          continue;
        case 41:
          push(T.RPAREN, ')', i, i, undefined);
          i++;
          continue;
        case 91:
          push(T.LBRACKET, '[', i, i, undefined);
          i++;
          continue;
        case 93:
          push(T.RBRACKET, ']', i, i, undefined);
          i++;
          continue;
        case 58:
          push(T.COLON, ':', i, i, undefined);
          i++;
          continue;
        case 59:
          push(T.SEMI, ';', i, i, undefined);
          i++;
          continue;
        case 44:
          push(T.COMMA, ',', i, i, undefined);
          i++;
          continue;
        case 64:
          push(T.AT, '@', i, i, undefined);
          i++;
          continue;
        case 63:
          push(T.QUESTION, '?', i, i, undefined);
          i++;
          continue;
        case 42:
          push(T.STAR, '*', i, i, undefined);
          i++;
          continue;
        case 0:
          // flex hands a NUL byte to bison as token 0, i.e. end of input.
          eofOffset = i + 1;
          break main;
      }
      const k = cls[c]!;
      if ((k & C_PATH) === 0) {
        push(T.UNDEF, text[i]!, i, i, undefined);
        i++;
        continue;
      }
      // A path character: letters, digits, '.', '_', '-', '+'.  Paths and URIs
      // compete with identifiers, numbers and operators (longest match).
      const j = pathRun(i + 1);
      const after = text.charCodeAt(j);
      if (after === 47 /* / */) {
        const d = text.charCodeAt(j + 1);
        if (d === 36 && text.charCodeAt(j + 2) === 123) {
          // `seg/${`: the path literal is the first segment, then interpolation follows
          const image = text.slice(i, j + 1);
          push(T.PATH, image, i, j, image);
          i = j + 1;
          pushState(S_INPATH_SLASH);
          continue;
        }
        if (j + 1 < n && (cls[d]! & C_PATH) !== 0) {
          const e = pathSegments(j);
          const image = text.slice(i, e);
          push(T.PATH, image, i, e - 1, image);
          i = e;
          pushState(text.charCodeAt(e - 1) === 47 ? S_INPATH_SLASH : S_INPATH);
          continue;
        }
      } else if (after === 58 /* : */ && (k & C_LETTER) !== 0) {
        // URI: [a-zA-Z][a-zA-Z0-9+.-]*:[URI chars]+
        let ok = true;
        for (let q = i + 1; q < j; q++) {
          if ((cls[text.charCodeAt(q)]! & C_URI_SCHEME) === 0) {
            ok = false;
            break;
          }
        }
        if (ok) {
          let e = j + 1;
          while (e < n && (cls[text.charCodeAt(e)]! & C_URI) !== 0) e++;
          if (e > j + 1) {
            const image = text.slice(i, e);
            push(T.URI, image, i, e - 1, image);
            i = e;
            continue;
          }
        }
      }
      if ((k & C_ID_START) !== 0) {
        let e = i + 1;
        while (e < n && (cls[text.charCodeAt(e)]! & C_ID) !== 0) e++;
        const name = text.slice(i, e);
        let type = T_ID;
        switch (e - i) {
          case 2:
            if (name === 'if') type = T.IF;
            else if (name === 'in') type = T.IN;
            else if (name === 'or') type = T.OR_KW;
            break;
          case 3:
            if (name === 'let') type = T.LET;
            else if (name === 'rec') type = T.REC;
            break;
          case 4:
            if (name === 'then') type = T.THEN;
            else if (name === 'else') type = T.ELSE;
            else if (name === 'with') type = T.WITH;
            break;
          case 6:
            if (name === 'assert') type = T.ASSERT;
            break;
          case 7:
            if (name === 'inherit') type = T.INHERIT;
            break;
        }
        push(type, name, i, e - 1, undefined);
        i = e;
        continue;
      }
      if ((k & C_DIGIT) !== 0) {
        // INT [0-9]+ or FLOAT (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?
        let e = i + 1;
        while (e < n && (cls[text.charCodeAt(e)]! & C_DIGIT) !== 0) e++;
        let fend = -1;
        if (text.charCodeAt(e) === 46 /* . */) {
          if (c !== 48 /* 0 */) {
            let q = e + 1;
            while (q < n && (cls[text.charCodeAt(q)]! & C_DIGIT) !== 0) q++;
            fend = q;
          } else if (e === i + 1) {
            let q = e + 1;
            while (q < n && (cls[text.charCodeAt(q)]! & C_DIGIT) !== 0) q++;
            if (q > e + 1) fend = q;
          }
        }
        if (fend >= 0) {
          if (!lexFloat(i, fend)) break main;
        } else {
          const image = text.slice(i, e);
          let value: number | bigint;
          if (image.length <= 15) value = +image;
          else {
            const b = BigInt(image);
            if (b > MAX_INT) {
              error(`invalid integer '${image}'`, i);
              break main;
            }
            value = b <= 9007199254740991n ? Number(b) : b;
          }
          push(T.INT_LIT, image, i, e - 1, value);
          i = e;
        }
        continue;
      }
      if (c === 46 /* . */) {
        const d = text.charCodeAt(i + 1);
        if (d === 46 && text.charCodeAt(i + 2) === 46) {
          push(T.ELLIPSIS, '...', i, i + 2, undefined);
          i += 3;
          continue;
        }
        if ((cls[d]! & C_DIGIT) !== 0 && i + 1 < n) {
          let q = i + 2;
          while (q < n && (cls[text.charCodeAt(q)]! & C_DIGIT) !== 0) q++;
          if (!lexFloat(i, q)) break main;
          continue;
        }
        push(T.DOT, '.', i, i, undefined);
        i++;
        continue;
      }
      if (c === 45 /* - */) {
        if (text.charCodeAt(i + 1) === 62) {
          push(T.IMPL, '->', i, i + 1, undefined);
          i += 2;
        } else {
          push(T.MINUS, '-', i, i, undefined);
          i++;
        }
        continue;
      }
      // '+'
      if (text.charCodeAt(i + 1) === 43) {
        push(T.CONCAT, '++', i, i + 1, undefined);
        i += 2;
      } else {
        push(T.PLUS, '+', i, i, undefined);
        i++;
      }
      continue;
    } else if (state === S_STRING) {
      // ---- inside "…" ----
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === 34) {
        push(T.DQUOTE, '"', i, i, undefined);
        i++;
        popState();
        continue;
      }
      if (c === 36 && text.charCodeAt(i + 1) === 123) {
        push(T.DOLLAR_CURLY, '${', i, i + 1, undefined);
        i += 2;
        pushState(S_DEFAULT);
        continue;
      }
      // ([^$"\\]|\$[^{"\\]|\\ANY|\$\\ANY)* with a trailing '$' allowed before '"'
      let j = i;
      let plain = true;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 34) break;
        if (d === 92 /* \ */) {
          if (j + 1 >= n) break;
          plain = false;
          j += 2;
        } else if (d === 36) {
          if (j + 1 >= n) break;
          const e = text.charCodeAt(j + 1);
          if (e === 123) break;
          if (e === 34) {
            j++;
            break;
          }
          if (e === 92) {
            if (j + 2 >= n) break;
            plain = false;
            j += 3;
          } else {
            if (e === 13) plain = false;
            j += 2;
          }
        } else {
          if (d === 13) plain = false;
          j++;
        }
      }
      if (j === i) {
        // A lone '$', '\' or '$\' at the end of the input: flex returns end of input.
        break;
      }
      const raw = text.slice(i, j);
      const value = plain ? raw : unescapeStr(raw);
      if (!nulCheck(value, i)) break main;
      push(T.STR, raw, i, j - 1, value);
      i = j;
      continue;
    } else if (state === S_IND_STRING) {
      // ---- inside ''…'' ----
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === 39 /* ' */) {
        if (text.charCodeAt(i + 1) === 39) {
          const d = text.charCodeAt(i + 2);
          if (d === 36 /* $ */) {
            push(T.IND_STR_ESC, "''$", i, i + 2, '$');
            i += 3;
            continue;
          }
          if (d === 39) {
            push(T.IND_STR_ESC, "'''", i, i + 2, "''");
            i += 3;
            continue;
          }
          if (d === 92 /* \ */ && i + 3 < n) {
            const value = unescapeStr(text.slice(i + 2, i + 4));
            if (!nulCheck(value, i)) break main;
            push(T.IND_STR_ESC, text.slice(i, i + 4), i, i + 3, value);
            i += 4;
            continue;
          }
          push(T.IND_STRING_CLOSE, "''", i, i + 1, undefined);
          i += 2;
          popState();
          continue;
        }
        const d = text.charCodeAt(i + 1);
        if (d === 36 || i + 1 >= n) {
          push(T.IND_STR_ESC, "'", i, i, "'");
          i++;
          continue;
        }
      } else if (c === 36) {
        const d = text.charCodeAt(i + 1);
        if (d === 123) {
          push(T.DOLLAR_CURLY, '${', i, i + 1, undefined);
          i += 2;
          pushState(S_DEFAULT);
          continue;
        }
        if (d === 39 || i + 1 >= n) {
          push(T.IND_STR_ESC, '$', i, i, '$');
          i++;
          continue;
        }
      }
      // ([^$']|\$[^{']|'[^'$])+
      let j = i;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 36 || d === 39) {
          if (j + 1 >= n) break;
          const e = text.charCodeAt(j + 1);
          if (e === 39 || (d === 36 ? e === 123 : e === 36)) break;
          j += 2;
        } else j++;
      }
      const raw = text.slice(i, j);
      if (!nulCheck(raw, i)) break main;
      push(T.IND_STR, raw, i, j - 1, raw);
      i = j;
      continue;
    } else {
      // ---- after a path literal (S_INPATH or S_INPATH_SLASH) ----
      const c = i < n ? text.charCodeAt(i) : -1;
      if (c === 36 && text.charCodeAt(i + 1) === 123) {
        push(T.DOLLAR_CURLY, '${', i, i + 1, undefined);
        i += 2;
        setState(S_INPATH);
        pushState(S_DEFAULT);
        continue;
      }
      // {PATH}|{PATH_SEG}|{PATH_CHAR}+
      if (c >= 0) {
        const j = pathRun(i);
        let e = -1;
        if (text.charCodeAt(j) === 47) {
          if (j + 1 < n && (cls[text.charCodeAt(j + 1)]! & C_PATH) !== 0) e = pathSegments(j);
          else e = j + 1;
        } else if (j > i) e = j;
        if (e > 0) {
          const raw = text.slice(i, e);
          push(T.STR, raw, i, e - 1, raw);
          i = e;
          setState(text.charCodeAt(e - 1) === 47 ? S_INPATH_SLASH : S_INPATH);
          continue;
        }
      }
      if (state === S_INPATH_SLASH) {
        // The position is that of the offending character, or (at the end of the
        // input) the location flex last had, i.e. the previous token.
        const last = tokens[tokens.length - 1];
        error('path has a trailing slash', c >= 0 ? i : last ? last.startOffset : i);
        break main;
      }
      // End of the path: a zero-width PATH_END, located (like CppNix's) at the previous token.
      const prev = tokens[tokens.length - 1]!;
      push(T.PATH_END, '', prev.startOffset, prev.startOffset - 1, undefined);
      popState();
      continue;
    }
  }
  return { tokens, eofOffset };

  function lexFloat(start: number, mantEnd: number): boolean {
    let e = mantEnd;
    const d = text.charCodeAt(e);
    if (d === 69 || d === 101) {
      let q = e + 1;
      const s = text.charCodeAt(q);
      if (s === 43 || s === 45) q++;
      const q0 = q;
      while (q < n && (cls[text.charCodeAt(q)]! & C_DIGIT) !== 0) q++;
      if (q > q0) e = q;
    }
    const image = text.slice(start, e);
    const v = parseFloat(image);
    if (!isFinite(v) || (v !== 0 && v < DBL_MIN) || (v === 0 && /[1-9]/.test(image.slice(0, mantissaLength(image))))) {
      error(`invalid float '${image}'`, start);
      return false;
    }
    push(T.FLOAT_LIT, image, start, e - 1, v);
    i = e;
    return true;
  }

  function pipeError(pos: number): LexResult {
    error(
      "experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it",
      pos,
    );
    return { tokens, eofOffset };
  }
}

function mantissaLength(image: string): number {
  const e = image.search(/[eE]/);
  return e < 0 ? image.length : e;
}

/** CppNix's string unescaping: `\n \r \t`, `\x` = x, and CR / CR LF turned into LF. */
export function unescapeStr(s: string): string {
  let out = '';
  const n = s.length;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      out += s.slice(start, i);
      const d = s[i + 1];
      if (d === undefined) {
        start = i + 1;
        break;
      }
      out += d === 'n' ? '\n' : d === 'r' ? '\r' : d === 't' ? '\t' : d;
      i++;
      start = i + 1;
    } else if (c === 13) {
      out += s.slice(start, i) + '\n';
      if (s.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  return out + s.slice(start);
}
