// Regular expressions: match, split.  The engine (POSIX extended syntax with
// the exact behaviour of the C++ standard library CppNix uses) is in
// ../regex.ts; here are only the builtins and their errors.

import { NixError } from '../errors.js';
import { forceString, forceStringNoCtx } from '../ops.js';
import { RegexError, compileRegex, matchFull, splitAll, type CompiledRegex } from '../regex.js';
import type { Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

/** Compiles a pattern; an invalid one is an evaluation error (without position, as in CppNix). */
function compile(pattern: string): CompiledRegex {
  try {
    return compileRegex(pattern);
  } catch (e) {
    if (e instanceof RegexError) throw new NixError(e.message);
    throw e;
  }
}

export function register(r: Registry): void {
  r.add({
    name: 'match',
    args: ['regex', 'str'],
    doc:
      'Returns a list if the [extended POSIX regular expression](https://pubs.opengroup.org/onlinepubs/9699919799/basedefs/V1_chap09.html#tag_09_04) *regex* matches the whole of *str*, and `null` otherwise. ' +
      'Each element of the list is the text matched by the corresponding capture group of *regex* (or `null` when that group did not take part in the match); a regex without groups gives the empty list when it matches.\n\n' +
      'For example,\n\n```nix\nbuiltins.match "ab" "abc"\n```\n\nevaluates to `null`,\n\n```nix\nbuiltins.match "abc" "abc"\n```\n\nevaluates to `[ ]`,\n\n```nix\nbuiltins.match "a(b)(c)" "abc"\n```\n\nevaluates to `[ "b" "c" ]`, and\n\n```nix\nbuiltins.match "[[:space:]]+([[:upper:]]+)[[:space:]]+" "  FOO   "\n```\n\nevaluates to `[ "FOO" ]`.',
    fn: ([re, str]) => {
      const pattern = forceStringNoCtx(re!, null, argCtx('match', 0));
      const regex = compile(pattern);
      const s = forceString(str!, null, argCtx('match', 1));
      const m = matchFull(regex, s);
      // a group that did not take part in the match is null
      return m;
    },
  });

  r.add({
    name: 'split',
    args: ['regex', 'str'],
    doc:
      'Returns a list made by splitting *str* at every match of the [extended POSIX regular expression](https://pubs.opengroup.org/onlinepubs/9699919799/basedefs/V1_chap09.html#tag_09_04) *regex*. ' +
      'The pieces of *str* between the matches are strings, and each match is replaced by the list of the texts its capture groups matched (`null` for a group that did not take part).\n\n' +
      'For example,\n\n```nix\nbuiltins.split "(a)b" "abc"\n```\n\nevaluates to `[ "" [ "a" ] "c" ]`,\n\n```nix\nbuiltins.split "([ac])" "abc"\n```\n\nevaluates to `[ "" [ "a" ] "b" [ "c" ] "" ]`,\n\n```nix\nbuiltins.split "(a)|(c)" "abc"\n```\n\nevaluates to `[ "" [ "a" null ] "b" [ null "c" ] "" ]`, and\n\n```nix\nbuiltins.split "([[:upper:]]+)" " FOO "\n```\n\nevaluates to `[ " " [ "FOO" ] " " ]`.',
    fn: ([re, str]) => {
      const pattern = forceStringNoCtx(re!, null, argCtx('split', 0));
      const regex = compile(pattern);
      const s = forceString(str!, null, argCtx('split', 1));
      const parts: Value[] = splitAll(regex, s);
      return parts;
    },
  });
}
