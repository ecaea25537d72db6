// fetchGit, fetchTree (path, file, tarball, git) and fetchClosure on local
// inputs, through the CLI.  Repositories and archives are made here with fixed
// contents, modes, authors and dates, so their revisions and hashes are fixed.
// Expected values marked "2.8" were measured with `nix-instantiate` 2.8 (CppNix,
// `--store` a scratch chroot store) on identical inputs; CppNix is the oracle.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve(__dirname, '../../bin/tsnix');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-fetchers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const root = path.join(tmp, 'root');

function tsnix(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(BIN, args, {
    cwd: tmp,
    env: { ...process.env, NIX_CONFIG: '', NIX_PATH: '', TSNIX_ROOT: root, TSNIX_STORE_DIR: '', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `instantiate --eval --strict` of `expr`; experimental features as CppNix needs them. */
function evalExpr(expr: string, extra: string[] = []) {
  return tsnix(['instantiate', '--eval', '--strict', '--extra-experimental-features', 'flakes fetch-closure', ...extra, '-E', expr]);
}

function evalOk(expr: string): string {
  const r = evalExpr(expr);
  expect(r.stderr.replace(/^warning: Git tree .* is dirty\n/m, '')).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

const gitEnv = {
  ...process.env,
  HOME: tmp,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'T',
  GIT_AUTHOR_EMAIL: 't@e.x',
  GIT_COMMITTER_NAME: 'T',
  GIT_COMMITTER_EMAIL: 't@e.x',
};

function git(dir: string, args: string[], date?: string): string {
  const env = date ? { ...gitEnv, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : gitEnv;
  const r = spawnSync('git', ['-C', dir, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** a.txt, sub/run.sh (executable), link -> a.txt, committed; then b.txt in a second commit. */
function makeRepo(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  git(dir, ['init', '-q', '-b', 'main', '.']);
  fs.writeFileSync(path.join(dir, 'a.txt'), 'hello\n');
  fs.writeFileSync(path.join(dir, 'sub/run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  fs.symlinkSync('a.txt', path.join(dir, 'link'));
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-qm', 'one'], '2020-01-02T03:04:05Z');
  fs.writeFileSync(path.join(dir, 'b.txt'), 'two\n');
  git(dir, ['add', 'b.txt']);
  git(dir, ['commit', '-qm', 'two'], '2021-06-07T08:09:10Z');
}

const repo = path.join(tmp, 'repo');
const dirty = path.join(tmp, 'dirty');
const empty = path.join(tmp, 'empty');
const tb = path.join(tmp, 'tb');
const T0 = Date.UTC(2022, 2, 4, 5, 6, 7) / 1000;

beforeAll(() => {
  makeRepo(repo);
  makeRepo(dirty);
  fs.appendFileSync(path.join(dirty, 'a.txt'), 'changed\n');
  fs.writeFileSync(path.join(dirty, 'untracked.txt'), 'not in git\n');
  fs.mkdirSync(empty);
  git(empty, ['init', '-q']);
  // tb/top/{d/f, g (executable), l -> g}, all with mtime T0
  fs.mkdirSync(path.join(tb, 'top/d'), { recursive: true });
  fs.writeFileSync(path.join(tb, 'top/d/f'), 'x\n');
  fs.writeFileSync(path.join(tb, 'top/g'), 'y\n', { mode: 0o755 });
  fs.symlinkSync('g', path.join(tb, 'top/l'));
  for (const p of ['top/l', 'top/g', 'top/d/f', 'top/d', 'top', '.']) fs.lutimesSync(path.join(tb, p), T0, T0);
  for (const [name, flag] of [
    ['t.tar', ''],
    ['t.tar.gz', 'z'],
    ['t.tgz', 'z'],
    ['t.tar.xz', 'J'],
    ['t.tar.bz2', 'j'],
  ] as const) {
    const r = spawnSync('tar', [`-C`, tb, `-c${flag}f`, path.join(tmp, name), 'top']);
    if (r.status !== 0) throw new Error(r.stderr.toString());
  }
  fs.mkdirSync(path.join(tmp, 'tb2'));
  fs.writeFileSync(path.join(tmp, 'tb2/a'), 'a\n');
  fs.writeFileSync(path.join(tmp, 'tb2/b'), 'b\n');
  spawnSync('tar', ['-C', path.join(tmp, 'tb2'), '-czf', path.join(tmp, 'two.tar.gz'), 'a', 'b']);
  fs.writeFileSync(path.join(tmp, 'plain.txt'), 'content\n');
});

// 2.8: nix-instantiate --eval --strict -E 'builtins.fetchGit ./repo'
const HEAD_RESULT =
  '{ lastModified = 1623053350; lastModifiedDate = "20210607080910"; narHash = "sha256-GbWvVQkuxsaqWYS08SiwirE3Q9i9RxgPRbTTtZZ2GyU="; ' +
  'outPath = "/nix/store/w0z3hi6rridaa7z2xfjaf466kfyqfgli-source"; rev = "dcc85d18b6b99db11c8a72ce5b54ec65ca866d95"; revCount = 2; ' +
  'shortRev = "dcc85d1"; submodules = false; }';

describe('builtins.fetchGit (local repositories)', () => {
  it('fetches HEAD of a clean repository as CppNix does (path, string, file:// URL, attrset)', () => {
    expect(git(repo, ['rev-parse', 'HEAD'])).toBe('dcc85d18b6b99db11c8a72ce5b54ec65ca866d95');
    expect(evalOk('builtins.fetchGit ./repo')).toBe(HEAD_RESULT);
    expect(evalOk(`builtins.fetchGit "${repo}"`)).toBe(HEAD_RESULT);
    expect(evalOk(`builtins.fetchGit { url = "file://${repo}"; }`)).toBe(HEAD_RESULT);
    expect(evalOk('builtins.fetchGit { url = ./repo; allRefs = true; }')).toBe(HEAD_RESULT);
    // 2.8: submodules = true only changes the attribute (the repo has none)
    expect(evalOk('builtins.fetchGit { url = ./repo; submodules = true; }')).toBe(HEAD_RESULT.replace('submodules = false', 'submodules = true'));
    // 2.8: shallow gives revCount = 0
    expect(evalOk('builtins.fetchGit { url = ./repo; shallow = true; }')).toBe(HEAD_RESULT.replace('revCount = 2', 'revCount = 0'));
  });

  it('fetches an older rev, a ref, and honours name (2.8)', () => {
    expect(evalOk('builtins.fetchGit { url = ./repo; rev = "0f085db0b2914473c3e5faddb4f8d72f73b4e5ef"; }')).toBe(
      '{ lastModified = 1577934245; lastModifiedDate = "20200102030405"; narHash = "sha256-4gN7cNGYFu4BjgduNYgfANHj0pZawAm2KoNUMHv1r4Y="; ' +
        'outPath = "/nix/store/szm28xrcjs4ac9wp6hdqc7ql0j1d9a56-source"; rev = "0f085db0b2914473c3e5faddb4f8d72f73b4e5ef"; revCount = 1; ' +
        'shortRev = "0f085db"; submodules = false; }',
    );
    expect(evalOk(`builtins.fetchGit { url = "file://${repo}"; ref = "main"; name = "foo"; }`)).toBe(
      HEAD_RESULT.replace('w0z3hi6rridaa7z2xfjaf466kfyqfgli-source', '4y0612gririsbmzp5znl78j84njnw9ml-foo'),
    );
    expect(evalOk('(builtins.fetchGit ./repo).outPath + "/sub/run.sh"')).toBe('"/nix/store/w0z3hi6rridaa7z2xfjaf466kfyqfgli-source/sub/run.sh"');
  });

  it('takes the tracked files of a dirty working tree, with a warning and dirtyRev (current CppNix)', () => {
    const r = evalExpr('builtins.fetchGit ./dirty');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: Git tree '${dirty}' is dirty\n`);
    // narHash/outPath: 2.8 (untracked files left out); rev/revCount zeros as in 2.8; dirtyRev as current CppNix
    expect(r.stdout.trim()).toBe(
      '{ dirtyRev = "dcc85d18b6b99db11c8a72ce5b54ec65ca866d95-dirty"; dirtyShortRev = "dcc85d1-dirty"; lastModified = 1623053350; ' +
        'lastModifiedDate = "20210607080910"; narHash = "sha256-4yYLWYha1xw24qeVDYecfRZBIZCMhZipfhdwPNcrc/U="; ' +
        'outPath = "/nix/store/wnbhdzd3kb7k4d29p0806wkx1f4qa5j0-source"; rev = "0000000000000000000000000000000000000000"; revCount = 0; ' +
        'shortRev = "0000000"; submodules = false; }',
    );
    // 2.8: a repository without commits
    expect(evalOk('builtins.fetchGit ./empty')).toBe(
      '{ lastModified = 0; lastModifiedDate = "19700101000000"; narHash = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo="; ' +
        'outPath = "/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-source"; rev = "0000000000000000000000000000000000000000"; revCount = 0; ' +
        'shortRev = "0000000"; submodules = false; }',
    );
  });

  it('reports bad inputs clearly', () => {
    const missingRev = evalExpr('builtins.fetchGit { url = ./repo; rev = "1111111111111111111111111111111111111111"; }');
    expect(missingRev.code).toBe(1);
    // 2.8's message
    expect(missingRev.stderr).toContain(
      `error: Cannot find Git revision '1111111111111111111111111111111111111111' in ref 'main' of repository '${repo}'! Please make sure that the rev exists on the ref you've specified or add allRefs = true; to fetchGit.`,
    );
    expect(evalExpr('builtins.fetchGit { url = ./repo; rev = "abc"; }').stderr).toContain(
      "error: hash 'abc' has wrong length for hash type 'sha1'",
    );
    expect(evalExpr('builtins.fetchGit { url = ./repo; ref = "nope"; }').stderr).toContain("error: cannot find Git reference 'nope'");
    const none = evalExpr('builtins.fetchGit ./nonexistent');
    expect(none.stderr).toContain(`… while fetching the input 'git+file://${tmp}/nonexistent'`);
    expect(none.stderr).toContain(`error: opening Git repository '${tmp}/nonexistent'`);
    expect(evalExpr('builtins.fetchGit { url = ./repo; foo = 1; }').stderr).toContain("error: unsupported input attribute 'foo'");
    const net = evalExpr('builtins.fetchGit "https://github.com/NixOS/nix"');
    expect(net.stderr).toContain('tsnix has no network access');
    expect(net.stderr).not.toMatch(/at .*\.js:\d+/);
    const pure = evalExpr('builtins.fetchGit ./repo', ['--option', 'pure-eval', 'true']);
    expect(pure.stderr).toContain(`error: in pure evaluation mode, 'fetchGit' will not fetch unlocked input 'git+file://${repo}'`);
  });
});

describe('builtins.fetchTree', () => {
  it('fetches git inputs (2.8), without rev for a dirty tree (current CppNix)', () => {
    expect(evalOk(`builtins.fetchTree "git+file://${repo}"`)).toBe(HEAD_RESULT);
    expect(evalOk(`builtins.fetchTree { type = "git"; url = "file://${repo}"; }`)).toBe(HEAD_RESULT);
    expect(evalOk(`builtins.fetchTree { type = "git"; url = "file://${dirty}"; }`)).toBe(
      '{ dirtyRev = "dcc85d18b6b99db11c8a72ce5b54ec65ca866d95-dirty"; dirtyShortRev = "dcc85d1-dirty"; lastModified = 1623053350; ' +
        'lastModifiedDate = "20210607080910"; narHash = "sha256-4yYLWYha1xw24qeVDYecfRZBIZCMhZipfhdwPNcrc/U="; ' +
        'outPath = "/nix/store/wnbhdzd3kb7k4d29p0806wkx1f4qa5j0-source"; submodules = false; }',
    );
  });

  it('unpacks tarballs of every compression to the same tree (narHash/outPath: 2.8; lastModified: newest entry, current CppNix)', () => {
    const want =
      `{ lastModified = ${T0}; lastModifiedDate = "20220304050607"; narHash = "sha256-SPemnWm9JUB5gQ8e1aouuU4oyll1krk5mysnIjkK6fA="; ` +
      'outPath = "/nix/store/82jn4m5fd7qirsdqc2gi2zgd4dg8hqz3-source"; }';
    expect(evalOk(`builtins.fetchTree "file://${tmp}/t.tar.gz"`)).toBe(want);
    for (const f of ['t.tar', 't.tgz', 't.tar.xz', 't.tar.bz2']) {
      expect(evalOk(`builtins.fetchTree { type = "tarball"; url = "file://${tmp}/${f}"; }`)).toBe(want);
    }
    // several top-level entries: the whole tree (current CppNix; 2.8 refused)
    expect(evalOk(`(builtins.fetchTree { type = "tarball"; url = "file://${tmp}/two.tar.gz"; }).outPath`)).toMatch(/-source"$/);
  });

  it('fetches paths and plain files', () => {
    // 2.8
    expect(evalOk(`builtins.removeAttrs (builtins.fetchTree { type = "path"; path = "${tb}"; }) [ "lastModified" "lastModifiedDate" ]`)).toBe(
      '{ narHash = "sha256-iHVt9EzCCdQZm4a31PExkbQGLT33e0+0uiXXjo/0iZw="; outPath = "/nix/store/j831z3j863px2fr1shms3b8rfkivqaxc-source"; }',
    );
    expect(evalOk(`(builtins.fetchTree "path:${tb}").lastModified`)).toBe(String(T0));
    // a file is added as a one-file NAR named source (current CppNix; 2.8 had no file fetcher)
    expect(evalOk(`builtins.fetchTree { type = "file"; url = "file://${tmp}/plain.txt"; }`)).toBe(
      '{ narHash = "sha256-HiT4BBF+4J/jUfTDoObCA/+6FONPFO70nblRhbAcci4="; outPath = "/nix/store/j3dy3qgj9x8x9jdvh1qbrhy27cq22dz8-source"; }',
    );
  });

  it('checks narHash', () => {
    const good = evalOk(`(builtins.fetchTree { type = "path"; path = "${tb}"; narHash = "sha256-iHVt9EzCCdQZm4a31PExkbQGLT33e0+0uiXXjo/0iZw="; }).outPath`);
    expect(good).toBe('"/nix/store/j831z3j863px2fr1shms3b8rfkivqaxc-source"');
    const bad = evalExpr(`builtins.fetchTree { type = "tarball"; url = "file://${tmp}/t.tar"; narHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `error: NAR hash mismatch in input 'file://${tmp}/t.tar?narHash=sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D', ` +
        "expected 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' but got 'sha256-SPemnWm9JUB5gQ8e1aouuU4oyll1krk5mysnIjkK6fA='",
    );
    const git = evalExpr(`builtins.fetchTree { type = "git"; url = "file://${repo}"; narHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }`);
    expect(git.stderr).toContain("but got 'sha256-GbWvVQkuxsaqWYS08SiwirE3Q9i9RxgPRbTTtZZ2GyU='");
  });

  it('says clearly what it cannot fetch', () => {
    const net = evalExpr('builtins.fetchTree { type = "tarball"; url = "https://example.com/x.tar.gz"; }');
    expect(net.code).toBe(1);
    expect(net.stderr).toContain("error: cannot fetch tarball 'https://example.com/x.tar.gz': tsnix has no network access");
    expect(evalExpr('builtins.fetchTree "github:NixOS/nixpkgs"').stderr).toContain('tsnix has no network access');
    expect(evalExpr(`builtins.fetchTree "file://${tmp}/none.tar.gz"`).stderr).toContain(
      `error: unable to download 'file://${tmp}/none.tar.gz': file '${tmp}/none.tar.gz' does not exist`,
    );
    const pure = evalExpr(`builtins.fetchTree "path:${tb}"`, ['--option', 'pure-eval', 'true']);
    expect(pure.stderr).toContain(`error: in pure evaluation mode, 'fetchTree' will not fetch unlocked input 'path:${tb}'`);
  });
});

describe('the store while fetching', () => {
  it('--eval writes nothing; instantiate adds the fetched trees', () => {
    const r2 = path.join(tmp, 'root2');
    const env = { TSNIX_ROOT: r2 };
    const expr = `[ (builtins.fetchGit ./repo).outPath (builtins.fetchTree "file://${tmp}/t.tar.xz").outPath ]`;
    const e = tsnix(['instantiate', '--eval', '--strict', '--extra-experimental-features', 'flakes', '-E', expr], env);
    expect(e.stderr).toBe('');
    expect(e.stdout).toBe('[ "/nix/store/w0z3hi6rridaa7z2xfjaf466kfyqfgli-source" "/nix/store/82jn4m5fd7qirsdqc2gi2zgd4dg8hqz3-source" ]\n');
    expect(fs.existsSync(path.join(r2, 'nix/store/w0z3hi6rridaa7z2xfjaf466kfyqfgli-source'))).toBe(false);
    const drv = `derivation { name = "d"; system = "x"; builder = "/bin/sh"; srcs = ${expr}; }`;
    const i = tsnix(['instantiate', '--extra-experimental-features', 'flakes', '-E', drv], env);
    expect(i.code).toBe(0);
    const src = path.join(r2, 'nix/store/w0z3hi6rridaa7z2xfjaf466kfyqfgli-source');
    expect(fs.readFileSync(path.join(src, 'b.txt'), 'utf8')).toBe('two\n');
    expect(fs.readlinkSync(path.join(src, 'link'))).toBe('a.txt');
    expect(fs.statSync(path.join(src, 'sub/run.sh')).mode & 0o111).not.toBe(0);
    expect(fs.existsSync(path.join(src, '.git'))).toBe(false);
    expect(fs.readFileSync(path.join(r2, 'nix/store/82jn4m5fd7qirsdqc2gi2zgd4dg8hqz3-source/d/f'), 'utf8')).toBe('x\n');
  });
});

describe('builtins.fetchClosure', () => {
  const cache = path.join(tmp, 'cache');
  const r3 = path.join(tmp, 'root3');
  let ca = '';
  let ia = '';
  beforeAll(() => {
    fs.writeFileSync(path.join(tmp, 'hello.txt'), 'hi\n');
    const env = { TSNIX_ROOT: r3 };
    ca = tsnix(['store', 'add', 'hello.txt'], env).stdout.trim();
    const drv = tsnix(['instantiate', '-E', 'derivation { name = "ia"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ia > $out" ]; }'], env);
    ia = tsnix(['store', 'realise', drv.stdout.trim()], env).stdout.trim();
    const c = tsnix(['copy', '--to', `file://${cache}?compression=none`, ca, ia], env);
    if (c.code !== 0) throw new Error(c.stderr);
  });

  const fc = (args: string, extra: string[] = []) =>
    evalExpr(`builtins.fetchClosure { fromStore = "file://${cache}"; ${args} }`, extra);

  it('fetches a content-addressed path', () => {
    expect(ca).toBe('/nix/store/5klx9pxl1c90q0j01ph753cpfm5dz3as-hello.txt');
    expect(fc(`fromPath = ${ca};`).stdout).toBe(`"${ca}"\n`);
    expect(fc(`fromPath = ${ca}; toPath = ${ca};`).stdout).toBe(`"${ca}"\n`);
    // the result has the path in its context
    expect(evalOk(`builtins.getContext (builtins.fetchClosure { fromStore = "file://${cache}"; fromPath = ${ca}; })`)).toBe(
      `{ "${ca}" = { path = true; }; }`,
    );
  });

  it("applies CppNix's checks", () => {
    expect(fc(`fromPath = ${ia};`).stderr).toContain(`error: cannot add path '${ia}' because it lacks a signature by a trusted key`);
    expect(fc(`fromPath = ${ca}; inputAddressed = true;`).stderr).toContain(
      `error: The store object referred to by 'fromPath' at '${ca}' is not input-addressed, but 'inputAddressed' is set to 'true'.`,
    );
    expect(fc(`fromPath = ${ca}; toPath = ${ca}; inputAddressed = true;`).stderr).toContain(
      "error: attribute 'inputAddressed' is set to true, but 'toPath' is also set. Please remove one of them",
    );
    expect(evalExpr(`builtins.fetchClosure { fromPath = ${ca}; }`).stderr).toContain("error: attribute 'fromStore' is missing in call to 'fetchClosure'");
    expect(fc('').stderr).toContain("error: attribute 'fromPath' is missing in call to 'fetchClosure'");
    expect(fc(`fromPath = ${ca}; foo = 1;`).stderr).toContain("error: attribute 'foo' isn't supported in call to 'fetchClosure'");
    const off = tsnix(['instantiate', '--eval', '-E', `builtins.fetchClosure { fromStore = "file://${cache}"; fromPath = ${ca}; }`]);
    expect(off.stderr).toContain("error: experimental Nix feature 'fetch-closure' is disabled");
  });

  it('accepts an input-addressed path signed by a trusted key, with inputAddressed = true', () => {
    const sec = path.join(tmp, 'key.sec');
    const pubFile = path.join(tmp, 'key.pub');
    const g = tsnix(['store', 'generate-binary-cache-key', 'test-1', sec, pubFile]);
    expect(g.code).toBe(0);
    const signed = path.join(tmp, 'signed-cache');
    const c = tsnix(['copy', '--to', `file://${signed}?compression=none&secret-key=${sec}`, ia], { TSNIX_ROOT: r3 });
    expect(c.code).toBe(0);
    const pub = fs.readFileSync(pubFile, 'utf8').trim();
    const expr = (more: string) => `builtins.fetchClosure { fromStore = "file://${signed}"; fromPath = ${ia}; ${more} }`;
    const ok = evalExpr(expr('inputAddressed = true;'), ['--option', 'trusted-public-keys', pub]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(`"${ia}"\n`);
    const noFlag = evalExpr(expr(''), ['--option', 'trusted-public-keys', pub]);
    expect(noFlag.stderr).toContain(`error: The 'fromPath' value '${ia}' is input-addressed, but 'inputAddressed' is set to 'false' (default).`);
  });
});
