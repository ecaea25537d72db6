// .drv files created on a second thread (src/store/background-writer.ts): the
// files are complete, canonical and on disk before their paths are committed;
// leftovers and failures are handled by the main thread; reads wait for them.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackgroundWriter, storeReadBarrier } from '../../src/store/background-writer.js';
import { StoreDatabase } from '../../src/store/database.js';
import { computeDrvPath, fillInOutputPaths, printDerivation, type Derivation } from '../../src/store/derivation.js';
import { LocalStore, removeTree } from '../../src/store/local-store.js';
import { storeLocationAt, type StoreLocation } from '../../src/store/store-location.js';
import { storeDirEntries } from './tree-helpers.js';

const dirs: string[] = [];
const stores: LocalStore[] = [];

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnix-bg-writer-'));
  dirs.push(d);
  return d;
}

function dirStore(): { store: LocalStore; loc: StoreLocation; base: string } {
  const base = tmp();
  const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
  const store = new LocalStore({ location: loc, autoCommit: false });
  stores.push(store);
  return { store, loc, base };
}

afterEach(() => {
  for (const s of stores.splice(0)) {
    try {
      s.close();
    } catch {
      // (a test that broke its store on purpose)
    }
  }
});

afterAll(() => {
  for (const d of dirs) removeTree(Buffer.from(d));
});

/** Block this thread (the worker thread goes on). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A derivation named `name` depending on `prev` (a .drv path), with its output path filled in. */
function drvOf(store: LocalStore, name: string, prev?: string): Derivation {
  const drv: Derivation = {
    name,
    outputs: new Map([['out', { path: '' }]]),
    inputDrvs: prev ? new Map([[prev, new Set(['out'])]]) : new Map(),
    inputSrcs: new Set(),
    platform: 'x86_64-linux',
    builder: '/bin/sh',
    args: ['-c', 'echo "$dep" > $out'],
    env: new Map([
      ['builder', '/bin/sh'],
      ['dep', prev ?? ''],
      ['name', name],
      ['out', ''],
      ['system', 'x86_64-linux'],
    ]),
  };
  return fillInOutputPaths(drv, { readDerivation: (p) => store.readDerivation(p) }, store.storeDir);
}

/** The file of a store path is complete and canonical. */
function expectFile(store: LocalStore, path: string, text: string): void {
  const file = store.toPhysical(path);
  expect(readFileSync(file, 'latin1')).toBe(text);
  const st = lstatSync(file);
  expect(st.mode & 0o7777).toBe(0o444);
  expect(st.mtimeMs).toBe(1000);
}

describe('derivation files written in the background', () => {
  it('creates them on a second thread, complete before their registration is committed', () => {
    const { store, loc } = dirStore();
    const drvs: [string, Derivation][] = [];
    let prev: string | undefined;
    for (let i = 0; i < 300; i++) {
      // (each one reads the previous one back: from the queue when its file is not written yet)
      const drv = drvOf(store, `d${i}`, prev);
      prev = store.writeDerivation(drv);
      drvs.push([prev, drv]);
    }
    expect(store.pendingCount).toBe(300);
    sleep(300);
    const other = new StoreDatabase(loc.dbPath);
    expect(other.isValidPath(drvs[0]![0])).toBe(false);
    store.commit();
    const stats = store.backgroundWriterStats;
    expect(stats.byWorker + stats.byMain).toBe(300);
    expect(stats.byWorker).toBeGreaterThan(0);
    for (const [p, drv] of drvs) {
      expect(p).toBe(computeDrvPath(drv, store.storeDir));
      expectFile(store, p, printDerivation(drv));
      expect(other.isValidPath(p)).toBe(true);
    }
    other.close();
    expect(storeDirEntries(loc.realStoreDir).length).toBe(300);
    expect(store.verify({ checkContents: true }).errors).toBe(false);
  });

  it('does on the main thread what the worker has not started (a few files: no worker at all)', () => {
    const { store } = dirStore();
    const a = store.writeDerivation(drvOf(store, 'a'));
    const b = store.writeDerivation(drvOf(store, 'b', a));
    expect(existsSync(store.toPhysical(b))).toBe(false);
    store.commit();
    expect(store.backgroundWriterStats).toEqual({ byWorker: 0, byMain: 2 });
    expectFile(store, a, printDerivation(store.readDerivation(a)));
    expectFile(store, b, printDerivation(store.readDerivation(b)));
  });

  it('replaces partial, unregistered .drv files left by a crash', () => {
    const { store } = dirStore();
    store.addText('first', 'first', []);
    store.commit();
    const want: [string, string][] = [];
    let prev: string | undefined;
    for (let i = 0; i < 40; i++) {
      const drv = drvOf(store, `l${i}`, prev);
      prev = computeDrvPath(drv, store.storeDir);
      const text = printDerivation(drv);
      // every other one has a truncated leftover (the worker finds it there and leaves it to the main thread)
      if (i % 2 === 0) writeFileSync(store.toPhysical(prev), text.slice(0, 20), { mode: 0o444 });
      expect(store.writeDerivation(drv)).toBe(prev);
      want.push([prev, text]);
    }
    sleep(200);
    store.commit();
    for (const [p, text] of want) expectFile(store, p, text);
    expect(store.verify({ checkContents: true }).errors).toBe(false);
  });

  it('commits nothing when a file cannot be written, and says why', () => {
    const { store, loc } = dirStore();
    store.addText('first', 'first', []);
    store.commit();
    const a = store.writeDerivation(drvOf(store, 'a'));
    const b = store.writeDerivation(drvOf(store, 'b'));
    // the store directory vanishes before the queued files are written
    rmSync(loc.realStoreDir, { recursive: true, force: true });
    expect(() => store.commit()).toThrow(/creating file '.*-(a|b)\.drv': No such file or directory/);
    const db = new StoreDatabase(loc.dbPath);
    expect(db.isValidPath(a)).toBe(false);
    expect(db.isValidPath(b)).toBe(false);
    db.close();
    expect(store.isValidPath(a)).toBe(false);
  });
});

describe('BackgroundWriter', () => {
  it('drains before a file in its directory is read (storeReadBarrier), not for other files', () => {
    const d = tmp();
    const w = new BackgroundWriter({ dirs: [d], chmod: false });
    const file = join(d, 'f');
    let ran = 0;
    w.enqueue({
      file,
      text: 'x',
      writeSync: () => {
        ran++;
        writeFileSync(file, 'x');
      },
    });
    expect(w.queuedText(file)).toBe('x');
    storeReadBarrier(join(tmp(), 'elsewhere'));
    expect(w.pending).toBe(1);
    storeReadBarrier(file);
    expect(w.pending).toBe(0);
    expect(ran).toBe(1);
    expect(readFileSync(file, 'latin1')).toBe('x');
    expect(w.queuedText(file)).toBeUndefined();
  });

  it('throws the error of a job that fails again on the main thread, after the jobs before it are done', () => {
    const d = tmp();
    const w = new BackgroundWriter({ dirs: [d], chmod: false });
    const files: string[] = [];
    for (let i = 0; i < 20; i++) {
      // job 10 is in a directory that does not exist: the worker fails it, and so does its redo here
      const file = i === 10 ? join(d, 'missing', 'f10') : join(d, `f${i}`);
      files.push(file);
      w.enqueue({
        file,
        text: `c${i}`,
        writeSync: () => writeFileSync(file, `c${i}`, { flag: 'wx' }),
      });
    }
    sleep(200);
    expect(() => w.drain()).toThrow(/ENOENT|EEXIST/);
    for (let i = 0; i < 10; i++) expect(readFileSync(files[i]!, 'latin1')).toBe(`c${i}`);
    expect(w.pending).toBe(0);
  });
});

describe('BackgroundWriter memory', () => {
  it('forgets finished jobs as it goes, and drains when too many wait', () => {
    const d = tmp();
    const w = new BackgroundWriter({ dirs: [d], chmod: false });
    const job = (i: number) => {
      const file = join(d, `f${i}`);
      return { file, text: `c${i}`, writeSync: () => writeFileSync(file, `c${i}`, { flag: 'wx' }) };
    };
    for (let i = 0; i < 255; i++) w.enqueue(job(i));
    sleep(1000);
    expect(w.pending).toBe(255);
    w.enqueue(job(255)); // the 256th: the finished ones are forgotten
    expect(w.pending).toBeLessThan(100);
    expect(w.queuedText(join(d, 'f0'))).toBeUndefined();
    // however fast the worker is, no more than 4096 (+ the 256 between two checks) ever wait
    let most = 0;
    for (let i = 256; i < 256 + 5000; i++) {
      w.enqueue(job(i));
      most = Math.max(most, w.pending);
    }
    expect(most).toBeLessThan(4096 + 256);
    w.drain();
    expect(w.stats.byWorker + w.stats.byMain).toBe(5256);
    expect(readdirSync(d).length).toBe(5256);
    expect(readFileSync(join(d, 'f5255'), 'latin1')).toBe('c5255');
  });
});

describe('tsnix instantiate', () => {
  it('reads a .drv written moments before (builtins.readFile drv.drvPath)', () => {
    const base = tmp();
    const env = { ...process.env, TSNIX_STORE_DIR: join(base, 'store'), TSNIX_STATE_DIR: join(base, 'var') };
    const expr = `
      let mk = name: derivation { inherit name; builder = "/bin/sh"; system = "x86_64-linux"; };
          many = map (i: mk "m\${toString i}") (builtins.genList (i: i) 20);
      in rec {
        a = mk "a";
        b = derivation {
          name = "b"; builder = "/bin/sh"; system = "x86_64-linux";
          texts = map (d: builtins.readFile d.drvPath) ([ a ] ++ many);
        };
      }`;
    const r = spawnSync(resolve(__dirname, '../../bin/tsnix'), ['instantiate', '-E', expr], { env, encoding: 'latin1' });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const [aPath, bPath] = r.stdout.trim().split('\n') as [string, string];
    expect(bPath).toMatch(/-b\.drv$/);
    const aText = readFileSync(aPath, 'latin1');
    expect(aText).toMatch(/^Derive\(/);
    expect(readFileSync(bPath, 'latin1')).toContain(`("texts","${aText.replace(/["\\]/g, (c) => `\\${c}`)} Derive(`);
  });
});
