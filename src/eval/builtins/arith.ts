// Arithmetic and comparison: add, sub, mul, div, lessThan, bitAnd, bitOr,
// bitXor, ceil, floor.
//
// `primAdd`, `primSub`, `primMul`, `primDiv` and `compareValues` are
// CppNix's prim_add/prim_sub/prim_mul/prim_div and CompareValues: which
// operand is checked first, which type is expected ("an integer" or "a
// float") and the frames all follow CppNix.  Their errors carry no position
// (a primop sees none); the caller adds the "while calling" frame.

import { NixError } from '../errors.js';
import { eqValues, forceFloatOrInt, formatFloat, forceInt, intAdd, intDiv, intMul, intSub, normInt } from '../ops.js';
import { printForError } from '../print.js';
import { NixFloat, NixPath, NixStr, force, typeName, typeOf, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

type Int = number | bigint;

const isFloat = (v: Value): v is NixFloat => v instanceof NixFloat;

/** Both operands forced; a float operand makes it a float operation. */
function binArith(
  a: Value,
  b: Value,
  ctxs: { intA: string; intB: string; floatA: string; floatB: string },
  onInts: (x: Int, y: Int) => Value,
  onFloats: (x: number, y: number) => number,
): Value {
  const x = force(a);
  const y = force(b);
  if (isFloat(x) || isFloat(y)) return new NixFloat(onFloats(forceFloatOrInt(x, null, ctxs.floatA), forceFloatOrInt(y, null, ctxs.floatB)));
  return onInts(forceInt(x, null, ctxs.intA), forceInt(y, null, ctxs.intB));
}

const ADD = { intA: argCtx('add', 0), intB: argCtx('add', 1), floatA: argCtx('add', 0), floatB: argCtx('add', 1) };
const SUB = { intA: argCtx('sub', 0), intB: argCtx('sub', 1), floatA: argCtx('sub', 0), floatB: argCtx('sub', 1) };
// sic: CppNix's float case says "the first of the multiplication"
const MUL = { intA: argCtx('mul', 0), intB: argCtx('mul', 1), floatA: 'while evaluating the first of the multiplication', floatB: argCtx('mul', 1) };

/** `builtins.add` (not the `+` operator, which also concatenates strings and paths). */
export function primAdd(a: Value, b: Value): Value {
  return binArith(a, b, ADD, (x, y) => intAdd(x, y, null), (x, y) => x + y);
}

/** `builtins.sub` and the `-` operator. */
export function primSub(a: Value, b: Value): Value {
  return binArith(a, b, SUB, (x, y) => intSub(x, y, null), (x, y) => x - y);
}

/** `builtins.mul` and the `*` operator. */
export function primMul(a: Value, b: Value): Value {
  return binArith(a, b, MUL, (x, y) => intMul(x, y, null), (x, y) => x * y);
}

/** `builtins.div` and the `/` operator: the divisor is checked (as a float) and tested for zero first. */
export function primDiv(a: Value, b: Value): Value {
  const x = force(a);
  const y = force(b);
  const second = argCtx('div', 1);
  const f2 = forceFloatOrInt(y, null, second);
  if (f2 === 0) throw new NixError('division by zero');
  if (isFloat(x) || isFloat(y)) return new NixFloat(forceFloatOrInt(x, null, argCtx('div', 0)) / f2);
  return intDiv(forceInt(x, null, argCtx('div', 0)), forceInt(y, null, second), null);
}

/**
 * CppNix's CompareValues (builtins.lessThan, the `<` operators, sort with
 * lessThan, genericClosure keys): numbers of either kind, strings, paths
 * and lists (lexicographically) compare; anything else fails.  Errors get
 * `errorCtx` as a frame when it is not empty.
 */
export function compareValues(a: Value, b: Value, errorCtx: string): boolean {
  try {
    const x = force(a);
    const y = force(b);
    if (isFloat(x) && isInt(y)) return x.v < Number(y);
    if (isInt(x) && isFloat(y)) return Number(x) < y.v;
    const tx = typeOf(x);
    if (tx !== typeOf(y)) {
      throw new NixError(`cannot compare ${typeName(x)} with ${typeName(y)}; values are ${printForError(x)} and ${printForError(y)}`);
    }
    switch (tx) {
      case 'int':
        return (x as Int) < (y as Int);
      case 'float':
        return (x as NixFloat).v < (y as NixFloat).v;
      case 'string':
        return str(x) < str(y);
      case 'path':
        return (x as NixPath).path < (y as NixPath).path;
      case 'list': {
        const l1 = x as Value[];
        const l2 = y as Value[];
        for (let i = 0; ; i++) {
          if (i === l2.length) return false;
          if (i === l1.length) return true;
          if (!eqValues(l1[i]!, l2[i]!, null, true)) return compareValues(l1[i]!, l2[i]!, 'while comparing two list elements');
        }
      }
    }
    throw new NixError(
      `cannot compare ${typeName(x)} with ${typeName(y)}; values of that type are incomparable (values are ${printForError(x)} and ${printForError(y)})`,
    );
  } catch (e) {
    if (errorCtx && e instanceof NixError) e.addTrace(errorCtx);
    throw e;
  }
}

function isInt(v: Value): v is Int {
  return typeof v === 'number' || typeof v === 'bigint';
}

function str(v: Value): string {
  return v instanceof NixStr ? v.s : (v as string);
}

export function register(r: Registry): void {
  const bin = (name: string, f: (a: Value, b: Value) => Value, doc: string) =>
    r.add({ name, args: ['e1', 'e2'], doc, fn: ([a, b]) => f(a!, b!) });
  bin('add', primAdd, 'Return the sum of the numbers *e1* and *e2*.');
  bin('sub', primSub, 'Return the difference between the numbers *e1* and *e2*.');
  bin('mul', primMul, 'Return the product of the numbers *e1* and *e2*.');
  bin('div', primDiv, 'Return the quotient of the numbers *e1* and *e2*.');

  r.add({
    name: 'lessThan',
    args: ['e1', 'e2'],
    doc: 'Return `true` if the value *e1* is less than the value *e2*, and `false` otherwise. Evaluation aborts if either *e1* or *e2* does not evaluate to a number, string or path. Furthermore, it aborts if *e2* does not match *e1*’s type according to the aforementioned classification of number, string or path.',
    fn: ([a, b]) => compareValues(a!, b!, ''),
  });

  const bit = (name: string, f: (x: bigint, y: bigint) => bigint, word: string) =>
    r.add({
      name,
      args: ['e1', 'e2'],
      doc: `Return the bitwise ${word} of the integers *e1* and *e2*.`,
      fn: ([a, b]) => {
        const x = forceInt(a!, null, argCtx(name, 0));
        const y = forceInt(b!, null, argCtx(name, 1));
        if (typeof x === 'number' && typeof y === 'number' && Math.abs(x) < 2 ** 31 && Math.abs(y) < 2 ** 31) {
          return name === 'bitAnd' ? x & y : name === 'bitOr' ? x | y : x ^ y;
        }
        return normInt(BigInt.asIntN(64, f(BigInt(x), BigInt(y))));
      },
    });
  bit('bitAnd', (x, y) => x & y, 'AND');
  bit('bitOr', (x, y) => x | y, 'OR');
  bit('bitXor', (x, y) => x ^ y, 'XOR');

  const round = (name: string, f: (x: number) => number, doc: string) =>
    r.add({
      name,
      args: ['number'],
      doc,
      fn: ([a]) => {
        const v = force(a!);
        if (typeof v === 'number' || typeof v === 'bigint') return v;
        const x = forceFloatOrInt(v, null, argCtx(name, 0));
        const y = f(x);
        if (!Number.isFinite(y) || y >= 9223372036854775808 || y < -9223372036854775808) {
          throw new NixError(`NixFloat argument ${formatFloat(x)} is not in the range of NixInt`);
        }
        return Number.isSafeInteger(y) ? y : normInt(BigInt(y));
      },
    });
  round('ceil', Math.ceil, 'Converts an IEEE-754 double-precision floating-point number (*double*) to the next higher integer.');
  round('floor', Math.floor, 'Converts an IEEE-754 double-precision floating-point number (*double*) to the next lower integer.');
}
