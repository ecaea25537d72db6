// Arithmetic and comparison: add, sub, mul, div, lessThan, bitAnd, bitOr,
// bitXor, ceil, floor.

import { NixError } from '../errors.js';
import { arith, forceFloatOrInt, forceInt, lessThan, normInt } from '../ops.js';
import { NixFloat, force, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

export function register(r: Registry): void {
  const binArith = (name: string, op: '+' | '-' | '*' | '/', doc: string) =>
    r.add({
      name,
      args: ['e1', 'e2'],
      doc,
      fn: ([a, b], site) => {
        const x = force(a!);
        const y = force(b!);
        // type errors name the argument, as CppNix does
        // type errors name the argument and expect an integer, as CppNix does
        if (!(typeof x === 'number' || typeof x === 'bigint' || x instanceof NixFloat)) forceInt(x, site.pos, argCtx(name, 0));
        if (!(typeof y === 'number' || typeof y === 'bigint' || y instanceof NixFloat)) forceInt(y, site.pos, argCtx(name, 1));
        return arith(op, x, y, site.pos);
      },
    });
  binArith('add', '+', 'Return the sum of the numbers *e1* and *e2*.');
  binArith('sub', '-', 'Return the difference between the numbers *e1* and *e2*.');
  binArith('mul', '*', 'Return the product of the numbers *e1* and *e2*.');
  binArith('div', '/', 'Return the quotient of the numbers *e1* and *e2*.');

  r.add({
    name: 'lessThan',
    args: ['e1', 'e2'],
    doc: 'Return `true` if the value *e1* is less than the value *e2*, and `false` otherwise. Evaluation aborts if either *e1* or *e2* does not evaluate to a number, string or path. Furthermore, it aborts if *e2* does not match *e1*’s type according to the aforementioned classification of number, string or path.',
    fn: ([a, b], site) => lessThan(a!, b!, site.pos),
  });

  const bit = (name: string, f: (x: bigint, y: bigint) => bigint, word: string) =>
    r.add({
      name,
      args: ['e1', 'e2'],
      doc: `Return the bitwise ${word} of the integers *e1* and *e2*.`,
      fn: ([a, b], site) => {
        const x = forceInt(a!, site.pos, argCtx(name, 0));
        const y = forceInt(b!, site.pos, argCtx(name, 1));
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
      fn: ([a], site) => {
        const v = force(a!);
        if (typeof v === 'number' || typeof v === 'bigint') return v;
        const x = forceFloatOrInt(v, site.pos, argCtx(name, 0));
        const y = f(x);
        if (!Number.isFinite(y) || y >= 9223372036854775808 || y < -9223372036854775808) {
          throw new NixError(`float ${x} cannot be converted to an integer`, site.pos);
        }
        return Number.isSafeInteger(y) ? y : normInt(BigInt(y));
      },
    });
  round('ceil', Math.ceil, 'Converts an IEEE-754 double-precision floating-point number (*double*) to the next higher integer.');
  round('floor', Math.floor, 'Converts an IEEE-754 double-precision floating-point number (*double*) to the next lower integer.');
}

export type { Value };
