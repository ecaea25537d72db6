// The garbage collector (src/store/gc.ts, src/store/gc-roots.ts) and its
// commands (`tsnix store gc | delete | query --roots`). Every test uses its
// own temporary store; the CLI tests run bin/tsnix (after `npm run build`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreDatabase } from '../../src/store/database.js';
import { fillInOutputPaths, type Derivation } from '../../src/store/derivation.js';
import { collectGarbage, GcResults, parseSize, PathAliveError, queryRoots, showBytes } from '../../src/store/gc.js';
import { addIndirectRoot, findRoots, rootLines } from '../../src/store/gc-roots.js';
import { LocalStore, narHashOfContents, removeTree, TEMP_PREFIX } from '../../src/store/local-store.js';
import { FileLock } from '../../src/store/lock.js';
import { signedMiB } from '../../src/store/optimise.js';
import { storeLocation, storeLocationAt, type StoreLocation } from '../../src/store/store-location.js';
import { gcLockPath, tempRootsDir, TempRoots } from '../../src/store/temp-roots.js';
import { storeDirEntries } from './tree-helpers.js';

const ROOT = resolve(__dirname, '../..');
const TSNIX = join(ROOT, 'bin/tsnix');
const DIST_TEMP_ROOTS = join(ROOT, 'dist/src/store/temp-roots.js');

// ---------------------------------------------------------------------------
// Helpers

const dirs: string[] = [];
const stores: LocalStore[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of stores.splice(0)) s.close();
});

afterAll(() => {
  for (const d of dirs) removeTree(Buffer.from(d));
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnix-gc-'));
  dirs.push(d);
  return d;
}

interface TestStore {
  store: LocalStore;
  base: string;
  loc: StoreLocation;
  env: NodeJS.ProcessEnv;
}

/** A store at `<tmp>/store`, state in `<tmp>/var` (TSNIX_STORE_DIR mode). */
function newStore(): TestStore {
  const base = tmp();
  const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
  const store = new LocalStore({ location: loc, autoCommit: false });
  stores.push(store);
  const env = { ...process.env, TSNIX_STORE_DIR: loc.storeDir, TSNIX_STATE_DIR: loc.stateDir };
  delete env.TSNIX_ROOT;
  return { store, base, loc, env };
}

/** Whether the database says `p` is valid (asked afresh, not through a LocalStore's cache). */
function isValid(loc: StoreLocation, p: string): boolean {
  const db = new StoreDatabase(loc.dbPath);
  try {
    return db.isValidPath(p);
  } finally {
    db.close();
  }
}

/**
 * Commit, then drop this (test) process's temporary roots: the paths it just
 * wrote would otherwise stay alive while it runs, as in CppNix.
 */
function settle(store: LocalStore): void {
  store.commit();
  TempRoots.of(store.location.stateDir).release();
}

function onDisk(store: LocalStore, p: string): boolean {
  return lstatSync(store.toPhysical(p), { throwIfNoEntry: false }) !== undefined;
}

/** A text path with references, committed. */
function text(store: LocalStore, name: string, contents: string, refs: string[] = []): string {
  const p = store.addText(name, contents, refs);
  settle(store);
  return p;
}

/** A file of `size` distinct bytes added to the store. */
function blob(t: TestStore, name: string, size: number, seed: number): string {
  const src = join(t.base, `src-${name}`);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  writeFileSync(src, b);
  const p = t.store.addPath(src, { name, method: 'recursive' }).path;
  settle(t.store);
  return p;
}

/** A derivation (writing `$out`) with the given sources; returns its .drv and output paths. */
function derivation(store: LocalStore, name: string, srcs: string[] = []): { drv: string; out: string } {
  const drv: Derivation = {
    name,
    outputs: new Map([['out', { path: '' }]]),
    inputDrvs: new Map(),
    inputSrcs: new Set(srcs),
    platform: 'x86_64-linux',
    builder: '/bin/sh',
    args: ['-c', 'echo hi > $out'],
    env: new Map([
      ['builder', '/bin/sh'],
      ['name', name],
      ['out', ''],
      ['system', 'x86_64-linux'],
    ]),
  };
  const filled = fillInOutputPaths(drv, { readDerivation: (p) => store.readDerivation(p) }, store.storeDir);
  const drvPath = store.writeDerivation(filled);
  settle(store);
  return { drv: drvPath, out: filled.outputs.get('out')?.path as string };
}

/** "Build" an output: write it and register it with its deriver, as the builder does. */
function build(store: LocalStore, d: { drv: string; out: string }, contents = 'hi\n'): void {
  const c = Buffer.from(contents);
  writeFileSync(store.toPhysical(d.out), c, { mode: 0o444 });
  const nar = narHashOfContents(c);
  store.db.registerValidPaths([{ path: d.out, narHash: nar.hash, narSize: nar.size, references: [], deriver: d.drv }]);
}

/** A direct root: `<stateDir>/gcroots/<name>` -> the (physical) target. */
function directRoot(t: TestStore, name: string, target: string): string {
  const link = join(t.loc.stateDir, 'gcroots', name);
  mkdirSync(join(link, '..'), { recursive: true });
  symlinkSync(t.store.toPhysical(target), link);
  return link;
}

function gc(t: TestStore, opts: Partial<Parameters<typeof collectGarbage>[1]> = {}): { results: GcResults; log: string[] } {
  const log: string[] = [];
  const results = collectGarbage(t.store, { action: 'delete-dead', log: (l) => log.push(l), ...opts });
  return { results, log };
}

function run(t: TestStore, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSNIX, args, { env: t.env, cwd: t.base, encoding: 'latin1' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A child process holding temporary roots (through temp-roots.ts) until killed. */
async function holdTempRoots(stateDir: string, paths: string[]): Promise<ChildProcess> {
  const script = `
    const { TempRoots } = await import(${JSON.stringify(DIST_TEMP_ROOTS)});
    // kept referenced: a collected TempRoots would close its lock's database and release the lock
    globalThis.roots = new TempRoots(process.argv[1]);
    globalThis.roots.add(JSON.parse(process.argv[2]));
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);
  `;
  const c = spawn(process.execPath, ['--input-type=module', '-e', script, stateDir, JSON.stringify(paths)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  children.push(c);
  await new Promise<void>((ok, fail) => {
    let out = '';
    let err = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) ok();
    });
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => fail(new Error(`temp-root holder exited (${code}): ${err}`)));
  });
  return c;
}

async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((ok) => c.on('exit', ok));
  c.kill('SIGKILL');
  await done;
}

function storeEntries(t: TestStore): string[] {
  return storeDirEntries(t.loc.realStoreDir);
}

/**
 * What every collection that deletes prints last, about the hard links of
 * optimise.ts: none here, so they save nothing, less the blocks of the links
 * directory ("-0.00 MiB" on ext4, "0.00 MiB" on tmpfs).
 */
function linksLines(t: TestStore): string[] {
  const blocks = BigInt(statSync(join(t.loc.realStoreDir, '.links')).blocks);
  return ['deleting unused links...', `note: currently hard linking saves ${signedMiB(-blocks * 512n)}`];
}

// ---------------------------------------------------------------------------

describe('liveness', () => {
  it('keeps the whole closure of a root and deletes the unrooted paths', () => {
    const t = newStore();
    const { store, loc } = t;
    const leaf = text(store, 'leaf', 'leaf');
    const mid = text(store, 'mid', `mid ${leaf}`, [leaf]);
    const top = text(store, 'top', `top ${mid}`, [mid]);
    const loose = text(store, 'loose', 'loose');
    const looseRef = text(store, 'loose-ref', `x ${loose} ${leaf}`, [loose, leaf]);
    directRoot(t, 'top', top);

    const { results, log } = gc(t, { runtimeRoots: false });
    for (const p of [leaf, mid, top]) {
      expect(onDisk(store, p), p).toBe(true);
      expect(isValid(loc, p), p).toBe(true);
    }
    for (const p of [loose, looseRef]) {
      expect(onDisk(store, p), p).toBe(false);
      expect(isValid(loc, p), p).toBe(false);
    }
    // referrers go first
    expect(results.paths).toEqual([looseRef, loose]);
    expect(log).toEqual([
      'finding garbage collector roots...',
      'deleting garbage...',
      `deleting '${looseRef}'`,
      `deleting '${loose}'`,
      ...linksLines(t),
    ]);
    expect(results.bytesFreed).toBe(Buffer.byteLength(`x ${loose} ${leaf}`) + 'loose'.length);
  });

  it('counts a link to a file below a store path as a root of that path', () => {
    const t = newStore();
    const src = join(t.base, 'tree');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'bin', 'x'), 'x');
    const p = t.store.addPath(src, { name: 'tree', method: 'recursive' }).path;
    settle(t.store);
    directRoot(t, 'deep', `${p}/bin/x`);
    gc(t, { runtimeRoots: false });
    expect(isValid(t.loc, p)).toBe(true);
    expect(existsSync(t.store.toPhysical(`${p}/bin/x`))).toBe(true);
  });

  it('keeps the deriver of a live output, but not the output of a live derivation', () => {
    const t = newStore();
    const { store, loc } = t;
    const src = text(store, 'builder.sh', 'echo hi');
    const a = derivation(store, 'a', [src]);
    build(store, a);
    const b = derivation(store, 'b');
    build(store, b, 'b\n');
    const c = derivation(store, 'c');
    build(store, c, 'c\n');
    directRoot(t, 'a-out', a.out);
    directRoot(t, 'b-drv', b.drv);

    gc(t, { runtimeRoots: false });
    // a: the output is rooted, so its .drv and the .drv's inputs stay
    for (const p of [a.out, a.drv, src]) expect(isValid(loc, p), p).toBe(true);
    // b: only the .drv is rooted (keep-outputs = false)
    expect(isValid(loc, b.drv)).toBe(true);
    expect(isValid(loc, b.out)).toBe(false);
    expect(onDisk(store, b.out)).toBe(false);
    // c: nothing rooted
    for (const p of [c.drv, c.out]) {
      expect(isValid(loc, p), p).toBe(false);
      expect(onDisk(store, p), p).toBe(false);
    }
  });

  it('keeps the outputs of a live derivation with keepOutputs', () => {
    const t = newStore();
    const b = derivation(t.store, 'b');
    build(t.store, b);
    directRoot(t, 'b-drv', b.drv);
    gc(t, { runtimeRoots: false, keepOutputs: true });
    expect(isValid(t.loc, b.out)).toBe(true);
  });

  it('--print-live and --print-dead list without deleting anything', () => {
    const t = newStore();
    const leaf = text(t.store, 'leaf', 'leaf');
    const top = text(t.store, 'top', `top ${leaf}`, [leaf]);
    const loose = text(t.store, 'loose', 'loose');
    mkdirSync(join(t.loc.realStoreDir, 'junk'));
    directRoot(t, 'top', top);
    const live = run(t, ['store', 'gc', '--print-live']);
    expect(live.status).toBe(0);
    expect(live.stdout).toBe([leaf, top].sort().join('\n') + '\n');
    expect(live.stderr).toBe('finding garbage collector roots...\ndetermining live/dead paths...\n');
    const dead = run(t, ['store', 'gc', '--print-dead']);
    expect(dead.status).toBe(0);
    expect(dead.stdout).toBe([loose, `${t.loc.storeDir}/junk`].sort().join('\n') + '\n');
    expect(dead.stderr).toBe('finding garbage collector roots...\ndetermining live/dead paths...\n');
    for (const p of [leaf, top, loose]) expect(isValid(t.loc, p) && onDisk(t.store, p), p).toBe(true);
    expect(existsSync(join(t.loc.realStoreDir, 'junk'))).toBe(true);
  });
});

describe('roots', () => {
  it('lists direct, indirect and temporary roots with --print-roots', async () => {
    const t = newStore();
    const a = text(t.store, 'a', 'a');
    const b = text(t.store, 'b', 'b');
    const c = text(t.store, 'c', 'c');
    const direct = directRoot(t, 'sub/dir/a', a);
    const result = addIndirectRoot(t.store, b, join(t.base, 'result'));
    expect(result).toBe(join(t.base, 'result'));
    expect(readlinkSync(result)).toBe(t.store.toPhysical(b));
    const holder = await holdTempRoots(t.loc.stateDir, [c]);
    const r = run(t, ['store', 'gc', '--print-roots']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${result} -> ${b}\n${direct} -> ${a}\n{temp:${holder.pid}} -> ${c}\n`);
    // nothing was deleted
    for (const p of [a, b, c]) expect(isValid(t.loc, p)).toBe(true);
  });

  it('query --roots names the roots that keep a path alive through its referrers', () => {
    const t = newStore();
    const leaf = text(t.store, 'leaf', 'leaf');
    const top = text(t.store, 'top', `top ${leaf}`, [leaf]);
    const other = text(t.store, 'other', 'other');
    const link = directRoot(t, 'top', top);
    const d = derivation(t.store, 'd', [leaf]);
    build(t.store, d);
    const result = addIndirectRoot(t.store, d.out, join(t.base, 'result'));
    const r = run(t, ['store', 'query', '--roots', leaf]);
    expect(r.status).toBe(0);
    // leaf <- top (rooted); leaf <- d.drv <- d.out (its output, rooted through result)
    expect(r.stdout).toBe(`${result} -> ${d.out}\n${link} -> ${top}\n`);
    expect(run(t, ['store', 'query', '--roots', other]).stdout).toBe('');
    // the API gives the same
    expect(rootLines(queryRoots(t.store, [d.drv], { runtimeRoots: false }))).toEqual([`${result} -> ${d.out}`]);
  });

  it('removes stale auto roots: link gone, replaced by a file, or pointing elsewhere', () => {
    const t = newStore();
    const names = ['gone', 'file', 'elsewhere', 'kept'];
    const paths = names.map((n) => text(t.store, n, n));
    const links = names.map((n, i) => addIndirectRoot(t.store, paths[i] as string, join(t.base, n)));
    const autoDir = join(t.loc.stateDir, 'gcroots', 'auto');
    const autoBefore = new Map(readdirSync(autoDir).map((n) => [readlinkSync(join(autoDir, n)), n]));
    expect(autoBefore.size).toBe(4);
    unlinkSync(links[0] as string);
    unlinkSync(links[1] as string);
    writeFileSync(links[1] as string, 'not a link');
    unlinkSync(links[2] as string);
    symlinkSync('/tmp', links[2] as string);

    const { log } = gc(t, { runtimeRoots: false });
    const autoAfter = readdirSync(autoDir);
    expect(autoAfter).toEqual([autoBefore.get(links[3] as string)]);
    for (const i of [0, 1, 2]) {
      expect(log).toContain(
        `removing stale link from '${join(autoDir, autoBefore.get(links[i] as string) as string)}' to '${links[i]}'`,
      );
      expect(isValid(t.loc, paths[i] as string)).toBe(false);
    }
    expect(isValid(t.loc, paths[3] as string)).toBe(true);
    // what the user put at the link's place is left alone
    expect(existsSync(links[1] as string)).toBe(true);
    expect(lstatSync(links[2] as string).isSymbolicLink()).toBe(true);
  });

  it('skips roots to invalid paths and ignores links pointing outside the store', () => {
    const t = newStore();
    const p = text(t.store, 'p', 'p');
    mkdirSync(join(t.loc.stateDir, 'gcroots'), { recursive: true });
    symlinkSync('/tmp', join(t.loc.stateDir, 'gcroots', 'outside'));
    symlinkSync(`${t.loc.storeDir}/${'a'.repeat(32)}-missing`, join(t.loc.stateDir, 'gcroots', 'invalid'));
    const roots = findRoots(t.store, { runtime: false });
    expect(roots.size).toBe(0);
    gc(t, { runtimeRoots: false });
    expect(isValid(t.loc, p)).toBe(false);
    expect(existsSync('/tmp')).toBe(true);
  });

  it('keeps the paths a running process uses (runtime roots)', async () => {
    const t = newStore();
    const src = join(t.base, 'dir');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'f');
    const p = t.store.addPath(src, { name: 'dir', method: 'recursive' }).path;
    settle(t.store);
    const c = spawn('sleep', ['60'], { cwd: t.store.toPhysical(p), stdio: 'ignore' });
    children.push(c);
    await new Promise((ok) => c.on('spawn', ok));
    expect(rootLines(findRoots(t.store))).toContain(`/proc/${c.pid}/cwd -> ${p}`);
    gc(t);
    expect(isValid(t.loc, p)).toBe(true);
    await kill(c);
    gc(t);
    expect(isValid(t.loc, p)).toBe(false);
    expect(onDisk(t.store, p)).toBe(false);
  });
});

describe('temporary roots', () => {
  it('a live process protects its temporary roots (and their closures); a dead one does not', async () => {
    const t = newStore();
    const leaf = text(t.store, 'leaf', 'leaf');
    const top = text(t.store, 'top', `top ${leaf}`, [leaf]);
    // an output being built: on disk, not valid yet
    const building = `${t.loc.storeDir}/${'b'.repeat(32)}-building`;
    mkdirSync(t.store.toPhysical(building));
    writeFileSync(join(t.store.toPhysical(building), 'partial'), 'x');
    writeFileSync(`${t.store.toPhysical(building)}.lock`, '');
    const holder = await holdTempRoots(t.loc.stateDir, [top, building]);

    gc(t, { runtimeRoots: false });
    for (const p of [leaf, top]) expect(isValid(t.loc, p)).toBe(true);
    expect(existsSync(join(t.store.toPhysical(building), 'partial'))).toBe(true);
    expect(existsSync(`${t.store.toPhysical(building)}.lock`)).toBe(true);
    expect(existsSync(join(tempRootsDir(t.loc.stateDir), String(holder.pid)))).toBe(true);

    await kill(holder);
    gc(t, { runtimeRoots: false });
    for (const p of [leaf, top, building]) expect(onDisk(t.store, p), p).toBe(false);
    expect(existsSync(`${t.store.toPhysical(building)}.lock`)).toBe(false);
    expect(isValid(t.loc, top)).toBe(false);
    // the dead process's roots file is gone too
    expect(existsSync(join(tempRootsDir(t.loc.stateDir), String(holder.pid)))).toBe(false);
  });

  it('paths a live process wrote or looked up stay until it lets go of them (store writes are temporary roots)', () => {
    const t = newStore();
    const written = t.store.addText('written', 'by this process', []);
    t.store.commit(); // valid, unreachable from any root, but this process still uses it
    expect(run(t, ['store', 'gc']).status).toBe(0);
    expect(isValid(t.loc, written)).toBe(true);
    expect(onDisk(t.store, written)).toBe(true);
    TempRoots.of(t.loc.stateDir).release();
    expect(run(t, ['store', 'gc']).status).toBe(0);
    expect(isValid(t.loc, written)).toBe(false);
    expect(onDisk(t.store, written)).toBe(false);
  });

  it('tsnix instantiate leaves no temporary roots behind (the file, its lock and its journal go at exit)', () => {
    const t = newStore();
    const r = run(t, ['instantiate', '-E', 'derivation { name = "d"; system = "x"; builder = "/bin/sh"; }']);
    expect(r.status).toBe(0);
    const drv = r.stdout.trim();
    expect(drv).toMatch(/^\/.*-d\.drv$/);
    expect(isValid(t.loc, drv)).toBe(true);
    // (the folder was made for this process's roots, which it dropped when done)
    expect(readdirSync(tempRootsDir(t.loc.stateDir))).toEqual([]);
    // an evaluation error exits the same way
    const e = run(t, ['instantiate', '-E', 'let e = derivation { name = "e"; system = "x"; builder = "/bin/sh"; }; in builtins.seq e.drvPath (throw "no")']);
    expect(e.status).toBe(1);
    expect(e.stderr).toContain('error: no');
    expect(readdirSync(tempRootsDir(t.loc.stateDir))).toEqual([]);
    // and with nothing left to protect it, the .drv is garbage
    expect(run(t, ['store', 'gc']).status).toBe(0);
    expect(isValid(t.loc, drv)).toBe(false);
  });

  it('a collection waits while another process holds the GC lock', async () => {
    const t = newStore();
    const p = text(t.store, 'p', 'p');
    const lock = FileLock.tryAcquire(gcLockPath(t.loc.stateDir)) as FileLock;
    expect(lock).toBeDefined();
    const c = spawn(TSNIX, ['store', 'gc'], { env: t.env, cwd: t.base, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let stderr = '';
    let stdout = '';
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((ok) => c.on('exit', ok));
    for (let i = 0; i < 200 && !stderr.includes('waiting'); i++) await new Promise((ok) => setTimeout(ok, 25));
    expect(stderr).toBe('waiting for the big garbage collector lock...\n');
    expect(isValid(t.loc, p)).toBe(true);
    lock.release();
    expect(await exited).toBe(0);
    expect(stdout).toBe('1 store paths deleted, 0.00 MiB freed\n');
    expect(isValid(t.loc, p)).toBe(false);
  });
});

describe('leftovers', () => {
  it('removes entries that are not valid paths, but not temporary files of live processes or held locks', async () => {
    const t = newStore();
    const p = text(t.store, 'kept', 'kept');
    directRoot(t, 'kept', p);
    const real = t.loc.realStoreDir;
    // a read-only leftover tree, as a failed build leaves it
    const left = join(real, `${'c'.repeat(32)}-failed`);
    mkdirSync(join(left, 'sub'), { recursive: true });
    writeFileSync(join(left, 'sub', 'f'), 'abc');
    chmodSync(join(left, 'sub'), 0o555);
    chmodSync(left, 0o555);
    // a store path containing a link to outside the store must not be followed
    const outside = join(t.base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'precious'), 'precious');
    const withLink = join(real, `${'d'.repeat(32)}-link`);
    mkdirSync(withLink);
    symlinkSync(outside, join(withLink, 'out'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(join(real, `${TEMP_PREFIX}${dead}-1`), 'old');
    writeFileSync(join(real, `${TEMP_PREFIX}${process.pid}-1`), 'in progress');
    const held = FileLock.tryAcquire(join(real, `${'e'.repeat(32)}-x.lock`)) as FileLock;
    writeFileSync(join(real, `${'f'.repeat(32)}-y.lock`), '');
    try {
      const { results, log } = gc(t, { runtimeRoots: false });
      expect(storeEntries(t)).toEqual(
        [
          p.slice(t.loc.storeDir.length + 1),
          `${TEMP_PREFIX}${process.pid}-1`,
          // a held lock and its journal
          `${'e'.repeat(32)}-x.lock`,
          `${'e'.repeat(32)}-x.lock-journal`,
        ].sort(),
      );
      expect(readdirSync(outside)).toEqual(['precious']);
      expect(results.paths.map((x) => x.slice(t.loc.storeDir.length + 1)).sort()).toEqual(
        [`${TEMP_PREFIX}${dead}-1`, `${'c'.repeat(32)}-failed`, `${'d'.repeat(32)}-link`, `${'f'.repeat(32)}-y.lock`].sort(),
      );
      expect(log).toContain(`deleting '${t.loc.storeDir}/${'c'.repeat(32)}-failed'`);
      // file sizes: 'abc' + 'old' + the symlink's target length
      expect(results.bytesFreed).toBe(3 + 3 + Buffer.byteLength(outside));
    } finally {
      held.release();
    }
  });

  it('refuses to collect in a folder without a tsnix database', () => {
    const base = tmp();
    const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
    mkdirSync(loc.realStoreDir, { recursive: true });
    writeFileSync(join(loc.realStoreDir, 'someone-elses'), 'x');
    const store = new LocalStore({ location: loc, autoCommit: false });
    stores.push(store);
    expect(() => collectGarbage(store, { action: 'delete-dead', runtimeRoots: false })).toThrow(
      /refusing to collect garbage in '.*': it is not a tsnix store/,
    );
    expect(existsSync(join(loc.realStoreDir, 'someone-elses'))).toBe(true);
  });

  it('works on a relocated store: result links point at physical paths', () => {
    const base = tmp();
    const loc = storeLocation({ TSNIX_ROOT: base });
    expect(loc.storeDir).toBe('/nix/store');
    const store = new LocalStore({ location: loc, autoCommit: false });
    stores.push(store);
    const t: TestStore = { store, base, loc, env: {} };
    const kept = text(store, 'kept', 'kept');
    const gone = text(store, 'gone', 'gone');
    const result = addIndirectRoot(store, kept, join(base, 'result'));
    expect(readlinkSync(result)).toBe(`${base}/nix/store/${kept.slice('/nix/store/'.length)}`);
    const { results } = gc(t, { runtimeRoots: false });
    expect(results.paths).toEqual([gone]);
    expect(existsSync(store.toPhysical(kept))).toBe(true);
    expect(existsSync(store.toPhysical(gone))).toBe(false);
    expect(isValid(loc, kept)).toBe(true);
    expect(isValid(loc, gone)).toBe(false);
    expect(rootLines(findRoots(store, { runtime: false }))).toEqual([`${result} -> ${kept}`]);
  });
});

describe('--max-freed', () => {
  it('stops once enough is freed and leaves the rest valid', () => {
    const t = newStore();
    const ps = [0, 1, 2].map((i) => blob(t, `blob${i}`, 100 * 1024, i));
    const r = run(t, ['store', 'gc', '--max-freed', '150K']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('2 store paths deleted, 0.20 MiB freed\n');
    expect(r.stderr).toContain('deleted more than 153600 bytes; stopping\n');
    const deleted = ps.filter((p) => !onDisk(t.store, p));
    expect(deleted.length).toBe(2);
    // every path still on disk is still valid, every deleted one is invalid
    for (const p of ps) expect(isValid(t.loc, p)).toBe(onDisk(t.store, p));
  });

  it('invalidates no more than it deletes (in-process, with referrers)', () => {
    const t = newStore();
    const ps = [0, 1, 2, 3].map((i) => blob(t, `blob${i}`, 50 * 1024, i));
    // a chain of small referrers on top
    let prev = ps[0] as string;
    for (let i = 0; i < 5; i++) prev = text(t.store, `ref${i}`, `ref ${prev}`, [prev]);
    const all = t.store.queryAllValidPaths();
    const { results, log } = gc(t, { runtimeRoots: false, maxFreed: 120 * 1024 });
    expect(log).toContain(`deleted more than ${120 * 1024} bytes; stopping`);
    expect(results.bytesFreed).toBeGreaterThanOrEqual(120 * 1024);
    expect(results.bytesFreed).toBeLessThan(170 * 1024);
    for (const p of all) expect(isValid(t.loc, p), p).toBe(onDisk(t.store, p));
    expect(all.filter((p) => !onDisk(t.store, p)).sort()).toEqual([...results.paths].sort());
  });

  it('deletes leftovers before dead paths, and nothing with 0', () => {
    const t = newStore();
    const p = blob(t, 'blob', 10_000, 1);
    writeFileSync(join(t.loc.realStoreDir, 'junk'), 'junk');
    expect(gc(t, { runtimeRoots: false, maxFreed: 0 }).results.paths).toEqual([]);
    expect(storeEntries(t).length).toBe(2);
    const { results } = gc(t, { runtimeRoots: false, maxFreed: 1 });
    expect(results.paths).toEqual([`${t.loc.storeDir}/junk`]);
    expect(isValid(t.loc, p) && onDisk(t.store, p)).toBe(true);
  });

  it('parses sizes like nix-store', () => {
    expect(parseSize('123')).toBe(123);
    expect(parseSize('2k')).toBe(2048);
    expect(parseSize('3M')).toBe(3 * 1024 ** 2);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('-5')).toBe(0);
    expect(() => parseSize('1X')).toThrow("invalid unit specifier 'X'");
    expect(() => parseSize('1.5M')).toThrow("'1.5' is not an integer");
    const r = run(newStore(), ['store', 'gc', '--max-freed', 'abc']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error: invalid unit specifier 'C'");
  });

  it('prints sizes as CppNix does', () => {
    expect(showBytes(0)).toBe('0.00 MiB');
    expect(showBytes(3_000_000)).toBe('2.86 MiB');
    expect(showBytes(131072)).toBe('0.12 MiB'); // 0.125: ties to even, as printf
    expect(showBytes(196608)).toBe('0.19 MiB'); // 0.1875
    expect(showBytes(5 * 1024 ** 3)).toBe('5120.00 MiB');
  });
});

describe('delete', () => {
  it('refuses a live path and deletes a dead one', () => {
    const t = newStore();
    const live = text(t.store, 'live', 'live');
    const dead = text(t.store, 'dead', 'dead');
    addIndirectRoot(t.store, live, join(t.base, 'result'));

    const r1 = run(t, ['store', 'delete', live]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toBe(
      'finding garbage collector roots...\n' +
        `error: Cannot delete path '${live}' since it is still alive. To find out why, use: tsnix store query --roots\n`,
    );
    expect(r1.stdout).toBe('0 store paths deleted, 0.00 MiB freed\n');
    expect(isValid(t.loc, live) && onDisk(t.store, live)).toBe(true);

    // through the result link, as nix-store takes it
    const r2 = run(t, ['store', '--delete', dead]);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toBe('1 store paths deleted, 0.00 MiB freed\n');
    expect(r2.stderr).toBe(`finding garbage collector roots...\ndeleting '${dead}'\n${linksLines(t).join('\n')}\n`);
    expect(isValid(t.loc, dead)).toBe(false);
    expect(onDisk(t.store, dead)).toBe(false);
    expect(isValid(t.loc, live)).toBe(true);

    const r3 = run(t, ['store', 'delete', join(t.base, 'result')]);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toContain(`Cannot delete path '${live}'`);
  });

  it('refuses a path a dead path still refers to, unless both are deleted', () => {
    const t = newStore();
    const leaf = text(t.store, 'leaf', 'leaf');
    const top = text(t.store, 'top', `top ${leaf}`, [leaf]);
    expect(() => collectGarbage(t.store, { action: 'delete-specific', paths: [leaf], runtimeRoots: false })).toThrow(
      PathAliveError,
    );
    expect(isValid(t.loc, leaf)).toBe(true);
    const log: string[] = [];
    const res = collectGarbage(t.store, {
      action: 'delete-specific',
      paths: [leaf, top],
      runtimeRoots: false,
      log: (l) => log.push(l),
    });
    expect(res.paths).toEqual([top, leaf]);
    expect(log.slice(1)).toEqual([`deleting '${top}'`, `deleting '${leaf}'`, ...linksLines(t)]);
    for (const p of [leaf, top]) expect(isValid(t.loc, p) || onDisk(t.store, p)).toBe(false);
  });

  it('refuses a derivation whose output is still there, and a path outside the store', () => {
    const t = newStore();
    const d = derivation(t.store, 'd');
    build(t.store, d);
    const r = run(t, ['store', 'delete', d.drv]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Cannot delete path '${d.drv}'`);
    expect(isValid(t.loc, d.drv)).toBe(true);
    const r2 = run(t, ['store', 'delete', d.out, d.drv]);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toBe('2 store paths deleted, 0.00 MiB freed\n');
    const r3 = run(t, ['store', 'delete', '/etc/passwd']);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toBe("error: path '/etc/passwd' is not in the Nix store\n");
    expect(existsSync('/etc/passwd')).toBe(true);
  });
});

describe('tsnix store gc', () => {
  it('deletes dead paths with nix-store\'s messages and summary', () => {
    const t = newStore();
    const kept = text(t.store, 'kept', 'kept');
    const d = derivation(t.store, 'd');
    build(t.store, d);
    addIndirectRoot(t.store, kept, join(t.base, 'result'));
    const big = blob(t, 'big', 3_000_000, 3);
    const r = run(t, ['store', '--gc']);
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines.slice(0, 2)).toEqual(['finding garbage collector roots...', 'deleting garbage...']);
    expect(new Set(lines.slice(2, 5))).toEqual(new Set([big, d.drv, d.out].map((p) => `deleting '${p}'`)));
    // the output goes before its derivation
    expect(lines.indexOf(`deleting '${d.out}'`)).toBeLessThan(lines.indexOf(`deleting '${d.drv}'`));
    expect(r.stdout).toBe('3 store paths deleted, 2.86 MiB freed\n');
    expect(storeEntries(t)).toEqual([kept.slice(t.loc.storeDir.length + 1)]);
    expect(new StoreDatabase(t.loc.dbPath).queryAllValidPaths()).toEqual([kept]);

    // nothing left to do
    const again = run(t, ['store', 'gc']);
    expect(again.stdout).toBe('0 store paths deleted, 0.00 MiB freed\n');
  });

  it('rejects arguments and unknown flags', () => {
    const t = newStore();
    const r = run(t, ['store', 'gc', 'foo']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: no arguments expected');
    const r2 = run(t, ['store', 'gc', '--bogus']);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain("error: unknown flag '--bogus'");
    const r3 = run(t, ['store', 'gc', '--max-freed']);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toContain("error: '--max-freed' requires an argument");
  });

  it('works on an empty store that has never been written', () => {
    const t = newStore();
    const r = run(t, ['store', 'gc']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('0 store paths deleted, 0.00 MiB freed\n');
    expect(r.stderr).not.toContain('error');
    expect(existsSync(t.loc.dbPath)).toBe(false);
  });
});
