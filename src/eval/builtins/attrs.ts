// Attribute sets: attrNames, attrValues, getAttr, hasAttr, removeAttrs,
// listToAttrs, intersectAttrs, catAttrs, mapAttrs, zipAttrsWith,
// unsafeGetAttrPos.

import { NixError } from '../errors.js';
import { call1, callN, didYouMean, forceAttrs, forceFunction, forceList, forceString } from '../ops.js';
import { Attrs, Thunk, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'attrNames',
    args: ['set'],
    doc: 'Return the names of the attributes in the set *set* in an alphabetically sorted list. For instance, `builtins.attrNames { y = 1; x = "foo"; }` evaluates to `[ "x" "y" ]`.',
    fn: ([s], site) => forceAttrs(s!, site.pos, argCtx('attrNames', 0)).keys().slice(),
  });

  r.add({
    name: 'attrValues',
    args: ['set'],
    doc: 'Return the values of the attributes in the set *set* in the order corresponding to the sorted attribute names.',
    fn: ([s], site) => {
      const a = forceAttrs(s!, site.pos, argCtx('attrValues', 0));
      return a.keys().map((k) => a.get(k)!);
    },
  });

  r.add({
    name: 'getAttr',
    args: ['s', 'set'],
    doc: '`getAttr` returns the attribute named *s* from *set*. Evaluation aborts if the attribute doesn’t exist. This is a dynamic version of the `.` operator, since *s* is an expression rather than an identifier.',
    fn: ([n, s], site) => {
      const name = forceString(n!, site.pos, argCtx('getAttr', 0));
      const a = forceAttrs(s!, site.pos, argCtx('getAttr', 1));
      const v = a.get(name);
      if (v === undefined) {
        const e = new NixError(`attribute '${name}' missing`, site.pos);
        e.hint = didYouMean(name, a.keys());
        throw e;
      }
      return v instanceof Thunk ? v.force() : v;
    },
  });

  r.add({
    name: 'hasAttr',
    args: ['s', 'set'],
    doc: '`hasAttr` returns `true` if *set* has an attribute named *s*, and `false` otherwise. This is a dynamic version of the `?` operator, since *s* is an expression rather than an identifier.',
    fn: ([n, s], site) => {
      const name = forceString(n!, site.pos, argCtx('hasAttr', 0));
      return forceAttrs(s!, site.pos, argCtx('hasAttr', 1)).has(name);
    },
  });

  r.add({
    name: 'removeAttrs',
    args: ['set', 'list'],
    global: true,
    doc: 'Remove the attributes listed in *list* from *set*. The attributes don’t have to exist in *set*. For instance,\n\n```nix\nremoveAttrs { x = 1; y = 2; z = 3; } [ "a" "x" "z" ]\n```\n\nevaluates to `{ y = 2; }`.',
    fn: ([s, l], site) => {
      const a = forceAttrs(s!, site.pos, argCtx('removeAttrs', 0));
      const names = forceList(l!, site.pos, argCtx('removeAttrs', 1));
      if (names.length === 0) return a;
      const m = new Map(a.m);
      for (const n of names) m.delete(forceString(n, site.pos, 'while evaluating the values of the second argument passed to builtins.removeAttrs'));
      return new Attrs(m, null, [a]);
    },
  });

  r.add({
    name: 'listToAttrs',
    args: ['e'],
    doc: 'Construct a set from a list specifying the names and values of each attribute. Each element of the list should be a set consisting of a string-valued attribute `name` specifying the name of the attribute, and an attribute `value` specifying its value.\n\nIn case of duplicate occurrences of the same name, the first takes precedence.',
    fn: ([l], site) => {
      const list = forceList(l!, site.pos, argCtx('listToAttrs', 0));
      const m = new Map<string, Value>();
      for (const el of list) {
        const a = forceAttrs(el, site.pos, 'while evaluating an element of the list passed to builtins.listToAttrs');
        const nv = a.get('name');
        if (nv === undefined) throw new NixError(`attribute 'name' missing`, site.pos);
        const name = forceString(nv, site.pos, 'while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs');
        if (m.has(name)) continue;
        const v = a.get('value');
        if (v === undefined) throw new NixError(`attribute 'value' missing`, site.pos);
        m.set(name, v);
      }
      return new Attrs(m);
    },
  });

  r.add({
    name: 'intersectAttrs',
    args: ['e1', 'e2'],
    doc: 'Return a set consisting of the attributes in the set *e2* which have the same name as some attribute in *e1*.',
    fn: ([x, y], site) => {
      const a = forceAttrs(x!, site.pos, argCtx('intersectAttrs', 0));
      const b = forceAttrs(y!, site.pos, argCtx('intersectAttrs', 1));
      const m = new Map<string, Value>();
      if (a.size < b.size) {
        for (const k of a.m.keys()) {
          const v = b.m.get(k);
          if (v !== undefined) m.set(k, v);
        }
      } else {
        for (const [k, v] of b.m) if (a.m.has(k)) m.set(k, v);
      }
      return new Attrs(m, null, [b]);
    },
  });

  r.add({
    name: 'catAttrs',
    args: ['attr', 'list'],
    doc: 'Collect each attribute named *attr* from a list of attribute sets. Attrsets that don’t contain the named attribute are ignored.',
    fn: ([n, l], site) => {
      const name = forceString(n!, site.pos, argCtx('catAttrs', 0));
      const list = forceList(l!, site.pos, argCtx('catAttrs', 1));
      const out: Value[] = [];
      for (const el of list) {
        const a = forceAttrs(el, site.pos, 'while evaluating an element in the list passed as second argument to builtins.catAttrs');
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
    fn: ([f, s], site) => {
      const a = forceAttrs(s!, site.pos, argCtx('mapAttrs', 1));
      const fn = f!;
      const m = new Map<string, Value>();
      for (const [k, v] of a.m) m.set(k, new Thunk(() => callN(fn, [k, v], null), null));
      return new Attrs(m, null, [a]);
    },
  });

  r.add({
    name: 'zipAttrsWith',
    args: ['f', 'list'],
    doc: 'Transpose a list of attribute sets into an attribute set of lists, then apply `mapAttrs`.\n\n`f` receives two arguments: the attribute name and a non-empty list of all values encountered for that attribute name.',
    fn: ([f, l], site) => {
      const list = forceList(l!, site.pos, argCtx('zipAttrsWith', 1));
      const acc = new Map<string, Value[]>();
      for (const el of list) {
        const a = forceAttrs(el, site.pos, 'while evaluating a value of the list passed as second argument to builtins.zipAttrsWith');
        for (const [k, v] of a.m) {
          let arr = acc.get(k);
          if (!arr) acc.set(k, (arr = []));
          arr.push(v);
        }
      }
      const fn = f!;
      const m = new Map<string, Value>();
      for (const [k, vs] of acc) m.set(k, new Thunk(() => callN(fn, [k, vs], null), null));
      return new Attrs(m);
    },
  });

  r.add({
    name: 'unsafeGetAttrPos',
    args: ['s', 'set'],
    doc: '`unsafeGetAttrPos` returns the position of the attribute named *s* from *set*. This is used by Nixpkgs to provide location information in error messages.',
    fn: ([n, s], site) => {
      const name = forceString(n!, site.pos, argCtx('unsafeGetAttrPos', 0));
      const a = forceAttrs(s!, site.pos, argCtx('unsafeGetAttrPos', 1));
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

  void call1;
  void forceFunction;
}
