// `tsnix hash`: nix-hash's and `nix hash`'s interfaces.  The expected hashes
// are what CppNix 2.8's nix-hash and `nix hash` printed for the same tree.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '../../bin/tsnix');

let dir: string;

function hash(args: string[]) {
  const r = spawnSync(BIN, ['hash', ...args], { cwd: dir, env: { ...process.env, NIX_CONFIG: '' }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-hash-'));
  const d = path.join(dir, 'd');
  fs.mkdirSync(path.join(d, 'sub', 'empty'), { recursive: true });
  fs.mkdirSync(path.join(d, 'x'));
  fs.writeFileSync(path.join(d, 'a.txt'), 'hello');
  fs.writeFileSync(path.join(d, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  fs.symlinkSync('a.txt', path.join(d, 'link'));
  fs.symlinkSync('/nonexistent', path.join(d, 'dangling'));
  fs.writeFileSync(path.join(d, 'sub', 'zero'), '');
  fs.writeFileSync(path.join(d, 'sub', 'ü name'), 'é');
  fs.writeFileSync(path.join(d, 'x', '.hidden'), 'x');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tsnix hash, as nix-hash', () => {
  it('hashes a tree as its NAR: MD5 in base 16 by default', () => {
    expect(hash(['d'])).toEqual({ code: 0, stdout: '55ade27a765cf8e91e40a86c9fd0767b\n', stderr: '' });
    expect(hash(['--type', 'sha256', 'd', 'd/a.txt']).stdout).toBe(
      'ece88a36caeba15025af089462a2e21603c44df30dde088b4ef3716847b771f7\n0a430879c266f8b57f4092a0f935cf3facd48bbccde5760d4748ca405171e969\n',
    );
    expect(hash(['--type', 'sha512', '--base32', 'd']).stdout).toBe(
      '0jzp6vjwqz90xg7vixj1sm9zzz9kljfk513hacyxfny9j72acjigchn8qxv7dv95gbqnfi3wk6mq7g3wfsx65jlpsy954bal51vzw9x\n',
    );
    expect(hash(['--type', 'sha1', 'd/link']).stdout).toBe('5fc9ce260f0b80005a5f667dedd3d2dd72f3ed96\n');
  });

  it('--flat hashes the bytes of a file (through a symbolic link)', () => {
    expect(hash(['--flat', '--type', 'sha1', '--base32', 'd/a.txt']).stdout).toBe('9m1skbnr5i43n3yypvda5s65vhfwdx5a\n');
    expect(hash(['--flat', 'd/link']).stdout).toBe('5d41402abc4b2a76b9719d911017c592\n');
    expect(hash(['--flat', 'd/sub/zero']).stdout).toBe('d41d8cd98f00b204e9800998ecf8427e\n');
  });

  it('--truncate folds the hash to 160 bits', () => {
    expect(hash(['--truncate', '--type', 'sha256', 'd']).stdout).toBe('e13682bd8418d0386218796362a2e21603c44df3\n');
    expect(hash(['--truncate', '--base32', '--type', 'sha512', 'd']).stdout).toBe('x5g2i876dkmy8kpb0xwvix2d2grzfygj\n');
  });

  it('--to-base32 and --to-base16 convert hashes', () => {
    const hex = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    expect(hash(['--to-base32', '--type', 'sha256', hex]).stdout).toBe('094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwic\n');
    expect(hash(['--to-base16', '--type', 'sha256', '1xvinx3nhwgk9s5hiphdyd6w80qnwai65508mwjm18gbr8v8ms7c']).stdout).toBe(
      'ece88a36caeba15025af089462a2e21603c44df30dde088b4ef3716847b771f7\n',
    );
    expect(hash(['--to-base32', 'e13682bd8418d0386218796362a2e216']).stdout).toBe('0nwai64qvr31i3il0qhjyq4dp1\n');
  });

  it('errors as CppNix words them, exit code 1', () => {
    expect(hash(['nonexist'])).toEqual({ code: 1, stdout: '', stderr: "error: getting status of 'nonexist': No such file or directory\n" });
    expect(hash(['--flat', 'd'])).toEqual({ code: 1, stdout: '', stderr: 'error: reading from file: Is a directory\n' });
    expect(hash(['--to-base32', '--type', 'sha256', 'abc']).stderr).toBe("error: hash 'abc' has wrong length for hash type 'sha256'\n");
    expect(hash(['--type', 'foo', 'd']).stderr).toContain("error: unknown hash algorithm 'foo'");
    expect(hash(['--frob']).stderr).toContain("unrecognised flag '--frob'");
  });
});

describe('tsnix hash path|file|convert|to-*, as nix hash', () => {
  it('path and file: SHA-256 in SRI by default', () => {
    expect(hash(['path', 'd']).stdout).toBe('sha256-7OiKNsrroVAlrwiUYqLiFgPETfMN3giLTvNxaEe3cfc=\n');
    expect(hash(['path', '--base32', '--type', 'sha1', 'd', 'd/a.txt']).stdout).toBe('ksghjjcjmz7r5v3rjms12pa0sfzbcyfv\nx5zjnshbjrrhpg88n2da87884cmn2i2i\n');
    expect(hash(['file', 'd/a.txt']).stdout).toBe('sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\n');
    expect(hash(['path', '--mode', 'flat', 'd/a.txt']).stdout).toBe('sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\n');
    expect(hash(['file', '--base16', 'd/run.sh']).stdout).toBe('a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf\n');
    expect(hash(['path', 'nonexist']).stderr).toBe("error: getting status of 'nonexist': No such file or directory\n");
  });

  it('to-base16, to-base32, to-base64, to-sri', () => {
    const hex = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    expect(hash(['to-sri', '--type', 'sha256', hex]).stdout).toBe('sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\n');
    expect(hash(['to-base16', 'sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=']).stdout).toBe(hex + '\n');
    expect(hash(['to-base32', `sha256:${hex}`]).stdout).toBe('094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwic\n');
    expect(hash(['to-base64', '--type', 'md5', '55ade27a765cf8e91e40a86c9fd0767b']).stdout).toBe('Va3ienZc+OkeQKhsn9B2ew==\n');
    expect(hash(['to-base16', 'abc'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: hash 'abc' does not include a type, nor is the type otherwise known from context\n",
    });
  });

  it('convert (the examples of its manual page)', () => {
    expect(hash(['convert', '--hash-algo', 'sha1', '--to', 'nix32', '800d59cfcd3c05e900cb4e214be48f6b886a08df']).stdout).toBe('vw46m23bizj4n8afrc0fj19wrp7mj3c0\n');
    expect(hash(['convert', '--hash-algo', 'sha1', '800d59cfcd3c05e900cb4e214be48f6b886a08df']).stdout).toBe('sha1-gA1Zz808BekAy04hS+SPa4hqCN8=\n');
    expect(hash(['convert', '--hash-algo', 'sha256', '--from', 'nix32', 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: input hash 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=' does not have the expected format '--from nix32'\n",
    });
    expect(hash(['convert', '--hash-algo', 'sha256', '--from', 'nix32', '1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s']).stdout).toBe(
      'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\n',
    );
    expect(hash(['convert', '--to', 'base16', 'sha1-gA1Zz808BekAy04hS+SPa4hqCN8=']).stdout).toBe('800d59cfcd3c05e900cb4e214be48f6b886a08df\n');
  });
});

describe('tsnix hash with BLAKE3 (the blake3-hashes experimental feature)', () => {
  const off = "error: experimental Nix feature 'blake3-hashes' is disabled; add '--extra-experimental-features blake3-hashes' to enable it\n";
  it('refuses BLAKE3 without the feature', () => {
    expect(hash(['file', '--algo', 'blake3', 'd/a.txt'])).toEqual({ code: 1, stdout: '', stderr: off });
    expect(hash(['--flat', '--type', 'blake3', 'd/a.txt'])).toEqual({ code: 1, stdout: '', stderr: off });
  });
  it('hashes with it, from the command line or the configuration', () => {
    // (BLAKE3 of "hello", as b3sum prints it)
    expect(hash(['file', '--extra-experimental-features', 'blake3-hashes', '--algo', 'blake3', 'd/a.txt'])).toEqual({
      code: 0,
      stdout: 'blake3-6o8WPbOGgpJeRJHF5Y1Ls1Bu+MFOt4qG6QjFYkpnIA8=\n',
      stderr: '',
    });
    const r = spawnSync(BIN, ['hash', '--flat', '--type', 'blake3', 'd/a.txt'], {
      cwd: dir,
      env: { ...process.env, NIX_CONFIG: 'extra-experimental-features = blake3-hashes' },
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f\n');
    const tree = hash(['path', '--extra-experimental-features', 'blake3-hashes', '--algo', 'blake3', 'd']);
    expect(tree.stdout).toMatch(/^blake3-[A-Za-z0-9+/]{43}=\n$/);
    expect(tree.stdout).not.toBe(hash(['file', '--extra-experimental-features', 'blake3-hashes', '--algo', 'blake3', 'd/a.txt']).stdout);
  });
});
