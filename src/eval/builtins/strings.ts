// Strings: toString, stringLength, substring, concatStringsSep,
// replaceStrings.
//
// Argument order, frames and positions follow CppNix (see registry.ts).  As
// CppNix's coerceToString, the argument frame goes on coercion errors only,
// not on errors raised while evaluating the argument.

import { NixError } from '../errors.js';
import { coerceToString, forceInt, forceString, forceStringValue, mergeContexts } from '../ops.js';
import { EMPTY_CTX, NixStr, force, mkStr, type Context, type Value } from '../value.js';
import { argCtx, listArg, type Registry } from './registry.js';

/** replaceStrings: the patterns of the last `from` list (see there). */
let lastFrom: Value[] | null = null;
let lastPats: { fromS: string[]; firstChar: Uint8Array | null } | null = null;

export function register(r: Registry): void {
  r.add({
    name: 'toString',
    args: ['e'],
    global: true,
    doc: 'Convert the expression *e* to a string. *e* can be:\n\n- A string (in which case the string is returned unmodified).\n- A path (e.g., `toString /foo/bar` yields `"/foo/bar"`).\n- A set containing `{ __toString = self: ...; }` or `{ outPath = ...; }`.\n- An integer.\n- A list, in which case the string representations of its elements are joined with spaces.\n- A Boolean (`false` yields `""`, `true` yields `"1"`).\n- `null`, which yields the empty string.',
    fn: ([e]) => {
      const res = coerceToString(force(e!), null, { coerceMore: true, errCtx: argCtx('toString', 0) });
      return mkStr(res.s, res.ctx);
    },
  });

  r.add({
    name: 'stringLength',
    args: ['e'],
    doc: 'Return the number of bytes of the string *e*. If *e* is not a string, evaluation is aborted.',
    fn: ([e]) => coerceToString(force(e!), null, { copyToStore: true, errCtx: argCtx('stringLength', 0) }).s.length,
  });

  r.add({
    name: 'substring',
    args: ['start', 'len', 's'],
    doc: 'Return the substring of *s* from byte position *start* (zero-based) up to but not including *start + len*. If *start* is greater than the length of the string, an empty string is returned. If *start + len* lies beyond the end of the string or *len* is `-1`, only the substring up to the end of the string is returned. *start* must be non-negative.',
    fn: ([st, ln, s]) => {
      const start = forceInt(st!, null, argCtx('substring', 0));
      // the start is checked before the length is evaluated
      if (start < 0) throw new NixError("negative start position in 'substring'");
      const len = forceInt(ln!, null, argCtx('substring', 1));
      const sv = force(s!);
      // an empty substring of a string: no coercion (but the context is kept)
      if (len == 0 && (typeof sv === 'string' || sv instanceof NixStr)) return mkStr('', typeof sv === 'string' ? EMPTY_CTX : sv.ctx);
      const res = coerceToString(sv, null, { copyToStore: true, errCtx: argCtx('substring', 2) });
      const str = res.s;
      if (start >= str.length) return mkStr('', res.ctx);
      const from = Number(start);
      const end = len < 0 ? str.length : Math.min(str.length, from + Number(len));
      return mkStr(str.slice(from, end), res.ctx);
    },
  });

  r.add({
    name: 'concatStringsSep',
    args: ['separator', 'list'],
    doc: 'Concatenate a list of strings with a separator between each element, e.g. `concatStringsSep "/" ["usr" "local" "bin"] == "usr/local/bin"`.',
    fn: ([sep, l]) => {
      const sv = forceStringValue(sep!, null, argCtx('concatStringsSep', 0));
      const sepS = typeof sv === 'string' ? sv : sv.s;
      let ctx: Context = typeof sv === 'string' ? EMPTY_CTX : sv.ctx;
      const list = listArg(l!, argCtx('concatStringsSep', 1));
      const parts: string[] = new Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const x = force(list[i]!);
        if (typeof x === 'string') {
          parts[i] = x;
          continue;
        }
        const res = coerceToString(x, null, {
          copyToStore: true,
          errCtx: 'while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep',
        });
        parts[i] = res.s;
        if (res.ctx.size) ctx = mergeContexts(ctx, res.ctx);
      }
      return mkStr(parts.join(sepS), ctx);
    },
  });

  r.add({
    name: 'replaceStrings',
    args: ['from', 'to', 's'],
    doc: 'Given string *s*, replace every occurrence of the strings in *from* with the corresponding string in *to*.\n\nThe argument *to* is lazy, that is, it is only evaluated when its corresponding pattern in *from* is matched in the string *s*.\n\nExample:\n\n```nix\nbuiltins.replaceStrings ["oo" "a"] ["a" "i"] "foobar"\n```\n\nevaluates to `"fabir"`.',
    fn: ([f, t, s]) => {
      const from = listArg(f!, argCtx('replaceStrings', 0));
      const to = listArg(t!, argCtx('replaceStrings', 1));
      if (from.length !== to.length) {
        throw new NixError("'from' and 'to' arguments passed to builtins.replaceStrings have different lengths");
      }
      // (`map (replaceStrings from to) xs` passes the same list every time: the strings and
      // table of first bytes of the last list are kept)
      let pats = lastFrom === from ? lastPats! : null;
      if (pats === null) {
        const fromS = from.map((x) => forceString(x, null, 'while evaluating one of the strings to replace passed to builtins.replaceStrings'));
        let firstChar: Uint8Array | null = null;
        if (fromS.every((pat) => pat.length > 0)) {
          firstChar = new Uint8Array(256);
          for (const pat of fromS) firstChar[pat.charCodeAt(0) & 255] = 1;
        }
        pats = { fromS, firstChar };
        lastFrom = from;
        lastPats = pats;
      }
      const fromS = pats.fromS;
      const toCache: ({ s: string; ctx: Context } | undefined)[] = new Array(to.length);
      const getTo = (i: number) => {
        let c = toCache[i];
        if (!c) {
          const v = forceStringValue(to[i]!, null, 'while evaluating one of the replacement strings passed to builtins.replaceStrings');
          c = typeof v === 'string' ? { s: v, ctx: EMPTY_CTX } : { s: v.s, ctx: v.ctx };
          toCache[i] = c;
        }
        return c;
      };
      const sv = forceStringValue(s!, null, argCtx('replaceStrings', 2));
      const str = typeof sv === 'string' ? sv : sv.s;
      let ctx: Context = typeof sv === 'string' ? EMPTY_CTX : sv.ctx;
      let out = '';
      let p = 0;
      const firstChar = pats.firstChar;
      if (firstChar !== null) {
        // No empty pattern: copy the unmatched runs in one slice each (not a
        // char at a time) and try the patterns only where one could start.
        let start = 0;
        while (p < str.length) {
          if (firstChar[str.charCodeAt(p) & 255] === 0) {
            p++;
            continue;
          }
          let i = 0;
          while (i < fromS.length && !str.startsWith(fromS[i]!, p)) i++;
          if (i === fromS.length) {
            p++;
            continue;
          }
          const rep = getTo(i);
          out += str.slice(start, p) + rep.s;
          if (rep.ctx.size) ctx = mergeContexts(ctx, rep.ctx);
          p += fromS[i]!.length;
          start = p;
        }
        return mkStr(start === 0 ? str : out + str.slice(start), ctx);
      }
      while (p <= str.length) {
        let matched = false;
        for (let i = 0; i < fromS.length; i++) {
          const pat = fromS[i]!;
          if (str.startsWith(pat, p)) {
            const rep = getTo(i);
            out += rep.s;
            if (rep.ctx.size) ctx = mergeContexts(ctx, rep.ctx);
            if (pat.length === 0) {
              if (p < str.length) out += str[p];
              p++;
            } else p += pat.length;
            matched = true;
            break;
          }
        }
        if (!matched) {
          if (p < str.length) out += str[p];
          p++;
        }
      }
      return mkStr(out, ctx);
    },
  });
}

export type { Value };
