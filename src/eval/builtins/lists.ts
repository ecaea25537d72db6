// Lists: map, filter, elem, elemAt, head, tail, length, foldl', genList,
// sort, concatLists, concatMap, all, any, partition, groupBy,
// genericClosure.

import { NixError } from '../errors.js';
import { call1, callN, eqValues, fnPos, forceAttrs, forceBool, forceFunction, forceList, forceSmallInt, forceString, lessThan } from '../ops.js';
import { Attrs, Thunk, force, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'map',
    args: ['f', 'list'],
    global: true,
    doc: 'Apply the function *f* to each element in the list *list*. For example,\n\n```nix\nmap (x: "foo" + x) [ "bar" "bla" "abc" ]\n```\n\nevaluates to `[ "foobar" "foobla" "fooabc" ]`.',
    fn: ([f, l], site) => {
      const list = forceList(l!, site.pos, argCtx('map', 1));
      const fn = f!;
      const n = list.length;
      const out = new Array<Value>(n);
      for (let i = 0; i < n; i++) {
        const x = list[i]!;
        out[i] = new Thunk(() => call1(fn, x, null), null);
      }
      return out;
    },
  });

  r.add({
    name: 'filter',
    args: ['f', 'list'],
    doc: 'Return a list consisting of the elements of *list* for which the function *f* returns `true`.',
    fn: ([f, l], site) => {
      const fn = forceFunction(f!, site.pos, argCtx('filter', 0));
      const list = forceList(l!, site.pos, argCtx('filter', 1));
      const out: Value[] = [];
      for (const x of list) {
        if (forceBool(call1(fn, x, null), fnPos(fn, site.pos), 'while evaluating the return value of the filtering function passed to builtins.filter')) out.push(x);
      }
      return out.length === list.length ? list : out;
    },
  });

  r.add({
    name: 'elem',
    args: ['x', 'xs'],
    doc: 'Return `true` if a value equal to *x* occurs in the list *xs*, and `false` otherwise.',
    fn: ([x, l], site) => {
      const list = forceList(l!, site.pos, argCtx('elem', 1));
      for (const y of list) if (eqValues(x!, y, site.pos)) return true;
      return false;
    },
  });

  r.add({
    name: 'elemAt',
    args: ['xs', 'n'],
    doc: 'Return element *n* from the list *xs*. Elements are counted starting from 0. A fatal error occurs if the index is out of bounds.',
    fn: ([l, i], site) => {
      const list = forceList(l!, site.pos, argCtx('elemAt', 0));
      const n = forceSmallInt(i!, site.pos, argCtx('elemAt', 1));
      if (n < 0 || n >= list.length) throw new NixError(`'builtins.elemAt' called with index ${n} on a list of size ${list.length}`, site.pos);
      return force(list[n]!);
    },
  });

  r.add({
    name: 'head',
    args: ['list'],
    doc: 'Return the first element of a list; abort evaluation if the argument isn’t a list or is an empty list. You can test whether a list is empty by comparing it with `[]`.',
    fn: ([l], site) => {
      const list = forceList(l!, site.pos, argCtx('head', 0));
      if (list.length === 0) throw new NixError("'builtins.head' called on an empty list", site.pos);
      return force(list[0]!);
    },
  });

  r.add({
    name: 'tail',
    args: ['list'],
    doc: 'Return the list without its first item; abort evaluation if the argument isn’t a list or is an empty list.',
    fn: ([l], site) => {
      const list = forceList(l!, site.pos, argCtx('tail', 0));
      if (list.length === 0) throw new NixError("'builtins.tail' called on an empty list", site.pos);
      return list.slice(1);
    },
  });

  r.add({
    name: 'length',
    args: ['e'],
    doc: 'Return the length of the list *e*.',
    fn: ([l], site) => forceList(l!, site.pos, argCtx('length', 0)).length,
  });

  r.add({
    name: "foldl'",
    args: ['op', 'nul', 'list'],
    doc: 'Reduce a list by applying a binary operator, from left to right, e.g. `foldl\' op nul [x0 x1 x2 ...] = op (op (op nul x0) x1) x2) ...`.\n\nThe operator is applied strictly, i.e., its arguments are evaluated first.',
    fn: ([f, z, l], site) => {
      const fn = forceFunction(f!, site.pos, argCtx("foldl'", 0));
      const list = forceList(l!, site.pos, argCtx("foldl'", 2));
      let acc: Value = z!;
      if (list.length === 0) return force(acc);
      for (const x of list) acc = callN(fn, [acc, x], null);
      return force(acc);
    },
  });

  r.add({
    name: 'genList',
    args: ['generator', 'length'],
    doc: 'Generate list of size *length*, with each element *i* equal to the value returned by *generator* `i`.',
    fn: ([f, n], site) => {
      const len = forceSmallInt(n!, site.pos, argCtx('genList', 1));
      if (len < 0) throw new NixError(`cannot create list of size ${len}`, site.pos);
      const fn = f!;
      const out = new Array<Value>(len);
      for (let i = 0; i < len; i++) out[i] = new Thunk(() => call1(fn, i, null), null);
      return out;
    },
  });

  r.add({
    name: 'sort',
    args: ['comparator', 'list'],
    doc: 'Return *list* in sorted order. It repeatedly calls the function *comparator* with two elements. The comparator should return `true` if the first element is less than the second, and `false` otherwise.\n\nThis is a stable sort: it preserves the relative order of elements deemed equal by the comparator.',
    fn: ([f, l], site) => {
      const list = forceList(l!, site.pos, argCtx('sort', 1));
      const fn = forceFunction(f!, site.pos, argCtx('sort', 0));
      if (list.length <= 1) return list.length ? [force(list[0]!)] : list;
      const items = list.map((x) => force(x));
      const lt = (a: Value, b: Value) =>
        forceBool(callN(fn, [a, b], null), fnPos(fn, site.pos), 'while evaluating the return value of the sorting function passed to builtins.sort');
      return mergeSort(items, lt);
    },
  });

  r.add({
    name: 'concatLists',
    args: ['lists'],
    doc: 'Concatenate a list of lists into a single list.',
    fn: ([l], site) => {
      const lists = forceList(l!, site.pos, argCtx('concatLists', 0));
      const out: Value[] = [];
      for (const x of lists) {
        const inner = forceList(x, site.pos, 'while evaluating a value of the list passed to builtins.concatLists');
        for (const y of inner) out.push(y);
      }
      return out;
    },
  });

  r.add({
    name: 'concatMap',
    args: ['f', 'list'],
    doc: 'This function is equivalent to `builtins.concatLists (map f list)` but is more efficient.',
    fn: ([f, l], site) => {
      const fn = forceFunction(f!, site.pos, argCtx('concatMap', 0));
      const list = forceList(l!, site.pos, argCtx('concatMap', 1));
      const out: Value[] = [];
      for (const x of list) {
        const inner = forceList(call1(fn, x, null), fnPos(fn, site.pos), 'while evaluating the return value of the function passed to builtins.concatMap');
        for (const y of inner) out.push(y);
      }
      return out;
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
      fn: ([f, l], site) => {
        const fn = forceFunction(f!, site.pos, argCtx(name, 0));
        const list = forceList(l!, site.pos, argCtx(name, 1));
        for (const x of list) {
          const b = forceBool(call1(fn, x, null), fnPos(fn, site.pos), `while evaluating the return value of the function passed to builtins.${name}`);
          if (name === 'any' && b) return true;
          if (name === 'all' && !b) return false;
        }
        return name === 'all';
      },
    });
  anyAll('any');
  anyAll('all');

  r.add({
    name: 'partition',
    args: ['pred', 'list'],
    doc: 'Given a predicate function *pred*, this function returns an attrset containing a list named `right`, containing the elements in *list* for which *pred* returned `true`, and a list named `wrong`, containing the elements for which it returned `false`.',
    fn: ([f, l], site) => {
      const fn = forceFunction(f!, site.pos, argCtx('partition', 0));
      const list = forceList(l!, site.pos, argCtx('partition', 1));
      const right: Value[] = [];
      const wrong: Value[] = [];
      for (const x of list) {
        if (forceBool(call1(fn, x, null), fnPos(fn, site.pos), 'while evaluating the return value of the partition function passed to builtins.partition')) right.push(x);
        else wrong.push(x);
      }
      return new Attrs(
        new Map<string, Value>([
          ['right', right],
          ['wrong', wrong],
        ]),
      );
    },
  });

  r.add({
    name: 'groupBy',
    args: ['f', 'list'],
    doc: 'Groups elements of *list* together by the string returned from the function *f* called on each element. It returns an attribute set where each attribute value contains the elements of *list* that are mapped to the same corresponding attribute name returned by *f*.',
    fn: ([f, l], site) => {
      const fn = forceFunction(f!, site.pos, argCtx('groupBy', 0));
      const list = forceList(l!, site.pos, argCtx('groupBy', 1));
      const groups = new Map<string, Value[]>();
      for (const x of list) {
        const k = forceString(call1(fn, x, null), fnPos(fn, site.pos), 'while evaluating the return value of the grouping function passed to builtins.groupBy');
        let g = groups.get(k);
        if (!g) groups.set(k, (g = []));
        g.push(x);
      }
      return new Attrs(groups as Map<string, Value>);
    },
  });

  r.add({
    name: 'genericClosure',
    args: ['attrset'],
    doc: '`builtins.genericClosure` iteratively computes the transitive closure over an arbitrary relation defined by a function.\n\nIt takes an attribute set with two attributes, `startSet` (a list of attribute sets, each with a `key` attribute) and `operator` (a function returning a list of such sets for a given set). Items are deduplicated by comparing their `key` with `==`.',
    fn: ([a], site) => {
      const args = forceAttrs(a!, site.pos, argCtx('genericClosure', 0));
      const ss = args.get('startSet');
      if (ss === undefined) throw new NixError("attribute 'startSet' missing", site.pos).addTrace('in the attrset passed as argument to builtins.genericClosure');
      const start = forceList(ss, site.pos, "while evaluating the 'startSet' attribute passed as argument to builtins.genericClosure");
      const opv = args.get('operator');
      if (opv === undefined) throw new NixError("attribute 'operator' missing", site.pos).addTrace('in the attrset passed as argument to builtins.genericClosure');
      const op = forceFunction(opv, site.pos, "while evaluating the 'operator' attribute passed as argument to builtins.genericClosure");
      const work = [...start];
      const res: Value[] = [];
      const keys: Value[] = [];
      while (work.length) {
        const e = forceAttrs(work.shift()!, site.pos, 'while evaluating one of the elements generated by (or initially passed to) builtins.genericClosure');
        const key = e.get('key');
        if (key === undefined) throw new NixError("attribute 'key' missing", site.pos).addTrace('in one of the attrsets generated by (or initially passed to) builtins.genericClosure');
        const kv = force(key);
        let dup = false;
        for (const k of keys) {
          if (!isComparableSameType(k, kv)) {
            lessThan(k, kv, site.pos); // throws CppNix's "cannot compare" error
          }
          if (eqValues(k, kv, site.pos)) {
            dup = true;
            break;
          }
        }
        if (dup) continue;
        keys.push(kv);
        res.push(e);
        const next = forceList(call1(op, e, null), fnPos(op, site.pos), 'while evaluating the return value of the `operator` passed to builtins.genericClosure');
        for (const x of next) work.push(x);
      }
      return res;
    },
  });
}

function isComparableSameType(a: Value, b: Value): boolean {
  const num = (v: Value) => typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'object' && v !== null && v.constructor.name === 'NixFloat');
  if (num(a) && num(b)) return true;
  const str = (v: Value) => typeof v === 'string' || (typeof v === 'object' && v !== null && v.constructor.name === 'NixStr');
  if (str(a) && str(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return true;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && a.constructor === b.constructor) {
    return a.constructor.name === 'NixPath';
  }
  return false;
}

/** A stable merge sort that calls `lt` like CppNix (which uses std::stable_sort). */
function mergeSort(a: Value[], lt: (x: Value, y: Value) => boolean): Value[] {
  const n = a.length;
  let src = a.slice();
  let dst = new Array<Value>(n);
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
