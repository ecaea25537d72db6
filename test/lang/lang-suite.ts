// Shared by the tests that read CppNix's language test suite (../shared/nix-lang-tests).
import path from 'node:path';

/** The suite's lang/ folder, beside the project (tests that need it skip when it is absent). */
export const LANG = path.resolve(__dirname, '../../../shared/nix-lang-tests/lang');

/** The ''indented strings'' of a Nix file, in order. */
export function readIndentedStrings(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while ((i = src.indexOf("''", i)) >= 0) {
    i += 2;
    const raw: [string, boolean][] = [];
    for (;;) {
      if (src.startsWith("'''", i)) {
        raw.push(["''", true]);
        i += 3;
      } else if (src.startsWith("''$", i)) {
        raw.push(['$', true]);
        i += 3;
      } else if (src.startsWith("''\\", i)) {
        const c = src[i + 3]!;
        raw.push([c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c, true]);
        i += 4;
      } else if (src.startsWith("''", i)) {
        i += 2;
        break;
      } else {
        raw.push([src[i]!, false]);
        i++;
      }
    }
    let minIndent = Infinity;
    let col = 0;
    let atStart = true;
    for (const [c, esc] of raw) {
      if (atStart && !esc && c === ' ') {
        col++;
        continue;
      }
      if (atStart && !esc && c === '\n') {
        col = 0;
        continue;
      }
      if (atStart) {
        minIndent = Math.min(minIndent, col);
        atStart = false;
      }
      if (!esc && c === '\n') {
        atStart = true;
        col = 0;
      }
    }
    if (minIndent === Infinity) minIndent = 0;
    let s = '';
    let dropped = 0;
    atStart = true;
    for (const [c, esc] of raw) {
      if (atStart && !esc && c === ' ' && dropped < minIndent) {
        dropped++;
        continue;
      }
      atStart = false;
      s += c;
      if (!esc && c === '\n') {
        atStart = true;
        dropped = 0;
      }
    }
    const nl = s.indexOf('\n');
    if (nl >= 0 && /^[ \t]*$/.test(s.slice(0, nl))) s = s.slice(nl + 1);
    const lnl = s.lastIndexOf('\n');
    if (/^ *$/.test(s.slice(lnl + 1))) s = s.slice(0, lnl + 1);
    out.push(s);
  }
  return out;
}
