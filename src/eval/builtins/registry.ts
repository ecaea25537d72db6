// How builtin groups declare their builtins.  Each file under
// src/eval/builtins/ exports `register(r: Registry)` and calls `r.add` (or
// `r.value`) for each builtin; src/eval/builtins/index.ts lists the files.

import type { Value, CallSite } from '../value.js';
import type { EvalState } from '../state.js';

export interface BuiltinDef {
  /** Name without `__` (as in `builtins.NAME`). */
  name: string;
  /** Argument names, for `:doc` and the arity. */
  args: string[];
  /** Documentation shown by `:doc`. */
  doc: string;
  fn: (args: Value[], site: CallSite) => Value;
  /** Also bound at top level without `__` (like `map`, `toString`). */
  global?: boolean;
}

export interface Registry {
  readonly state: EvalState;
  add(def: BuiltinDef): void;
  /** A constant builtin (`true`, `langVersion`, `currentSystem`, …). */
  value(name: string, v: Value, opts?: { global?: boolean; doc?: string; lazy?: () => Value }): void;
}

/** "first", "second", … for "while evaluating the second argument passed to builtins.X". */
export const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

/** Builtins whose argument frames CppNix words differently. */
const ARG_CTX: Record<string, string[]> = {
  attrNames: ['while evaluating the argument passed to builtins.attrNames'],
  attrValues: ['while evaluating the argument passed to builtins.attrValues'],
  listToAttrs: ['while evaluating the argument passed to builtins.listToAttrs'],
  stringLength: ['while evaluating the argument passed to builtins.stringLength'],
  derivationStrict: ['while evaluating the argument passed to builtins.derivationStrict'],
  concatStringsSep: [
    'while evaluating the first argument (the separator string) passed to builtins.concatStringsSep',
    'while evaluating the second argument (the list of strings to concat) passed to builtins.concatStringsSep',
  ],
  substring: [
    'while evaluating the first argument (the start offset) passed to builtins.substring',
    'while evaluating the second argument (the substring length) passed to builtins.substring',
    'while evaluating the third argument (the string) passed to builtins.substring',
  ],
  filterSource: [
    'while evaluating the first argument passed to builtins.filterSource',
    "while evaluating the second argument (the path to filter) passed to 'builtins.filterSource'",
  ],
  add: ['while evaluating the first argument of the addition', 'while evaluating the second argument of the addition'],
  sub: ['while evaluating the first argument of the subtraction', 'while evaluating the second argument of the subtraction'],
  mul: ['while evaluating the first argument of the multiplication', 'while evaluating the second argument of the multiplication'],
  div: ['while evaluating the first operand of the division', 'while evaluating the second operand of the division'],
};

/** Internal names CppNix uses in messages (`foldl'` is implemented as foldlStrict). */
const MSG_NAME: Record<string, string> = { "foldl'": 'foldlStrict' };

export function argCtx(builtin: string, n: number): string {
  const special = ARG_CTX[builtin]?.[n];
  if (special) return special;
  return `while evaluating the ${ORDINALS[n]} argument passed to builtins.${MSG_NAME[builtin] ?? builtin}`;
}
