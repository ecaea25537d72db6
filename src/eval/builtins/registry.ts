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

export function argCtx(builtin: string, n: number): string {
  return `while evaluating the ${ORDINALS[n]} argument passed to builtins.${builtin}`;
}
