/**
 * Sharing identical files between store paths by hard links, as CppNix does
 * (`nix-store --optimise`, and the garbage collector's clean-up of the links).
 *
 * Every regular file and symbolic link of a valid path gets a hard link
 * `<store>/.links/<nix32 of the SHA-256 of its NAR serialisation>`; a file
 * whose contents already have a link there is replaced, atomically (a new
 * hard link renamed over it), by a hard link to that one.  The NAR of a file
 * covers its contents and executable bit, so only files that a NAR could not
 * tell apart are shared.  Store files are read-only, so sharing them is
 * invisible to their users.
 *
 * The garbage collector deletes the links that nothing else uses any more
 * (a link count of 1) after it has deleted paths (see gc.ts).
 */
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, utimesSync, type BigIntStats } from 'node:fs';
import { StoreError } from './compute-store.js';
import { isErrnoException, LINKS_DIR, TEMP_PREFIX, sysErrorMessage, type LocalStore } from './local-store.js';
import { FileLock } from './lock.js';
import { hashPathSync } from './nar.js';
import { gcLockPath } from './temp-roots.js';

export interface OptimiseStats {
  /** Files replaced by a hard link to an identical one. */
  filesLinked: number;
  /** The sizes of those files (what CppNix reports as freed). */
  bytesFreed: number;
}

function fsPath(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

function lstat(p: string): BigIntStats {
  try {
    return lstatSync(fsPath(p), { bigint: true });
  } catch (e) {
    throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, p, 'getting status of')) : e;
  }
}

/** The links' directory of `store` (physical path), created if the store directory exists; null if it does not. */
export function ensureLinksDir(store: LocalStore): string | null {
  const dir = `${store.realStoreDir}/${LINKS_DIR}`;
  try {
    mkdirSync(fsPath(dir));
  } catch (e) {
    if (isErrnoException(e) && e.code === 'EEXIST') return dir;
    if (isErrnoException(e) && e.code === 'ENOENT') return null;
    throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, dir, 'creating directory')) : e;
  }
  return dir;
}

/**
 * `nix-store --optimise`: hard-link the identical files of all valid paths.
 * Holds the garbage collector's lock shared meanwhile, so that no collection
 * deletes a path (or a link) while its files are being linked.
 */
export function optimiseStore(store: LocalStore, log: (line: string) => void): OptimiseStats {
  store.commit();
  const stats: OptimiseStats = { filesLinked: 0, bytesFreed: 0 };
  if (!store.db.exists) return stats;
  const lockFile = gcLockPath(store.location.stateDir);
  let lock = FileLock.tryAcquire(lockFile, 'shared');
  if (!lock) {
    log('waiting for the big garbage collector lock...');
    lock = FileLock.acquireSync(lockFile, 'shared', 24 * 3600 * 1000);
  }
  try {
    const links = ensureLinksDir(store);
    if (links === null) return stats;
    const o = new Optimiser(store, links, stats, log, true);
    for (const p of store.db.queryAllValidPaths().sort()) {
      // (a path deleted behind the database's back is `store verify`'s business)
      if (lstatSync(fsPath(store.toPhysical(p)), { throwIfNoEntry: false }) === undefined) continue;
      o.path(store.toPhysical(p));
    }
  } finally {
    lock.release();
  }
  return stats;
}

/** Whether new paths are optimised as they become valid (the `auto-optimise-store` setting; process-wide, as CppNix's settings). */
let autoOptimise = false;

export function setAutoOptimise(on: boolean): void {
  autoOptimise = on;
}

/**
 * With `auto-optimise-store`: hard-link the files of paths that have just
 * become valid (LocalStore calls this as it registers them).  Their files
 * are new, so the links are not listed first as `optimiseStore` does.
 */
export function optimiseNewPaths(store: LocalStore, paths: readonly string[]): void {
  if (!autoOptimise || paths.length === 0) return;
  const links = ensureLinksDir(store);
  if (links === null) return;
  const o = new Optimiser(store, links, { filesLinked: 0, bytesFreed: 0 }, (l) => process.stderr.write(Buffer.from(`${l}\n`, 'latin1')), false);
  for (const p of paths) o.path(store.toPhysical(p));
}

/** The link count a file may reach (ext4's limit; a file at it is left alone). */
const MAX_LINKS = 65000n;

class Optimiser {
  /** Inodes of the links: a file with one of them is shared already (no need to hash it). */
  private readonly linked = new Set<bigint>();
  private seq = 0;

  constructor(
    private readonly store: LocalStore,
    private readonly links: string,
    private readonly stats: OptimiseStats,
    private readonly log: (line: string) => void,
    knownLinks: boolean,
  ) {
    if (knownLinks) for (const n of readdirSync(fsPath(links), { encoding: 'buffer' })) {
      const st = lstatSync(Buffer.concat([fsPath(links + '/'), n]), { bigint: true, throwIfNoEntry: false });
      if (st) this.linked.add(st.ino);
    }
  }

  /** A file, symbolic link or tree (physical path, bytes as latin1). */
  path(p: string): void {
    const st = lstat(p);
    if (st.isDirectory()) {
      for (const n of readdirSync(fsPath(p), { encoding: 'buffer' })) this.path(`${p}/${n.toString('latin1')}`);
      return;
    }
    if (!st.isFile() && !st.isSymbolicLink()) return;
    // (a writable file in the store was not made by the store: sharing it could spread a later change)
    if (st.isFile() && (st.mode & 0o200n) !== 0n) {
      this.log(`skipping suspicious writable file '${p}'`);
      return;
    }
    if (this.linked.has(st.ino)) return;
    const link = `${this.links}/${hashPathSync(fsPath(p)).hash.toNix32()}`;
    // The first file with these contents becomes the link.
    if (this.tryLink(p, link, st)) return;
    const lst = lstat(link);
    if (lst.ino === st.ino) return;
    if (lst.size !== st.size || lst.isSymbolicLink() !== st.isSymbolicLink()) {
      // (not what its name says: a link changed behind the store's back)
      this.log(`removing corrupted link '${link}'`);
      try {
        unlinkSync(fsPath(link));
      } catch (e) {
        throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, link, 'removing')) : e;
      }
      this.tryLink(p, link, st);
      return;
    }
    if (lst.nlink >= MAX_LINKS) return;
    // Replace the file by a new link to `link`: made beside it, then renamed over it.
    const tmp = `${this.store.realStoreDir}/${TEMP_PREFIX}${process.pid}-link-${++this.seq}`;
    try {
      linkSync(fsPath(link), fsPath(tmp));
    } catch (e) {
      if (isErrnoException(e) && e.code === 'EMLINK') {
        this.log(`'${link}' has maximum number of links`);
        return;
      }
      throw isErrnoException(e) ? new StoreError(`cannot link '${tmp}' to '${link}': ${sysErrorMessage(e)}`) : e;
    }
    const dir = p.slice(0, p.lastIndexOf('/'));
    const dst = statSync(fsPath(dir));
    // (store directories are read-only, and keep their time stamps)
    const toggle = (dst.mode & 0o200) === 0;
    try {
      if (toggle) chmodSync(fsPath(dir), (dst.mode & 0o7777) | 0o200);
      renameSync(fsPath(tmp), fsPath(p));
    } catch (e) {
      try {
        unlinkSync(fsPath(tmp));
      } catch {
        // (the first error is the one to report)
      }
      throw isErrnoException(e) ? new StoreError(`cannot rename '${tmp}' to '${p}': ${sysErrorMessage(e)}`) : e;
    } finally {
      if (toggle) chmodSync(fsPath(dir), dst.mode & 0o7777);
      utimesSync(fsPath(dir), dst.atime, dst.mtime);
    }
    this.stats.filesLinked++;
    this.stats.bytesFreed += Number(st.size);
  }

  /** Make `p` the link of its contents; false if there is one already. */
  private tryLink(p: string, link: string, st: BigIntStats): boolean {
    try {
      linkSync(fsPath(p), fsPath(link));
      this.linked.add(st.ino);
      return true;
    } catch (e) {
      if (isErrnoException(e) && e.code === 'EEXIST') return false;
      // (at its link limit, or no room: the file stays unshared, as in CppNix)
      if (isErrnoException(e) && (e.code === 'EMLINK' || e.code === 'ENOSPC')) {
        this.log(`cannot link '${link}' to '${p}': ${sysErrorMessage(e)}`);
        return true;
      }
      throw isErrnoException(e) ? new StoreError(`cannot link '${link}' to '${p}': ${sysErrorMessage(e)}`) : e;
    }
  }
}

/**
 * The garbage collector's last step: delete the links nothing else uses
 * (link count 1), adding their sizes to `freed`; returns the line CppNix
 * prints about what the remaining links save.
 */
export function removeUnusedLinks(store: LocalStore, freed: (bytes: number) => void): string {
  const dir = ensureLinksDir(store);
  let actual = 0n;
  let unshared = 0n;
  let overhead = 0n;
  if (dir !== null) {
    for (const n of readdirSync(fsPath(dir), { encoding: 'buffer' })) {
      const name = n.toString('latin1');
      const p = `${dir}/${name}`;
      const st = lstatSync(fsPath(p), { bigint: true, throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.nlink !== 1n) {
        actual += st.size;
        unshared += (st.nlink - 1n) * st.size;
        continue;
      }
      try {
        if (st.isDirectory()) rmdirSync(fsPath(p));
        else unlinkSync(fsPath(p));
      } catch (e) {
        throw isErrnoException(e) ? new StoreError(`deleting '${p}': ${sysErrorMessage(e)}`) : e;
      }
      freed(Number(st.size));
    }
    overhead = statSync(fsPath(dir), { bigint: true }).blocks * 512n;
  }
  return `note: currently hard linking saves ${signedMiB(unshared - actual - overhead)}`;
}

/** Bytes as `%.2f MiB` of a value that may be negative (printf's rounding: ties to even, `-0.00` below zero). */
export function signedMiB(bytes: bigint): string {
  const neg = bytes < 0n;
  const b = neg ? -bytes : bytes;
  const unit = 1n << 20n;
  let q = (b * 100n) / unit;
  const r2 = ((b * 100n) % unit) * 2n;
  if (r2 > unit || (r2 === unit && q % 2n === 1n)) q += 1n;
  return `${neg ? '-' : ''}${q / 100n}.${(q % 100n).toString().padStart(2, '0')} MiB`;
}
