// Versions: splitVersion, compareVersions, parseDrvName.  The rules (what a
// version component is and how components compare) are in ../versions.ts.

import { forceStringNoCtx } from '../ops.js';
import { Attrs, type Value } from '../value.js';
import { compareVersions, parseDrvName, splitVersion } from '../versions.js';
import { argCtx, type Registry } from './registry.js';

export function register(r: Registry): void {
  r.add({
    name: 'splitVersion',
    args: ['s'],
    doc:
      'Split a string representing a version into its components, by the same version splitting logic underlying the version comparison in [`builtins.compareVersions`](#builtins-compareVersions). ' +
      'Components are separated by `.` and `-`, and a change between digits and other characters also starts a new component.\n\n' +
      'For example, `builtins.splitVersion "1.2.3pre-4"` evaluates to `[ "1" "2" "3" "pre" "4" ]`.',
    fn: ([s]) => {
      const str = forceStringNoCtx(s!, null, argCtx('splitVersion', 0));
      const parts: Value[] = splitVersion(str);
      return parts;
    },
  });

  r.add({
    name: 'compareVersions',
    args: ['s1', 's2'],
    doc:
      'Compare two strings representing versions and return `-1` if version *s1* is older than version *s2*, `0` if they are the same, and `1` if *s1* is newer than *s2*. ' +
      'The version comparison algorithm is the same as the one used by [`nix-env -u`](../command-ref/nix-env.md#operation---upgrade): both versions are split into components (see [`builtins.splitVersion`](#builtins-splitVersion)) that are compared pairwise, the shorter version being padded with empty components. ' +
      'Numeric components compare numerically; a missing component is older than a number; the component `pre` is older than anything else; other strings are older than numbers and compare lexicographically among themselves.\n\n' +
      'For example, `builtins.compareVersions "2.3pre1" "2.3"` is `-1` and `builtins.compareVersions "2.3.1" "2.3a"` is `1`.',
    fn: ([a, b]) => {
      const s1 = forceStringNoCtx(a!, null, argCtx('compareVersions', 0));
      const s2 = forceStringNoCtx(b!, null, argCtx('compareVersions', 1));
      return compareVersions(s1, s2);
    },
  });

  r.add({
    name: 'parseDrvName',
    args: ['s'],
    doc:
      'Split the string *s* into a package name and version. The package name is everything up to but not including the first dash not followed by a letter, and the version is everything following that dash. ' +
      'The result is returned in a set `{ name, version }`. Thus, `builtins.parseDrvName "nix-0.12pre12876"` returns `{ name = "nix"; version = "0.12pre12876"; }`.',
    fn: ([s]) => {
      const str = forceStringNoCtx(s!, null, argCtx('parseDrvName', 0));
      const { name, version } = parseDrvName(str);
      return new Attrs(
        new Map<string, Value>([
          ['name', name],
          ['version', version],
        ]),
      );
    },
  });
}
