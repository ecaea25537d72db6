// Builtins of CppNix that tsnix does not implement yet.  They exist (so that
// `builtins ? x` and `builtins.attrNames builtins` agree with CppNix) but
// calling them is a clear error.

import { NixError } from '../errors.js';
import type { Registry } from './registry.js';

const MISSING: [name: string, args: string[], global?: boolean][] = [];

/** Registered by other groups as they land; anything in MISSING not yet defined is added here. */
export function register(r: Registry): void {
  for (const [name, args, global] of MISSING) {
    if (r.state.builtinDefs.has(name)) continue;
    r.add({
      name,
      args,
      global,
      doc: `Not implemented in tsnix yet.`,
      fn: () => {
        throw new NixError(`builtins.${name} is not implemented in tsnix yet`);
      },
    });
  }
}

export function missing(name: string, args: string[], global = false): void {
  MISSING.push([name, args, global]);
}

// fetchMercurial needs the `hg` program and a network to be useful (CppNix
// keeps it for old code only); getFlake needs the flake machinery (flake.nix
// evaluation, lock files, registries), which tsnix does not have.  outputOf
// (dynamic derivations) lives in derivation.ts.  fetchGit, fetchClosure and
// fetchTree are in fetchers.ts.
for (const [n, a, g] of [
  ['fetchMercurial', ['args'], true],
  ['getFlake', ['args']],
] as [string, string[], boolean?][]) {
  missing(n, a, g ?? false);
}
