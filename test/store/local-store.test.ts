import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreDatabase } from '../../src/store/database.js';
import { parseDerivation, printDerivation, type Derivation } from '../../src/store/derivation.js';
import { hashFileSync, HashSink, parseHash, sha256, type HashAlgo } from '../../src/store/hash.js';
import {
  copyTreeHashingNar,
  LocalStore,
  narHashOfContents,
  removeTree,
  StoreError,
  TEMP_PREFIX,
} from '../../src/store/local-store.js';
import { dumpPathSync, hashPathSync, narChunks, narFromContents } from '../../src/store/nar.js';
import {
  rootDir,
  storeLocation,
  storeLocationAt,
  toLogical,
  toPhysical,
  type StoreLocation,
} from '../../src/store/store-location.js';
import { makeFixedOutputPath, makeSourcePath, makeTextPath } from '../../src/store/store-path.js';
import { createTree, storeDirEntries, type TreeDesc } from './tree-helpers.js';
import { bytes, loadVectors } from './vectors.js';

// ---------------------------------------------------------------------------
// Helpers

const dirs: string[] = [];
const stores: LocalStore[] = [];

/** A fresh temporary folder, removed (read-only store files included) after the test file. */
function tmp(prefix = 'tsnix-local-store-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A store at `<tmp>/store` with state in `<tmp>/var` (TSNIX_STORE_DIR mode). */
function dirStore(): { store: LocalStore; base: string; loc: StoreLocation } {
  const base = tmp();
  const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
  const store = new LocalStore({ location: loc, autoCommit: false });
  stores.push(store);
  return { store, base, loc };
}

/** A store whose logical directory is /nix/store, kept under a temporary TSNIX_ROOT. */
function rootStore(): { store: LocalStore; base: string; loc: StoreLocation } {
  const base = tmp();
  const loc = storeLocation({ TSNIX_ROOT: base });
  const store = new LocalStore({ location: loc, autoCommit: false });
  stores.push(store);
  return { store, base, loc };
}

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

afterAll(() => {
  for (const d of dirs) removeTree(Buffer.from(d));
});

function mode(p: string): number {
  return lstatSync(p).mode & 0o7777;
}

/** Every entry of a tree with its mode and mtime, for canonical-form checks. */
function walk(p: string, out: { path: string; type: string; mode: number; mtime: number }[] = []) {
  const st = lstatSync(p);
  const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'regular';
  out.push({ path: p, type, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
  if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n), out);
  return out;
}

function expectCanonical(p: string): void {
  for (const e of walk(p)) {
    expect(e.mtime, e.path).toBe(1);
    if (e.type === 'directory') expect(e.mode, e.path).toBe(0o555);
    if (e.type === 'regular') expect([0o444, 0o555], e.path).toContain(e.mode);
  }
}

function narOf(p: string): Buffer {
  const parts: Buffer[] = [];
  dumpPathSync(p, (c) => parts.push(Buffer.from(c)));
  return Buffer.concat(parts);
}

/** Names in the physical store directory (temporary names included). */
function storeEntries(loc: StoreLocation): string[] {
  return storeDirEntries(loc.realStoreDir);
}

// ---------------------------------------------------------------------------
// Vectors

interface PathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  ca?: string;
}
interface NarVector {
  name: string;
  tree: TreeDesc;
  nar_base64: string;
  nar_size: number;
  store_path_add: string;
  store_path_add_fixed_recursive_sha1: string;
  path_info_of_store_path_add: PathInfo;
  path_info_of_store_path_add_fixed_flat_sha256?: PathInfo;
  [k: string]: unknown;
}
const narVectors = loadVectors<NarVector>('nar.json').vectors;

interface DrvVector {
  id: string;
  drvPath: string;
  outputs: Record<string, string>;
  drv_text: string;
  closure_input_drv_texts: Record<string, string>;
  closure_sources: string[];
}
const drvVectors = loadVectors<DrvVector>('derivations.json').vectors;

let scratch: string;
beforeAll(() => {
  scratch = tmp('tsnix-local-store-trees-');
  for (const v of narVectors) createTree(Buffer.from(join(scratch, v.name)), v.tree);
});

// ---------------------------------------------------------------------------

describe('store location', () => {
  it('uses TSNIX_STORE_DIR as logical and physical directory, state next to it by default', () => {
    expect(storeLocation({ TSNIX_STORE_DIR: '/tmp/x/store' })).toEqual({
      storeDir: '/tmp/x/store',
      realStoreDir: '/tmp/x/store',
      stateDir: '/tmp/x/var/tsnix',
      dbPath: '/tmp/x/var/tsnix/db/db.sqlite',
    });
    expect(storeLocation({ TSNIX_STORE_DIR: '/tmp/x//store/', TSNIX_STATE_DIR: '/s' })).toEqual({
      storeDir: '/tmp/x/store',
      realStoreDir: '/tmp/x/store',
      stateDir: '/s',
      dbPath: '/s/db/db.sqlite',
    });
  });

  it('keeps /nix/store under TSNIX_ROOT or the XDG data folder otherwise', () => {
    expect(storeLocation({ TSNIX_ROOT: '/r' })).toEqual({
      storeDir: '/nix/store',
      realStoreDir: '/r/nix/store',
      stateDir: '/r/nix/var/tsnix',
      dbPath: '/r/nix/var/tsnix/db/db.sqlite',
    });
    expect(storeLocation({ TSNIX_ROOT: '/' }).realStoreDir).toBe('/nix/store');
    expect(rootDir({ XDG_DATA_HOME: '/xdg' })).toBe('/xdg/tsnix/root');
    expect(rootDir({ HOME: '/home/u' })).toBe('/home/u/.local/share/tsnix/root');
    expect(storeLocation({ TSNIX_STORE_DIR: '', HOME: '/h' }).realStoreDir).toBe('/h/.local/share/tsnix/root/nix/store');
  });

  it('rejects relative directories', () => {
    expect(() => storeLocation({ TSNIX_STORE_DIR: 'store' })).toThrow(/TSNIX_STORE_DIR must be an absolute path/);
    expect(() => storeLocation({ TSNIX_ROOT: 'r' })).toThrow(/TSNIX_ROOT must be an absolute path/);
  });

  it('maps logical and physical paths', () => {
    const loc = storeLocation({ TSNIX_ROOT: '/r' });
    expect(toPhysical(loc, '/nix/store/abc-x/y')).toBe('/r/nix/store/abc-x/y');
    expect(toPhysical(loc, '/nix/storex')).toBe('/nix/storex');
    expect(toLogical(loc, '/r/nix/store/abc-x')).toBe('/nix/store/abc-x');
    expect(toLogical(loc, '/elsewhere')).toBe('/elsewhere');
  });
});

describe('adding paths (nar.json vectors, logical /nix/store)', () => {
  it('adds every tree at the path nix-store --add gives, with its NAR hash, size and ca', () => {
    const { store, loc } = rootStore();
    for (const v of narVectors) {
      const src = join(scratch, v.name);
      const r = store.addPath(src, { name: v.name, method: 'recursive' });
      expect(r.path, v.name).toBe(v.store_path_add);
      expect(r.narHash.toSRI()).toBe(v.path_info_of_store_path_add.narHash);
      expect(r.narSize).toBe(v.nar_size);
      store.commit();
      const info = store.queryPathInfo(r.path);
      expect(info?.narHash.toSRI()).toBe(v.path_info_of_store_path_add.narHash);
      expect(info?.narSize).toBe(v.path_info_of_store_path_add.narSize);
      expect(info?.ca).toBe(v.path_info_of_store_path_add.ca);
      expect(info?.references).toEqual([]);
      const phys = toPhysical(loc, r.path);
      expect(narOf(phys).toString('base64')).toBe(v.nar_base64);
      expectCanonical(phys);
    }
    // nothing but the store paths is left in the store directory
    expect(storeEntries(loc)).toEqual([...new Set(narVectors.map((v) => v.store_path_add.slice(11)))].sort());
  });

  it('adds fixed-output paths for every algorithm, flat and recursive', () => {
    const { store, loc } = rootStore();
    const algos: HashAlgo[] = ['md5', 'sha1', 'sha256', 'sha512'];
    for (const v of narVectors) {
      const src = join(scratch, v.name);
      expect(store.addPath(src, { name: v.name, method: 'recursive', hashAlgo: 'sha1' }).path).toBe(
        v.store_path_add_fixed_recursive_sha1,
      );
      expect(store.addPath(src, { name: v.name, method: 'recursive', hashAlgo: 'sha256' }).path).toBe(v.store_path_add);
      if (v.tree.type !== 'regular') continue;
      for (const algo of algos) {
        const r = store.addPath(src, { name: v.name, method: 'flat', hashAlgo: algo });
        expect(r.path, `${v.name} ${algo}`).toBe(v[`store_path_add_fixed_flat_${algo}`]);
        store.commit();
        expect(store.queryPathInfo(r.path)?.ca).toBe(`fixed:${algo}:${hashFileSync(algo, src).toNix32()}`);
      }
      // 2.8 keeps the executable bit of a file added flat: its NAR hash is the executable one
      const flat = v.path_info_of_store_path_add_fixed_flat_sha256 as PathInfo;
      expect(store.queryNarHash(flat.path).toSRI()).toBe(flat.narHash);
      expect(mode(toPhysical(loc, flat.path))).toBe(v.tree.executable ? 0o555 : 0o444);
    }
  });

  it('rejects flat hashing of a directory and bad names, writing nothing', () => {
    const { store, loc } = rootStore();
    expect(() => store.addPath(join(scratch, 'tree'), { name: 'tree', method: 'flat' })).toThrow(
      /is not a regular file, so it cannot be added flat/,
    );
    expect(() => store.addPath(join(scratch, 'hello.txt'), { name: 'bad name', method: 'recursive' })).toThrow(
      /^store path '[0-9a-z]{32}-bad name' contains illegal character ' '$/,
    );
    expect(() => store.addPath(join(scratch, 'nonexistent'), { name: 'x', method: 'recursive' })).toThrow(
      /^getting status of '.*nonexistent': No such file or directory$/,
    );
    expect(storeEntries(loc)).toEqual([]);
  });

  it('checks an expected hash and applies a filter', () => {
    const { store } = rootStore();
    const src = join(scratch, 'tree');
    const full = store.addPath(src, { name: 'tree', method: 'recursive' });
    expect(() =>
      store.addPath(src, { name: 'tree', method: 'recursive', expectedHash: sha256('something else') }),
    ).toThrow(/hash mismatch importing path/);
    expect(store.addPath(src, { name: 'tree', method: 'recursive', expectedHash: full.narHash }).path).toBe(full.path);
    const seen: string[] = [];
    const filtered = store.addPath(src, {
      name: 'tree',
      method: 'recursive',
      filter: (p, t) => {
        seen.push(`${t} ${p.slice(src.length)}`);
        return t !== 'symlink';
      },
    });
    expect(seen.length).toBeGreaterThan(3);
    expect(filtered.path).not.toBe(full.path);
    expect(filtered.narHash.equals(hashPathSync(src, 'sha256', { filter: (_p, t) => t !== 'symlink' }).hash)).toBe(true);
  });

  it('is idempotent, and replaces an unregistered leftover at the final path', () => {
    const { store } = rootStore();
    const v = narVectors.find((x) => x.name === 'tree') as NarVector;
    const src = join(scratch, 'tree');
    const a = store.addPath(src, { name: 'tree', method: 'recursive' });
    store.commit();
    const t0 = store.queryPathInfo(a.path)?.registrationTime;
    const b = store.addPath(src, { name: 'tree', method: 'recursive' });
    expect(b).toEqual(a);
    expect(store.queryAllValidPaths()).toEqual([a.path]);
    expect(store.queryPathInfo(a.path)?.registrationTime).toBe(t0);

    // a crashed earlier attempt left a half-written, unregistered copy at the final name
    const { store: s2, loc: loc2 } = rootStore();
    s2.addText('x', 'x', []); // the store exists (it has a database)
    const phys = toPhysical(loc2, v.store_path_add);
    mkdirSync(join(phys, 'junk'), { recursive: true });
    writeFileSync(join(phys, 'junk', 'f'), 'partial');
    chmodSync(join(phys, 'junk'), 0o555);
    expect(s2.addPath(src, { name: 'tree', method: 'recursive' }).path).toBe(v.store_path_add);
    expect(narOf(phys).toString('base64')).toBe(v.nar_base64);
  });

  it('copies big trees directly and hashes them exactly as the NAR primitives do', () => {
    const { store, loc } = dirStore();
    const src = join(tmp(), 'big');
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    const blob = Buffer.alloc(20 * 1024 * 1024 + 3);
    for (let i = 0; i < blob.length; i += 4096) blob[i] = i % 251;
    writeFileSync(join(src, 'blob'), blob);
    for (let i = 0; i < 50; i++) writeFileSync(join(src, 'sub', `f${i}`), 'x'.repeat(i * 7));
    writeFileSync(join(src, 'sub', 'deeper', 'run'), '#!/bin/sh\n');
    chmodSync(join(src, 'sub', 'deeper', 'run'), 0o750);
    writeFileSync(join(src, 'sub', 'empty'), '');
    symlinkSync('../blob', join(src, 'sub', 'link'));
    mkdirSync(join(src, 'emptydir'));
    const want = hashPathSync(src);
    const r = store.addPath(src, { name: 'big', method: 'recursive' });
    expect(r.narHash.equals(want.hash)).toBe(true);
    expect(r.narSize).toBe(want.narSize);
    expect(r.path).toBe(makeSourcePath('big', want.hash, [], loc.storeDir));
    expect(hashPathSync(r.path).hash.equals(want.hash)).toBe(true);
    expectCanonical(r.path);
    expect(mode(join(r.path, 'sub', 'deeper', 'run'))).toBe(0o555);

    const md5 = store.addPath(src, { name: 'big', method: 'recursive', hashAlgo: 'md5' });
    expect(md5.path).toBe(makeFixedOutputPath('big', 'recursive', hashPathSync(src, 'md5').hash, loc.storeDir));
    const flat = store.addPath(join(src, 'blob'), { name: 'blob', method: 'flat', hashAlgo: 'sha512' });
    expect(flat.path).toBe(makeFixedOutputPath('blob', 'flat', hashFileSync('sha512', join(src, 'blob')), loc.storeDir));
    expect(readFileSync(flat.path).equals(blob)).toBe(true);

    // the walker itself, against narChunks byte for byte (through the hash)
    const dst = join(tmp(), 'copy');
    const h = new HashSink('sha256');
    const size = copyTreeHashingNar(Buffer.from(src), Buffer.from(dst), { narHashers: [h] });
    expect(size).toBe(want.narSize);
    expect(h.finish().hash.equals(want.hash)).toBe(true);
    expect(storeEntries(loc).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  it('re-adds a big tree without writing, and copies a changed one', () => {
    const { store, loc } = dirStore();
    const src = join(tmp(), 'big2');
    mkdirSync(src);
    writeFileSync(join(src, 'blob'), Buffer.alloc(17 * 1024 * 1024, 7));
    writeFileSync(join(src, 'small'), 'one');
    const first = store.addPath(src, { name: 'big2', method: 'recursive' });
    store.commit();
    // a fresh store object (no in-process cache), as a second `tsnix store add` would be
    const again = new LocalStore({ location: loc, autoCommit: false });
    stores.push(again);
    utimesSync(loc.realStoreDir, 1000, 1000);
    expect(again.addPath(src, { name: 'big2', method: 'recursive' })).toEqual(first);
    expect(lstatSync(loc.realStoreDir).mtimeMs).toBe(1000 * 1000); // nothing was created or removed
    writeFileSync(join(src, 'small'), 'two');
    // within one process a source is read once (as in an evaluation) until the store is told otherwise
    expect(again.addPath(src, { name: 'big2', method: 'recursive' }).path).toBe(first.path);
    again.forgetAddedSources();
    const changed = again.addPath(src, { name: 'big2', method: 'recursive' });
    expect(changed.path).not.toBe(first.path);
    expect(changed.narHash.equals(hashPathSync(src).hash)).toBe(true);
    expect(readFileSync(join(changed.path, 'small'), 'latin1')).toBe('two');
    expect(storeEntries(loc).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  it('leaves nothing behind when an add fails (small and big trees)', () => {
    const { store, loc } = dirStore();
    for (const big of [false, true]) {
      const src = join(tmp(), 'with-fifo');
      mkdirSync(src);
      if (big) writeFileSync(join(src, 'a-blob'), Buffer.alloc(17 * 1024 * 1024, 1));
      writeFileSync(join(src, 'b-file'), 'x');
      const fifo = join(src, 'c-fifo');
      if (spawnSync('mkfifo', [fifo]).status !== 0) return;
      expect(() => store.addPath(src, { name: 'with-fifo', method: 'recursive' })).toThrow(/has an unsupported type/);
      store.commit();
      expect(store.queryAllValidPaths()).toEqual([]);
      expect(storeEntries(loc)).toEqual([]);
    }
  });

  it('requires references to be valid', () => {
    const { store } = dirStore();
    const bogus = `${store.storeDir}/00000000000000000000000000000000-nothing`;
    expect(() => store.addText('t', 'text', [bogus])).toThrow(/its reference '.*-nothing' is not valid/);
    expect(store.pendingCount).toBe(0);
  });

  it('refuses a non-empty store directory without a database', () => {
    const base = tmp();
    mkdirSync(join(base, 'store', 'someone-elses'), { recursive: true });
    const store = new LocalStore({ location: storeLocationAt(join(base, 'store')), autoCommit: false });
    stores.push(store);
    expect(() => store.addText('t', 't', [])).toThrow(/refusing to write to .* it is not empty and is not a tsnix store/);
    expect(existsSync(join(base, 'var'))).toBe(false);
  });

  it('reads without creating anything', () => {
    const base = tmp();
    const store = new LocalStore({ location: storeLocationAt(join(base, 'store')) });
    stores.push(store);
    expect(store.isValidPath(`${store.storeDir}/00000000000000000000000000000000-x`)).toBe(false);
    expect(store.queryAllValidPaths()).toEqual([]);
    expect(store.verify().errors).toBe(false);
    expect(readdirSync(base)).toEqual([]);
  });
});

describe('text files and derivations', () => {
  it('replaces a partial, unregistered text file left by a crash', () => {
    const { store } = dirStore();
    store.addText('other', 'other', []);
    const want = makeTextPath('t.txt', sha256('full contents'), [], store.storeDir);
    writeFileSync(want, 'full con');
    chmodSync(want, 0o444);
    expect(store.addText('t.txt', 'full contents', [])).toBe(want);
    expect(readFileSync(want, 'latin1')).toBe('full contents');
    expect(mode(want)).toBe(0o444);
  });

  it('updates a path registered again (e.g. by two processes at once)', () => {
    const base = tmp();
    const db = new StoreDatabase(join(base, 'db.sqlite'));
    const h = sha256('x');
    db.registerValidPaths([
      { path: '/s/a', narHash: h, narSize: 1, references: [] },
      { path: '/s/b', narHash: h, narSize: 2, references: ['/s/a', '/s/b'], ca: 'text:sha256:x' },
    ]);
    expect(db.queryPathInfo('/s/b')?.references).toEqual(['/s/a', '/s/b']);
    const t = db.queryPathInfo('/s/b')?.registrationTime;
    db.registerValidPaths([{ path: '/s/b', narHash: sha256('y'), narSize: 3, references: ['/s/a'] }]);
    const info = db.queryPathInfo('/s/b');
    expect(info?.references).toEqual(['/s/a']);
    expect(info?.narSize).toBe(3);
    expect(info?.narHash.equals(sha256('y'))).toBe(true);
    expect(info?.ca).toBe('text:sha256:x');
    expect(info?.registrationTime).toBe(t);
    expect(() => db.registerValidPaths([{ path: '/s/c', narHash: h, narSize: 1, references: ['/s/zz'] }])).toThrow(
      /its reference '\/s\/zz' is not valid/,
    );
    expect(db.isValidPath('/s/c')).toBe(false);
    expect(() => db.invalidatePaths(['/s/a'])).toThrow(/still referenced by '\/s\/b'/);
    db.invalidatePaths(['/s/a', '/s/b']);
    expect(db.queryAllValidPaths()).toEqual([]);
    db.close();
  });

  it('hashes the NAR of a text file without building it', () => {
    for (const len of [0, 1, 7, 8, 9, 100, 70_000]) {
      const c = Buffer.alloc(len, 0x61);
      const nar = narFromContents(c);
      const r = narHashOfContents(c);
      expect(r.size).toBe(nar.length);
      expect(r.hash.equals(sha256(nar))).toBe(true);
    }
  });

  it('writes text files read-only with their references and text content address', () => {
    const { store } = dirStore();
    const dep = store.addText('dep.txt', 'dep', []);
    const p = store.addText('user.txt', `uses ${dep}`, [dep]);
    store.commit();
    expect(readFileSync(p, 'latin1')).toBe(`uses ${dep}`);
    expect(mode(p)).toBe(0o444);
    expect(lstatSync(p).mtimeMs).toBe(1000);
    const info = store.queryPathInfo(p);
    expect(info?.references).toEqual([dep]);
    expect(info?.ca).toBe(`text:${sha256(`uses ${dep}`).format('nix32', true)}`);
    expect(store.queryReferrers(dep)).toEqual([p]);
  });

  it('writes the derivations of the vectors at their paths, with references and outputs', () => {
    const { store, loc } = rootStore();
    const texts = new Map<string, string>();
    for (const v of drvVectors) {
      texts.set(v.drvPath, bytes(v.drv_text));
      for (const [p, t] of Object.entries(v.closure_input_drv_texts)) texts.set(p, bytes(t));
    }
    const name = (p: string): string => p.slice(44, -4);
    // input .drv files come from outside: added as text, which checks their outputs
    const addInputs = (drv: Derivation): void => {
      for (const p of drv.inputDrvs.keys()) {
        if (store.isValidPath(p)) continue;
        const t = texts.get(p) as string;
        const d = parseDerivation(t, name(p));
        addInputs(d);
        const refs = [...d.inputSrcs, ...d.inputDrvs.keys()];
        expect(store.addText(`${name(p)}.drv`, t, refs)).toBe(p);
      }
    };
    let n = 0;
    const written: DrvVector[] = [];
    for (const v of drvVectors) {
      if (v.closure_sources.length) continue;
      const drv = parseDerivation(bytes(v.drv_text), name(v.drvPath));
      addInputs(drv);
      expect(store.writeDerivation(drv), v.id).toBe(v.drvPath);
      // (before the commit its file may still be queued: see background-writer.ts)
      expect(printDerivation(store.readDerivation(v.drvPath))).toBe(bytes(v.drv_text));
      written.push(v);
      const refs = [...new Set([...drv.inputSrcs, ...drv.inputDrvs.keys()])].sort();
      expect(store.queryReferences(v.drvPath)).toEqual(refs);
      expect(store.pathInfo(v.drvPath).references).toEqual(refs);
      const outs = Object.fromEntries([...store.queryDerivationOutputs(v.drvPath)]);
      const want = Object.fromEntries(Object.entries(v.outputs).filter(([, p]) => p.startsWith('/nix/store/')));
      expect(outs, v.id).toEqual(want);
      n++;
    }
    expect(n).toBeGreaterThan(30);
    store.commit();
    for (const v of written) {
      const file = toPhysical(loc, v.drvPath);
      expect(readFileSync(file, 'latin1')).toBe(bytes(v.drv_text));
      expect(mode(file)).toBe(0o444);
      expect(lstatSync(file).mtimeMs).toBe(1000);
    }
    // the same text through addText (checked) gives the same path
    const v = drvVectors.find((x) => x.id === 'depends-on-fod-chain') as DrvVector;
    expect(store.addText(`${name(v.drvPath)}.drv`, bytes(v.drv_text), store.pathInfo(v.drvPath).references)).toBe(
      v.drvPath,
    );
  });

  it('rejects a .drv with a wrong output or environment, as CppNix words it', () => {
    const { store, loc } = rootStore();
    const v = drvVectors.find((x) => x.id === 'myName-x86_64') as DrvVector;
    const good = bytes(v.drv_text);
    const out = v.outputs.out as string;
    const wrong = out.replace(/-myName$/, '-myNamf');
    const badOut = good.replace(`("out","${out}","","")`, `("out","${wrong}","","")`);
    expect(() => store.addText('myName.drv', badOut, [])).toThrow(
      new StoreError(
        `derivation '${makeTextPath('myName.drv', sha256(badOut))}' has incorrect output '${wrong}', should be '${out}'`,
      ),
    );
    const badEnv = good.replace(`("out","${out}")`, `("out","${wrong}")`);
    expect(() => store.addText('myName.drv', badEnv, [])).toThrow(/has incorrect environment variable 'out', should be/);
    expect(() => store.addText('junk.drv', 'garbage', [])).toThrow(/error parsing derivation '.*-junk.drv': error: expected string 'Derive\(\['/);
    // the same checks for a .drv file added with nix-store --add
    const dir = tmp();
    writeFileSync(join(dir, 'myName.drv'), badOut);
    expect(() => store.addPath(join(dir, 'myName.drv'), { name: 'myName.drv', method: 'recursive' })).toThrow(
      /has incorrect output/,
    );
    store.commit();
    expect(store.queryAllValidPaths()).toEqual([]);
    expect(storeEntries(loc)).toEqual([]);
    // a correct one is accepted and its outputs recorded
    writeFileSync(join(dir, 'myName.drv'), good);
    const p = store.addPath(join(dir, 'myName.drv'), { name: 'myName.drv', method: 'recursive' }).path;
    expect(Object.fromEntries(store.queryDerivationOutputs(p))).toEqual({ out });
  });
});

describe('queries', () => {
  // The graph of the oracle run: each letter a toFile text referring to others.
  const spec: [string, string[]][] = [
    ['a', []],
    ['b', ['a']],
    ['c', ['a']],
    ['d', ['b', 'c']],
    ['e', ['d', 'a']],
    ['f', []],
    ['g', ['f', 'e']],
    ['h', ['c']],
    ['i', ['h', 'b']],
    ['j', ['g', 'i', 'f']],
  ];
  // `nix-store --store CHROOT -q --QUERY PATHS`, paths written as their letters (CppNix 2.8).
  const expected: Record<string, Record<string, string>> = {
    references: { a: '', d: 'cb', j: 'fgi', e: 'ad', i: 'hb', ja: 'fgi', ehf: 'acd' },
    referrers: { a: 'cbe', d: 'e', j: '', e: 'g', i: 'j', ja: 'cbe', ehf: 'gij' },
    requisites: { a: 'a', d: 'acbd', j: 'achfbdegij', e: 'acbde', i: 'achbi', ja: 'achfbdegij', ehf: 'achbdfe' },
    referrersClosure: { a: 'achbdegij', d: 'degj', j: 'j', e: 'egj', i: 'ij', ja: 'achbdegij', ehf: 'hfegij' },
  };

  it('gives the references, referrers and closures in nix-store order', () => {
    const { store } = rootStore();
    const paths = new Map<string, string>();
    for (const [n, refs] of spec) {
      const rp = refs.map((r) => paths.get(r) as string);
      paths.set(n, store.addText(n, `${n} ${rp.join(' ')}`, rp));
    }
    expect(paths.get('j')).toBe('/nix/store/a0wzvikg01n02g1mdqz4nc1y43vbwhfa-j');
    const letter = new Map([...paths].map(([n, p]) => [p, n]));
    const word = (ps: Iterable<string>): string => [...ps].map((p) => letter.get(p)).join('');
    for (const set of Object.keys(expected.references as Record<string, string>)) {
      const ps = [...set].map((c) => paths.get(c) as string);
      const union = (f: (p: string) => Iterable<string>): Set<string> => new Set(ps.flatMap((p) => [...f(p)]));
      expect(word(store.topoSortPaths(union((p) => store.pathInfo(p).references))), `references ${set}`).toBe(
        expected.references?.[set],
      );
      expect(word(store.topoSortPaths(union((p) => store.queryReferrers(p)))), `referrers ${set}`).toBe(
        expected.referrers?.[set],
      );
      expect(word(store.queryRequisites(ps)), `requisites ${set}`).toBe(expected.requisites?.[set]);
      expect(word(store.topoSortPaths(store.computeClosure(ps, { referrers: true }))), `closure ${set}`).toBe(
        expected.referrersClosure?.[set],
      );
    }
    const j = paths.get('j') as string;
    expect(store.queryDeriver(j)).toBeUndefined();
    expect(store.queryNarSize(j)).toBe(store.queryPathInfo(j)?.narSize);
    expect(() => store.pathInfo('/nix/store/00000000000000000000000000000000-x')).toThrow(
      "path '/nix/store/00000000000000000000000000000000-x' is not valid",
    );
    expect(() => store.queryNarHash('/nix/store/00000000000000000000000000000000-x')).toThrow(/is not valid/);
    expect(store.queryReferences('/nix/store/00000000000000000000000000000000-x')).toBeUndefined();
  });

  it('follows symlinks and sub-paths to store paths', () => {
    const { store, loc } = rootStore();
    const p = store.addText('t', 't', []);
    const phys = toPhysical(loc, p);
    const link = join(tmp(), 'result');
    symlinkSync(phys, link);
    expect(store.followLinksToStorePath(link)).toBe(p);
    expect(store.followLinksToStorePath(`${p}/sub/path`)).toBe(p);
    expect(store.followLinksToStorePath(`${phys}/sub`)).toBe(p);
    expect(() => store.followLinksToStorePath('/etc/passwd')).toThrow("path '/etc/passwd' is not in the Nix store");
    expect(() => store.followLinksToStorePath('/nix/store/foo')).toThrow("'foo' is too short to be a valid store path");
  });
});

describe('batching', () => {
  it('commits many registrations at once, visible to other connections only after the commit', () => {
    const { store, loc } = dirStore();
    const paths: string[] = [];
    for (let i = 0; i < 200; i++) paths.push(store.addText(`f${i}`, `contents ${i}`, i ? [paths[i - 1] as string] : []));
    expect(store.pendingCount).toBe(200);
    expect(store.isValidPath(paths[199] as string)).toBe(true);
    const other = new StoreDatabase(loc.dbPath);
    expect(other.isValidPath(paths[0] as string)).toBe(false);
    store.commit();
    expect(store.pendingCount).toBe(0);
    expect(other.isValidPath(paths[199] as string)).toBe(true);
    expect(other.queryReferences(paths[199] as string)).toEqual([paths[198]]);
    other.close();
  });

  it('commits by itself when the event loop turns', async () => {
    const base = tmp();
    const loc = storeLocationAt(join(base, 'store'));
    const store = new LocalStore({ location: loc });
    stores.push(store);
    const p = store.addText('auto', 'auto', []);
    expect(store.pendingCount).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(store.pendingCount).toBe(0);
    const other = new StoreDatabase(loc.dbPath);
    expect(other.isValidPath(p)).toBe(true);
    other.close();
  });
});

describe('verify, dump and restore', () => {
  it('detects modified and vanished paths', () => {
    const { store } = dirStore();
    const a = store.addText('a', 'a', []);
    const b = store.addText('b', `b ${a}`, [a]);
    const c = store.addText('c', 'c', []);
    store.commit();
    expect(store.verify({ checkContents: true }).errors).toBe(false);

    chmodSync(c, 0o644);
    writeFileSync(c, 'changed');
    const lines: string[] = [];
    const r = store.verify({ checkContents: true, log: (l) => lines.push(l) });
    expect(r.errors).toBe(true);
    expect(r.modified.map((m) => m.path)).toEqual([c]);
    expect(lines).toContain(
      `path '${c}' was modified! expected hash '${r.modified[0]?.expected.toString()}', got '${hashPathSync(c).hash.toString()}'`,
    );
    expect(store.verify().errors).toBe(false); // without --check-contents only existence counts

    // a vanished path that is still referenced stays valid (an error); an unreferenced one is dropped
    rmSync(a);
    rmSync(c);
    const lines2: string[] = [];
    const r2 = store.verify({ log: (l) => lines2.push(l) });
    expect(r2.errors).toBe(true);
    expect(lines2).toEqual([
      'reading the Nix store...',
      'checking path existence...',
      ...[a, c]
        .sort()
        .map((p) =>
          p === a
            ? `path '${a}' disappeared, but it still has valid referrers!`
            : `path '${c}' disappeared, removing from database...`,
        ),
    ]);
    expect(store.isValidPath(c)).toBe(false);
    expect(store.isValidPath(a)).toBe(true);
    expect(store.queryReferrers(a)).toEqual([b]);
  });

  it('dumps and restores trees, including through the physical location of /nix/store paths', async () => {
    const { store } = rootStore();
    const v = narVectors.find((x) => x.name === 'weird-names') as NarVector;
    const added = store.addPath(join(scratch, v.name), { name: v.name, method: 'recursive' }).path;
    const nar = Buffer.concat([...store.dumpPath(added)].map((c) => Buffer.from(c)));
    expect(nar.toString('base64')).toBe(v.nar_base64);
    const target = join(tmp(), 'restored');
    const res = await store.restorePath([nar.subarray(0, 100), nar.subarray(100)], target);
    expect(res.narSize).toBe(v.nar_size);
    expect(narOf(target).toString('base64')).toBe(v.nar_base64);
    await expect(store.restorePath([nar], target)).rejects.toThrow(/File exists/);
    expect(() => store.dumpPath(join(tmp(), 'nope'))).toThrow(/getting status of '.*nope': No such file or directory/);
  });

  it('rejects a malicious NAR and leaves nothing behind', async () => {
    const { store } = dirStore();
    const src = join(tmp(), 'evil');
    mkdirSync(src);
    writeFileSync(join(src, 'aa'), 'x');
    writeFileSync(join(src, 'zz'), 'y');
    const nar = Buffer.concat([...narChunks(src)]);
    // rename the entry 'aa' to '..' (same length, still sorted first)
    const at = nar.indexOf(Buffer.from('aa\0\0\0\0\0\0'));
    const evil = Buffer.from(nar);
    evil.write('..', at, 'latin1');
    const target = join(tmp(), 'out');
    await expect(store.restorePath([evil], target)).rejects.toThrow(/invalid entry name '\.\.'/);
    expect(existsSync(target)).toBe(false);
    await expect(store.restorePath([nar.subarray(0, nar.length - 16)], target)).rejects.toThrow();
    expect(existsSync(target)).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// The command line (needs `npm run build`, as `npm test` does)

const BIN = resolve(__dirname, '../../bin/tsnix');

function tsnix(args: string[], env: Record<string, string>, input?: Buffer) {
  const r = spawnSync(BIN, ['store', ...args], {
    env: { ...process.env, TSNIX_STORE_DIR: '', TSNIX_STATE_DIR: '', TSNIX_ROOT: '', ...env },
    input,
    cwd: scratch,
  });
  return { code: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1'), raw: r.stdout };
}

describe('tsnix store (command line)', () => {
  it('adds, queries, dumps, restores and verifies like nix-store', () => {
    const root = tmp();
    const env = { TSNIX_ROOT: root };
    const hello = narVectors.find((x) => x.name === 'hello.txt') as NarVector;
    const tree = narVectors.find((x) => x.name === 'tree') as NarVector;

    let r = tsnix(['add', 'hello.txt', 'tree'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${hello.store_path_add}\n${tree.store_path_add}\n`);

    r = tsnix(['add-fixed', 'sha1', 'hello.txt'], env);
    expect(r.stdout).toBe(`${hello.store_path_add_fixed_flat_sha1}\n`);
    r = tsnix(['--add-fixed', '--recursive', 'sha1', 'tree'], env);
    expect(r.stdout).toBe(`${tree.store_path_add_fixed_recursive_sha1}\n`);

    r = tsnix(['query', '--hash', hello.store_path_add], env);
    expect(r.stdout).toBe(`sha256:${parseHash(hello.path_info_of_store_path_add.narHash).toNix32()}\n`);
    r = tsnix(['-q', '--size', tree.store_path_add, hello.store_path_add], env);
    expect(r.stdout).toBe(`${tree.nar_size}\n${hello.nar_size}\n`);
    r = tsnix(['-q', '--deriver', hello.store_path_add], env);
    expect(r.stdout).toBe('unknown-deriver\n');
    r = tsnix(['-qR', tree.store_path_add, hello.store_path_add], env);
    expect(r.stdout).toBe(`${tree.store_path_add}\n${hello.store_path_add}\n`);
    r = tsnix(['-q', '--references', hello.store_path_add], env);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);

    r = tsnix(['dump', tree.store_path_add], env);
    expect(r.code).toBe(0);
    expect(r.raw.toString('base64')).toBe(tree.nar_base64);
    const out = join(tmp(), 'restored');
    r = tsnix(['restore', out], env, Buffer.from(tree.nar_base64, 'base64'));
    expect(r.code).toBe(0);
    expect(narOf(out).toString('base64')).toBe(tree.nar_base64);

    r = tsnix(['verify', '--check-contents'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n',
    );
    const phys = join(root, hello.store_path_add);
    chmodSync(phys, 0o644);
    writeFileSync(phys, 'tampered');
    r = tsnix(['verify', '--check-contents'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`path '${hello.store_path_add}' was modified! expected hash 'sha256:`);
    expect(r.stderr).toContain('warning: not all store errors were fixed\n');
  });

  it('reports errors on one line, without a stack trace', () => {
    const base = tmp();
    const env = { TSNIX_STORE_DIR: join(base, 'store') };
    const cases: [string[], RegExp][] = [
      [['add', 'does-not-exist'], /^error: getting status of '.*\/does-not-exist': No such file or directory\n$/],
      [['-q', '--hash', '/etc/passwd'], /^error: path '\/etc\/passwd' is not in the Nix store\n$/],
      [['-q', '--hash', `${join(base, 'store')}/00000000000000000000000000000000-x`], /^error: path '.*' is not valid\n$/],
      [['add-fixed', 'sha257', 'hello.txt'], /^error: unknown hash algorithm 'sha257'\n/],
      [['add-fixed', 'blake3', 'hello.txt'], /^error: experimental Nix feature 'blake3-hashes' is disabled; add '--extra-experimental-features blake3-hashes' to enable it\n$/],
      [['-q', '--references', '--hash', 'x'], /^error: query type '--hash' conflicts with earlier flag\n/],
      [['dump', 'a', 'b'], /^error: only one argument allowed\n/],
      [['frob'], /^error: unknown store operation 'frob'/],
      [['add-fixed', 'sha256', 'tree'], /^error: file '.*\/tree' is not a regular file, so it cannot be added flat\n$/],
    ];
    for (const [args, re] of cases) {
      const r = tsnix(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\s+at .*\.js:\d+/);
    }
    const bad = tsnix(['restore', join(base, 'out')], env, Buffer.from('not a nar at all, really not'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: not a NAR/);
    expect(existsSync(join(base, 'out'))).toBe(false);
  });
});
