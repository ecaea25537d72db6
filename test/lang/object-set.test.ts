import { describe, expect, it } from 'vitest';
import { ObjectSet } from '../../src/eval/object-set.js';

describe('ObjectSet (the visited sets of deepSeq, printing, finding derivations)', () => {
  it('holds more entries than one JS Set: past a full shard, entries go into the next', () => {
    const s = new ObjectSet<object>(4);
    const xs = Array.from({ length: 11 }, (_, i) => ({ i }));
    for (const x of xs) expect(s.add(x)).toBe(true);
    expect(s.size).toBe(11);
    // present in the first, second and third shard
    for (const x of xs) expect(s.has(x)).toBe(true);
    for (const x of xs) expect(s.add(x)).toBe(false);
    expect(s.size).toBe(11);
    expect(s.has({ i: 0 })).toBe(false);
    // deleting from an earlier shard, then adding it again, keeps one copy
    expect(s.delete(xs[1]!)).toBe(true);
    expect(s.has(xs[1]!)).toBe(false);
    expect(s.delete(xs[1]!)).toBe(false);
    expect(s.add(xs[1]!)).toBe(true);
    expect(s.add(xs[1]!)).toBe(false);
    expect(s.size).toBe(11);
  });
});
