// Strings: toString, stringLength, substring, concatStringsSep,
// replaceStrings.

import { NixError } from '../errors.js';
import { coerceToString, forceList, forceSmallInt, forceStringValue, mergeContexts } from '../ops.js';
import { EMPTY_CTX, force, mkStr, type Context, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'toString',
    args: ['e'],
    global: true,
    doc: 'Convert the expression *e* to a string. *e* can be:\n\n- A string (in which case the string is returned unmodified).\n- A path (e.g., `toString /foo/bar` yields `"/foo/bar"`).\n- A set containing `{ __toString = self: ...; }` or `{ outPath = ...; }`.\n- An integer.\n- A list, in which case the string representations of its elements are joined with spaces.\n- A Boolean (`false` yields `""`, `true` yields `"1"`).\n- `null`, which yields the empty string.',
    fn: ([e], site) => {
      let res;
      try {
        res = coerceToString(e!, site.pos, { coerceMore: true });
      } catch (err) {
        if (err instanceof NixError) err.addTrace(argCtx('toString', 0));
        throw err;
      }
      return mkStr(res.s, res.ctx);
    },
  });

  r.add({
    name: 'stringLength',
    args: ['e'],
    doc: 'Return the number of bytes of the string *e*. If *e* is not a string, evaluation is aborted.',
    fn: ([e], site) => {
      try {
        return coerceToString(e!, site.pos, {}).s.length;
      } catch (err) {
        if (err instanceof NixError) err.addTrace('while evaluating the argument passed to builtins.stringLength');
        throw err;
      }
    },
  });

  r.add({
    name: 'substring',
    args: ['start', 'len', 's'],
    doc: 'Return the substring of *s* from byte position *start* (zero-based) up to but not including *start + len*. If *start* is greater than the length of the string, an empty string is returned. If *start + len* lies beyond the end of the string or *len* is `-1`, only the substring up to the end of the string is returned. *start* must be non-negative.',
    fn: ([st, ln, s], site) => {
      const start = forceSmallInt(st!, site.pos, argCtx('substring', 0));
      const len = forceSmallInt(ln!, site.pos, argCtx('substring', 1));
      if (start < 0) throw new NixError("negative start position in 'substring'", site.pos);
      let res;
      try {
        res = coerceToString(s!, site.pos, {});
      } catch (err) {
        if (err instanceof NixError) err.addTrace(argCtx('substring', 2));
        throw err;
      }
      const str = res.s;
      if (start >= str.length) return mkStr('', res.ctx);
      const end = len < 0 ? str.length : Math.min(str.length, start + len);
      return mkStr(str.slice(start, end), res.ctx);
    },
  });

  r.add({
    name: 'concatStringsSep',
    args: ['separator', 'list'],
    doc: 'Concatenate a list of strings with a separator between each element, e.g. `concatStringsSep "/" ["usr" "local" "bin"] == "usr/local/bin"`.',
    fn: ([sep, l], site) => {
      const sv = forceStringValue(sep!, site.pos, argCtx('concatStringsSep', 0));
      const sepS = typeof sv === 'string' ? sv : sv.s;
      let ctx: Context = typeof sv === 'string' ? EMPTY_CTX : sv.ctx;
      const list = forceList(l!, site.pos, argCtx('concatStringsSep', 1));
      const parts: string[] = new Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const x = force(list[i]!);
        if (typeof x === 'string') {
          parts[i] = x;
          continue;
        }
        let res;
        try {
          res = coerceToString(x, site.pos, { copyToStore: true });
        } catch (err) {
          if (err instanceof NixError) err.addTrace('while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep');
          throw err;
        }
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
    fn: ([f, t, s], site) => {
      const from = forceList(f!, site.pos, argCtx('replaceStrings', 0));
      const to = forceList(t!, site.pos, argCtx('replaceStrings', 1));
      if (from.length !== to.length) {
        throw new NixError("'from' and 'to' arguments passed to builtins.replaceStrings have different lengths", site.pos);
      }
      const fromS = from.map((x) => {
        const v = forceStringValue(x, site.pos, 'while evaluating one of the strings to replace passed to builtins.replaceStrings');
        return typeof v === 'string' ? v : v.s;
      });
      const toCache: ({ s: string; ctx: Context } | undefined)[] = new Array(to.length);
      const getTo = (i: number) => {
        let c = toCache[i];
        if (!c) {
          const v = forceStringValue(to[i]!, site.pos, 'while evaluating one of the replacement strings passed to builtins.replaceStrings');
          c = typeof v === 'string' ? { s: v, ctx: EMPTY_CTX } : { s: v.s, ctx: v.ctx };
          toCache[i] = c;
        }
        return c;
      };
      const sv = forceStringValue(s!, site.pos, argCtx('replaceStrings', 2));
      const str = typeof sv === 'string' ? sv : sv.s;
      let ctx: Context = typeof sv === 'string' ? EMPTY_CTX : sv.ctx;
      let out = '';
      let p = 0;
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
