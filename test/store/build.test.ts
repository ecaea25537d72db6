// Builds: real derivations with /bin/sh builders in temporary stores, through
// the `tsnix build` / `tsnix store …` command line, and the builder
// environment against what CppNix 2.8 recorded (../shared/vectors/builds.json).
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDerivation } from '../../src/store/derivation.js';
import { builderEnvironment, structuredAttrsFiles } from '../../src/store/build/environment.js';
import { RefScanner } from '../../src/store/build/outputs.js';
import { FileLock } from '../../src/store/lock.js';
import { parseHash } from '../../src/store/hash.js';
import { makeFixedOutputPath } from '../../src/store/store-path.js';
import { loadVectors } from './vectors.js';

const BIN = resolve(__dirname, '../../bin/tsnix');
const tmpRoots: string[] = [];

afterAll(() => {
  for (const d of tmpRoots) {
    spawnSync('chmod', ['-R', 'u+w', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

function tempDir(prefix = 'tsnix-build-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}

interface Env {
  dir: string;
  store: string;
  state: string;
  env: Record<string, string>;
}

/** A temporary store (TSNIX_STORE_DIR mode) with a working directory and a private TMPDIR. */
function newStore(): Env {
  const dir = tempDir();
  const store = join(dir, 'store');
  const state = join(dir, 'var');
  mkdirSync(join(dir, 'tmp'));
  mkdirSync(join(dir, 'work'));
  return {
    dir,
    store,
    state,
    env: { TSNIX_STORE_DIR: store, TSNIX_STATE_DIR: state, TMPDIR: join(dir, 'tmp'), NIX_CONFIG: '', NIX_PATH: '' },
  };
}

function tsnix(s: Env, args: string[], cwd = join(s.dir, 'work')) {
  const r = spawnSync(BIN, args, { cwd, env: { ...process.env, ...s.env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tsnixAsync(s: Env, args: string[], cwd = join(s.dir, 'work')) {
  const child = spawn(BIN, args, { cwd, env: { ...process.env, ...s.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** A NAR from its tokens (each string framed as in the NAR format: length, bytes, zero padding). */
function narOf(groups: string[][]): Buffer {
  const parts: Buffer[] = [];
  for (const t of ['nix-archive-1', '(', ...groups.flat()]) {
    const b = Buffer.from(t, 'latin1');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    parts.push(len, b, Buffer.alloc((8 - (b.length % 8)) % 8));
  }
  return Buffer.concat(parts);
}

/** The fixed-output store path of a recursive sha256 hash (hex) with this name. */
function fixedOutputPath(s: Env, name: string, hexHash: string): string {
  return makeFixedOutputPath(name, 'recursive', parseHash(hexHash, 'sha256'), s.store);
}

/** Writes `work/default.nix`; `body` is the attrset of a `derivation` call (without braces). */
function writeNix(s: Env, text: string, file = 'default.nix'): string {
  const p = join(s.dir, 'work', file);
  writeFileSync(p, text);
  return p;
}

const drv = (name: string, script: string, extra = '') =>
  `derivation { name = "${name}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ]; ${extra} }`;

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('builder environment (CppNix 2.8 vectors)', () => {
  const vf = loadVectors<{
    id: string;
    drvPath: string;
    drv_text: string;
    outputs: Record<string, { file_contents?: Record<string, string> | string }>;
    build_log: string;
  }>('builds.json');

  for (const v of vf.vectors) {
    const files = v.outputs.out?.file_contents;
    const envDump = typeof files === 'object' ? files.environ : v.id === 'build-fod' ? v.build_log : undefined;
    if (envDump === undefined) continue;
    it(`is exactly CppNix's for ${v.id}`, () => {
      const name = v.drvPath.slice(v.drvPath.lastIndexOf('/') + 34);
      const d = parseDerivation(v.drv_text, name.replace(/\.drv$/, ''));
      const { env, files: bfiles } = builderEnvironment(d, {
        buildTop: `$TMPDIR/nix-build-${name}-0`,
        storeDir: '/nix/store',
        cores: 1,
      });
      const lines = [...env].map(([k, val]) => `${k}=${val}`).sort();
      expect(lines.join('\n') + '\n').toBe(envDump);
      if (typeof files === 'object' && files['attrs.json'] !== undefined) {
        expect(bfiles.get('.attrs.json')).toBe(files['attrs.json']);
        expect(bfiles.get('.attrs.sh')).toBe(files['attrs.sh']);
        expect(structuredAttrsFiles(d, d.env.get('__json') as string).attrsJson).toBe(files['attrs.json']);
      }
    });
  }

  it('lets the derivation override PATH and HOME but not the build directory or TERM', () => {
    const d = parseDerivation(
      'Derive([("out","/nix/store/bsmzx2a2gg9qp7zj1zi35phnak2zh46x-p","","")],[],[],"x86_64-linux","/bin/sh",[],[("HOME","/h"),("NIX_BUILD_TOP","x"),("PATH","/p"),("TERM","dumb"),("out","/nix/store/bsmzx2a2gg9qp7zj1zi35phnak2zh46x-p")])',
      'p',
    );
    const { env } = builderEnvironment(d, { buildTop: '/b', storeDir: '/nix/store', cores: 3 });
    expect(env.get('PATH')).toBe('/p');
    expect(env.get('HOME')).toBe('/h');
    expect(env.get('NIX_BUILD_TOP')).toBe('/b');
    expect(env.get('TERM')).toBe('xterm-256color');
    expect(env.get('NIX_BUILD_CORES')).toBe('3');
  });
});

describe('reference scanner', () => {
  const a = '0123456789abcdfghijklmnpqrsvwxyz';
  const b = 'zyxwvsrqpnmlkjihgfdcba9876543210';
  it('finds hash parts, also across chunk boundaries, and nothing else', () => {
    const s = new RefScanner([a, b, 'x'.repeat(32)]);
    const text = Buffer.from(`/store/${a}-foo and ${b}`, 'latin1');
    for (let i = 0; i < text.length; i += 5) s.sink(text.subarray(i, i + 5));
    expect([...s.found].sort()).toEqual([a, b].sort());
  });
  it('does not match inside a longer run at the wrong offset only', () => {
    const s = new RefScanner([a]);
    s.sink(Buffer.from('e' + a.slice(1) + 'e'));
    expect(s.found.size).toBe(0);
    const t = new RefScanner([a]);
    t.sink(Buffer.from('00' + a + '11'));
    expect([...t.found]).toEqual([a]);
  });
});

describe('file locks', () => {
  it('exclude each other in one process and are free again after release', () => {
    const f = join(tempDir(), 'x.lock');
    const l1 = FileLock.tryAcquire(f);
    expect(l1).toBeDefined();
    expect(FileLock.tryAcquire(f)).toBeUndefined();
    l1!.release();
    const l2 = FileLock.tryAcquire(f);
    expect(l2).toBeDefined();
    l2!.release();
  });
  it('are released by the kernel when their holder is killed', async () => {
    const f = join(tempDir(), 'y.lock');
    const script = `const D=require(${JSON.stringify(require.resolve('better-sqlite3'))});const db=new D(${JSON.stringify(f)});db.exec('BEGIN EXCLUSIVE');console.log('held');setTimeout(()=>{},60000);`;
    const child = spawn(process.execPath, ['-e', script]);
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    expect(FileLock.tryAcquire(f)).toBeUndefined();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const l = FileLock.tryAcquire(f);
    expect(l).toBeDefined();
    l!.release();
  });
});

describe('tsnix build', () => {
  let s: Env;
  beforeEach(() => {
    s = newStore();
  });

  it('builds a single output, links result, prints the path, and does nothing the second time', () => {
    const counter = join(s.dir, 'runs');
    writeNix(s, drv('single', `echo run >> ${counter}; echo building single >&2; echo hello > $out`));
    const r = tsnix(s, ['build']);
    expect(r.stderr).toContain('this derivation will be built:\n  ' + s.store);
    expect(r.stderr).toMatch(/building '.*-single\.drv'\.\.\.\nbuilding single\n/);
    expect(r.code).toBe(0);
    const out = r.stdout.trim();
    expect(out).toMatch(new RegExp(`^${s.store}/[0-9a-z]{32}-single$`));
    expect(readFileSync(out, 'utf8')).toBe('hello\n');
    const link = join(s.dir, 'work', 'result');
    expect(readlinkSync(link)).toBe(out);
    expect(readFileSync(link, 'utf8')).toBe('hello\n');
    // canonical: read-only, mtime 1
    const st = lstatSync(out);
    expect(st.mode & 0o777).toBe(0o444);
    expect(st.mtimeMs).toBe(1000);
    // registered with its deriver, and the log kept
    const deriver = tsnix(s, ['store', 'query', '--deriver', out]).stdout.trim();
    expect(deriver).toMatch(/-single\.drv$/);
    expect(tsnix(s, ['store', 'log', out]).stdout).toBe('building single\n');
    expect(tsnix(s, ['store', 'log', deriver]).stdout).toBe('building single\n');
    // already valid: nothing runs
    const again = tsnix(s, ['build', '--no-out-link']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(out);
    expect(again.stderr).not.toContain('building');
    expect(readFileSync(counter, 'utf8')).toBe('run\n');
    // the build directory is gone
    expect(readdirSync(join(s.dir, 'tmp'))).toEqual([]);
  });

  it('builds several outputs, registers all of them, prints and links the selected one', () => {
    writeNix(
      s,
      drv('multi', 'echo "I am $out" > $out; echo "my out is $out" > $dev; /usr/bin/mkdir $lib; echo lib > $lib/l', 'outputs = [ "out" "dev" "lib" ];'),
    );
    const r = tsnix(s, ['build', '-A', 'dev']);
    expect(r.code).toBe(0);
    const dev = r.stdout.trim();
    expect(dev).toMatch(/-multi-dev$/);
    expect(readlinkSync(join(s.dir, 'work', 'result-dev'))).toBe(dev);
    const drvPath = tsnix(s, ['store', 'query', '--deriver', dev]).stdout.trim();
    const outs = tsnix(s, ['store', 'realise', drvPath]).stdout.trim().split('\n');
    expect(outs).toHaveLength(3);
    const out = outs.find((p) => p.endsWith('-multi')) as string;
    // dev refers to out (scanned), out to itself
    expect(tsnix(s, ['store', 'query', '--references', dev]).stdout.trim()).toBe(out);
    expect(tsnix(s, ['store', 'query', '--references', out]).stdout.trim()).toBe(out);
    const lib = outs.find((p) => p.endsWith('-multi-lib')) as string;
    expect(lstatSync(lib).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(lib, 'l'), 'utf8')).toBe('lib\n');
  });

  it('builds a chain of dependencies and finds references by scanning', () => {
    writeNix(
      s,
      `let a = ${drv('a', 'echo a > $out')};
           unused = builtins.toFile "unused" "x";
           b = ${drv('b', 'echo "uses ${a}" > $out; echo ${unused} > /dev/null', 'inherit a unused;')};
           z = ${drv('z', 'echo z > $out')};
           noctx = builtins.unsafeDiscardStringContext "\${z}"; # not an input: not scanned for
       in ${drv('c', 'echo "b is ${b}" > $out; echo ${noctx} >> $out', 'inherit b;')}`,
    );
    const r = tsnix(s, ['build', '--no-out-link']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('these 3 derivations will be built:');
    // inputs first
    const order = [...r.stderr.matchAll(/building '.*-(\w)\.drv'/g)].map((m) => m[1]);
    expect(order).toEqual(['a', 'b', 'c']);
    const c = r.stdout.trim();
    const refsC = tsnix(s, ['store', 'query', '--references', c]).stdout.trim().split('\n');
    expect(refsC).toHaveLength(1);
    expect(refsC[0]).toMatch(/-b$/);
    const refsB = tsnix(s, ['store', 'query', '--references', refsC[0]!]).stdout.trim().split('\n');
    // a is referenced, the unused toFile input is not
    expect(refsB).toHaveLength(1);
    expect(refsB[0]).toMatch(/-a$/);
    const req = tsnix(s, ['store', 'query', '--requisites', c]).stdout.trim().split('\n');
    expect(req.map((p) => p.slice(p.lastIndexOf('/') + 34))).toEqual(['a', 'b', 'c']);
  });

  it('checks the hash of a fixed-output derivation', () => {
    const fod = (hash: string) =>
      drv('fixed.txt', 'echo -n hello > $out', `outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = "${hash}";`);
    writeNix(s, fod('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'), 'good.nix');
    const good = tsnix(s, ['build', '--no-out-link', 'good.nix']);
    expect(good.code).toBe(0);
    const out = good.stdout.trim();
    expect(readFileSync(out, 'utf8')).toBe('hello');
    writeNix(s, fod('0000000000000000000000000000000000000000000000000000000000000000'), 'bad.nix');
    const bad = tsnix(s, ['build', '--no-out-link', 'bad.nix']);
    expect(bad.code).toBe(102);
    expect(bad.stderr).toMatch(
      /error: hash mismatch in fixed-output derivation '.*-fixed\.txt\.drv':\n {9}specified: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n {12}got: {4}sha256-LPJNul\+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=\n/,
    );
    const badOut = tsnix(s, ['instantiate', '--eval', '-E', `(import ./bad.nix).outPath`]).stdout.trim().replace(/"/g, '');
    expect(existsSync(badOut)).toBe(false);
  });

  it('reports a failing builder, registers nothing and never caches the failure', () => {
    const counter = join(s.dir, 'runs');
    writeNix(s, drv('fails', `echo run >> ${counter}; echo partial > $out; echo oops; exit 3`));
    const r = tsnix(s, ['build']);
    expect(r.code).toBe(100);
    expect(r.stderr).toMatch(/oops\nerror: builder for '.*-fails\.drv' failed with exit code 3\n$/);
    expect(r.stdout).toBe('');
    expect(existsSync(join(s.dir, 'work', 'result'))).toBe(false);
    const out = tsnix(s, ['instantiate', '--eval', '-E', '(import ./.).outPath']).stdout.trim().replace(/"/g, '');
    expect(existsSync(out)).toBe(false);
    expect(tsnix(s, ['store', 'query', '--hash', out]).code).not.toBe(0);
    const r2 = tsnix(s, ['build']);
    expect(r2.code).toBe(100);
    expect(readFileSync(counter, 'utf8')).toBe('run\nrun\n');
  });

  it('reports a missing output, a builder killed by a signal, and a derivation for another system', () => {
    writeNix(s, drv('noout', 'echo nothing'), 'noout.nix');
    const a = tsnix(s, ['build', 'noout.nix']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/error: builder for '.*-noout\.drv' failed to produce output path for output 'out' at '.*-noout'\n$/);
    writeNix(s, drv('killed', 'echo half > $out; kill -9 $$'), 'killed.nix');
    const b = tsnix(s, ['build', 'killed.nix']);
    expect(b.code).toBe(100);
    expect(b.stderr).toMatch(/failed due to signal 9 \(Killed\)\n$/);
    writeNix(s, 'derivation { name = "other"; system = "riscv7-plan9"; builder = "/bin/sh"; }', 'other.nix');
    const c = tsnix(s, ['build', 'other.nix']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/error: a 'riscv7-plan9' with features \{\} is required to build '.*-other\.drv', but I am a '[a-z0-9_]+-linux' with features \{.*\}\n$/);
  });

  it('stops at the first failure, or with --keep-going builds what it can and reports every failure', () => {
    writeNix(
      s,
      `rec { ok = ${drv('ok', 'echo ok > $out')}; bad = ${drv('bad', 'exit 1')};
             dep = ${drv('dep', 'echo ${bad} > $out')}; }`,
    );
    const r = tsnix(s, ['build', '--no-out-link', '-A', 'dep']);
    expect(r.code).toBe(100);
    expect(r.stderr).toMatch(/error: builder for '.*-bad\.drv' failed with exit code 1\nerror: 1 dependencies of derivation '.*-dep\.drv' failed to build\n$/);
    const k = tsnix(s, ['build', '--no-out-link', '--keep-going', '-A', 'bad', '-A', 'ok', '-A', 'dep']);
    expect(k.code).toBe(100);
    expect(k.stderr).toMatch(/error: build of '.*-bad\.drv', '.*-dep\.drv' failed\n$/);
    const okOut = tsnix(s, ['instantiate', '--eval', '-A', 'ok.outPath']).stdout.trim().replace(/"/g, '');
    expect(readFileSync(okOut, 'utf8')).toBe('ok\n');
  });

  it('runs independent builds in parallel with -j2 and one at a time with -j1', () => {
    const log = join(s.dir, 'times');
    const script = (n: string) => `echo start ${n} >> ${log}; sleep 0.6 2>/dev/null || /bin/sleep 0.6; echo end ${n} >> ${log}; echo ${n} > $out`;
    writeNix(s, `[ (${drv('p1', script('1'))}) (${drv('p2', script('2'))}) ]`);
    const j2 = tsnix(s, ['build', '--no-out-link', '-j2']);
    expect(j2.code).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n').slice(0, 2).every((l) => l.startsWith('start'))).toBe(true);
    rmSync(log);
    writeNix(s, `[ (${drv('q1', script('1'))}) (${drv('q2', script('2'))}) ]`);
    const j1 = tsnix(s, ['build', '--no-out-link', '-j', '1']);
    expect(j1.code).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n').slice(0, 2)).toEqual(['start 1', 'end 1']);
  });

  it('builds a derivation once when two processes build it at the same time', async () => {
    const counter = join(s.dir, 'runs');
    writeNix(s, drv('shared', `echo run >> ${counter}; /bin/sleep 1; echo done > $out`));
    const a = tsnixAsync(s, ['build', '--no-out-link']);
    const b = tsnixAsync(s, ['build', '--no-out-link']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    // (the other process's stderr too: a failure here has been seen once and not reproduced)
    expect(ra.code, `first: ${ra.stderr}\nsecond: ${rb.stderr}`).toBe(0);
    expect(rb.code, `second: ${rb.stderr}\nfirst: ${ra.stderr}`).toBe(0);
    expect(ra.stdout).toBe(rb.stdout);
    expect(readFileSync(counter, 'utf8')).toBe('run\n');
    expect(ra.stderr + rb.stderr).toMatch(/waiting for lock on '.*-shared'/);
  });

  it('recovers when a build is killed mid-way: the lock is free, the partial output is replaced', async () => {
    const marker = join(s.dir, 'first-attempt');
    writeNix(
      s,
      drv('resumable', `if [ -e ${marker} ]; then echo complete > $out; else echo partial > $out; echo > ${marker}; /bin/sleep 60; fi`),
    );
    const first = tsnixAsync(s, ['build', '--no-out-link']);
    await waitFor(() => existsSync(marker));
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    expect(r1.signal).toBe('SIGKILL');
    const out = tsnix(s, ['instantiate', '--eval', '-E', '(import ./.).outPath']).stdout.trim().replace(/"/g, '');
    expect(readFileSync(out, 'utf8')).toBe('partial\n'); // left behind, not valid
    const t0 = Date.now();
    const r2 = tsnix(s, ['build', '--no-out-link']);
    expect(r2.code).toBe(0);
    expect(r2.stderr).not.toContain('waiting for lock');
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r2.stdout.trim()).toBe(out);
    expect(readFileSync(out, 'utf8')).toBe('complete\n');
  });

  it('runs builtin:fetchurl (<nix/fetchurl.nix>) for file:// URLs, checking the hash', () => {
    const src = join(s.dir, 'hello.txt');
    writeFileSync(src, 'hello');
    const sha = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    const ok = tsnix(s, ['build', '--no-out-link', '-E', `import <nix/fetchurl.nix> { url = "file://${src}"; sha256 = "${sha}"; }`]);
    expect(ok.code).toBe(0);
    expect(readFileSync(ok.stdout.trim(), 'utf8')).toBe('hello');
    writeFileSync(src, 'changed');
    const bad = tsnix(s, ['build', '--no-out-link', '-E', `import <nix/fetchurl.nix> { url = "file://${src}"; sha256 = "${sha}"; name = "other"; }`]);
    expect(bad.code).toBe(102);
    expect(bad.stderr).toContain('hash mismatch in fixed-output derivation');
    const missing = tsnix(s, ['build', '--no-out-link', '-E', `import <nix/fetchurl.nix> { url = "file://${src}.nope"; sha256 = "${sha}"; }`]);
    expect(missing.code).toBe(100);
    expect(missing.stderr).toContain(`error: unable to download 'file://${src}.nope': No such file or directory`);
  });

  it('unpacks a NAR with builtin:fetchurl (unpack = true), also xz-compressed, as CppNix does', () => {
    const tree = join(s.dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'a'), 'hi\n');
    writeFileSync(join(tree, 'sub', 'x'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('a', join(tree, 'link'));
    const dump = spawnSync(BIN, ['store', 'dump', tree], { env: { ...process.env, ...s.env } });
    expect(dump.status).toBe(0);
    const nar = join(s.dir, 't.nar');
    writeFileSync(nar, dump.stdout);
    const sha = createHash('sha256').update(dump.stdout).digest('hex');
    const fetchNar = (file: string, name = 't.nar') =>
      `import <nix/fetchurl.nix> { url = "file://${file}"; sha256 = "${sha}"; unpack = true; name = "${name}"; }`;
    const r = tsnix(s, ['build', '--no-out-link', '-E', fetchNar(nar)]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trim();
    // (the fixed-output path of the NAR's hash: CppNix 2.8, given this NAR in a store at the same place, printed the same)
    expect(out).toBe(fixedOutputPath(s, 't.nar', sha));
    expect(readFileSync(join(out, 'a'), 'utf8')).toBe('hi\n');
    expect(lstatSync(join(out, 'sub', 'x')).mode & 0o777).toBe(0o555);
    expect(readlinkSync(join(out, 'link'))).toBe('a');
    if (spawnSync('xz', ['--version']).status === 0) {
      const xz = spawnSync('xz', ['-c'], { input: dump.stdout });
      writeFileSync(`${nar}.xz`, xz.stdout);
      const rx = tsnix(s, ['build', '--no-out-link', '-E', fetchNar(`${nar}.xz`, 'from-xz')]);
      expect(rx.code, rx.stderr).toBe(0);
      expect(readFileSync(join(rx.stdout.trim(), 'sub', 'x'), 'utf8')).toBe('#!/bin/sh\n');
    }
    // a NAR whose entry is named '..' is refused, and nothing is left behind
    const evil = narOf([['type', 'directory'], ['entry', '(', 'name', '..', 'node', '(', 'type', 'regular', 'contents', 'x', ')', ')'], [')']]);
    writeFileSync(join(s.dir, 'evil.nar'), evil);
    const esha = createHash('sha256').update(evil).digest('hex');
    const bad = tsnix(s, ['build', '--no-out-link', '-E', `import <nix/fetchurl.nix> { url = "file://${join(s.dir, 'evil.nar')}"; sha256 = "${esha}"; unpack = true; }`]);
    expect(bad.code).toBe(100);
    expect(bad.stderr).toMatch(/builtin:fetchurl: unpacking 'file:\/\/.*evil\.nar': .*\.\./);
    expect(readdirSync(s.store).filter((n) => n.endsWith('-evil.nar'))).toEqual([]);
  });

  it('keeps what result links root through a garbage collection and deletes the rest', () => {
    writeNix(s, `{ kept = ${drv('kept', 'echo kept > $out')}; dropped = ${drv('dropped', 'echo dropped > $out')}; }`);
    const kept = tsnix(s, ['build', '-A', 'kept', '-o', 'kept-link']);
    const dropped = tsnix(s, ['build', '-A', 'dropped', '--no-out-link']);
    expect(kept.code).toBe(0);
    expect(dropped.code).toBe(0);
    const keptOut = kept.stdout.trim();
    const droppedOut = dropped.stdout.trim();
    const keptDrv = tsnix(s, ['store', 'query', '--deriver', keptOut]).stdout.trim();
    const gc = tsnix(s, ['store', 'gc']);
    expect(gc.code).toBe(0);
    expect(existsSync(droppedOut)).toBe(false);
    expect(tsnix(s, ['store', 'query', '--hash', droppedOut]).code).not.toBe(0);
    expect(readFileSync(join(s.dir, 'work', 'kept-link'), 'utf8')).toBe('kept\n');
    expect(existsSync(keptDrv)).toBe(true); // a live output keeps its derivation
    // building again after the collection works (nothing stale is cached)
    const again = tsnix(s, ['build', '-A', 'dropped', '--no-out-link']);
    expect(again.code).toBe(0);
    expect(readFileSync(droppedOut, 'utf8')).toBe('dropped\n');
    rmSync(join(s.dir, 'work', 'kept-link'));
    expect(tsnix(s, ['store', 'gc']).code).toBe(0);
    expect(existsSync(keptOut)).toBe(false);
    expect(existsSync(keptDrv)).toBe(false);
    // the build locks of deleted outputs go too (everything was collected)
    expect(existsSync(droppedOut)).toBe(false);
    expect(readdirSync(join(s.state, 'locks'))).toEqual([]);
  });

  it('--dry-run lists what would be built, in path order, and builds nothing', () => {
    writeNix(s, `rec { a = ${drv('a', 'echo a > $out')}; b = ${drv('b', 'echo ${a} > $out')}; }`);
    const r = tsnix(s, ['build', '--dry-run', '-A', 'b']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const listed = [...r.stderr.matchAll(/^ {2}(\S+\.drv)$/gm)].map((m) => m[1]!);
    expect(r.stderr).toMatch(/^these 2 derivations will be built:\n/);
    expect(listed).toHaveLength(2);
    expect([...listed].sort()).toEqual(listed);
    expect(r.stderr).not.toContain('building');
    const out = tsnix(s, ['instantiate', '--eval', '-A', 'b.outPath']).stdout.trim().replace(/"/g, '');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(s.dir, 'work', 'result'))).toBe(false);
  });

  it('fetches outputs from a substituter (file:// binary cache) instead of building them', () => {
    const counter = join(s.dir, 'runs');
    writeNix(
      s,
      `let dep = ${drv('dep', `echo run dep >> ${counter}; echo dep > $out`)};
       in ${drv('top', `echo run top >> ${counter}; echo \${dep} > $out`)}`,
    );
    const first = tsnix(s, ['build', '--no-out-link']);
    expect(first.code).toBe(0);
    const top = first.stdout.trim();
    const cache = join(s.dir, 'cache');
    expect(tsnix(s, ['copy', '--to', `file://${cache}?compression=none`, top]).code).toBe(0);
    // a fresh store at the same place (same paths), with the cache as substituter
    spawnSync('chmod', ['-R', 'u+w', s.store]);
    rmSync(s.store, { recursive: true, force: true });
    rmSync(s.state, { recursive: true, force: true });
    const r = tsnix(s, ['build', '--no-out-link', '--option', 'substituters', `file://${cache}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(top);
    expect(r.stderr).toMatch(/these 2 paths will be fetched \(0\.00 MiB download, 0\.00 MiB unpacked\):\n/);
    expect(r.stderr).toContain(`copying path '${top}' from 'file://${cache}'...`);
    expect(r.stderr).not.toContain('will be built');
    expect(readFileSync(counter, 'utf8')).toBe('run dep\nrun top\n'); // no builder ran the second time
    const refs = tsnix(s, ['store', 'query', '--references', top]).stdout.trim();
    expect(refs).toMatch(/-dep$/);
    expect(readFileSync(top, 'utf8')).toBe(`${refs}\n`);
    // a cache without the paths: built as usual
    const other = tsnix(s, ['build', '--no-out-link', '-E', drv('fresh', 'echo fresh > $out'), '--option', 'substituters', `file://${cache}`]);
    expect(other.code).toBe(0);
    expect(other.stderr).toContain('this derivation will be built:');
  });

  it('accepts a .drv path and attribute paths, and store realise prints every output', () => {
    writeNix(s, `{ x = ${drv('x', 'echo x > $out')}; }`);
    const drvPath = tsnix(s, ['instantiate', '-A', 'x']).stdout.trim();
    expect(drvPath).toMatch(/-x\.drv$/);
    const r = tsnix(s, ['build', drvPath, '--no-out-link']);
    expect(r.code).toBe(0);
    const out = r.stdout.trim();
    expect(tsnix(s, ['store', 'realise', drvPath]).stdout).toBe(out + '\n');
    expect(tsnix(s, ['store', '-r', `${drvPath}!out`]).stdout).toBe(out + '\n');
  });
});

describe('builds in the default store (logical /nix/store under TSNIX_ROOT)', () => {
  const canNamespace =
    existsSync('/nix') &&
    (spawnSync('unshare', ['--mount', 'true']).status === 0 ||
      spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true']).status === 0);
  const vf = loadVectors<{
    id: string;
    expression: string;
    build_stdout: string;
    outputs: Record<
      string,
      {
        path: string;
        narHash: string;
        narSize: number;
        references: string[];
        deriver: string;
        stat: { path: string; mode: string; mtime: number }[];
        file_contents?: Record<string, string> | string;
      }
    >;
  }>('builds.json');

  // Without a mount namespace (no /nix, no unshare) builds in this mode are
  // refused with an error naming TSNIX_STORE_DIR: that is tested instead.
  it.runIf(!canNamespace)('refuses clearly when builders cannot get a private mount namespace', () => {
    const root = tempDir('tsnix-root-');
    const r = spawnSync(BIN, ['build', '-E', drv('x', 'echo > $out')], {
      env: { ...process.env, TSNIX_ROOT: root, TSNIX_STORE_DIR: '', TSNIX_STATE_DIR: '', NIX_CONFIG: '' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('TSNIX_STORE_DIR');
  });

  it.runIf(canNamespace)('gives every output of builds.json the same path, NAR hash, references and modes as CppNix', () => {
    const root = tempDir('tsnix-root-');
    const tmp = tempDir('tsnix-tmp-');
    for (const v of vf.vectors) {
      const dir = join(root, 'work', v.id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'expr.nix'), v.expression);
      const env = { ...process.env, TSNIX_ROOT: root, TSNIX_STORE_DIR: '', TSNIX_STATE_DIR: '', TMPDIR: tmp, NIX_CONFIG: '' };
      const r = spawnSync(BIN, ['build', '--cores', '1', '--no-out-link', 'expr.nix'], { cwd: dir, env, encoding: 'utf8' });
      expect(r.stderr).not.toContain('error');
      expect(r.stdout).toBe(v.build_stdout);
      for (const o of Object.values(v.outputs)) {
        const q = (flag: string) =>
          spawnSync(BIN, ['store', 'query', flag, o.path], { env, encoding: 'utf8' }).stdout.trim();
        const phys = join(root, o.path);
        const fc = o.file_contents;
        if (typeof fc === 'object') {
          for (const [name, text] of Object.entries(fc)) {
            expect(readFileSync(join(phys, name), 'utf8').split(tmp).join('$TMPDIR')).toBe(text);
          }
        } else {
          // outputs that do not record the build directory are byte-identical
          expect(q('--hash')).toBe(o.narHash);
          expect(q('--size')).toBe(String(o.narSize));
        }
        expect(q('--references').split('\n').filter((x) => x)).toEqual(o.references);
        expect(q('--deriver')).toBe(o.deriver);
        for (const st of o.stat) {
          const l = lstatSync(join(phys, st.path));
          if (!l.isSymbolicLink()) expect(`${v.id}:${st.path}:${(l.mode & 0o7777).toString(8).padStart(4, '0')}`).toBe(`${v.id}:${st.path}:${st.mode}`);
          expect(l.mtimeMs).toBe(st.mtime * 1000);
        }
      }
    }
  });
});
