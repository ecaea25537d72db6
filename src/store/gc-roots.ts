/**
 * Garbage-collector roots: what keeps store paths alive (the collector
 * itself is gc.ts).
 *
 * - Permanent roots: symlinks below `<stateDir>/gcroots/` (searched
 *   recursively, as is `<stateDir>/profiles/` when it exists). A link whose
 *   target lies in the store (or below a store path: `…-foo/bin/x`) is a
 *   direct root. A link to a symlink outside the store that itself points into
 *   the store is an indirect root: that is how `--add-root` registers a result
 *   link (`gcroots/auto/<hash>` -> `/abs/result` -> store path, addIndirectRoot
 *   below). An `auto` entry whose outer link is gone or no longer points into
 *   the store is stale; the collector removes it. A regular file named like a
 *   store path is a root as well (as in CppNix).
 * - Temporary roots of live processes (temp-roots.ts), shown as `{temp:PID}`.
 * - Runtime roots: store paths a running process uses (its executable,
 *   working directory, open files, mapped files, environment), read from
 *   /proc, shown as `/proc/PID/exe` etc.
 *
 * Links into the store may use the physical store directory (result links
 * do: `cat result/…` must work) or the logical one; roots are reported as
 * logical store paths. All paths here are byte strings (see fs-path.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from './compute-store.js';
import { isErrnoException, sysErrorMessage, type LocalStore } from './local-store.js';
import { FileLock } from './lock.js';
import { gcLockPath, tempRootsDir } from './temp-roots.js';

function fsPath(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

function bytes(b: Buffer): string {
  return b.toString('latin1');
}

/** Store path -> the links (or `{temp:PID}`, `/proc/PID/…`) that keep it alive. */
export type Roots = Map<string, Set<string>>;

export function gcRootsDir(stateDir: string): string {
  return `${stateDir}/gcroots`;
}

export function autoRootsDir(stateDir: string): string {
  return `${gcRootsDir(stateDir)}/auto`;
}

/** The name of the `auto` entry registering `link` (an absolute byte-string path). */
function autoName(link: string): string {
  return crypto.createHash('sha256').update(fsPath(link)).digest('hex').slice(0, 32);
}

/** Create (or replace) a symlink atomically: a temporary link renamed over `at`. */
function replaceSymlink(target: Buffer, at: Buffer): void {
  const tmp = Buffer.concat([at, Buffer.from(`.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`)]);
  fs.symlinkSync(target, tmp);
  try {
    fs.renameSync(tmp, at);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Makes `link` (a path as typed by the user, an ordinary string) point at the
 * physical store path and registers it as an indirect root; returns the link's
 * absolute path (a byte string).
 *
 * Both links are made while holding the GC lock shared, so a collection never
 * sees them half-made; if a collection deleted the path before that (it was
 * not protected yet), the root is not made and the error says so.
 */
export function addIndirectRoot(store: LocalStore, storePath: string, link: string): string {
  const target = store.toPhysical(storePath);
  const abs = Buffer.from(path.resolve(link), 'utf8').toString('latin1');
  const stateDir = store.location.stateDir;
  const auto = autoRootsDir(stateDir);
  store.commit();
  try {
    fs.mkdirSync(fsPath(auto), { recursive: true });
  } catch (e) {
    throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, auto, 'creating directory')) : e;
  }
  const gc = FileLock.acquireSync(gcLockPath(stateDir), 'shared');
  try {
    // Asked of the database itself: a collection may have deleted it since this process last looked.
    if (!store.db.isValidPath(storePath)) {
      throw new StoreError(`cannot add a root for '${storePath}': it is not valid (was it garbage-collected meanwhile?)`);
    }
    try {
      replaceSymlink(fsPath(target), fsPath(abs));
    } catch (e) {
      throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, abs, 'creating symlink')) : e;
    }
    const reg = `${auto}/${autoName(abs)}`;
    try {
      replaceSymlink(fsPath(abs), fsPath(reg));
    } catch (e) {
      throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, reg, 'creating symlink')) : e;
    }
  } finally {
    gc.release();
  }
  return abs;
}

// ---------------------------------------------------------------------------
// Finding roots

export interface FindRootsOptions {
  /** Messages CppNix prints on stderr (`removing stale link from …`), without newline. */
  log?: (line: string) => void;
  /**
   * Remove stale `auto` entries. Only safe while holding the GC lock
   * exclusively (addIndirectRoot replaces links under the shared lock).
   */
  removeStale?: boolean;
  /** Include the temporary roots of live processes (default true). */
  temp?: boolean;
  /** Include the runtime roots found in /proc (default true). */
  runtime?: boolean;
}

/** Store-directory helpers for one store. */
class StoreDirs {
  constructor(private readonly store: LocalStore) {}

  /** The logical store path `p` (logical or physical, maybe below a store path) lies in, or undefined. */
  storePathOf(p: string): string | undefined {
    let rest: string | undefined;
    for (const dir of [this.store.storeDir, this.store.realStoreDir]) {
      if (p.startsWith(dir + '/')) {
        rest = p.slice(dir.length + 1);
        break;
      }
    }
    if (rest === undefined) return undefined;
    const name = rest.split('/')[0] ?? '';
    if (!/^[0-9a-df-np-sv-z]{32}-./.test(name)) return undefined;
    return `${this.store.storeDir}/${name}`;
  }

  inStore(p: string): boolean {
    return p.startsWith(this.store.storeDir + '/') || p.startsWith(this.store.realStoreDir + '/');
  }
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

function readLinkAbs(p: string): string {
  const t = bytes(fs.readlinkSync(fsPath(p), { encoding: 'buffer' }));
  return path.posix.resolve(path.posix.dirname(p), t);
}

function addRoot(roots: Roots, storePath: string, link: string): void {
  let s = roots.get(storePath);
  if (!s) roots.set(storePath, (s = new Set()));
  s.add(link);
}

/**
 * The permanent roots (gcroots/ and profiles/) of a store: store path -> links.
 * Roots to paths that are not valid are skipped (`skipping invalid root …`).
 */
export function findPermanentRoots(store: LocalStore, opts: FindRootsOptions = {}): Roots {
  const log = opts.log ?? ((): void => {});
  const dirs = new StoreDirs(store);
  const roots: Roots = new Map();
  const auto = autoRootsDir(store.location.stateDir);

  const found = (link: string, target: string): void => {
    const sp = dirs.storePathOf(target);
    if (sp === undefined) return;
    if (store.db.isValidPath(sp)) addRoot(roots, sp, link);
    else log(`skipping invalid root from '${link}' to '${target}'`);
  };

  const stale = (link: string, target: string): void => {
    if (!opts.removeStale || !link.startsWith(auto + '/')) return;
    log(`removing stale link from '${link}' to '${target}'`);
    try {
      fs.unlinkSync(fsPath(link));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  };

  const visit = (p: string, top: boolean): void => {
    try {
      const st = fs.lstatSync(fsPath(p));
      if (st.isDirectory()) {
        for (const n of fs.readdirSync(fsPath(p), { encoding: 'buffer' }).sort(Buffer.compare)) {
          visit(`${p}/${bytes(n)}`, false);
        }
      } else if (st.isSymbolicLink()) {
        const target = readLinkAbs(p);
        if (dirs.inStore(target)) {
          found(p, target);
          return;
        }
        // An indirect root: the target is a link (e.g. a `result` link) into the store.
        const st2 = fs.lstatSync(fsPath(target), { throwIfNoEntry: false });
        if (!st2 || !st2.isSymbolicLink()) {
          stale(p, target);
          return;
        }
        const target2 = readLinkAbs(target);
        if (dirs.inStore(target2)) found(target, target2);
        else stale(p, target);
      } else if (st.isFile() && !top) {
        const sp = `${store.storeDir}/${path.posix.basename(p)}`;
        if (dirs.storePathOf(sp) === sp && store.db.isValidPath(sp)) addRoot(roots, sp, p);
      }
    } catch (e) {
      // Only permanent failures are ignored.
      if (isErrno(e, 'EACCES', 'ENOENT', 'ENOTDIR')) {
        if (!top) log(`cannot read potential root '${p}'`);
      } else throw e;
    }
  };

  visit(gcRootsDir(store.location.stateDir), true);
  visit(`${store.location.stateDir}/profiles`, true);
  return roots;
}

/**
 * The temporary roots of live processes, by process id (read without the
 * GC lock: for display; the collector uses readTempRoots under the lock).
 */
export function tempRootsByProcess(stateDir: string): Map<number, string[]> {
  const dir = tempRootsDir(stateDir);
  const out = new Map<number, string[]>();
  let names: string[];
  try {
    names = fs.readdirSync(fsPath(dir), { encoding: 'buffer' }).map(bytes);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    if (pid !== process.pid) {
      // The process holds its lock for its lifetime: if we can take it, the process is gone.
      let probe: FileLock | undefined;
      try {
        probe = FileLock.tryAcquire(`${dir}/${n}.lock`);
      } catch {
        probe = undefined;
      }
      if (probe) {
        probe.release(true);
        continue;
      }
    }
    let text: string;
    try {
      text = bytes(fs.readFileSync(fsPath(`${dir}/${n}`)));
    } catch {
      continue;
    }
    out.set(
      pid,
      text.split('\n').filter((l) => l !== ''),
    );
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Store paths used by running processes, from /proc: executable, working
 * directory and open files (links), mapped files and environment (scanned
 * for store paths). Processes we may not inspect are skipped.
 */
export function findRuntimeRoots(store: LocalStore): Roots {
  const dirs = new StoreDirs(store);
  const roots: Roots = new Map();
  const prefixes = [...new Set([store.storeDir, store.realStoreDir])].map(escapeRegExp).join('|');
  const pathRe = new RegExp(`(?:${prefixes})/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\\-._?=]+`, 'g');
  const candidate = (link: string, p: string): void => {
    const sp = dirs.storePathOf(p);
    if (sp !== undefined) addRoot(roots, sp, link);
  };
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return roots;
  }
  for (const pid of pids) {
    const base = `/proc/${pid}`;
    for (const l of ['exe', 'cwd']) {
      try {
        candidate(`${base}/${l}`, bytes(fs.readlinkSync(`${base}/${l}`, { encoding: 'buffer' })));
      } catch {
        // gone or not ours
      }
    }
    try {
      for (const fd of fs.readdirSync(`${base}/fd`)) {
        try {
          candidate(`${base}/fd/${fd}`, bytes(fs.readlinkSync(`${base}/fd/${fd}`, { encoding: 'buffer' })));
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone or not ours
    }
    for (const f of ['maps', 'environ']) {
      let text: string;
      try {
        text = bytes(fs.readFileSync(`${base}/${f}`));
      } catch {
        continue;
      }
      for (const m of text.matchAll(pathRe)) candidate(`${base}/${f}`, m[0]);
    }
  }
  // Only valid paths count.
  for (const sp of [...roots.keys()]) if (!store.db.isValidPath(sp)) roots.delete(sp);
  return roots;
}

/** All roots of a store (permanent, temporary, runtime), as `--print-roots` lists them. */
export function findRoots(store: LocalStore, opts: FindRootsOptions = {}): Roots {
  const roots = findPermanentRoots(store, opts);
  const merge = (more: Roots): void => {
    for (const [sp, links] of more) for (const l of links) addRoot(roots, sp, l);
  };
  if (opts.temp ?? true) {
    const dirs = new StoreDirs(store);
    for (const [pid, paths] of tempRootsByProcess(store.location.stateDir)) {
      for (const p of paths) {
        const sp = dirs.storePathOf(p);
        if (sp !== undefined) addRoot(roots, sp, `{temp:${pid}}`);
      }
    }
  }
  if (opts.runtime ?? true) merge(findRuntimeRoots(store));
  return roots;
}

/** `LINK -> STOREPATH` pairs, sorted by link then path (as nix-store prints them). */
export function rootLines(roots: Roots, only?: (storePath: string) => boolean): string[] {
  const pairs: [string, string][] = [];
  for (const [sp, links] of roots) {
    if (only && !only(sp)) continue;
    for (const l of links) pairs.push([l, sp]);
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  pairs.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return pairs.map(([l, sp]) => `${l} -> ${sp}`);
}
