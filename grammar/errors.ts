// Positions, code frames and the syntax error type, shared by the parser and
// the evaluator.  All text here is byte strings (see ast.ts).

import type { Pos } from './ast.js';

/** `FILE:LINE:COL` (origin is a path, «stdin», «string», …). */
export function showPos(pos: Pos): string {
  const { line, column } = pos.src.position(pos.offset);
  return `${pos.src.origin}:${line}:${column}`;
}

/**
 * CppNix's code frame: the line before, the line itself with a caret under the
 * column, and the line after.  `indent` is the width of the message prefix
 * (`error: ` = 7, `warning: ` = 9); every frame line is indented by it.
 * Returns lines joined by '\n', without a trailing newline.
 */
export function codeFrame(pos: Pos, indent: number): string {
  const { line, column } = pos.src.position(pos.offset);
  const src = pos.src;
  const out: string[] = [];
  const num = (n: number | string) => ' '.repeat(indent) + String(n).padStart(6) + '|';
  const show = (n: number) => {
    // CppNix shows the lines without trailing whitespace.
    const text = src.line(n)?.replace(/[ \t]+$/, '');
    if (text === undefined) return;
    out.push(text.length ? `${num(n)} ${text.replace(/\t/g, ' ')}` : num(n));
  };
  if (line > 1) show(line - 1);
  const text = src.line(line);
  if (text === undefined) return '';
  show(line);
  out.push(`${num('')} ${' '.repeat(Math.max(0, column - 1))}^`);
  if (line < src.lineCount) show(line + 1);
  return out.join('\n');
}

/** `at FILE:LINE:COL:` indented by `atIndent`, then the code frame for a message prefix of width `frameIndent`. */
export function showPosWithFrame(pos: Pos, atIndent: number, frameIndent = atIndent): string {
  const frame = codeFrame(pos, frameIndent);
  return `${' '.repeat(atIndent)}at ${showPos(pos)}:${frame ? '\n' + frame : ''}`;
}

/** A parse-time error: syntax errors, duplicate attributes, undefined variables. */
export class NixParseError extends Error {
  constructor(
    readonly msg: string,
    readonly pos: Pos,
  ) {
    super(msg);
  }

  /** The whole report as CppNix prints it (without trailing newline). */
  render(): string {
    // Continuation lines of the message are indented like the first one.
    return `error: ${this.msg.replace(/\n/g, '\n       ')}\n${showPosWithFrame(this.pos, 7)}`;
  }
}

/** UTF-8 encode a JS (UTF-16) string into a byte string. */
export function toBytes(s: string): string {
  // Fast path: pure ASCII needs no conversion.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  // (a lone U+DC80-U+DCFF stands for the byte it escapes: see src/cli/argv.ts)
  if (/(?<![\ud800-\udbff])[\udc80-\udcff]/.test(s)) {
    return s.replace(/[\ud800-\udbff][\udc00-\udfff]|[\udc80-\udcff]|[^\ud800-\udbff\udc80-\udcff]+|[\s\S]/g, (m) =>
      m.length === 1 && m.charCodeAt(0) >= 0xdc80 && m.charCodeAt(0) <= 0xdcff
        ? String.fromCharCode(m.charCodeAt(0) - 0xdc00)
        : Buffer.from(m, 'utf8').toString('latin1'),
    );
  }
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Decode a byte string as UTF-8 into a JS string (for file system calls, terminals). */
export function fromBytes(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return Buffer.from(s, 'latin1').toString('utf8');
}
