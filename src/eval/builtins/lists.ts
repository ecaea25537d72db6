// Lists: map, filter, elem, elemAt, head, tail, length, foldl', genList,
// sort, concatLists, concatMap, all, any, partition, groupBy,
// genericClosure.
//
// Argument order, frames and positions follow CppNix (see the notes in
// registry.ts): builtins force and check their arguments in CppNix's order,
// and pass no position where CppNix has none.

import type { Pos } from '../../../grammar/ast.js';
import { NixError } from '../errors.js';
import { call1, call2, eqValues, forceBool, forceFunction, forceInt, forceStringNoCtx } from '../ops.js';
import { printForError } from '../print.js';
import { Attrs, NixPath, NixStr, PrimOp, Thunk, force, typeName, typeOf, type Value } from '../value.js';
import { compareValues } from './arith.js';
import { argCtx, attrsArg, determinePos, lazyCall1, listArg, missingAttr, type Registry } from './registry.js';

const FILTER_RESULT = 'while evaluating the return value of the filtering function passed to builtins.filter';
const PARTITION_RESULT = 'while evaluating the return value of the partition function passed to builtins.partition';

export function register(r: Registry): void {
  r.add({
    name: 'map',
    args: ['f', 'list'],
    global: true,
    doc: 'Apply the function *f* to each element in the list *list*. For example,\n\n```nix\nmap (x: "foo" + x) [ "bar" "bla" "abc" ]\n```\n\nevaluates to `[ "foobar" "foobla" "fooabc" ]`.',
    fn: ([f, l]) => {
      const list = listArg(l!, argCtx('map', 1));
      if (list.length === 0) return list;
      forceFunction(f!, null, argCtx('map', 0));
      const fn = f!;
      const n = list.length;
      const out = allocList(n);
      for (let i = 0; i < n; i++) out[i] = lazyCall1(fn, list[i]!);
      return out;
    },
  });

  r.add({
    name: 'filter',
    args: ['f', 'list'],
    doc: 'Return a list consisting of the elements of *list* for which the function *f* returns `true`.',
    fn: ([f, l]) => {
      const list = listArg(l!, argCtx('filter', 1));
      if (list.length === 0) return list;
      const fn = forceFunction(f!, null, argCtx('filter', 0));
      if (list.length > FAST_NEW_ARRAY) return filterLong(fn, list);
      const out: Value[] = [];
      // (nothing after the loop needs type feedback: V8 compiles a long first
      // call's loop while it runs (OSR), and a property load or comparison
      // that had never run would throw that code away when the loop ends)
      let dropped = false;
      for (const x of list) {
        if (forceBool(call1(fn, x, null), null, FILTER_RESULT)) out.push(x);
        else dropped = true;
      }
      return dropped ? out : list;
    },
  });

  r.add({
    name: 'elem',
    args: ['x', 'xs'],
    doc: 'Return `true` if a value equal to *x* occurs in the list *xs*, and `false` otherwise.',
    fn: ([x, l]) => {
      const list = listArg(l!, argCtx('elem', 1));
      // (x is forced by the first comparison, as in CppNix: not for an empty list)
      if (list.length === 0) return false;
      const xv = force(x!);
      if (typeof xv === 'number' || typeof xv === 'string' || typeof xv === 'boolean') {
        // a scalar: equal to an element of the same JS type only if identical;
        // other representations (floats, strings with context) go to eqValues
        for (let i = 0; i < list.length; i++) {
          let y: Value = list[i]!;
          if (y instanceof Thunk) y = y.force();
          if (y === xv || (typeof y === 'object' && y !== null && eqValues(xv, y, null))) return true;
        }
        return false;
      }
      for (const y of list) if (eqValues(xv, y, null)) return true;
      return false;
    },
  });

  r.add({
    name: 'elemAt',
    args: ['xs', 'n'],
    doc: 'Return element *n* from the list *xs*. Elements are counted starting from 0. A fatal error occurs if the index is out of bounds.',
    fn: ([l, i]) => {
      // CppNix checks the index before the list
      const n = forceInt(i!, null, argCtx('elemAt', 1));
      const list = listArg(l!, argCtx('elemAt', 0));
      if (n < 0 || n >= list.length) throw new NixError(`'builtins.elemAt' called with index ${n} on a list of size ${list.length}`);
      return force(list[Number(n)]!);
    },
  });

  r.add({
    name: 'head',
    args: ['list'],
    doc: 'Return the first element of a list; abort evaluation if the argument isn’t a list or is an empty list. You can test whether a list is empty by comparing it with `[]`.',
    fn: ([l]) => {
      const list = listArg(l!, argCtx('head', 0));
      if (list.length === 0) throw new NixError("'builtins.head' called on an empty list");
      return force(list[0]!);
    },
  });

  r.add({
    name: 'tail',
    args: ['list'],
    doc: 'Return the list without its first item; abort evaluation if the argument isn’t a list or is an empty list.',
    fn: ([l]) => {
      const list = listArg(l!, argCtx('tail', 0));
      if (list.length === 0) throw new NixError("'builtins.tail' called on an empty list");
      return list.slice(1);
    },
  });

  r.add({
    name: 'length',
    args: ['e'],
    doc: 'Return the length of the list *e*.',
    fn: ([l]) => listArg(l!, argCtx('length', 0)).length,
  });

  r.add({
    name: "foldl'",
    args: ['op', 'nul', 'list'],
    doc: 'Reduce a list by applying a binary operator, from left to right, e.g. `foldl\' op nul [x0 x1 x2 ...] = op (op (op nul x0) x1) x2) ...`.\n\nThe operator is applied strictly, i.e., its arguments are evaluated first.',
    fn: ([f, z, l]) => {
      const fn = forceFunction(f!, null, argCtx("foldl'", 0));
      const list = listArg(l!, argCtx("foldl'", 2));
      let acc: Value = z!;
      if (list.length === 0) return force(acc);
      // (a call's result is a value, never a thunk: nothing to do after the
      // loop, which V8 may compile while it runs, see filter)
      for (const x of list) acc = call2(fn, acc, x, null);
      return acc;
    },
  });

  r.add({
    name: 'genList',
    args: ['generator', 'length'],
    doc: 'Generate list of size *length*, with each element *i* equal to the value returned by *generator* `i`.',
    fn: ([f, n]) => {
      const len = forceInt(n!, null, argCtx('genList', 1));
      if (len < 0) throw new NixError(`cannot create list of size ${len}`);
      // CppNix checks the function eagerly, even for an empty list
      forceFunction(f!, null, argCtx('genList', 0));
      const fn = f!;
      const count = Number(len);
      const out = allocList(count);
      for (let i = 0; i < count; i++) out[i] = lazyCall1(fn, i);
      return out;
    },
  });

  r.add({
    name: 'sort',
    args: ['comparator', 'list'],
    doc: 'Return *list* in sorted order. It repeatedly calls the function *comparator* with two elements. The comparator should return `true` if the first element is less than the second, and `false` otherwise.\n\nThis is a stable sort: it preserves the relative order of elements deemed equal by the comparator.',
    fn: ([f, l]) => {
      const list = listArg(l!, argCtx('sort', 1));
      if (list.length === 0) return list;
      const fn = forceFunction(f!, null, argCtx('sort', 0));
      const items = allocList(list.length);
      for (let i = 0; i < list.length; i++) items[i] = force(list[i]!);
      // CppNix compares directly when the comparator is builtins.lessThan
      const lt =
        fn instanceof PrimOp && fn.name === 'lessThan'
          ? (a: Value, b: Value) => compareValues(a, b, 'while evaluating the ordering function passed to builtins.sort')
          : (a: Value, b: Value) =>
              forceBool(call2(fn, a, b, null), null, 'while evaluating the return value of the sorting function passed to builtins.sort');
      return items.length <= 1 ? items : mergeSort(items, lt);
    },
  });

  r.add({
    name: 'concatLists',
    args: ['lists'],
    doc: 'Concatenate a list of lists into a single list.',
    fn: ([l]) => {
      const lists = listArg(l!, argCtx('concatLists', 0));
      const inners = allocList<Value[]>(lists.length);
      for (let i = 0; i < lists.length; i++) inners[i] = listArg(lists[i]!, 'while evaluating a value of the list passed to builtins.concatLists');
      return concatInners(inners);
    },
  });

  r.add({
    name: 'concatMap',
    args: ['f', 'list'],
    doc: 'This function is equivalent to `builtins.concatLists (map f list)` but is more efficient.',
    fn: ([f, l]) => {
      const fn = forceFunction(f!, null, argCtx('concatMap', 0));
      const list = listArg(l!, argCtx('concatMap', 1));
      const inners = allocList<Value[]>(list.length);
      for (let i = 0; i < list.length; i++) {
        const res = call1(fn, list[i]!, null);
        inners[i] = forceListAt(res, determinePos(res, determinePos(fn)), 'while evaluating the return value of the function passed to builtins.concatMap');
      }
      return concatInners(inners);
    },
  });

  const anyAll = (name: 'any' | 'all') =>
    r.add({
      name,
      args: ['pred', 'list'],
      doc:
        name === 'any'
          ? 'Return `true` if the function *pred* returns `true` for at least one element of *list*, and `false` otherwise.'
          : 'Return `true` if the function *pred* returns `true` for all elements of *list*, and `false` otherwise.',
      fn: ([f, l]) => {
        const fn = forceFunction(f!, null, argCtx(name, 0));
        const list = listArg(l!, argCtx(name, 1));
        // (any stops at the first true, all at the first false; nothing after the loop, see filter)
        const stopAt = name === 'any';
        for (const x of list) {
          const b = forceBool(call1(fn, x, null), null, `while evaluating the return value of the function passed to builtins.${name}`);
          if (b === stopAt) return stopAt;
        }
        return !stopAt;
      },
    });
  anyAll('any');
  anyAll('all');

  r.add({
    name: 'partition',
    args: ['pred', 'list'],
    doc: 'Given a predicate function *pred*, this function returns an attrset containing a list named `right`, containing the elements in *list* for which *pred* returned `true`, and a list named `wrong`, containing the elements for which it returned `false`.',
    fn: ([f, l]) => {
      const fn = forceFunction(f!, null, argCtx('partition', 0));
      const list = listArg(l!, argCtx('partition', 1));
      if (list.length > FAST_NEW_ARRAY) return partitionLong(fn, list);
      const right: Value[] = [];
      const wrong: Value[] = [];
      // (made before the loop: see filter)
      const res = new Attrs(
        new Map<string, Value>([
          ['right', right],
          ['wrong', wrong],
        ]),
      );
      for (const x of list) {
        force(x);
        if (forceBool(call1(fn, x, null), null, PARTITION_RESULT)) right.push(x);
        else wrong.push(x);
      }
      return res;
    },
  });

  r.add({
    name: 'groupBy',
    args: ['f', 'list'],
    doc: 'Groups elements of *list* together by the string returned from the function *f* called on each element. It returns an attribute set where each attribute value contains the elements of *list* that are mapped to the same corresponding attribute name returned by *f*.',
    fn: ([f, l]) => {
      const fn = forceFunction(f!, null, argCtx('groupBy', 0));
      const list = listArg(l!, argCtx('groupBy', 1));
      const groups = new Map<string, Value[]>();
      // (made before the loop: see filter)
      const res = new Attrs(groups as Map<string, Value>);
      for (const x of list) {
        const k = forceStringNoCtx(call1(fn, x, null), null, 'while evaluating the return value of the grouping function passed to builtins.groupBy');
        let g = groups.get(k);
        if (!g) groups.set(k, (g = []));
        g.push(x);
      }
      return res;
    },
  });

  r.add({
    name: 'genericClosure',
    args: ['attrset'],
    doc: '`builtins.genericClosure` iteratively computes the transitive closure over an arbitrary relation defined by a function.\n\nIt takes an attribute set with two attributes, `startSet` (a list of attribute sets, each with a `key` attribute) and `operator` (a function returning a list of such sets for a given set). Items are deduplicated by comparing their `key` with `==`.',
    fn: ([a]) => {
      const args = attrsArg(a!, argCtx('genericClosure', 0));
      const inArgs = 'in the attrset passed as argument to builtins.genericClosure';
      const startV = args.get('startSet');
      if (startV === undefined) throw missingAttr('startSet', inArgs);
      const start = listArg(startV, "while evaluating the 'startSet' attribute passed as argument to builtins.genericClosure");
      if (start.length === 0) return start;
      const opV = args.get('operator');
      if (opV === undefined) throw missingAttr('operator', inArgs);
      const op = forceFunction(opV, null, "while evaluating the 'operator' attribute passed as argument to builtins.genericClosure");
      const work = [...start];
      const res: Value[] = [];
      const keys = new KeyTracker();
      for (let head = 0; head < work.length; head++) {
        const ev = work[head]!;
        let e: Attrs;
        let key: Value | undefined;
        try {
          e = attrsArg(ev, '');
          key = e.get('key');
          if (key === undefined) throw missingAttr('key', null);
        } catch (err) {
          if (err instanceof NixError) err.addTrace(`in genericClosure element ${printForError(ev)}`);
          throw err;
        }
        const kv = force(key);
        if (!keys.insert(kv, e)) continue;
        res.push(e);
        try {
          const next = listArg(call1(op, e, null), 'while evaluating the return value of the `operator` passed to builtins.genericClosure');
          for (const x of next) {
            force(x);
            work.push(x);
          }
        } catch (err) {
          if (err instanceof NixError) err.addTrace(`while calling operator on genericClosure element ${printForError(e)}`);
          throw err;
        }
      }
      return res;
    },
  });
}

/** forceList with a position (only on the frame, as CppNix's forceList). */
function forceListAt(v: Value, pos: Pos | null, ctx: string): Value[] {
  const x = force(v);
  if (Array.isArray(x)) return x;
  throw new NixError(`expected a list but found ${typeName(x)}: ${printForError(x)}`).addTrace(ctx, pos);
}

/**
 * The keys genericClosure has seen, as CppNix tracks them: the first key
 * decides the kind of set (strings, paths or integers are hashed; any other
 * kind, or a float among integers, goes to an ordered map using
 * builtins.lessThan's comparison).  A key that cannot be compared with the
 * others fails with "while comparing element X" / "with element Y" frames.
 */
class KeyTracker {
  private kind: 'none' | 'string' | 'path' | 'int' | 'ordered' = 'none';
  private hashed = new Map<string, Attrs>();
  private ordered: { key: Value; elem: Attrs }[] = [];
  private firstKey: Value = null;
  private firstElem: Attrs | null = null;

  /** Returns false if the key was seen before. */
  insert(key: Value, elem: Attrs): boolean {
    const t = typeOf(key);
    switch (this.kind) {
      case 'none':
        this.firstKey = key;
        this.firstElem = elem;
        if (t === 'string' || t === 'path' || t === 'int') {
          this.kind = t;
          this.hashed.set(hashKey(key), elem);
          return true;
        }
        this.kind = 'ordered';
        return this.insertOrdered(key, elem);
      case 'string':
      case 'path':
        if (t !== this.kind) this.compareError(key, elem);
        return this.insertHashed(key, elem);
      case 'int':
        if (t === 'int') return this.insertHashed(key, elem);
        if (t === 'float') {
          // integers and floats compare with each other: switch to the ordered map
          this.kind = 'ordered';
          for (const el of this.hashed.values()) this.insertOrdered(el.get('key')!, el);
          this.hashed.clear();
          return this.insertOrdered(key, elem);
        }
        return this.compareError(key, elem);
      case 'ordered':
        return this.insertOrdered(key, elem);
    }
  }

  private insertHashed(key: Value, elem: Attrs): boolean {
    const h = hashKey(key);
    if (this.hashed.has(h)) return false;
    this.hashed.set(h, elem);
    return true;
  }

  private insertOrdered(key: Value, elem: Attrs): boolean {
    const lt = (a: Value, b: Value) => compareValues(a, b, '');
    try {
      // as std::map: descend comparing `key < k`, then check the predecessor for equality
      let lo = 0;
      let hi = this.ordered.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (lt(key, force(this.ordered[mid]!.key))) hi = mid;
        else lo = mid + 1;
      }
      if (lo > 0 && !lt(force(this.ordered[lo - 1]!.key), key)) return false;
      this.ordered.splice(lo, 0, { key, elem });
      return true;
    } catch (err) {
      if (err instanceof NixError) {
        const other = this.ordered.find((o) => {
          try {
            lt(key, force(o.key));
            return false;
          } catch {
            return true;
          }
        });
        if (other) compareFrames(err, elem, other.elem);
        else err.addTrace(`while checking key of element ${printForError(elem)}`);
      }
      throw err;
    }
  }

  private compareError(key: Value, elem: Attrs): never {
    try {
      compareValues(key, this.firstKey, '');
    } catch (err) {
      if (err instanceof NixError) compareFrames(err, elem, this.firstElem!);
      throw err;
    }
    throw new Error('genericClosure: keys of different types compared equal');
  }
}

function compareFrames(err: NixError, elem: Attrs, other: Attrs): void {
  err.addTrace(`with element ${printForError(other)}`);
  err.addTrace(`while comparing element ${printForError(elem)}`);
}

function hashKey(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof NixStr) return v.s;
  if (v instanceof NixPath) return v.path;
  return String(v);
}

/** A stable merge sort that calls `lt` like CppNix (which uses std::stable_sort). */
function mergeSort(a: Value[], lt: (x: Value, y: Value) => boolean): Value[] {
  const n = a.length;
  let src = a.slice();
  let dst = allocList(n);
  // insertion sort small runs
  const RUN = 8;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const x = src[i]!;
      let j = i - 1;
      while (j >= lo && lt(x, src[j]!)) {
        src[j + 1] = src[j]!;
        j--;
      }
      src[j + 1] = x;
    }
  }
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (lt(src[j]!, src[i]!)) dst[k++] = src[j++]!;
        else dst[k++] = src[i++]!;
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/**
 * The lists one after the other, in an array made at its final length: one
 * grown by push is reallocated at 1.5 times its size, and past about 89
 * million elements that would exceed V8's bound on an array, which aborts
 * the process; an array made too long at once is a RangeError ("list too
 * long", see rangeErrorMessage).
 */
function concatInners(inners: Value[][]): Value[] {
  let total = 0;
  for (let i = 0; i < inners.length; i++) total += inners[i]!.length;
  const out = allocList(total);
  let k = 0;
  for (let i = 0; i < inners.length; i++) {
    const inner = inners[i]!;
    for (let j = 0; j < inner.length; j++) out[k++] = inner[j]!;
  }
  return out;
}

/**
 * The longest array `new Array(n)` makes with fast elements (V8's
 * kMaxFastArrayLength): a longer one is made as a dictionary, whose every
 * store and load is a hash lookup (genList of 34M elements took 11.9 s,
 * against 6.9 s for 30M).
 */
export const FAST_NEW_ARRAY = 1 << 25;

/**
 * An array of length `n` to fill in (holes or nulls until then) that keeps
 * fast elements at any length: beyond FAST_NEW_ARRAY it is the concatenation
 * of shorter arrays, which V8 makes as one flat array.  Past V8's bound on an
 * array (about 134M elements) this is a RangeError, "list too long" to the
 * user (see rangeErrorMessage).
 */
export function allocList<T = Value>(n: number): T[] {
  if (n <= FAST_NEW_ARRAY) return new Array<T>(n);
  const chunk = new Array<T | null>(FAST_NEW_ARRAY).fill(null) as T[];
  const rest: T[][] = [];
  let left = n - FAST_NEW_ARRAY;
  for (; left >= FAST_NEW_ARRAY; left -= FAST_NEW_ARRAY) rest.push(chunk);
  if (left > 0) rest.push(chunk.slice(0, left));
  return chunk.concat(...rest);
}

/**
 * Which elements of a long list `pred` keeps, one byte each, called in order
 * as filter and partition call it.
 */
function keptFlags(fn: Value, list: Value[], name: 'filter' | 'partition'): { kept: Uint8Array; count: number } {
  const kept = new Uint8Array(list.length);
  let count = 0;
  const ctx = name === 'filter' ? FILTER_RESULT : PARTITION_RESULT;
  for (let i = 0; i < list.length; i++) {
    if (name === 'partition') force(list[i]!);
    if (forceBool(call1(fn, list[i]!, null), null, ctx)) {
      kept[i] = 1;
      count++;
    }
  }
  return { kept, count };
}

/** The elements of `list` whose flag is `want`, `count` of them, in order. */
function pick(list: Value[], kept: Uint8Array, want: number, count: number): Value[] {
  const out = allocList(count);
  let k = 0;
  for (let i = 0; i < list.length; i++) if (kept[i] === want) out[k++] = list[i]!;
  return out;
}

/**
 * filter of a list longer than FAST_NEW_ARRAY: its result, grown by push,
 * could outgrow V8's bound on an array (push reallocates at 1.5 times the
 * size), which aborts the process; it is made at its final length instead.
 */
export function filterLong(fn: Value, list: Value[]): Value[] {
  const { kept, count } = keptFlags(fn, list, 'filter');
  return count === list.length ? list : pick(list, kept, 1, count);
}

/** partition of a list longer than FAST_NEW_ARRAY (see filterLong). */
export function partitionLong(fn: Value, list: Value[]): Attrs {
  const { kept, count } = keptFlags(fn, list, 'partition');
  return new Attrs(
    new Map<string, Value>([
      ['right', pick(list, kept, 1, count)],
      ['wrong', pick(list, kept, 0, list.length - count)],
    ]),
  );
}
