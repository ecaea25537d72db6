// Flat, non-recursive encoding of a tree of plain objects, arrays and Maps.
// Structured clone (postMessage) recurses over the value it copies, so a very
// deep AST cannot be sent from the parse worker as is; its flattened form is
// at most three levels deep.  Both directions use explicit work stacks.

type Ref = { $: number };
type Entry =
  | { t: 'o'; k: string[]; v: unknown[] }
  | { t: 'a'; v: unknown[] }
  | { t: 'm'; k: unknown[]; v: unknown[] };

export interface Flat {
  entries: Entry[];
}

const isContainer = (x: unknown): x is object => typeof x === 'object' && x !== null;

/** Encodes `root` (a tree: no sharing is preserved, cycles are not allowed). */
export function flatten(root: unknown): Flat {
  const entries: Entry[] = [];
  const work: [object, number][] = [];
  const ref = (x: unknown): unknown => {
    if (!isContainer(x)) return x;
    const idx = entries.length;
    entries.push(undefined as unknown as Entry);
    work.push([x, idx]);
    return { $: idx } as Ref;
  };
  ref(root);
  while (work.length) {
    const [x, idx] = work.pop()!;
    if (Array.isArray(x)) {
      entries[idx] = { t: 'a', v: x.map(ref) };
    } else if (x instanceof Map) {
      const k: unknown[] = [];
      const v: unknown[] = [];
      for (const [key, val] of x) {
        k.push(ref(key));
        v.push(ref(val));
      }
      entries[idx] = { t: 'm', k, v };
    } else {
      const k = Object.keys(x);
      entries[idx] = { t: 'o', k, v: k.map((key) => ref((x as Record<string, unknown>)[key])) };
    }
  }
  return { entries };
}

/** Decodes the output of flatten. */
export function unflatten(flat: Flat): unknown {
  const { entries } = flat;
  const objs: unknown[] = entries.map((e) => (e.t === 'a' ? [] : e.t === 'm' ? new Map() : {}));
  const deref = (v: unknown): unknown => (isContainer(v) ? objs[(v as Ref).$] : v);
  entries.forEach((e, i) => {
    const o = objs[i];
    if (e.t === 'a') {
      const arr = o as unknown[];
      for (const v of e.v) arr.push(deref(v));
    } else if (e.t === 'm') {
      const m = o as Map<unknown, unknown>;
      for (let j = 0; j < e.k.length; j++) m.set(deref(e.k[j]), deref(e.v[j]));
    } else {
      const r = o as Record<string, unknown>;
      for (let j = 0; j < e.k.length; j++) r[e.k[j]!] = deref(e.v[j]);
    }
  });
  return objs[0];
}
