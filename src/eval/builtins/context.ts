// String contexts: getContext, appendContext, hasContext,
// unsafeDiscardStringContext, unsafeDiscardOutputDependency,
// addDrvOutputDependencies.
//
// Context elements use CppNix's encoding: `/nix/store/…` (an opaque path),
// `=/nix/store/….drv` (a derivation with all its outputs),
// `!OUT!/nix/store/….drv` (one output of a derivation).

//
// Argument frames and positions follow CppNix (see registry.ts).

import { NixError } from '../errors.js';
import { coerceToString, forceAttrs, forceBool, forceList, forceStringNoCtx, forceStringValue } from '../ops.js';
import { Attrs, force, mkStr, type Context, type Value } from '../value.js';
import { argCtx, attrsArg, withFrameAt, type Registry } from './registry.js';

/** CppNix's "while evaluating the argument passed to builtins.X" (these builtins have one argument). */
const theArg = (name: string) => `while evaluating the argument passed to builtins.${name}`;

/** coerceToString as these builtins use it (paths are copied to the store). */
function coerced(v: Value, name: string): { s: string; ctx: Context } {
  return coerceToString(force(v), null, { copyToStore: true, errCtx: theArg(name) });
}

export function register(r: Registry): void {
  const storeDir = () => r.state.store.storeDir;

  r.add({
    name: 'getContext',
    args: ['s'],
    doc: 'Return the string context of *s*.\n\nThe string context tracks references to derivations within a string. It is represented as an attribute set of store derivation paths mapping to output names.',
    fn: ([s]) => {
      const v = forceStringValue(s!, null, theArg('getContext'));
      if (typeof v === 'string') return Attrs.EMPTY;
      const acc = new Map<string, { path: boolean; all: boolean; outputs: string[] }>();
      const get = (p: string) => {
        let e = acc.get(p);
        if (!e) acc.set(p, (e = { path: false, all: false, outputs: [] }));
        return e;
      };
      for (const c of v.ctx) {
        if (c.startsWith('=')) get(c.slice(1)).all = true;
        else if (c.startsWith('!')) {
          const i = c.indexOf('!', 1);
          get(c.slice(i + 1)).outputs.push(c.slice(1, i));
        } else get(c).path = true;
      }
      const m = new Map<string, Value>();
      for (const [p, e] of acc) {
        const inner = new Map<string, Value>();
        if (e.all) inner.set('allOutputs', true);
        if (e.outputs.length) inner.set('outputs', [...e.outputs].sort());
        if (e.path) inner.set('path', true);
        m.set(p, new Attrs(inner));
      }
      return new Attrs(m);
    },
  });

  r.add({
    name: 'hasContext',
    args: ['s'],
    doc: 'Return `true` if string *s* has a non-empty context. The context can be obtained with `getContext`.',
    fn: ([s]) => {
      const v = forceStringValue(s!, null, theArg('hasContext'));
      return typeof v !== 'string' && v.ctx.size > 0;
    },
  });

  r.add({
    name: 'unsafeDiscardStringContext',
    args: ['s'],
    doc: 'Discard the string context from a value that can be coerced to a string.',
    fn: ([s]) => coerced(s!, 'unsafeDiscardStringContext').s,
  });

  r.add({
    name: 'unsafeDiscardOutputDependency',
    args: ['s'],
    doc: 'Create a copy of the given string where every "derivation deep" string context element is turned into a constant string context element.\n\nThis is the opposite of `builtins.addDrvOutputDependencies`.',
    fn: ([s]) => {
      const v = coerced(s!, 'unsafeDiscardOutputDependency');
      const ctx = new Set<string>();
      for (const c of v.ctx) ctx.add(c.startsWith('=') ? c.slice(1) : c);
      return mkStr(v.s, ctx);
    },
  });

  r.add({
    name: 'addDrvOutputDependencies',
    args: ['s'],
    doc: 'Create a copy of the given string where a single constant string context element is turned into a "derivation deep" string context element.\n\nThe store path that is the constant string context element should point to a valid derivation, and end in `.drv`.\n\nThe original string context element must not be empty or have multiple elements, and it must not have any other type of element other than a constant or derivation deep element. The latter is supported so this function is idempotent.\n\nThis is the opposite of `builtins.unsafeDiscardOutputDependency`.',
    fn: ([s]) => {
      const { s: str, ctx } = coerced(s!, 'addDrvOutputDependencies');
      if (ctx.size !== 1) {
        throw new NixError(`context of string '${str}' must have exactly one element, but has ${ctx.size}`);
      }
      const c = [...ctx][0]!;
      if (c.startsWith('=')) return mkStr(str, ctx);
      if (c.startsWith('!')) {
        const i = c.indexOf('!', 1);
        throw new NixError(`\`addDrvOutputDependencies\` can only act on derivations, not on a derivation output such as '${c.slice(1, i)}'`);
      }
      if (!c.endsWith('.drv')) throw new NixError(`path '${c}' is not a derivation`);
      return mkStr(str, new Set(['=' + c]));
    },
  });

  r.add({
    name: 'appendContext',
    args: ['s', 'context'],
    doc: 'Append the given context to a string, in the format returned by `builtins.getContext`.',
    fn: ([s, c]) => {
      const v = forceStringValue(s!, null, argCtx('appendContext', 0));
      const str = typeof v === 'string' ? v : v.s;
      const ctx = new Set(typeof v === 'string' ? [] : v.ctx);
      const attrs = attrsArg(c!, argCtx('appendContext', 1));
      for (const p of attrs.keys()) {
        // errors about an entry are at its position; a type error of an attribute of it is at that attribute
        const ppos = attrs.posOf(p) ?? null;
        if (!p.startsWith(storeDir() + '/') || p.slice(storeDir().length + 1).includes('/')) {
          throw new NixError(`context key '${p}' is not a store path`, ppos);
        }
        const info = forceAttrs(force(attrs.get(p)!), ppos, 'while evaluating the value of a string context');
        const at = (k: string) => info.posOf(k) ?? null;
        const pathV = info.get('path');
        if (pathV !== undefined) {
          const ctxMsg = 'while evaluating the `path` attribute of a string context';
          if (withFrameAt(at('path'), ctxMsg, () => forceBool(pathV, at('path')))) ctx.add(p);
        }
        const allV = info.get('allOutputs');
        if (allV !== undefined) {
          const ctxMsg = 'while evaluating the `allOutputs` attribute of a string context';
          if (withFrameAt(at('allOutputs'), ctxMsg, () => forceBool(allV, at('allOutputs')))) {
            if (!p.endsWith('.drv')) throw new NixError(`tried to add all-outputs context of ${p}, which is not a derivation, to a string`, ppos);
            ctx.add('=' + p);
          }
        }
        const outsV = info.get('outputs');
        if (outsV !== undefined) {
          const opos = at('outputs');
          const outs = forceList(force(outsV), opos, 'while evaluating the `outputs` attribute of a string context');
          if (outs.length && !p.endsWith('.drv')) throw new NixError(`tried to add derivation output context of ${p}, which is not a derivation, to a string`, ppos);
          for (const o of outs) {
            const name = withFrameAt(opos, 'while evaluating an output name within a string context', () => forceStringNoCtx(o, opos));
            ctx.add(`!${name}!${p}`);
          }
        }
      }
      return mkStr(str, ctx);
    },
  });
}
