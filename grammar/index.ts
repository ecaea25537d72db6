// The public API of the grammar: parsing, printing, sources, errors, the AST.

export { parse, canonPath } from './parser.js';
export type { ParseOptions, LintLevel } from './parser.js';
export { printExpr, escapeString, printIdentifier, formatFloat, showAttrPath } from './print.js';
export { Source } from './ast.js';
export type * from './ast.js';
export { NixParseError, showPos, showPosWithFrame, codeFrame, toBytes, fromBytes } from './errors.js';
