/**
 * A set of objects (compared by identity) without a JS Set's bound of 2^24
 * entries.  The walks over a value (deepSeq, --strict printing, the REPL's
 * printer, finding derivations) remember every list and set they have been
 * through, as CppNix's do, and a value of a few million packages can have
 * more than 16 777 216 of them: a plain Set then throws a RangeError.  Entries go into
 * a list of Sets, a new one when the last is full; almost every walk needs
 * only the first.
 */
export class ObjectSet<T extends object> {
  private readonly sets: Set<T>[] = [new Set<T>()];
  private last: Set<T> = this.sets[0]!;

  /** Entries per Set (2^24 at most; smaller in tests). */
  constructor(private readonly shard = 1 << 23) {}

  has(x: T): boolean {
    const sets = this.sets;
    if (sets.length === 1) return this.last.has(x);
    for (let i = 0; i < sets.length; i++) if (sets[i]!.has(x)) return true;
    return false;
  }

  /** Adds `x`; false when it was there already. */
  add(x: T): boolean {
    if (this.has(x)) return false;
    if (this.last.size >= this.shard) this.sets.push((this.last = new Set<T>()));
    this.last.add(x);
    return true;
  }

  delete(x: T): boolean {
    for (const s of this.sets) if (s.delete(x)) return true;
    return false;
  }

  get size(): number {
    let n = 0;
    for (const s of this.sets) n += s.size;
    return n;
  }
}
