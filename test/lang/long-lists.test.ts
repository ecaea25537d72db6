import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { FAST_NEW_ARRAY, allocList, filterLong, partitionLong } from '../../src/eval/builtins/lists.js';
import { NixError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';
import type { Value } from '../../src/eval/value.js';

// V8's own view of an array's elements (a function compiled after the flag is on)
v8.setFlagsFromString('--allow-natives-syntax');
const isDictionary = new Function('a', 'return %HasDictionaryElements(a)') as (a: unknown[]) => boolean;

function ev(text: string): Value {
  const st = new EvalState({ settings: new Settings(), stderr: () => {}, env: {} });
  return st.evalString(toBytes(text), toBytes('«string»'), '/tmp');
}

describe('lists longer than V8 makes fast with new Array', () => {
  it('allocList keeps fast elements past the length where new Array turns to a dictionary', () => {
    const n = FAST_NEW_ARRAY + 3;
    // the bound is V8's: one more than it and new Array gives a dictionary
    expect(isDictionary(new Array(FAST_NEW_ARRAY))).toBe(false);
    expect(isDictionary(new Array(n))).toBe(true);
    const a = allocList(n);
    expect(a.length).toBe(n);
    expect(isDictionary(a)).toBe(false);
    a[n - 1] = 7;
    a[0] = 5;
    expect([a[0], a[FAST_NEW_ARRAY], a[n - 1]]).toEqual([5, null, 7]);
    expect(isDictionary(a)).toBe(false);
    expect(allocList(3).length).toBe(3);
  });

  it("filter's and partition's path for long lists keeps the order and calls the predicate in order", () => {
    const pred = ev('x: x > 2 && x != 5');
    const list: Value[] = [1, 4, 2, 3, 5, 6];
    expect(printInstantiate(forceDeep(filterLong(pred, list)))).toBe('[ 4 3 6 ]');
    expect(filterLong(ev('x: true'), list)).toBe(list);
    expect(printInstantiate(forceDeep(partitionLong(pred, list)))).toBe('{ right = [ 4 3 6 ]; wrong = [ 1 2 5 ]; }');
  });

  it("their errors are filter's and partition's", () => {
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (e instanceof NixError) return `${e.msg} | ${e.frames.map((fr) => fr.msg).join(' | ')}`;
        throw e;
      }
      return 'no error';
    };
    const bad = ev('x: if x == 2 then "no" else true');
    expect(msg(() => filterLong(bad, [1, 2, 3]))).toMatch(
      /^expected a Boolean but found a string: "no" \| while evaluating the return value of the filtering function passed to builtins.filter/,
    );
    expect(msg(() => partitionLong(bad, [1, 2, 3]))).toMatch(
      /^expected a Boolean but found a string: "no" \| while evaluating the return value of the partition function passed to builtins.partition/,
    );
  });
});
