/**
 * The garbage collector (`nix-store --gc`, `--delete`, `--query --roots`).
 *
 * Liveness: the roots (gc-roots.ts: permanent roots, temporary roots of live
 * processes, runtime roots) and everything they reach through references.
 * As with CppNix's defaults `keep-derivations = true` and `keep-outputs =
 * false`, a live path also keeps its deriver (the .drv recorded for it)
 * alive; with `keepOutputs`, a live .drv keeps its valid outputs alive.
 *
 * Protocol (see temp-roots.ts): the collector holds `<stateDir>/gc.lock`
 * exclusively for the whole collection, so no temporary root can be added
 * (and no root link made, see addIndirectRoot) between reading the roots and
 * deleting paths. A process that writes a store path adds it as a temporary
 * root first, so the path is either protected or written after the
 * collection.
 *
 * Deletion, referrers before references: a path is first made invalid in the
 * database (many paths in one transaction), then its files are removed, so a
 * valid path always has all its files. A crash in between leaves an invalid
 * leftover, which the next collection removes: the collector also deletes
 * every entry of the store directory that is not a valid path (failed
 * builds, temporary files of dead processes), unless it is a temporary root
 * (a path being built), the lock of one, or a temporary file of a live
 * process. Nothing outside the store directory is ever touched, nor the
 * directory itself.
 *
 * Bytes freed are counted as CppNix counts them: the sizes of the
 * non-directories removed that had no other hard link.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import { posix } from 'node:path';
import { StoreError } from './compute-store.js';
import { findRoots, type Roots } from './gc-roots.js';
import { isErrnoException, LINKS_DIR, LocalStore, strerror, sysErrorMessage, TEMP_PREFIX } from './local-store.js';
import { FileLock } from './lock.js';
import { removeUnusedLinks, signedMiB } from './optimise.js';
import { gcLockPath, readTempRoots } from './temp-roots.js';

export type GcAction =
  /** Delete every dead path (`--gc`). */
  | 'delete-dead'
  /** Delete the given paths if they are dead (`--delete`). */
  | 'delete-specific'
  /** Only report the live paths (`--print-live`). */
  | 'return-live'
  /** Only report the dead paths (`--print-dead`). */
  | 'return-dead';

export interface GcOptions {
  action: GcAction;
  /** For `delete-specific`: logical store paths. */
  paths?: readonly string[];
  /** Stop deleting once this many bytes are freed (default: no limit). 0 deletes nothing. */
  maxFreed?: number;
  /** A live output keeps its deriver alive (default true, CppNix's keep-derivations). */
  keepDerivations?: boolean;
  /** A live derivation keeps its outputs alive (default false, CppNix's keep-outputs). */
  keepOutputs?: boolean;
  /** Look for runtime roots in /proc (default true). */
  runtimeRoots?: boolean;
  /** Progress lines as nix-store prints them on stderr (without newline). */
  log?: (line: string) => void;
}

/** What a collection did or found; filled in as it goes, so it is complete up to an error. */
export class GcResults {
  /** Deleted paths (delete actions, in deletion order) or the live/dead paths (return actions, sorted). */
  paths: string[] = [];
  bytesFreed = 0;
}

/** `Cannot delete path '…' since it is still alive.` */
export class PathAliveError extends StoreError {
  constructor(readonly path: string) {
    super(`Cannot delete path '${path}' since it is still alive. To find out why, use: tsnix store query --roots`);
    this.name = 'PathAliveError';
  }
}

/** Stops the deletion loop when --max-freed is reached. */
class LimitReached extends Error {}

/** `N.NN MiB` as CppNix's showBytes prints it (printf's `%.2f`: exact value, ties to even). */
export function showBytes(bytes: number): string {
  return signedMiB(BigInt(Math.max(0, Math.floor(bytes))));
}

/** The summary line nix-store prints after deleting. */
export function freedSummary(r: GcResults): string {
  return `${r.paths.length} store paths deleted, ${showBytes(r.bytesFreed)} freed`;
}

/**
 * A size as `--max-freed` takes it: an integer with an optional K, M, G or T
 * suffix (powers of 1024); negative means 0. Throws a message for a bad value.
 */
export function parseSize(s: string): number {
  let num = s;
  let mult = 1;
  const last = s.slice(-1).toUpperCase();
  if (/[A-Z]/.test(last)) {
    const i = 'KMGT'.indexOf(last);
    if (i < 0) throw new Error(`invalid unit specifier '${last}'`);
    mult = 1024 ** (i + 1);
    num = s.slice(0, -1);
  }
  if (!/^[-+]?\d+$/.test(num)) throw new Error(`'${num}' is not an integer`);
  return Math.max(0, Number(num) * mult);
}

// ---------------------------------------------------------------------------

function fsPath(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

const SLASH = Buffer.from('/');

/**
 * Remove a file or tree (store trees are read-only: directories are made
 * writable first); returns the bytes freed as CppNix counts them.
 */
export function deletePathCounting(p: Buffer): number {
  let st;
  try {
    st = lstatSync(p);
  } catch (e) {
    if (isErrnoException(e) && e.code === 'ENOENT') return 0;
    throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, p.toString('latin1'), 'getting status of')) : e;
  }
  let freed = 0;
  if (!st.isDirectory() && st.nlink === 1) freed += st.size;
  const fail = (e: unknown): never => {
    if (isErrnoException(e)) throw new StoreError(`cannot unlink '${p.toString('latin1')}': ${strerror(e.code)}`);
    throw e;
  };
  if (st.isDirectory()) {
    try {
      if ((st.mode & 0o700) !== 0o700) chmodSync(p, (st.mode & 0o7777) | 0o700);
      for (const n of readdirSync(p, { encoding: 'buffer' })) freed += deletePathCounting(Buffer.concat([p, SLASH, n]));
      rmdirSync(p);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      if (!(isErrnoException(e) && e.code === 'ENOENT')) fail(e);
    }
  } else {
    try {
      unlinkSync(p);
    } catch (e) {
      if (!(isErrnoException(e) && e.code === 'ENOENT')) fail(e);
    }
  }
  return freed;
}

/** Whether process `pid` exists. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrnoException(e) && e.code === 'EPERM';
  }
}

/** Whether a lock file is held by someone (a lock of a running build). */
function lockHeld(path: string): boolean {
  let l: FileLock | undefined;
  try {
    l = FileLock.tryAcquire(path);
  } catch {
    return false; // not a lock file we can probe
  }
  if (!l) return true;
  l.release();
  return false;
}

/**
 * Refuse to collect in a store directory that is not tsnix's: without our
 * database every entry would look like garbage.
 */
function checkOwnStore(store: LocalStore): void {
  const real = store.realStoreDir;
  const nixDb = posix.join(posix.dirname(real), 'var', 'nix', 'db', 'db.sqlite');
  if (existsSync(fsPath(nixDb))) {
    throw new StoreError(
      `refusing to collect garbage in '${real}': it belongs to Nix (there is a Nix database '${nixDb}'); ` +
        `set TSNIX_STORE_DIR (or TSNIX_ROOT) to use another folder`,
    );
  }
  if (store.db.exists) return;
  let entries: Buffer[] = [];
  try {
    entries = readdirSync(fsPath(real), { encoding: 'buffer' });
  } catch {
    return;
  }
  if (entries.some((n) => !n.toString('latin1').startsWith(TEMP_PREFIX))) {
    throw new StoreError(
      `refusing to collect garbage in '${real}': it is not a tsnix store (there is no database '${store.location.dbPath}')`,
    );
  }
}

/** Hold the GC lock exclusively while running `fn`. */
function withGcLock<T>(store: LocalStore, log: (l: string) => void, fn: () => T): T {
  const path = gcLockPath(store.location.stateDir);
  let lock = FileLock.tryAcquire(path);
  if (!lock) {
    log('waiting for the big garbage collector lock...');
    lock = FileLock.acquireSync(path, 'exclusive', 24 * 3600 * 1000);
  }
  try {
    return fn();
  } finally {
    lock.release();
  }
}

/** Liveness computation over the database of one store. */
class Graph {
  constructor(
    private readonly store: LocalStore,
    private readonly keepDerivations: boolean,
    private readonly keepOutputs: boolean,
  ) {}

  /** Everything the roots keep alive (valid paths only). */
  live(roots: Iterable<string>): Set<string> {
    const db = this.store.db;
    const live = new Set<string>();
    const todo: string[] = [];
    const push = (p: string): void => {
      if (!live.has(p) && db.isValidPath(p)) {
        live.add(p);
        todo.push(p);
      }
    };
    for (const r of roots) push(r);
    while (todo.length) for (const q of this.keeps(todo.pop() as string)) push(q);
    return live;
  }

  /** What a valid path keeps alive directly: its references, its deriver, its outputs (keepOutputs). */
  private keeps(p: string): string[] {
    const db = this.store.db;
    const info = db.queryPathInfo(p);
    if (!info) return [];
    const out = [...info.references];
    if (this.keepDerivations && info.deriver !== undefined) out.push(info.deriver);
    if (this.keepOutputs && p.endsWith('.drv')) out.push(...db.queryDerivationOutputs(p).values());
    return out;
  }

  /**
   * Valid paths ordered so that a path comes before everything it keeps
   * alive: referrers before their references (so each prefix can be
   * invalidated), outputs before their derivers. Deterministic (byte order).
   */
  keepersFirst(paths: Iterable<string>): string[] {
    const set = new Set(paths);
    const post: string[] = [];
    const seen = new Set<string>();
    for (const start of [...set].sort()) {
      if (seen.has(start)) continue;
      seen.add(start);
      // iterative depth-first search; a frame is a path and its remaining successors
      const stack: [string, string[]][] = [[start, this.keeps(start).filter((q) => set.has(q)).sort().reverse()]];
      while (stack.length) {
        const top = stack[stack.length - 1] as [string, string[]];
        const next = top[1].pop();
        if (next === undefined) {
          post.push(top[0]);
          stack.pop();
        } else if (!seen.has(next)) {
          seen.add(next);
          stack.push([next, this.keeps(next).filter((q) => set.has(q)).sort().reverse()]);
        }
      }
    }
    return post.reverse();
  }

  /** The paths whose liveness would keep `p` alive (the reverse of `live`'s steps), `p` included. */
  referrersClosure(paths: Iterable<string>): Set<string> {
    const db = this.store.db;
    const out = new Set<string>();
    const todo: string[] = [];
    const push = (p: string): void => {
      if (!out.has(p)) {
        out.add(p);
        todo.push(p);
      }
    };
    for (const p of paths) push(p);
    while (todo.length) {
      const p = todo.pop() as string;
      if (!db.isValidPath(p)) continue;
      for (const r of db.queryReferrers(p)) push(r);
      if (this.keepDerivations && p.endsWith('.drv')) {
        for (const o of db.queryDerivationOutputs(p).values()) {
          if (db.queryPathInfo(o)?.deriver === p) push(o);
        }
      }
      if (this.keepOutputs) for (const d of db.queryValidDerivers(p)) push(d);
    }
    return out;
  }
}

/** Temporary roots as logical store paths (entries below a store path count for it). */
function normaliseTempRoots(store: LocalStore, raw: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const r0 of raw) {
    const r = store.toLogical(r0);
    if (!r.startsWith(store.storeDir + '/')) continue;
    const name = r.slice(store.storeDir.length + 1).split('/')[0] ?? '';
    if (name !== '') out.add(`${store.storeDir}/${name}`);
  }
  return out;
}

/**
 * Run a collection. `results` is filled in as paths are deleted, so it is
 * complete even when an error is thrown (nix-store prints it anyway).
 */
export function collectGarbage(store: LocalStore, opts: GcOptions, results: GcResults = new GcResults()): GcResults {
  const log = opts.log ?? ((): void => {});
  const maxFreed = opts.maxFreed ?? Infinity;
  const graph = new Graph(store, opts.keepDerivations ?? true, opts.keepOutputs ?? false);
  store.commit();
  checkOwnStore(store);
  const db = store.db;

  return withGcLock(store, log, () => {
    log('finding garbage collector roots...');
    // Temporary roots first: from now on no process can add one until we are done.
    const temp = normaliseTempRoots(store, readTempRoots(store.location.stateDir));
    const roots: Roots = findRoots(store, { log, removeStale: true, temp: false, runtime: opts.runtimeRoots ?? true });
    const live = graph.live([...roots.keys(), ...temp]);

    const valid = new Set(db.queryAllValidPaths());
    const tempNames = new Set([...temp].map((p) => p.slice(store.storeDir.length + 1)));

    /** Store-directory entries that are not valid paths and may go. */
    const leftovers = (): string[] => {
      let names: string[];
      try {
        names = readdirSync(fsPath(store.realStoreDir), { encoding: 'buffer' }).map((b) => b.toString('latin1'));
      } catch (e) {
        if (isErrnoException(e) && e.code === 'ENOENT') return [];
        throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, store.realStoreDir, 'reading directory')) : e;
      }
      const stateIn = store.location.stateDir.startsWith(store.realStoreDir + '/')
        ? store.location.stateDir.slice(store.realStoreDir.length + 1).split('/')[0]
        : undefined;
      return names
        .filter((n) => {
          if (valid.has(`${store.storeDir}/${n}`) || tempNames.has(n) || n === stateIn || n === LINKS_DIR) return false;
          const tmp = new RegExp(`^${TEMP_PREFIX.replace(/[.]/g, '\\.')}(\\d+)-`).exec(n);
          if (tmp && processAlive(Number(tmp[1]))) return false;
          // A lock (and its SQLite journal, see lock.ts) of a path being built, or held by anyone.
          const lock = /^(.*)\.lock(?:-journal|-wal|-shm)?$/.exec(n);
          if (lock) {
            const stem = lock[1] as string;
            if (tempNames.has(stem)) return false;
            const file = `${store.realStoreDir}/${stem}.lock`;
            if (existsSync(fsPath(file)) && lockHeld(file)) return false;
          }
          return true;
        })
        .sort();
    };

    const deleteEntry = (logical: string, physical: string): void => {
      log(`deleting '${logical}'`);
      results.bytesFreed += deletePathCounting(fsPath(physical));
      results.paths.push(logical);
      if (results.bytesFreed >= maxFreed) {
        log(`deleted more than ${maxFreed} bytes; stopping`);
        throw new LimitReached();
      }
    };

    /**
     * Invalidate and delete valid paths given referrers first. With a limit,
     * paths are invalidated in chunks no bigger than the remaining budget
     * needs (files never take more bytes than the NAR), so stopping leaves
     * no path invalid that was not deleted.
     */
    const deleteValid = (ordered: string[]): void => {
      let i = 0;
      while (i < ordered.length) {
        let j = i;
        if (maxFreed === Infinity) j = ordered.length;
        else {
          // the shortest run whose NAR sizes cover what is left to free (at least one path)
          let budget = maxFreed - results.bytesFreed;
          do {
            budget -= db.queryPathInfo(ordered[j] as string)?.narSize ?? 0;
            j++;
          } while (j < ordered.length && budget > 0);
        }
        const chunk = ordered.slice(i, j);
        db.invalidatePaths(chunk);
        for (const p of chunk) {
          valid.delete(p);
          deleteEntry(p, store.toPhysical(p));
        }
        i = j;
      }
    };

    const referrersFirst = (paths: Iterable<string>): string[] => graph.keepersFirst(paths);

    try {
      switch (opts.action) {
        case 'return-live':
          log('determining live/dead paths...');
          results.paths = [...live].filter((p) => valid.has(p)).sort();
          break;
        case 'return-dead': {
          if (maxFreed <= 0) break;
          log('determining live/dead paths...');
          const dead = [...valid].filter((p) => !live.has(p));
          for (const n of leftovers()) dead.push(`${store.storeDir}/${n}`);
          results.paths = dead.sort();
          break;
        }
        case 'delete-dead': {
          if (maxFreed <= 0) break;
          log('deleting garbage...');
          // Invalid entries first: they can never become useful again, dead paths could.
          for (const n of leftovers()) deleteEntry(`${store.storeDir}/${n}`, `${store.realStoreDir}/${n}`);
          deleteValid(referrersFirst([...valid].filter((p) => !live.has(p))));
          pruneOutputLocks(store, valid);
          break;
        }
        case 'delete-specific': {
          const wanted = new Set(opts.paths ?? []);
          const done = new Set<string>();
          for (const p of opts.paths ?? []) {
            if (done.has(p)) continue;
            const name = p.slice(store.storeDir.length + 1);
            if (!valid.has(p)) {
              // Not a valid path: an unregistered leftover, unless something is building it.
              if (tempNames.has(name)) throw new PathAliveError(p);
              done.add(p);
              if (lstatSync(fsPath(store.toPhysical(p)), { throwIfNoEntry: false })) deleteEntry(p, store.toPhysical(p));
              continue;
            }
            if (live.has(p)) throw new PathAliveError(p);
            const closure = graph.referrersClosure([p]);
            for (const q of closure) if (!done.has(q) && (!wanted.has(q) || live.has(q))) throw new PathAliveError(p);
            const todo = [...closure].filter((q) => !done.has(q) && valid.has(q));
            for (const q of todo) done.add(q);
            deleteValid(referrersFirst(todo));
          }
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof LimitReached)) throw e;
    }
    if (opts.action === 'delete-dead' || opts.action === 'delete-specific') {
      // (the files of deleted paths that were shared are still in .links: see optimise.ts)
      log('deleting unused links...');
      log(removeUnusedLinks(store, (bytes) => (results.bytesFreed += bytes)));
    }
    return results;
  });
}

/**
 * Remove the build locks (`<stateDir>/locks/<name>.lock`, see
 * build/index.ts) of paths that are not valid and that nobody holds: they
 * would otherwise pile up, one per output ever built.
 */
function pruneOutputLocks(store: LocalStore, valid: ReadonlySet<string>): void {
  const dir = `${store.location.stateDir}/locks`;
  let names: string[];
  try {
    names = readdirSync(fsPath(dir), { encoding: 'buffer' }).map((b) => b.toString('latin1'));
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^(.*)\.lock$/.exec(n);
    if (!m || valid.has(`${store.storeDir}/${m[1]}`)) continue;
    const l = FileLock.tryAcquire(`${dir}/${n}`);
    if (l) l.release(true);
  }
}

/**
 * `--query --roots`: the roots that keep the given paths alive (directly or
 * through referrers and, with keep-derivations, outputs of a .drv), as
 * `LINK -> STOREPATH` pairs.
 */
export function queryRoots(
  store: LocalStore,
  paths: readonly string[],
  opts: Pick<GcOptions, 'keepDerivations' | 'keepOutputs' | 'runtimeRoots'> = {},
): Roots {
  store.commit();
  const graph = new Graph(store, opts.keepDerivations ?? true, opts.keepOutputs ?? false);
  const closure = graph.referrersClosure(paths);
  const roots = findRoots(store, { runtime: opts.runtimeRoots ?? true });
  for (const sp of [...roots.keys()]) if (!closure.has(sp)) roots.delete(sp);
  return roots;
}
