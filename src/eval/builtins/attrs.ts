// Attribute sets: attrNames, attrValues, getAttr, hasAttr, removeAttrs,
// listToAttrs, intersectAttrs, catAttrs, mapAttrs, zipAttrsWith,
// unsafeGetAttrPos.
//
// Argument order, frames and positions follow CppNix (see registry.ts).

import { NixError } from '../errors.js';
import { call2, forceFunction, forceStringNoCtx } from '../ops.js';
import { Attrs, Thunk, compareBytes, filledArray, posInTables, type PosTable, type Value } from '../value.js';
import { argCtx, attrsArg, determinePos, lazyCall, listArg, missingAttr, withFrameAt, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'attrNames',
    args: ['set'],
    doc: 'Return the names of the attributes in the set *set* in an alphabetically sorted list. For instance, `builtins.attrNames { y = 1; x = "foo"; }` evaluates to `[ "x" "y" ]`.',
    fn: ([s]) => attrsArg(s!, argCtx('attrNames', 0)).keys().slice(),
  });

  r.add({
    name: 'attrValues',
    args: ['set'],
    doc: 'Return the values of the attributes in the set *set* in the order corresponding to the sorted attribute names.',
    fn: ([s]) => {
      const a = attrsArg(s!, argCtx('attrValues', 0));
      return a.keys().map((k) => a.get(k)!);
    },
  });

  r.add({
    name: 'getAttr',
    args: ['s', 'set'],
    doc: '`getAttr` returns the attribute named *s* from *set*. Evaluation aborts if the attribute doesn’t exist. This is a dynamic version of the `.` operator, since *s* is an expression rather than an identifier.',
    fn: ([n, s]) => {
      const name = forceStringNoCtx(n!, null, argCtx('getAttr', 0));
      const a = attrsArg(s!, argCtx('getAttr', 1));
      const v = a.forceAttr(name);
      if (v === undefined) throw missingAttr(name, 'in the attribute set under consideration');
      return v;
    },
  });

  r.add({
    name: 'hasAttr',
    args: ['s', 'set'],
    doc: '`hasAttr` returns `true` if *set* has an attribute named *s*, and `false` otherwise. This is a dynamic version of the `?` operator, since *s* is an expression rather than an identifier.',
    fn: ([n, s]) => {
      const name = forceStringNoCtx(n!, null, argCtx('hasAttr', 0));
      return attrsArg(s!, argCtx('hasAttr', 1)).has(name);
    },
  });

  r.add({
    name: 'removeAttrs',
    args: ['set', 'list'],
    global: true,
    doc: 'Remove the attributes listed in *list* from *set*. The attributes don’t have to exist in *set*. For instance,\n\n```nix\nremoveAttrs { x = 1; y = 2; z = 3; } [ "a" "x" "z" ]\n```\n\nevaluates to `{ y = 2; }`.',
    fn: ([s, l]) => {
      const a = attrsArg(s!, argCtx('removeAttrs', 0));
      const names = listArg(l!, argCtx('removeAttrs', 1));
      if (names.length === 0) return a;
      // (always an array of one kind, whatever kind of array the list is: `without`'s
      // optimised code is not thrown away when the other kind turns up)
      const remove = new Array<string>(names.length);
      for (let i = 0; i < names.length; i++) {
        remove[i] = forceStringNoCtx(names[i]!, null, 'while evaluating the values of the second argument passed to builtins.removeAttrs');
      }
      return a.without(remove);
    },
  });

  r.add({
    name: 'listToAttrs',
    args: ['e'],
    doc: 'Construct a set from a list specifying the names and values of each attribute. Each element of the list should be a set consisting of a string-valued attribute `name` specifying the name of the attribute, and an attribute `value` specifying its value.\n\nIn case of duplicate occurrences of the same name, the first takes precedence.',
    fn: ([l]) => {
      const list = listArg(l!, argCtx('listToAttrs', 0));
      const pair = 'in a {name=...; value=...;} pair';
      const nameCtx = 'while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs';
      // CppNix evaluates every name first, then takes the values in name order
      // (the first element with a given name wins); sorting only matters for
      // which error comes first, so it is done only when there is one.
      // (one loop, with everything after it that V8 would need type feedback
      // for made before it: a long first call's loop is compiled while it runs
      // (OSR), and code that had never run would throw that compilation away)
      const names = new Array<string>(list.length);
      const elems = new Array<Attrs>(list.length);
      const m = new Map<string, Value>();
      const res = new Attrs(m);
      // An attribute is defined where its `value` is: looked up only when asked
      // (the table of which element defined which name is made then too).  Only
      // the elements' position tables are kept, not the elements: those of a
      // package set's `{ name = …; value = …; }` pairs are all the same array.
      const tables = new Array<PosTable[] | null>(list.length);
      let from: Map<string, PosTable[] | null> | null = null;
      res.addPosLookup((name) => {
        if (from === null) {
          from = new Map();
          for (let i = 0; i < names.length; i++) if (!from.has(names[i]!)) from.set(names[i]!, tables[i]!);
        }
        const t = from.get(name);
        return t ? posInTables(t, 'value') : undefined;
      });
      let missing = false;
      let dup = false;
      for (let i = 0; i < list.length; i++) {
        const a = attrsArg(list[i]!, 'while evaluating an element of the list passed to builtins.listToAttrs');
        const nv = a.get('name');
        if (nv === undefined) throw missingAttr('name', pair);
        elems[i] = a;
        tables[i] = a.positionTables;
        let nf: Value = nv;
        // (a name is a plain string or a thunk of one, mostly: each test only
        // ever sees values of the kinds it was made for)
        if (typeof nf !== 'string' && nf instanceof Thunk) {
          // (no closures per element: this loop runs for every package of a package set)
          try {
            nf = nf.force();
          } catch (e) {
            if (e instanceof NixError) e.addTrace(nameCtx, a.posOf('name') ?? null);
            throw e;
          }
        }
        let name: string;
        if (typeof nf === 'string') name = nf;
        else {
          const namePos = a.posOf('name') ?? null;
          name = withFrameAt(namePos, nameCtx, () => forceStringNoCtx(nf, namePos));
        }
        names[i] = name;
        // (values are taken as the names come, first one winning: only a
        // missing `value` waits for all names, whose errors come first)
        // (one Map operation per element while no name has come twice: a set
        // that does not grow found a duplicate, whose first value is put back;
        // the loop then looks before it sets)
        if (missing || (dup && m.has(name))) continue;
        const v = a.get('value');
        if (v === undefined) {
          if (!m.has(name)) missing = true;
          continue;
        }
        const size = m.size;
        m.set(name, v);
        if (m.size === size) {
          dup = true;
          m.set(name, elems[names.indexOf(name)]!.get('value')!);
        }
      }
      if (missing) {
        // report the error CppNix reports: the first in name order
        const order = names.map((n, i) => [n, i] as const).sort((x, y) => compareBytes(x[0], y[0]) || x[1] - y[1]);
        const seen = new Set<string>();
        for (const [n, i] of order) {
          if (seen.has(n)) continue;
          seen.add(n);
          if (elems[i]!.get('value') === undefined) throw missingAttr('value', pair);
        }
      }
      return res;
    },
  });

  r.add({
    name: 'intersectAttrs',
    args: ['e1', 'e2'],
    doc: 'Return a set consisting of the attributes in the set *e2* which have the same name as some attribute in *e1*.',
    fn: ([x, y]) => {
      const a = attrsArg(x!, argCtx('intersectAttrs', 0));
      const b = attrsArg(y!, argCtx('intersectAttrs', 1));
      const la = a.slotLayout;
      if (la !== null && la.keys.length <= 30) {
        // e1 made by a literal or functionArgs (callPackage): a set of e1's
        // layout's names, sharing one Layout per combination
        const ks = la.keys;
        const vals: Value[] = [null];
        let mask = 0;
        for (let i = 0; i < ks.length; i++) {
          const v = b.get(ks[i]!);
          if (v !== undefined) {
            mask |= 1 << i;
            vals.push(v);
          }
        }
        return Attrs.slots(la.subset(mask), vals, b.positionTables);
      }
      const m = new Map<string, Value>();
      if (a.size < b.size) {
        a.forEach((k) => {
          const v = b.get(k);
          if (v !== undefined) m.set(k, v);
        });
      } else {
        b.forEach((k, v) => {
          if (a.has(k)) m.set(k, v);
        });
      }
      return new Attrs(m, null, [b]);
    },
  });

  r.add({
    name: 'catAttrs',
    args: ['attr', 'list'],
    doc: 'Collect each attribute named *attr* from a list of attribute sets. Attrsets that don’t contain the named attribute are ignored.',
    fn: ([n, l]) => {
      const name = forceStringNoCtx(n!, null, argCtx('catAttrs', 0));
      const list = listArg(l!, argCtx('catAttrs', 1));
      const out: Value[] = [];
      for (const el of list) {
        const a = attrsArg(el, 'while evaluating an element in the list passed as second argument to builtins.catAttrs');
        const v = a.get(name);
        if (v !== undefined) out.push(v);
      }
      return out;
    },
  });

  r.add({
    name: 'mapAttrs',
    args: ['f', 'attrset'],
    doc: 'Apply function *f* to every element of *attrset*. For example,\n\n```nix\nbuiltins.mapAttrs (name: value: value * 10) { a = 1; b = 2; }\n```\n\nevaluates to `{ a = 10; b = 20; }`.',
    fn: ([f, s]) => {
      const a = attrsArg(s!, argCtx('mapAttrs', 1));
      const fn = f!;
      // CppNix does not evaluate the function here: until one of these
      // applications has evaluated it, its position is unknown (no "from call
      // site" frame); tsnix has no thunk for a lambda literal, so track that.
      let fnSeen = fn instanceof Thunk;
      const mk = (k: string, v: Value) =>
        new Thunk(() => {
          const pos = fnSeen ? determinePos(fn) : null;
          fnSeen = true;
          return call2(fn, k, v, pos);
        }, null);
      // the new attributes have no positions (as in CppNix)
      const layout = a.slotLayout;
      if (layout !== null) {
        // same names as a literal's set: share its layout
        const vals = filledArray(layout.keys.length + 1, null);
        let i = 1;
        a.forEach((k, v) => (vals[i++] = mk(k, v)));
        return Attrs.slots(layout, vals, null);
      }
      // a big set: each value is made when first looked up
      if (a.size > 16) return Attrs.mapped(a, mk);
      const m = new Map<string, Value>();
      a.forEach((k, v) => m.set(k, mk(k, v)));
      return new Attrs(m);
    },
  });

  r.add({
    name: 'zipAttrsWith',
    args: ['f', 'list'],
    doc: 'Transpose a list of attribute sets into an attribute set of lists, then apply `mapAttrs`.\n\n`f` receives two arguments: the attribute name and a non-empty list of all values encountered for that attribute name.',
    fn: ([f, l]) => {
      forceFunction(f!, null, argCtx('zipAttrsWith', 0));
      const list = listArg(l!, argCtx('zipAttrsWith', 1));
      const acc = new Map<string, Value[]>();
      for (const el of list) {
        const a = attrsArg(el, 'while evaluating a value of the list passed as second argument to builtins.zipAttrsWith');
        a.forEach((k, v) => {
          let arr = acc.get(k);
          if (!arr) acc.set(k, (arr = []));
          arr.push(v);
        });
      }
      const fn = f!;
      const m = new Map<string, Value>();
      for (const [k, vs] of acc) m.set(k, lazyCall(fn, [k, vs]));
      return new Attrs(m);
    },
  });

  r.add({
    name: 'unsafeGetAttrPos',
    args: ['s', 'set'],
    doc: '`unsafeGetAttrPos` returns the position of the attribute named *s* from *set*. This is used by Nixpkgs to provide location information in error messages.',
    fn: ([n, s]) => {
      const name = forceStringNoCtx(n!, null, argCtx('unsafeGetAttrPos', 0));
      const a = attrsArg(s!, argCtx('unsafeGetAttrPos', 1));
      const p = a.posOf(name);
      if (!p) return null;
      const lc = p.src.position(p.offset);
      return new Attrs(
        new Map<string, Value>([
          ['column', lc.column],
          ['file', p.src.path ?? p.src.origin],
          ['line', lc.line],
        ]),
      );
    },
  });
}
