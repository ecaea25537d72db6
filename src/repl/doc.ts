// `:doc`: documentation of builtins, rendered from their Markdown for a
// terminal as `nix repl` does: a synopsis line, then the text indented by
// four columns and wrapped, code blocks marked with `|`, list items with `•`.

import { ANSI } from './print.js';

export interface DocInput {
  /** `builtins.NAME` */
  name: string;
  args: string[];
  /** Markdown. */
  text: string;
}

/** Renders the documentation of a builtin (a JS string; `width` columns). */
export function renderDoc(doc: DocInput, opts: { color: boolean; width: number }): string {
  const { color } = opts;
  const width = Math.max(40, Math.min(opts.width, 100));
  const b = (s: string) => (color ? ANSI.bold + s + ANSI.normal : s);
  const lines: string[] = [];
  const args = doc.args.map((a) => (color ? ANSI.underline + a + ANSI.normal : a)).join(' ');
  lines.push(`${b('Synopsis:')} ${b(`builtins.${doc.name}`)}${args ? ' ' + args : ''}`, '');
  lines.push(...renderMarkdown(doc.text, { color, width, indent: 4 }));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

/** Inline Markdown: `code`, **strong**, *emphasis*, [text](link). */
function inline(s: string, color: boolean): string {
  const on = (c: string, t: string) => (color ? c + t + ANSI.normal : t);
  let r = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j > i) {
        r += on(ANSI.bold, s.slice(i + 1, j));
        i = j + 1;
        continue;
      }
    }
    if (c === '*' && s[i + 1] === '*') {
      const j = s.indexOf('**', i + 2);
      if (j > i) {
        r += on(ANSI.bold, inline(s.slice(i + 2, j), color));
        i = j + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && s[i + 1] !== ' ' && s[i + 1] !== undefined) {
      const j = s.indexOf(c, i + 1);
      if (j > i + 1 && (c === '*' || !/\w/.test(s[j + 1] ?? ''))) {
        r += on(ANSI.underline, s.slice(i + 1, j));
        i = j + 1;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]]*)\]\(([^)]*)\)/.exec(s.slice(i));
      if (m) {
        r += inline(m[1]!, color);
        i += m[0].length;
        continue;
      }
    }
    r += c;
    i++;
  }
  return r;
}

/** Visible width of a string with ANSI escapes. */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function wrap(words: string[], indent: string, firstIndent: string, width: number): string[] {
  const out: string[] = [];
  let line = firstIndent;
  let len = visibleLength(firstIndent);
  let empty = true;
  for (const w of words) {
    const wl = visibleLength(w);
    if (!empty && len + 1 + wl > width) {
      out.push(line);
      line = indent;
      len = indent.length;
      empty = true;
    }
    line += (empty ? '' : ' ') + w;
    len += (empty ? 0 : 1) + wl;
    empty = false;
  }
  if (!empty || out.length === 0) out.push(line);
  return out;
}

/** Block Markdown: paragraphs, fenced and indented code, lists, headings. */
export function renderMarkdown(md: string, opts: { color: boolean; width: number; indent: number }): string[] {
  const { color, width } = opts;
  const ind = ' '.repeat(opts.indent);
  const src = md.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  let para: string[] = [];
  const flushPara = () => {
    if (para.length === 0) return;
    const words = inline(para.join(' '), color).split(/\s+/).filter(Boolean);
    out.push(...wrap(words, ind, ind, width), '');
    para = [];
  };
  for (let i = 0; i < src.length; i++) {
    const line = src[i]!;
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flushPara();
      const code: string[] = [];
      for (i++; i < src.length && !src[i]!.trim().startsWith(fence[1]!); i++) code.push(src[i]!);
      for (const c of code) out.push(`${ind}  | ${c}`.trimEnd());
      out.push('');
      continue;
    }
    if (line.trim() === '') {
      flushPara();
      continue;
    }
    const heading = /^(#+)\s+(.*)$/.exec(line);
    if (heading) {
      flushPara();
      out.push(ind + (color ? ANSI.bold + heading[2]! + ANSI.normal : heading[2]!), '');
      continue;
    }
    const item = /^(\s*)([-*+]|\d+\.)\s+(.*)$/.exec(line);
    if (item) {
      flushPara();
      // the item's text, with its continuation lines
      const text = [item[3]!];
      while (i + 1 < src.length && src[i + 1]!.trim() !== '' && /^\s{2,}\S/.test(src[i + 1]!) && !/^\s*([-*+]|\d+\.)\s/.test(src[i + 1]!)) {
        text.push(src[++i]!.trim());
      }
      const depth = Math.floor(item[1]!.length / 2);
      const bullet = /\d/.test(item[2]!) ? item[2]! : '\u2022';
      const pre = ind + '  '.repeat(depth);
      const words = inline(text.join(' '), color).split(/\s+/).filter(Boolean);
      out.push(...wrap(words, pre + ' '.repeat(bullet.length + 1), pre + bullet + ' ', width));
      if (i + 1 >= src.length || src[i + 1]!.trim() === '') out.push('');
      continue;
    }
    if (/^ {4}/.test(line) && para.length === 0) {
      out.push(`${ind}  | ${line.slice(4)}`.trimEnd());
      if (i + 1 >= src.length || !/^ {4}/.test(src[i + 1]!)) out.push('');
      continue;
    }
    para.push(line.trim());
  }
  flushPara();
  return out;
}
