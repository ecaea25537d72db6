// Sharing identical store files by hard links (src/store/optimise.ts):
// `tsnix store optimise` (nix-store --optimise), the garbage collector's
// clean-up of `.links`, and the auto-optimise-store setting.  The expected
// link names, link counts and messages are those CppNix 2.8 gave for the same
// trees.  Every test uses its own temporary store; the CLI tests run
// bin/tsnix (after `npm run build`).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTree } from '../../src/store/local-store.js';
import { signedMiB } from '../../src/store/optimise.js';

const ROOT = resolve(__dirname, '../..');
const TSNIX = join(ROOT, 'bin/tsnix');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) removeTree(Buffer.from(d));
});

interface Env {
  base: string;
  store: string;
  env: NodeJS.ProcessEnv;
}

function newStore(config = ''): Env {
  const base = mkdtempSync(join(tmpdir(), 'tsnix-optimise-'));
  dirs.push(base);
  const env: NodeJS.ProcessEnv = { ...process.env, TSNIX_STORE_DIR: join(base, 'store'), TSNIX_STATE_DIR: join(base, 'var'), NIX_CONFIG: config, XDG_CONFIG_HOME: join(base, 'config') };
  delete env.TSNIX_ROOT;
  return { base, store: join(base, 'store'), env };
}

function run(e: Env, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSNIX, args, { env: e.env, encoding: 'latin1' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Two trees as in the CppNix run these expectations come from: `a` with
 * f1 = "hello\n", a 100 000-byte file and a symlink; `b` with the same
 * three (f1's twin named f2) and an executable "other\n".
 */
function trees(e: Env): { a: string; b: string } {
  const a = join(e.base, 'a');
  const b = join(e.base, 'b');
  mkdirSync(a);
  mkdirSync(b);
  const big = Buffer.alloc(100000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  writeFileSync(join(a, 'f1'), 'hello\n');
  writeFileSync(join(b, 'f2'), 'hello\n');
  writeFileSync(join(b, 'f3'), 'other\n');
  chmodSync(join(b, 'f3'), 0o755);
  writeFileSync(join(a, 'big'), big);
  writeFileSync(join(b, 'big'), big);
  symlinkSync('f1', join(a, 'sl'));
  symlinkSync('f1', join(b, 'sl'));
  return { a, b };
}

function add(e: Env, ...paths: string[]): string[] {
  const r = run(e, 'store', 'add', ...paths);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

/** CppNix's last line of a collection when no file is shared: nothing saved, less the links directory's blocks (none on tmpfs). */
function noSaving(e: Env): string {
  const blocks = BigInt(statSync(join(e.store, '.links')).blocks);
  return `note: currently hard linking saves ${signedMiB(-blocks * 512n)}\n`;
}

const links = (e: Env): string[] => readdirSync(join(e.store, '.links')).sort();
const nlink = (p: string): number => lstatSync(p).nlink;
const ino = (p: string): number => lstatSync(p).ino;

// NAR hashes (sha256, nix32) of the files, as CppNix 2.8 named their links
const HELLO = '04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw'; // "hello\n"
const SYMLINK_F1 = '0kwdz8csrjr6brf8v0qmfdwzz03ans6y2xnvzb46r3mlc90pfwpa'; // -> f1
const OTHER_X = '17iv20mgxbppqddpy4jkiwbz4j3y4csrs5m2psxz541gqj3b1ac9'; // "other\n", executable

describe('tsnix store optimise', () => {
  it('hard-links identical files (regular files and symlinks) to one copy under .links, as nix-store --optimise', () => {
    const e = newStore();
    const t = trees(e);
    const [a, b] = add(e, t.a, t.b) as [string, string];
    // the store is made with its links directory
    expect(links(e)).toEqual([]);
    const r = run(e, 'store', 'optimise');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    // big, f2 and b's symlink replaced (100 000 + 6 + 2 bytes)
    expect(r.stderr).toBe('0.10 MiB freed by hard-linking 3 files\n');
    const names = links(e);
    expect(names).toHaveLength(4);
    expect(names).toEqual(expect.arrayContaining([HELLO, SYMLINK_F1, OTHER_X]));
    for (const [x, y] of [
      ['f1', 'f2'],
      ['big', 'big'],
      ['sl', 'sl'],
    ] as const) {
      expect(ino(join(a, x))).toBe(ino(join(b, y)));
      expect(nlink(join(a, x))).toBe(3);
    }
    expect(ino(join(a, 'f1'))).toBe(ino(join(e.store, '.links', HELLO)));
    expect(readlinkSync(join(e.store, '.links', SYMLINK_F1))).toBe('f1');
    expect(nlink(join(b, 'f3'))).toBe(2);
    expect(lstatSync(join(b, 'f3')).mode & 0o777).toBe(0o555);
    // the paths are as they were: read-only, time stamps of 1 s, same contents
    for (const p of [a, b]) {
      const st = lstatSync(p);
      expect(st.mode & 0o777).toBe(0o555);
      expect(st.mtimeMs).toBe(1000);
    }
    expect(lstatSync(join(a, 'f1')).mode & 0o777).toBe(0o444);
    expect(readFileSync(join(b, 'f2'), 'latin1')).toBe('hello\n');
    const v = run(e, 'store', 'verify', '--check-contents');
    expect(v.status, v.stderr).toBe(0);
    // a second run finds everything shared already
    expect(run(e, 'store', 'optimise').stderr).toBe('0.00 MiB freed by hard-linking 0 files\n');
    expect(run(e, 'store', '--optimise').stderr).toBe('0.00 MiB freed by hard-linking 0 files\n');
    expect(run(e, 'store', 'optimise', 'x').status).toBe(1);
  });

  it('skips writable files, and replaces a link whose contents do not match its name', () => {
    const e = newStore();
    const t = trees(e);
    const [a, b] = add(e, t.a, t.b) as [string, string];
    chmodSync(join(b, 'f2'), 0o644);
    // a "link" that is not what its name says
    writeFileSync(join(e.store, '.links', HELLO), 'not hello, and longer\n');
    const r = run(e, 'store', 'optimise');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`skipping suspicious writable file '${join(b, 'f2')}'\n`);
    expect(r.stderr).toContain(`removing corrupted link '${join(e.store, '.links', HELLO)}'\n`);
    expect(readFileSync(join(e.store, '.links', HELLO), 'latin1')).toBe('hello\n');
    expect(ino(join(a, 'f1'))).toBe(ino(join(e.store, '.links', HELLO)));
    expect(nlink(join(b, 'f2'))).toBe(1);
    expect(r.stderr.endsWith('0.10 MiB freed by hard-linking 2 files\n')).toBe(true);
  });

  it('does nothing in a store that has no paths', () => {
    const e = newStore();
    const r = run(e, 'store', 'optimise');
    expect(r).toEqual({ status: 0, stdout: '', stderr: '0.00 MiB freed by hard-linking 0 files\n' });
    expect(existsSync(e.store)).toBe(false);
  });
});

describe('the garbage collector and .links', () => {
  it('deletes the links nothing uses any more, counts them as freed, and reports what linking saves', () => {
    const e = newStore();
    const t = trees(e);
    const [a, b] = add(e, t.a, t.b) as [string, string];
    expect(run(e, 'store', 'optimise').status).toBe(0);
    // b's files are all shared but f3: deleting b frees only f3's link (6 bytes)
    const d = run(e, 'store', 'delete', b);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toBe('1 store paths deleted, 0.00 MiB freed\n');
    expect(d.stderr).toBe(
      `finding garbage collector roots...\ndeleting '${b}'\ndeleting unused links...\n` +
        // (each remaining link shared by one path: nothing saved)
        noSaving(e),
    );
    expect(links(e)).toHaveLength(3);
    expect(links(e)).toEqual(expect.arrayContaining([HELLO, SYMLINK_F1]));
    expect(links(e)).not.toContain(OTHER_X);
    expect(nlink(join(a, 'f1'))).toBe(2);
    // then a: its files are freed with their links
    const g = run(e, 'store', 'gc');
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toBe('1 store paths deleted, 0.10 MiB freed\n');
    expect(g.stderr).toBe(
      `finding garbage collector roots...\ndeleting garbage...\ndeleting '${a}'\ndeleting unused links...\n` + noSaving(e),
    );
    expect(links(e)).toEqual([]);
    // the links directory itself is never garbage
    expect(readdirSync(e.store)).toEqual(['.links']);
    // --max-freed 0 deletes no path, but still looks at the links (as CppNix)
    expect(run(e, 'store', 'gc', '--max-freed', '0').stderr).toBe('finding garbage collector roots...\ndeleting unused links...\n' + noSaving(e));
  });

  it('reports the space shared links save', () => {
    const e = newStore();
    const t = trees(e);
    const c = join(e.base, 'c');
    mkdirSync(c);
    writeFileSync(join(c, 'big'), readFileSync(join(t.a, 'big')));
    const [, , cp] = add(e, t.a, t.b, c) as [string, string, string];
    expect(run(e, 'store', 'optimise').stderr).toBe('0.19 MiB freed by hard-linking 4 files\n');
    // c deleted: a and b still share the 100 000-byte file, hello and the symlink (one copy of
    // each saved), less the links directory's own blocks (4 KiB on ext4, none on tmpfs)
    const g = run(e, 'store', 'delete', cp);
    expect(g.stdout).toBe('1 store paths deleted, 0.00 MiB freed\n');
    expect(g.stderr).toMatch(/deleting unused links...\nnote: currently hard linking saves 0\.(09|10) MiB\n$/);
  });

  it('formats sizes as printf %.2f does, negative ones too', () => {
    expect(signedMiB(0n)).toBe('0.00 MiB');
    expect(signedMiB(-4096n)).toBe('-0.00 MiB');
    expect(signedMiB(-(1n << 20n))).toBe('-1.00 MiB');
    expect(signedMiB(100008n)).toBe('0.10 MiB');
    // 0.125 MiB: a tie, to even
    expect(signedMiB(131072n)).toBe('0.12 MiB');
    expect(signedMiB(3n << 20n)).toBe('3.00 MiB');
  });
});

describe('auto-optimise-store', () => {
  it('links the files of new paths as they become valid: added trees, built outputs and .drv files', () => {
    const e = newStore('auto-optimise-store = true');
    const t = trees(e);
    const [a, b] = add(e, t.a, t.b) as [string, string];
    expect(ino(join(a, 'f1'))).toBe(ino(join(b, 'f2')));
    expect(ino(join(a, 'big'))).toBe(ino(join(b, 'big')));
    expect(nlink(join(b, 'f3'))).toBe(2);
    const r = run(
      e,
      'build',
      '--no-out-link',
      '-E',
      'derivation { name = "x"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "/bin/mkdir $out; echo hello > $out/h; echo hello > $out/h2" ]; }',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim();
    expect(ino(join(out, 'h'))).toBe(ino(join(a, 'f1')));
    expect(nlink(join(out, 'h2'))).toBe(5);
    const drv = readdirSync(e.store).find((n) => n.endsWith('-x.drv')) as string;
    expect(nlink(join(e.store, drv))).toBe(2);
    expect(run(e, 'store', 'optimise').stderr).toBe('0.00 MiB freed by hard-linking 0 files\n');
    expect(run(e, 'show-config', 'auto-optimise-store').stdout).toBe('true\n');
  });

  it('is off by default', () => {
    const e = newStore();
    const t = trees(e);
    const [a, b] = add(e, t.a, t.b) as [string, string];
    expect(ino(join(a, 'f1'))).not.toBe(ino(join(b, 'f2')));
    expect(links(e)).toEqual([]);
  });
});
