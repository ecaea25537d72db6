// Version strings: splitVersion, compareVersions, parseDrvName
// (src/eval/versions.ts).  Expected values come from CppNix
// (nix-instantiate) and the language suite (eval-okay-versions.nix,
// eval-okay-splitversion.nix).

import { describe, expect, it } from 'vitest';
import { compareVersions, parseDrvName, splitVersion } from '../../src/eval/versions.js';

/** UTF-8 text -> Nix byte string, and back. */
const b = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const u = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

// [a, b, builtins.compareVersions a b]
const COMPARE: [string, string, -1 | 0 | 1][] = [
  ['1.0', '2.3', -1],
  ['2.1', '2.3', -1],
  ['2.3', '2.3', 0],
  ['2.5', '2.3', 1],
  ['3.1', '2.3', 1],
  ['2.3.1', '2.3', 1],
  ['2.3.1', '2.3a', 1],
  ['2.3pre1', '2.3', -1],
  ['2.3pre3', '2.3pre12', -1],
  ['2.3a', '2.3c', -1],
  ['2.3pre1', '2.3c', -1],
  ['2.3pre1', '2.3q', -1],
  ['1.0', '1.0.0', -1],
  ['1', '1pre', 1],
  ['1.a', '1', 1],
  ['', 'pre', 1],
  ['', 'a', -1],
  ['', '1', -1],
  ['01', '1', 0],
  ['1.99999999999', '1.2', -1],
  ['1.2147483648', '1.2147483647', -1],
  ['1.2147483647', '1.2147483646', 1],
  ['a', 'B', 1],
  ['1-2', '1.2', 0],
  ['1..2', '1.2', 0],
  ['1.2-rc1', '1.2', 1],
  ['1.2rc1', '1.2', 1],
  ['1.2-pre', '1.2', -1],
  ['2.0', '2.0pre', 1],
  ['foo-1.0', 'foo-1.0', 0],
  ['1.0-beta', '1.0-alpha', 1],
  ['é', 'e', 1],
  ['1_2', '1.2', -1],
  ['1.2.3.4', '1.2.3', 1],
  ['alpha', 'beta', -1],
  ['pre', 'pre', 0],
  ['prex', 'pre', 1],
];

// [s, builtins.splitVersion s]
const SPLIT: [string, string[]][] = [
  ['1.2.3', ['1', '2', '3']],
  ['1.2.3pre-4', ['1', '2', '3', 'pre', '4']],
  ['', []],
  ['..a..1b-', ['a', '1', 'b']],
  ['2.3a', ['2', '3', 'a']],
  ['1.2147483648a--b.c', ['1', '2147483648', 'a', 'b', 'c']],
  ['foo_bar-1.0', ['foo_bar', '1', '0']],
  ['1.0é2', ['1', '0', 'é', '2']],
  ['abc123def', ['abc', '123', 'def']],
  ['---', []],
];

// [s, (parseDrvName s).name, (parseDrvName s).version]
const DRV_NAMES: [string, string, string][] = [
  ['hello-1.0.2', 'hello', '1.0.2'],
  ['hello', 'hello', ''],
  ['915resolution-0.5.2', '915resolution', '0.5.2'],
  ['xf86-video-i810-1.7.4', 'xf86-video-i810', '1.7.4'],
  ['name-that-ends-with-dash--1.0', 'name-that-ends-with-dash', '-1.0'],
  ['a-1-b', 'a', '1-b'],
  ['-1', '', '1'],
  ['a-', 'a-', ''],
  ['foo-é', 'foo', 'é'],
  ['nix-0.12pre12876', 'nix', '0.12pre12876'],
  ['a-B-c', 'a-B-c', ''],
  ['a-_1', 'a', '_1'],
  ['python3.10-requests-2.31', 'python3.10-requests', '2.31'],
  ['a--b', 'a', '-b'],
];

describe('compareVersions', () => {
  for (const [x, y, want] of COMPARE) {
    it(`${JSON.stringify(x)} vs ${JSON.stringify(y)}`, () => {
      expect(compareVersions(b(x), b(y))).toBe(want);
      expect(compareVersions(b(y), b(x))).toBe(-want === 0 ? 0 : -want);
    });
  }

  it('eval-okay-versions', () => {
    const lt = -1;
    const eq = 0;
    const gt = 1;
    const versionTest = (v1: string, v2: string, expected: number): boolean => {
      const d1 = compareVersions(v1, v2);
      const d2 = compareVersions(v2, v1);
      return d1 === -d2 && d1 === expected;
    };
    expect(versionTest('1.0', '2.3', lt)).toBe(true);
    expect(versionTest('2.1', '2.3', lt)).toBe(true);
    expect(versionTest('2.3', '2.3', eq)).toBe(true);
    expect(versionTest('2.5', '2.3', gt)).toBe(true);
    expect(versionTest('3.1', '2.3', gt)).toBe(true);
    expect(versionTest('2.3.1', '2.3', gt)).toBe(true);
    expect(versionTest('2.3.1', '2.3a', gt)).toBe(true);
    expect(versionTest('2.3pre1', '2.3', lt)).toBe(true);
    expect(versionTest('2.3pre3', '2.3pre12', lt)).toBe(true);
    expect(versionTest('2.3a', '2.3c', lt)).toBe(true);
    expect(versionTest('2.3pre1', '2.3c', lt)).toBe(true);
    expect(versionTest('2.3pre1', '2.3q', lt)).toBe(true);
  });

  it('is a consistent ordering on a sample', () => {
    const vs = ['', 'pre', 'a', 'b', '1', '1pre', '1.0', '1.0.0', '1.0a', '1.0-pre', '1.1', '2', '10', '1.a', '1.2147483648'];
    for (const x of vs) {
      expect(compareVersions(x, x)).toBe(0);
      for (const y of vs) expect(compareVersions(x, y)).toBe(-compareVersions(y, x) || 0);
    }
  });
});

describe('splitVersion', () => {
  for (const [s, want] of SPLIT) {
    it(JSON.stringify(s), () => {
      expect(splitVersion(b(s)).map(u)).toEqual(want);
    });
  }

  it('eval-okay-splitversion', () => {
    expect(splitVersion('1.2.3')).toEqual(['1', '2', '3']);
  });
});

describe('parseDrvName', () => {
  for (const [s, name, version] of DRV_NAMES) {
    it(JSON.stringify(s), () => {
      const r = parseDrvName(b(s));
      expect({ name: u(r.name), version: u(r.version) }).toEqual({ name, version });
    });
  }
});
