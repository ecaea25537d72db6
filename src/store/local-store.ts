/**
 * The real local store: files under the physical store directory, validity
 * in the SQLite database (database.ts), locations from store-location.ts.
 *
 * Adding a file or tree (addPath):
 * 1. its NAR is produced and hashed. Up to 4 MiB it is kept in memory, so
 *    adding a path that is valid already writes nothing. A bigger tree is
 *    copied in canonical form (files 0444/0555, directories 0555, mtime 1)
 *    under a temporary name `.tsnix-tmp-…` in the store directory while it
 *    is hashed (copyTreeHashingNar); but if a valid path of the same name
 *    exists, it is likely the same tree again, so it is hashed first and
 *    copied only if its path is new;
 * 2. the store path is computed from the hash; if it is valid already, the
 *    temporary copy is dropped;
 * 3. otherwise the tree is restored (from memory) or renamed to its final
 *    name, replacing any unregistered leftover of an earlier crash, and only
 *    then registered.
 * Text files (toFile, .drv) are written straight to their final name when
 * nothing is there, else through a temporary name. So a registered path
 * always has all its contents, and a failed add leaves nothing registered
 * and no temporary files. The .drv files of writeDerivation are created by
 * a worker thread while the evaluation goes on (background-writer.ts); a
 * commit waits for them first.
 *
 * Registrations are batched: they are kept in memory (and count as valid
 * for this process at once) and committed in one transaction when the event
 * loop next turns, every `batchSize` paths, at `commit()`/`close()`, and at
 * process exit. Instantiating thousands of derivations thus costs one
 * transaction, not thousands. Every queued path is complete on disk, so
 * committing at any moment is safe; a process killed before the commit
 * leaves unregistered files, which the next write of the same path replaces.
 *
 * Store paths in and out are logical (`storeDir`); the files are reached
 * through `toPhysical`. All paths are byte strings (see fs-path.ts).
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  lutimesSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { TempRoots } from './temp-roots.js';
import { BackgroundWriter, storeReadBarrier } from './background-writer.js';
import { posix } from 'node:path';
import { copyFromCache, type FileBinaryCache } from './binary-cache.js';
import { StoreError } from './compute-store.js';
import { makeContentAddressedPath, parseContentAddress, renderContentAddress, type ContentAddress } from './content-address.js';
import { StoreDatabase, StoreDatabaseError, type PathRegistration, type ValidPathInfo } from './database.js';
import {
  DerivationError,
  DerivationParseError,
  derivationReferences,
  drvNameFromPath,
  fillInOutputPaths,
  isFixedOutput,
  outputPaths,
  parseDerivation,
  printDerivation,
  type Derivation,
  type DrvHashModulo,
} from './derivation.js';
import { toFsPath, writeAll, type FsPath } from './fs-path.js';
import { BadHashError, MissingFeatureError, hashFileSync, HashSink, sha256, type Hash, type HashAlgo } from './hash.js';
import {
  hashPathSync,
  narChunks,
  NarDumpError,
  NarFormatError,
  NarParser,
  NarRestorer,
  restorePath,
  type NarEntryType,
  type RestoreResult,
  T_CLOSE,
  T_DIRECTORY,
  T_ENTRY,
  T_EXECUTABLE,
  T_MAGIC,
  T_NODE,
  T_REGULAR,
  T_SYMLINK,
} from './nar.js';
import { optimiseNewPaths } from './optimise.js';
import type { AddedPath, AddPathOptions, StoreApi } from './store-api.js';
import {
  storeLocation,
  StoreLocationError,
  toLogical,
  toPhysical,
  type StoreLocation,
} from './store-location.js';
import {
  BadStorePathError,
  checkStorePathName,
  compareBytes,
  isInStore,
  makeFixedOutputPath,
  makeTextPath,
  parseStorePath,
  splitStorePath,
  storePathNameProblem,
  type FileIngestionMethod,
} from './store-path.js';

export type { ValidPathInfo } from './database.js';

// ---------------------------------------------------------------------------
// Errors

// One error class for both stores, so that callers need not know which one they use.
export { StoreError };

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOTEMPTY: 'Directory not empty',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EROFS: 'Read-only file system',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EXDEV: 'Invalid cross-device link',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EBUSY: 'Device or resource busy',
  EIO: 'Input/output error',
  EINVAL: 'Invalid argument',
  EFBIG: 'File too large',
  EBADF: 'Bad file descriptor',
  EPIPE: 'Broken pipe',
  EAGAIN: 'Resource temporarily unavailable',
};

const VERBS: Record<string, string> = {
  lstat: 'getting status of',
  stat: 'getting status of',
  fstat: 'getting status of',
  open: 'opening file',
  mkdir: 'creating directory',
  readlink: 'reading symbolic link',
  symlink: 'creating symlink',
  scandir: 'reading directory',
  opendir: 'reading directory',
  rename: 'renaming',
  unlink: 'deleting',
  rmdir: 'deleting',
  rm: 'deleting',
  read: 'reading file',
  write: 'writing to file',
  chmod: 'changing mode of',
  fchmod: 'changing mode of',
  utime: 'changing modification time of',
  futime: 'changing modification time of',
  lutime: 'changing modification time of',
};

export function isErrnoException(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'errno' in e;
}

/** The C library's text for an errno code (`No such file or directory`). */
export function strerror(code: string | undefined): string {
  return (code !== undefined && STRERROR[code]) || code || 'unknown error';
}

/**
 * A file-system error as CppNix words it: `getting status of '/x': No such
 * file or directory`. `path` (a byte string) is used when given; otherwise
 * the one in the error.
 */
export function sysErrorMessage(e: NodeJS.ErrnoException, path?: string, verb?: string): string {
  const p = path ?? (e.path !== undefined ? Buffer.from(e.path, 'utf8').toString('latin1') : undefined);
  const v = verb ?? (e.syscall !== undefined ? (VERBS[e.syscall] ?? e.syscall) : undefined);
  const what = strerror(e.code);
  if (p === undefined) return v !== undefined ? `${v}: ${what}` : what;
  return `${v ?? 'accessing'} '${p}': ${what}`;
}

/** Run an fs call, turning an errno error into a StoreError naming `path` (a byte string). */
function sys<T>(verb: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e, path, verb));
    throw e;
  }
}

/**
 * The message to show for an error thrown by store code (after `error: `).
 * Errors that are not the store's own (programming errors) are marked as
 * internal; no stack trace is ever part of the message.
 */
export function storeErrorMessage(e: unknown): string {
  if (isErrnoException(e)) return sysErrorMessage(e);
  if (
    e instanceof StoreError ||
    e instanceof StoreDatabaseError ||
    e instanceof StoreLocationError ||
    e instanceof NarFormatError ||
    e instanceof NarDumpError ||
    e instanceof DerivationError ||
    e instanceof DerivationParseError ||
    e instanceof BadStorePathError ||
    e instanceof BadHashError ||
    e instanceof MissingFeatureError
  ) {
    return e.message;
  }
  if (e instanceof Error && e.name === 'SqliteError') return `store database: ${e.message}`;
  return `internal error: ${e instanceof Error ? e.message : String(e)}`;
}

// ---------------------------------------------------------------------------
// Small file-system helpers

/** Prefix of temporary names in the store directory (never a valid store path: it starts with '.'). */
export const TEMP_PREFIX = '.tsnix-tmp-';

/**
 * The directory of the hard links that share identical files between store
 * paths (see optimise.ts), in the store directory, as CppNix names it; made
 * with the store.
 */
export const LINKS_DIR = '.links';

/** NARs up to this size are kept in memory until the path is known to be new (bigger ones: see ingest). */
const NAR_BUFFER_LIMIT = 4 * 1024 * 1024;

const SLASH = Buffer.from('/');

/** Remove a tree that may be read-only (store paths are): directories are made writable first. */
export function removeTree(p: Buffer): void {
  const unlock = (q: Buffer): void => {
    const st = lstatSync(q, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) chmodSync(q, 0o755);
    for (const n of readdirSync(q, { encoding: 'buffer' })) unlock(Buffer.concat([q, SLASH, n]));
  };
  try {
    unlock(p);
  } catch {
    // best effort; rmSync reports what cannot be removed
  }
  rmSync(p, { recursive: true, force: true });
}

/** The absolute, lexically normalised form of a path (a byte string), as CppNix's absPath + canonPath. */
export function absolutePath(p: string, cwd: string = Buffer.from(process.cwd(), 'utf8').toString('latin1')): string {
  const r = posix.resolve(cwd, p);
  return r.length > 1 && r.endsWith('/') ? r.slice(0, -1) : r;
}

// ---------------------------------------------------------------------------
// Results

export interface VerifyOptions {
  /** Re-hash the contents of every valid path. */
  checkContents?: boolean;
  /** Progress and problem lines, as nix-store prints them on stderr (without newline). */
  log?: (line: string) => void;
}

export interface VerifyResult {
  /** True if a problem remains (a modified path, or a vanished path that is still referenced). */
  errors: boolean;
  /** Valid paths whose files were gone. */
  missing: string[];
  /** The vanished paths that were removed from the database. */
  invalidated: string[];
  /** Paths whose contents no longer match their NAR hash. */
  modified: { path: string; expected: Hash; actual: Hash }[];
}

export interface LocalStoreOptions {
  /** Where the store is (default: from the environment, see store-location.ts). */
  location?: StoreLocation;
  /**
   * Commit queued registrations when the event loop next turns and at process
   * exit (default true). Without it, only `commit()`/`close()` and a full
   * batch commit.
   */
  autoCommit?: boolean;
  /** Commit as soon as this many registrations are queued (default 50 000). */
  batchSize?: number;
  /** Where a failed background commit is reported (default: an `error:` line on stderr, exit status 1). */
  onCommitError?: (e: unknown) => void;
}

interface Ingested {
  narHash: Hash;
  narSize: number;
  /** The hash of the content address: NAR hash in `algo` (recursive), or the file's hash (flat). */
  caHash: Hash;
  /** The restored tree under a temporary name, if it was written already. */
  temp?: Buffer;
  /** The NAR in memory otherwise. */
  chunks?: Buffer[];
}

// ---------------------------------------------------------------------------

export class LocalStore implements StoreApi {
  readonly writable = true;
  readonly storeDir: string;
  readonly realStoreDir: string;
  readonly location: StoreLocation;
  readonly db: StoreDatabase;

  /** Registrations not committed yet (they already count as valid here). */
  private readonly pending = new Map<string, PathRegistration>();
  /** Paths known to be valid (saves database look-ups). */
  private readonly known = new Set<string>();
  private readonly drvHashMemo = new Map<string, DrvHashModulo>();
  /**
   * Paths added in this process, by source and options (not with a filter,
   * which is the evaluator's function): an evaluation that interpolates the
   * same source many times copies it once, as CppNix's evaluator does.
   */
  private readonly addCache = new Map<string, { added: AddedPath; caHash: Hash }>();
  private readonly autoCommit: boolean;
  private readonly batchSize: number;
  private readonly onCommitError: (e: unknown) => void;
  private ready = false;
  private tempSeq = 0;
  /** The process's umask (read once: asking for it is deprecated without setting it). */
  private readonly umask = process.umask();
  private immediate: NodeJS.Immediate | undefined;
  private exitHook: (() => void) | undefined;
  private temp: TempRoots | undefined;
  /** Creates .drv files on a second thread (see background-writer.ts). */
  private writer: BackgroundWriter | undefined;

  /** How many .drv files the worker thread and the main thread have created (for tests). */
  get backgroundWriterStats(): { byWorker: number; byMain: number } {
    return { ...(this.writer?.stats ?? { byWorker: 0, byMain: 0 }) };
  }

  constructor(opts: LocalStoreOptions = {}) {
    this.location = opts.location ?? storeLocation();
    this.storeDir = this.location.storeDir;
    this.realStoreDir = this.location.realStoreDir;
    this.db = new StoreDatabase(this.location.dbPath);
    this.autoCommit = opts.autoCommit ?? true;
    this.batchSize = opts.batchSize ?? 50_000;
    this.onCommitError =
      opts.onCommitError ??
      ((e) => {
        process.stderr.write(Buffer.from(`error: ${storeErrorMessage(e)}\n`, 'latin1'));
        process.exitCode = 1;
      });
  }

  /** The store the environment selects (TSNIX_STORE_DIR / TSNIX_ROOT, see store-location.ts). */
  static open(env: NodeJS.ProcessEnv = process.env, opts: Omit<LocalStoreOptions, 'location'> = {}): LocalStore {
    return new LocalStore({ ...opts, location: storeLocation(env) });
  }

  /** Physical path of a logical path (unchanged if outside the store). */
  toPhysical(path: string): string {
    return toPhysical(this.location, path);
  }

  /** Logical path of a physical path in the store (unchanged otherwise). */
  toLogical(path: string): string {
    return toLogical(this.location, path);
  }

  // -------------------------------------------------------------------------
  // Validity

  isValidPath(path: string): boolean {
    if (this.pending.has(path) || this.known.has(path)) return true;
    if (this.db.isValidPath(path)) {
      this.known.add(path);
      return true;
    }
    return false;
  }

  private assertValid(path: string): void {
    if (!this.isValidPath(path)) throw new StoreError(`path '${path}' is not valid`);
  }

  private checkReferences(path: string, refs: Iterable<string>): void {
    for (const r of refs) {
      if (!this.isValidPath(r)) {
        throw new StoreError(`cannot add '${path}' to the store: its reference '${r}' is not valid`);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Batching

  private register(reg: PathRegistration): void {
    this.pending.set(reg.path, reg);
    if (this.pending.size >= this.batchSize) this.commit();
    else this.scheduleCommit();
  }

  private scheduleCommit(): void {
    if (!this.autoCommit) return;
    if (!this.exitHook) {
      this.exitHook = () => {
        try {
          this.commit();
        } catch (e) {
          this.onCommitError(e);
        }
      };
      process.on('exit', this.exitHook);
    }
    if (!this.immediate) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        try {
          this.commit();
        } catch (e) {
          this.onCommitError(e);
        }
      });
    }
  }

  /** Number of registrations waiting for a commit. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Commit the queued registrations in one transaction. If that fails, the
   * queued paths are no longer considered valid (their files stay as
   * unregistered leftovers) and the error is thrown.
   */
  commit(): void {
    try {
      if (this.pending.size === 0) return;
      const regs = [...this.pending.values()];
      this.pending.clear();
      // (the files of the paths first: a path is valid only with all its contents)
      this.writer?.drain();
      this.db.registerValidPaths(regs);
      for (const r of regs) this.known.add(r.path);
      optimiseNewPaths(this, regs.map((r) => r.path));
    } finally {
      this.temp?.flush();
    }
  }

  /**
   * Make a path this process is about to use or write a temporary GC root
   * (before its validity is checked, so that a collection cannot delete it
   * in between). Roots are buffered under gc.lock and written by `commit`.
   */
  private tempRoot(path: string): void {
    this.prepareWrite();
    (this.temp ??= TempRoots.of(this.location.stateDir)).addDeferred(path);
    this.scheduleCommit();
  }

  /**
   * Register paths now, in one transaction of their own (build outputs: all
   * of a derivation's outputs become valid together or not at all).
   */
  registerNow(regs: readonly PathRegistration[]): void {
    this.commit();
    this.db.registerValidPaths(regs);
    for (const r of regs) this.known.add(r.path);
    optimiseNewPaths(this, regs.map((r) => r.path));
  }

  /**
   * Run `fn` and commit what it registered at once, in one transaction (also
   * when `fn` throws: everything registered is complete on disk).
   */
  batch<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.commit();
    }
  }

  /** Commit and close the database (it is reopened if the store is used again). */
  close(): void {
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    try {
      this.commit();
    } finally {
      if (this.exitHook) {
        process.off('exit', this.exitHook);
        this.exitHook = undefined;
      }
      this.db.close();
    }
  }

  // -------------------------------------------------------------------------
  // Writing files

  /**
   * Before the first write: the store directory must be ours (empty, or with
   * a tsnix database), then it and the database are created.
   */
  private prepareWrite(adopt = false): void {
    if (this.ready) return;
    const real = toFsPath(this.realStoreDir);
    // (adopt: load-db, whose point is to make a database for files already there)
    if (!this.db.exists && !adopt) {
      let entries: Buffer[] = [];
      try {
        entries = readdirSync(real, { encoding: 'buffer' });
      } catch (e) {
        if (!isErrnoException(e) || e.code !== 'ENOENT') {
          throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, this.realStoreDir, 'reading directory')) : e;
        }
      }
      // (The database is looked for again after the listing: another tsnix
      // process may have created it, and then written into the folder, since
      // the check above. tsnix creates the database before it writes into a
      // store, so what the listing saw is that process's if the database is
      // there now.)
      if (entries.some((n) => !n.toString('latin1').startsWith(TEMP_PREFIX)) && !this.db.exists) {
        throw new StoreError(
          `refusing to write to '${this.realStoreDir}': it is not empty and is not a tsnix store ` +
            `(there is no database '${this.location.dbPath}'); set TSNIX_STORE_DIR (or TSNIX_ROOT) to use another folder`,
        );
      }
    }
    sys('creating directory', this.realStoreDir, () => mkdirSync(real, { recursive: true }));
    this.db.ensureWritable();
    const links = `${this.realStoreDir}/${LINKS_DIR}`;
    sys('creating directory', links, () => mkdirSync(toFsPath(links), { recursive: true }));
    this.ready = true;
  }

  private tempPath(): Buffer {
    return toFsPath(`${this.realStoreDir}/${TEMP_PREFIX}${process.pid}-${++this.tempSeq}`);
  }

  /** Rename a finished temporary tree to the physical path of `path`, replacing an unregistered leftover. */
  private moveIntoPlace(temp: Buffer, path: string): void {
    const phys = this.toPhysical(path);
    const dst = toFsPath(phys);
    try {
      renameSync(temp, dst);
    } catch (e) {
      if (!isErrnoException(e) || !['ENOTEMPTY', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes(e.code ?? '')) {
        throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, phys, 'moving a new path to')) : e;
      }
      // Something unregistered is in the way (an interrupted earlier attempt): replace it.
      sys('deleting', phys, () => removeTree(dst));
      sys('moving a new path to', phys, () => renameSync(temp, dst));
    }
  }

  /** Write a regular file in canonical form under a temporary name. */
  private writeTempFile(contents: Buffer): Buffer {
    const temp = this.tempPath();
    if (!this.writeNewFile(temp, contents)) {
      throw new StoreError(`creating file '${temp.toString('latin1')}': File exists`);
    }
    return temp;
  }

  /**
   * Create a read-only file (0444, mtime 1) with the given contents; false if
   * something exists at `file` already. A failed write removes the file.
   */
  private writeNewFile(file: Buffer, contents: Buffer): boolean {
    const fileStr = file.toString('latin1');
    let fd: number;
    try {
      fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o444);
    } catch (e) {
      if (isErrnoException(e) && e.code === 'EEXIST') return false;
      throw isErrnoException(e) ? new StoreError(sysErrorMessage(e, fileStr, 'creating file')) : e;
    }
    let ok = false;
    try {
      sys('writing to file', fileStr, () => {
        writeAll(fd, contents);
        if ((this.umask & 0o444) !== 0) fchmodSync(fd, 0o444);
        futimesSync(fd, 1, 1);
      });
      ok = true;
    } finally {
      closeSync(fd);
      if (!ok) rmSync(file, { force: true });
    }
    return true;
  }

  // -------------------------------------------------------------------------
  // StoreApi

  addText(name: string, text: string, references: string[]): string {
    const contentsHash = sha256(text);
    const path = makeTextPath(name, contentsHash, references, this.storeDir);
    this.tempRoot(path);
    if (this.isValidPath(path)) return path;
    const refs = [...new Set(references)].sort(compareBytes);
    this.checkReferences(path, refs);
    let drvOutputs: Map<string, string> | undefined;
    if (name.endsWith('.drv')) {
      drvOutputs = this.checkDerivationOutputs(path, this.parseDrvText(path, text));
    }
    this.writeText(path, text, contentsHash, refs, drvOutputs);
    return path;
  }

  /**
   * Write the .drv of a derivation whose output paths are filled in (as the
   * evaluator produces it) and register it with its references (inputSrcs
   * and inputDrvs) and its outputs. The output paths are trusted here, not
   * recomputed (see `checkDerivationOutputs` and `addText` for that).
   */
  writeDerivation(drv: Derivation): string {
    const text = printDerivation(drv);
    const refs = derivationReferences(drv);
    const contentsHash = sha256(text);
    const path = makeTextPath(`${drv.name}.drv`, contentsHash, refs, this.storeDir);
    this.tempRoot(path);
    if (this.isValidPath(path)) return path;
    this.checkReferences(path, refs);
    this.writeText(path, text, contentsHash, refs, outputPaths(drv), true);
    return path;
  }

  /**
   * Write a text path and queue its registration. In the `background`, the
   * file is created by the BackgroundWriter's thread (see there), and
   * `commit` waits for it before it registers the path.
   */
  private writeText(
    path: string,
    text: string,
    contentsHash: Hash,
    refs: string[],
    drvOutputs?: Map<string, string>,
    background = false,
  ): void {
    this.prepareWrite();
    const phys = this.toPhysical(path);
    // Written straight to its name when nothing is there: until it is
    // registered nobody trusts the file, and a leftover of a crash is replaced
    // through a temporary name and a rename.
    const write = (): void => {
      const contents = Buffer.from(text, 'latin1');
      if (!this.writeNewFile(toFsPath(phys), contents)) {
        const temp = this.writeTempFile(contents);
        try {
          this.moveIntoPlace(temp, path);
        } catch (e) {
          rmSync(temp, { force: true });
          throw e;
        }
      }
    };
    if (background) {
      this.writer ??= new BackgroundWriter({
        dirs: [...new Set([this.storeDir, this.realStoreDir])],
        chmod: (this.umask & 0o444) !== 0,
      });
      this.writer.enqueue({ file: phys, text, writeSync: write });
    } else {
      write();
    }
    const nar = narHashOfContents(text);
    const reg: PathRegistration = {
      path,
      narHash: nar.hash,
      narSize: nar.size,
      references: refs,
      ca: renderContentAddress({ method: 'text', hash: contentsHash }),
    };
    if (drvOutputs) reg.derivationOutputs = drvOutputs;
    this.register(reg);
  }

  /**
   * Register paths from a database dump (nix-store --load-db): valid as
   * described, in one transaction, whether or not their files are there; a
   * .drv whose file is there gets its outputs recorded too.
   */
  loadRegistrations(entries: readonly Omit<PathRegistration, 'ultimate' | 'derivationOutputs'>[]): void {
    const regs: PathRegistration[] = entries.map((e) => {
      const reg: PathRegistration = { ...e, ultimate: false };
      if (!e.path.endsWith('.drv')) return reg;
      let text: string;
      try {
        text = readFileSync(toFsPath(this.toPhysical(e.path))).toString('latin1');
      } catch (err) {
        if (isErrnoException(err) && err.code === 'ENOENT') return reg;
        throw err;
      }
      const outs = new Map<string, string>();
      for (const [name, o] of this.parseDrvText(e.path, text).outputs) if (o.path !== '') outs.set(name, o.path);
      return { ...reg, derivationOutputs: outs };
    });
    this.prepareWrite(true);
    this.registerNow(regs);
  }

  readDerivation(drvPath: string): Derivation {
    this.assertValid(drvPath);
    const phys = this.toPhysical(drvPath);
    const text =
      this.writer?.queuedText(phys) ?? sys('reading file', phys, () => readFileSync(toFsPath(phys))).toString('latin1');
    return this.parseDrvText(drvPath, text);
  }

  /**
   * Parse the text of a .drv at `drvPath`. As in CppNix, every path in it
   * (outputs, input derivations, input sources) must be in this store.
   */
  private parseDrvText(drvPath: string, text: string): Derivation {
    const name = drvNameFromPath(drvPath);
    let drv: Derivation;
    try {
      if (!text.startsWith('Derive([')) {
        throw new StoreError(`error parsing derivation '${drvPath}': error: expected string 'Derive(['`);
      }
      drv = parseDerivation(text, name);
    } catch (e) {
      if (e instanceof DerivationParseError) {
        const prefix = `error parsing derivation '${name}': `;
        const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
        throw new StoreError(`error parsing derivation '${drvPath}': ${detail}`);
      }
      throw e;
    }
    const inStore = (p: string): void => {
      if (!isInStore(p, this.storeDir) || p.indexOf('/', this.storeDir.length + 1) >= 0) {
        throw new StoreError(`path '${p}' is not in the Nix store`);
      }
    };
    for (const o of drv.outputs.values()) if (o.path !== '') inStore(o.path);
    for (const p of drv.inputDrvs.keys()) inStore(p);
    for (const p of drv.inputSrcs) inStore(p);
    return drv;
  }

  /**
   * Check that a derivation's output paths (and the environment variables
   * named after its outputs) are the ones its contents imply, as CppNix does
   * when a .drv becomes valid:
   * `derivation '…' has incorrect output '…', should be '…'`. As in Nix 2.8,
   * the path written for a fixed output is not checked, as it is always
   * recomputed from the hash; its environment variable is. Returns the
   * output paths (name -> path) to record for the derivation.
   */
  checkDerivationOutputs(drvPath: string, drv: Derivation): Map<string, string> {
    let expected: Derivation;
    try {
      expected = fillInOutputPaths(
        drv,
        { readDerivation: (p) => this.readDerivation(p), memo: this.drvHashMemo },
        this.storeDir,
      );
    } catch (e) {
      if (e instanceof DerivationError || e instanceof BadStorePathError || e instanceof BadHashError) {
        throw new StoreError(`derivation '${drvPath}': ${e.message}`);
      }
      throw e;
    }
    const fixed = isFixedOutput(drv);
    for (const [name, o] of drv.outputs) {
      const want = expected.outputs.get(name)?.path ?? '';
      if (want === '') continue;
      if (!fixed && o.path !== want) {
        throw new StoreError(`derivation '${drvPath}' has incorrect output '${o.path}', should be '${want}'`);
      }
      if (drv.env.get(name) !== want) {
        throw new StoreError(`derivation '${drvPath}' has incorrect environment variable '${name}', should be '${want}'`);
      }
    }
    return outputPaths(expected);
  }

  /**
   * Copy a file or tree into the store (`nix-store --add`, `--add-fixed`,
   * path literals, `builtins.path`). The path is content-addressed:
   * recursive sha256 gives a `source` path, anything else a fixed-output one.
   */
  addPath(src: FsPath, opts: AddPathOptions): AddedPath {
    const srcStr = typeof src === 'string' ? src : src.toString('latin1');
    storeReadBarrier(srcStr);
    const srcB = toFsPath(src);
    const method: FileIngestionMethod = opts.method;
    const algo: HashAlgo = opts.hashAlgo ?? 'sha256';
    const cacheKey =
      opts.filter === undefined
        ? [srcStr, opts.name, method, algo, ...[...new Set(opts.references ?? [])].sort(compareBytes)].join('\0')
        : undefined;
    const cached = cacheKey !== undefined ? this.addCache.get(cacheKey) : undefined;
    if (cached) this.tempRoot(cached.added.path);
    if (cached && this.isValidPath(cached.added.path)) {
      this.checkExpectedHash(srcStr, opts.expectedHash, cached.caHash);
      return cached.added;
    }
    const st = sys('getting status of', srcStr, () => lstatSync(srcB));
    if (method === 'flat' && !st.isFile()) {
      throw new StoreError(`file '${srcStr}' is not a regular file, so it cannot be added flat`);
    }
    const refs = [...new Set(opts.references ?? [])].sort(compareBytes);
    const filter = opts.filter
      ? (p: string, t: NarEntryType): boolean => (opts.filter as NonNullable<AddPathOptions['filter']>)(p, t as never)
      : undefined;

    const problem = storePathNameProblem(opts.name);
    if (problem) {
      if (problem.reason !== 'illegal-character') checkStorePathName(opts.name);
      // 2.8 names the would-be path in this message, so the hash is needed (nothing is written).
      const caHash =
        method === 'flat' ? this.flatHash(srcStr, algo) : hashPathSync(srcB, algo, filter ? { filter } : {}).hash;
      makeFixedOutputPath(opts.name, method, caHash, this.storeDir, refs);
      checkStorePathName(opts.name);
    }

    this.prepareWrite();
    const pathFor = (caHash: Hash): string => makeFixedOutputPath(opts.name, method, caHash, this.storeDir, refs);
    const ing = this.ingest(srcB, method, algo, filter, opts.name, pathFor);
    try {
      this.checkExpectedHash(srcStr, opts.expectedHash, ing.caHash);
      const path = pathFor(ing.caHash);
      const result: AddedPath = { path, narHash: ing.narHash, narSize: ing.narSize };
      if (cacheKey !== undefined) this.addCache.set(cacheKey, { added: result, caHash: ing.caHash });
      this.tempRoot(path);
      if (this.isValidPath(path)) return result;
      this.checkReferences(path, refs);
      const temp = ing.temp ?? this.restoreChunks(ing);
      ing.temp = temp;
      let drvOutputs: Map<string, string> | undefined;
      if (opts.name.endsWith('.drv')) {
        const text = sys('reading file', temp.toString('latin1'), () => readFileSync(temp)).toString('latin1');
        drvOutputs = this.checkDerivationOutputs(path, this.parseDrvText(path, text));
      }
      this.moveIntoPlace(temp, path);
      ing.temp = undefined;
      const reg: PathRegistration = {
        path,
        narHash: ing.narHash,
        narSize: ing.narSize,
        references: refs,
        ca: renderContentAddress({ method: 'fixed', ingestion: method, hash: ing.caHash }),
      };
      if (drvOutputs) reg.derivationOutputs = drvOutputs;
      this.register(reg);
      return result;
    } finally {
      if (ing.temp) removeTree(ing.temp);
    }
  }

  /** Copies the closure of `paths` from a binary cache (fetchClosure; signatures were checked by the caller). */
  addFromBinaryCache(cache: FileBinaryCache, paths: string[]): string[] {
    return copyFromCache(this, cache, paths, { checkSigs: false });
  }

  /**
   * Forget which sources were added in this process, so that the next addPath
   * of the same source reads it again (e.g. when a REPL reloads its files).
   */
  forgetAddedSources(): void {
    this.addCache.clear();
  }

  private checkExpectedHash(srcStr: string, expected: Hash | undefined, actual: Hash): void {
    if (expected && !expected.equals(actual)) {
      throw new StoreError(
        `hash mismatch importing path '${srcStr}';\n  specified: ${expected.toSRI()}\n  got:       ${actual.toSRI()}`,
      );
    }
  }

  private flatHash(srcStr: string, algo: HashAlgo): Hash {
    return sys('reading file', srcStr, () => hashFileSync(algo, srcStr));
  }

  /**
   * Serialise `src` as a NAR once: hash it (sha256, plus `algo` if needed, or
   * the file contents for flat), and either keep it in memory (small) or
   * restore it under a temporary name as it streams (large).
   */
  private ingest(
    src: Buffer,
    method: FileIngestionMethod,
    algo: HashAlgo,
    filter: ((p: string, t: NarEntryType) => boolean) | undefined,
    name: string,
    pathFor: (caHash: Hash) => string,
  ): Ingested {
    const small = this.ingestInMemory(src, method, algo, filter);
    if (small) return small;
    // Too big to keep in memory. If a path of this name is valid, this is
    // likely the same tree again: hash it first and copy only if it is new.
    if (this.hasValidPathNamed(name)) {
      const hashed = hashNar(src, method, algo, filter);
      if (this.isValidPath(pathFor(hashed.caHash))) return hashed;
    }
    // Copy it under a temporary name while hashing, in one pass.
    const narHasher = new HashSink('sha256');
    const algoHasher = method === 'recursive' && algo !== 'sha256' ? new HashSink(algo) : undefined;
    const flatHasher = method === 'flat' ? new HashSink(algo) : undefined;
    const temp = this.tempPath();
    let narSize: number;
    try {
      narSize = copyTreeHashingNar(src, temp, {
        narHashers: algoHasher ? [narHasher, algoHasher] : [narHasher],
        ...(flatHasher ? { contentsHasher: flatHasher } : {}),
        ...(filter ? { filter } : {}),
      });
    } catch (e) {
      removeTree(temp);
      if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e));
      throw e;
    }
    const narHash = narHasher.finish().hash;
    const caHash = flatHasher ? flatHasher.finish().hash : algoHasher ? algoHasher.finish().hash : narHash;
    return { narHash, narSize, caHash, temp };
  }

  /** Whether some valid path (committed or queued) has this name. */
  private hasValidPathNamed(name: string): boolean {
    const suffix = `-${name}`;
    for (const p of this.pending.keys()) {
      if (p.endsWith(suffix) && p.length === this.storeDir.length + 1 + 32 + suffix.length) return true;
    }
    return this.db.hasPathNamed(this.storeDir, name);
  }

  /**
   * The NAR of `src` in memory with its hashes, through the NAR primitives;
   * undefined as soon as it grows beyond NAR_BUFFER_LIMIT.
   */
  private ingestInMemory(
    src: Buffer,
    method: FileIngestionMethod,
    algo: HashAlgo,
    filter: ((p: string, t: NarEntryType) => boolean) | undefined,
  ): Ingested | undefined {
    const digests = new NarDigests(method, algo);
    const chunks: Buffer[] = [];
    let buffered = 0;
    try {
      // Chunks are recycled by the serialiser, so the kept ones are copied.
      for (const chunk of narChunks(src, filter ? { filter, reuseChunks: true } : { reuseChunks: true })) {
        buffered += chunk.length;
        if (buffered > NAR_BUFFER_LIMIT) return undefined; // leaving the loop closes the serialiser
        chunks.push(Buffer.from(chunk));
      }
      // Hashed only now: for a big tree the work so far is thrown away, and hashing would be too.
      for (const chunk of chunks) digests.update(chunk);
    } catch (e) {
      if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e));
      throw e;
    }
    return { ...digests.finish(), chunks };
  }

  private startRestore(): { temp: Buffer; restorer: NarRestorer; parser: NarParser } {
    const temp = this.tempPath();
    const restorer = new NarRestorer(temp, { canonicalise: true });
    return { temp, restorer, parser: new NarParser(restorer) };
  }

  private restoreChunks(ing: Ingested): Buffer {
    const r = this.startRestore();
    try {
      for (const c of ing.chunks ?? []) r.parser.push(c);
      r.parser.end();
    } catch (e) {
      r.restorer.abort();
      removeTree(r.temp);
      if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e));
      throw e;
    }
    ing.chunks = undefined;
    return r.temp;
  }

  // -------------------------------------------------------------------------
  // Queries

  /** Everything the database knows about a valid path, or undefined. */
  queryPathInfo(path: string): ValidPathInfo | undefined {
    this.commit();
    return this.db.queryPathInfo(path);
  }

  /** Like queryPathInfo, but a path that is not valid is an error (`path '…' is not valid`). */
  pathInfo(path: string): ValidPathInfo {
    const info = this.queryPathInfo(path);
    if (!info) throw new StoreError(`path '${path}' is not valid`);
    return info;
  }

  /**
   * The references of a valid path, sorted (itself included for a
   * self-reference); undefined if the path is not valid (the ReferenceQuery
   * contract of compute-store.ts, which the evaluator uses).
   */
  queryReferences(path: string): string[] | undefined {
    if (this.pending.has(path)) return [...(this.pending.get(path) as PathRegistration).references].sort(compareBytes);
    return this.db.queryReferences(path);
  }

  /** The valid paths that refer to a valid path, sorted. */
  queryReferrers(path: string): string[] {
    this.commit();
    this.assertValid(path);
    return this.db.queryReferrers(path);
  }

  /** The valid .drv files that have `path` as an output (nix-store -q --valid-derivers), sorted. */
  queryValidDerivers(path: string): string[] {
    this.commit();
    return this.db.queryValidDerivers(path);
  }

  /** The deriver recorded for a valid path, if any. */
  queryDeriver(path: string): string | undefined {
    return this.pathInfo(path).deriver;
  }

  /** The NAR hash of a valid path. */
  queryNarHash(path: string): Hash {
    return this.pathInfo(path).narHash;
  }

  /** The NAR size of a valid path. */
  queryNarSize(path: string): number {
    return this.pathInfo(path).narSize;
  }

  /** Output name -> output path recorded for a valid .drv. */
  queryDerivationOutputs(drvPath: string): Map<string, string> {
    this.commit();
    this.assertValid(drvPath);
    return this.db.queryDerivationOutputs(drvPath);
  }

  /** Every valid path, sorted. */
  queryAllValidPaths(): string[] {
    this.commit();
    return this.db.queryAllValidPaths();
  }

  /**
   * The closure of some valid paths (with `referrers`, the closure under
   * "is referred to by" instead: every path that depends on them).
   */
  computeClosure(paths: Iterable<string>, opts: { referrers?: boolean } = {}): Set<string> {
    this.commit();
    const out = new Set<string>();
    const todo: string[] = [];
    for (const p of paths) {
      this.assertValid(p);
      if (!out.has(p)) {
        out.add(p);
        todo.push(p);
      }
    }
    while (todo.length) {
      const p = todo.pop() as string;
      const next = opts.referrers ? this.db.queryReferrers(p) : (this.db.queryReferences(p) ?? []);
      for (const q of next) {
        if (!out.has(q)) {
          out.add(q);
          todo.push(q);
        }
      }
    }
    return out;
  }

  /**
   * Sort valid paths so that every path comes after the paths it refers to
   * (references outside the set are ignored), in the order nix-store prints
   * them: a depth-first walk over the paths in byte order, each path after
   * its references (visited in byte order). A reference cycle is an error.
   */
  topoSortPaths(paths: Iterable<string>): string[] {
    this.commit();
    const set = new Set(paths);
    const out: string[] = [];
    const done = new Set<string>();
    const onStack = new Set<string>();
    const visit = (p: string, parent: string | undefined): void => {
      if (onStack.has(p)) {
        throw new StoreError(`cycle detected in the references of '${parent ?? p}' from '${p}'`);
      }
      if (done.has(p)) return;
      done.add(p);
      onStack.add(p);
      for (const r of this.db.queryReferences(p) ?? []) {
        if (r !== p && set.has(r)) visit(r, p);
      }
      onStack.delete(p);
      out.push(p);
    };
    for (const p of [...set].sort(compareBytes)) visit(p, undefined);
    return out;
  }

  /** `nix-store -qR`: the closure of the paths, each after its references. */
  queryRequisites(paths: Iterable<string>): string[] {
    return this.topoSortPaths(this.computeClosure(paths));
  }

  /**
   * Resolve a path given by a user to the store path it lies in, as nix-store
   * does: made absolute, symlinks followed until inside the store (the
   * logical or the physical store directory), sub-paths cut off.
   */
  followLinksToStorePath(arg: string): string {
    let p = absolutePath(arg);
    const inStore = (q: string): boolean => isInStore(q, this.storeDir) || isInStore(q, this.realStoreDir);
    for (let hops = 0; !inStore(p) && hops < 64; hops++) {
      const st = lstatSync(toFsPath(p), { throwIfNoEntry: false });
      if (!st?.isSymbolicLink()) break;
      const target = sys('reading symbolic link', p, () => readlinkSync(toFsPath(p), { encoding: 'buffer' }));
      p = absolutePath(target.toString('latin1'), posix.dirname(p));
    }
    p = this.toLogical(p);
    if (!isInStore(p, this.storeDir)) throw new StoreError(`path '${p}' is not in the Nix store`);
    return splitStorePath(p, this.storeDir).storePath;
  }

  // -------------------------------------------------------------------------
  // NAR export and import of plain paths

  /**
   * The NAR of any path (`nix-store --dump`); a logical store path is read
   * from its physical location. Fails before producing anything if the path
   * does not exist.
   */
  dumpPath(arg: string): Generator<Buffer, void, undefined> {
    let p = absolutePath(arg);
    if (this.storeDir !== this.realStoreDir && isInStore(p, this.storeDir)) {
      const phys = this.toPhysical(p);
      if (lstatSync(toFsPath(phys), { throwIfNoEntry: false })) p = phys;
    }
    sys('getting status of', arg, () => lstatSync(toFsPath(p)));
    return narChunks(toFsPath(p), { reuseChunks: true });
  }

  /**
   * Unpack a NAR stream at `target` (`nix-store --restore`), which must not
   * exist. A malformed or malicious NAR is rejected and what was written is
   * removed.
   */
  async restorePath(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, target: string): Promise<RestoreResult> {
    const t = absolutePath(target);
    try {
      return await restorePath(source, toFsPath(t));
    } catch (e) {
      if (isErrnoException(e)) {
        if (e.code === 'EEXIST' && (e.syscall === 'mkdir' || e.syscall === 'open' || e.syscall === 'symlink')) {
          throw new StoreError(`${e.syscall === 'mkdir' ? 'creating directory' : 'creating file'} '${target}': File exists`);
        }
        throw new StoreError(sysErrorMessage(e));
      }
      throw e;
    }
  }

  // -------------------------------------------------------------------------
  // Paths received as NARs with their metadata (nix-store --import, substitution)

  /**
   * Start receiving the NAR of a path that is to be added with
   * `addReceivedPaths`: it is unpacked in canonical form under a temporary
   * name in the store and hashed as it arrives.
   */
  receiveNar(): IncomingNar {
    this.prepareWrite();
    return new IncomingNar(this.tempPath());
  }

  /**
   * Make received paths valid with the given metadata, all in one
   * transaction: either every path becomes valid or none does (and nothing
   * of them is left in the store). Paths valid already are skipped (their
   * NAR is dropped). Each NAR must be complete and match `narHash`/`narSize`
   * when they are given; a content address must match the path and its
   * contents; references must be valid or among the paths added. Returns
   * the paths, in the order given.
   */
  addReceivedPaths(items: readonly { info: ReceivedPathInfo; nar: IncomingNar }[]): string[] {
    const moved: { path: string; phys: Buffer }[] = [];
    const regs: PathRegistration[] = [];
    try {
      for (const { info } of items) parseStorePath(info.path, this.storeDir);
      for (const { info } of items) this.tempRoot(info.path);
      this.commit();
      // (a path listed twice is taken from its first NAR, the one checked and registered)
      const adding = new Map<string, IncomingNar>();
      for (const { info, nar } of items) {
        const got = nar.result();
        if (this.isValidPath(info.path) || adding.has(info.path)) continue;
        if (info.narHash && !info.narHash.equals(got.narHash)) {
          throw new StoreError(
            `hash mismatch importing path '${info.path}';\n  specified: ${info.narHash.toString()}\n  got:       ${got.narHash.toString()}`,
          );
        }
        if (info.narSize !== undefined && info.narSize !== got.narSize) {
          throw new StoreError(
            `size mismatch importing path '${info.path}';\n  specified: ${info.narSize}\n  got:       ${got.narSize}`,
          );
        }
        if (info.ca !== undefined) this.checkReceivedContentAddress(info, nar.temp, got.narHash);
        adding.set(info.path, nar);
        const reg: PathRegistration = {
          path: info.path,
          narHash: got.narHash,
          narSize: got.narSize,
          references: [...new Set(info.references)].sort(compareBytes),
          ultimate: false,
        };
        if (info.deriver !== undefined) reg.deriver = info.deriver;
        if (info.ca !== undefined) reg.ca = info.ca;
        if (info.sigs !== undefined && info.sigs.length) reg.sigs = info.sigs;
        regs.push(reg);
      }
      for (const r of regs) {
        for (const ref of r.references) {
          if (!adding.has(ref) && !this.isValidPath(ref)) throw new StoreError(`path '${ref}' is not valid`);
        }
      }
      for (const r of regs) {
        const nar = adding.get(r.path) as IncomingNar;
        this.moveIntoPlace(nar.temp, r.path);
        nar.moved = true;
        moved.push({ path: r.path, phys: toFsPath(this.toPhysical(r.path)) });
      }
      this.registerNow(regs);
      return items.map(({ info }) => info.path);
    } catch (e) {
      for (const m of moved) {
        if (!this.db.isValidPath(m.path)) removeTree(m.phys);
      }
      throw e;
    } finally {
      for (const { nar } of items) nar.discard();
    }
  }

  /** A received path's content address must give its store path, and its contents the address's hash. */
  private checkReceivedContentAddress(info: ReceivedPathInfo, temp: Buffer, narHash: Hash): void {
    const caText = info.ca as string;
    let ca: ContentAddress;
    try {
      ca = parseContentAddress(caText);
    } catch (e) {
      throw new StoreError(`path '${info.path}' has an invalid content address '${caText}': ${storeErrorMessage(e)}`);
    }
    const refs = info.references.filter((r) => r !== info.path);
    const selfRef = refs.length !== info.references.length;
    const name = info.path.slice(this.storeDir.length + 34);
    let expected: string;
    try {
      expected = makeContentAddressedPath(name, ca, refs, this.storeDir, selfRef);
    } catch (e) {
      throw new StoreError(`path '${info.path}' has an invalid content address '${caText}': ${storeErrorMessage(e)}`);
    }
    if (expected !== info.path) {
      throw new StoreError(`content address '${caText}' of path '${info.path}' does not match the path (it gives '${expected}')`);
    }
    let actual: Hash;
    const temps = temp.toString('latin1');
    if (ca.method === 'text' || ca.ingestion === 'flat') {
      const st = sys('getting status of', temps, () => lstatSync(temp));
      if (!st.isFile()) throw new StoreError(`ca hash mismatch importing path '${info.path}': it is not a regular file`);
      actual = sys('reading file', temps, () => hashFileSync(ca.hash.algo, temp));
    } else {
      actual = ca.hash.algo === 'sha256' ? narHash : hashPathSync(temp, ca.hash.algo).hash;
    }
    if (!actual.equals(ca.hash)) {
      throw new StoreError(
        `ca hash mismatch importing path '${info.path}';\n  specified: ${ca.hash.toString()}\n  got:       ${actual.toString()}`,
      );
    }
  }

  /** Add signatures to valid paths (`nix store sign`); returns how many were new. */
  addSignatures(path: string, sigs: readonly string[]): number {
    const before = this.pathInfo(path).sigs;
    const fresh = sigs.filter((s) => !before.includes(s));
    if (fresh.length && !this.db.addSignatures(path, fresh)) throw new StoreError(`path '${path}' is not valid`);
    return new Set(fresh).size;
  }

  // -------------------------------------------------------------------------
  // Verification

  /**
   * Re-hash a valid path's contents: null when they have the NAR hash the
   * database records, else both hashes (nix-store --verify-path).
   */
  checkContents(path: string): { expected: Hash; actual: Hash } | null {
    const info = this.pathInfo(path);
    const actual = hashPathSync(toFsPath(this.toPhysical(path)), info.narHash.algo).hash;
    return actual.equals(info.narHash) ? null : { expected: info.narHash, actual };
  }

  /**
   * `nix-store --verify [--check-contents]`: valid paths whose files are gone
   * are removed from the database (unless still referenced by a path that is
   * there); with `checkContents` every valid path is re-hashed and a mismatch
   * reported. Nothing is repaired.
   */
  verify(opts: VerifyOptions = {}): VerifyResult {
    const log = opts.log ?? ((): void => {});
    this.commit();
    const result: VerifyResult = { errors: false, missing: [], invalidated: [], modified: [] };
    log('reading the Nix store...');
    let present = new Set<string>();
    try {
      present = new Set(readdirSync(toFsPath(this.realStoreDir), { encoding: 'buffer' }).map((b) => b.toString('latin1')));
    } catch (e) {
      if (!isErrnoException(e) || e.code !== 'ENOENT') throw e;
    }
    log('checking path existence...');
    const all = this.db.queryAllValidPaths();
    const base = (p: string): string => p.slice(this.storeDir.length + 1);
    const missing = all.filter((p) => !present.has(base(p)));
    const missingSet = new Set(missing);
    // A vanished path stays valid (an error) while a present valid path refers to it, directly or through vanished ones.
    const blocked = new Set<string>();
    const todo: string[] = [];
    for (const m of missing) {
      if (this.db.queryReferrers(m).some((r) => r !== m && !missingSet.has(r))) {
        blocked.add(m);
        todo.push(m);
      }
    }
    while (todo.length) {
      const m = todo.pop() as string;
      for (const r of this.db.queryReferences(m) ?? []) {
        if (missingSet.has(r) && !blocked.has(r)) {
          blocked.add(r);
          todo.push(r);
        }
      }
    }
    for (const m of missing) {
      if (blocked.has(m)) {
        log(`path '${m}' disappeared, but it still has valid referrers!`);
        result.errors = true;
      } else {
        log(`path '${m}' disappeared, removing from database...`);
        result.invalidated.push(m);
      }
    }
    result.missing = missing;
    this.db.invalidatePaths(result.invalidated);
    for (const p of result.invalidated) this.known.delete(p);

    if (opts.checkContents) {
      log('checking link hashes...');
      log('checking store hashes...');
      for (const p of all) {
        if (missingSet.has(p)) continue;
        if (!this.db.queryPathInfo(p)) continue;
        let found: { expected: Hash; actual: Hash } | null;
        try {
          found = this.checkContents(p);
        } catch (e) {
          log(`error: ${storeErrorMessage(e)}`);
          result.errors = true;
          continue;
        }
        if (found) {
          log(modifiedMessage(p, found));
          result.modified.push({ path: p, ...found });
          result.errors = true;
        }
      }
    }
    return result;
  }
}

/** What nix-store says of a path whose contents are not what was registered. */
export function modifiedMessage(path: string, m: { expected: Hash; actual: Hash }): string {
  return `path '${path}' was modified! expected hash '${m.expected.toString()}', got '${m.actual.toString()}'`;
}

/**
 * The digests of a NAR fed in chunks: its sha256 and size, and the hash of
 * the content address (of the NAR in `algo` when recursive, of the single
 * file's contents when flat).
 */
class NarDigests {
  private readonly nar = new HashSink('sha256');
  private readonly recursive: HashSink | undefined;
  private readonly flat: HashSink | undefined;
  private readonly flatParser: NarParser | undefined;

  constructor(method: FileIngestionMethod, algo: HashAlgo) {
    this.recursive = method === 'recursive' && algo !== 'sha256' ? new HashSink(algo) : undefined;
    if (method === 'flat') {
      const flat = (this.flat = new HashSink(algo));
      this.flatParser = new NarParser({
        directory() {},
        file() {},
        contents(c) {
          flat.update(c);
        },
        fileEnd() {},
        symlink() {},
      });
    }
  }

  update(chunk: Buffer): void {
    this.nar.update(chunk);
    this.recursive?.update(chunk);
    this.flatParser?.push(chunk);
  }

  finish(): { narHash: Hash; narSize: number; caHash: Hash } {
    this.flatParser?.end();
    const { hash: narHash, size: narSize } = this.nar.finish();
    const caHash = this.flat ? this.flat.finish().hash : this.recursive ? this.recursive.finish().hash : narHash;
    return { narHash, narSize, caHash };
  }
}

/** NAR hash and size of `src` and the hash of its content address, without writing anything. */
function hashNar(
  src: Buffer,
  method: FileIngestionMethod,
  algo: HashAlgo,
  filter: ((p: string, t: NarEntryType) => boolean) | undefined,
): Ingested {
  const digests = new NarDigests(method, algo);
  try {
    for (const chunk of narChunks(src, filter ? { filter, reuseChunks: true } : { reuseChunks: true })) digests.update(chunk);
    return digests.finish();
  } catch (e) {
    if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e));
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Copying a tree into the store while hashing its NAR

/*
 * nar.ts can already do this as narChunks -> NarParser -> NarRestorer
 * (copyPathSync), and small paths go that way (in memory, see
 * LocalStore.ingestInMemory). For big trees the serialise-then-parse round
 * trip costs about a third of the CPU time of `store add`, so this walker
 * copies the files directly and feeds the hashers the NAR framing plus the
 * bytes it has just written: what is registered is still exactly what was
 * hashed. It produces the same bytes as narChunks (tests compare it with
 * hashPathSync); it could move to nar.ts as a primitive.
 */

const HASH_CHUNK = 256 * 1024;

// (NAR framing tokens: T_* from nar.ts)
const ZERO8 = Buffer.alloc(8);
const N_FILE_HEADER = Buffer.concat([T_MAGIC, T_REGULAR]);

/**
 * sha256 and size of the NAR of a single non-executable file with these
 * contents (what narFromContents would produce), without building it.
 */
export function narHashOfContents(contents: Buffer | string): { hash: Hash; size: number } {
  // (the whole NAR in one buffer, hashed in one call: a hash object and five
  // updates per .drv file cost more than the copy; a reused buffer for small ones)
  const n = contents.length; // (a string holds bytes: one char each)
  const pad = (8 - (n % 8)) % 8;
  const size = N_FILE_HEADER.length + 8 + n + pad + T_CLOSE.length;
  const nar = size <= NAR_SCRATCH_SIZE ? (narScratch ??= Buffer.allocUnsafe(NAR_SCRATCH_SIZE)) : Buffer.allocUnsafe(size);
  let o = N_FILE_HEADER.copy(nar, 0);
  nar.writeUInt32LE(n % 0x100000000, o);
  nar.writeUInt32LE(Math.floor(n / 0x100000000), o + 4);
  o += 8;
  o += typeof contents === 'string' ? nar.write(contents, o, 'latin1') : contents.copy(nar, o);
  nar.fill(0, o, o + pad);
  T_CLOSE.copy(nar, o + pad);
  return { hash: sha256(nar.subarray(0, size)), size };
}

const NAR_SCRATCH_SIZE = 64 * 1024;
let narScratch: Buffer | undefined;

/** Feeds NAR bytes to hashers through one buffer, so that small pieces cost no hash call each. */
class NarHashFeeder {
  private readonly buf = Buffer.allocUnsafe(HASH_CHUNK);
  private pos = 0;
  size = 0;
  constructor(private readonly sinks: HashSink[]) {}

  flush(): void {
    if (this.pos === 0) return;
    const b = this.buf.subarray(0, this.pos);
    for (const s of this.sinks) s.update(b);
    this.size += this.pos;
    this.pos = 0;
  }

  raw(b: Buffer): void {
    if (b.length > HASH_CHUNK - this.pos) {
      this.flush();
      if (b.length > HASH_CHUNK) {
        for (const s of this.sinks) s.update(b);
        this.size += b.length;
        return;
      }
    }
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  u64(n: number): void {
    if (HASH_CHUNK - this.pos < 8) this.flush();
    this.buf.writeUInt32LE(n % 0x100000000, this.pos);
    this.buf.writeUInt32LE(Math.floor(n / 0x100000000), this.pos + 4);
    this.pos += 8;
  }

  pad(len: number): void {
    const p = (8 - (len % 8)) % 8;
    if (p) this.raw(ZERO8.subarray(0, p));
  }

  str(b: Buffer): void {
    this.u64(b.length);
    this.raw(b);
    this.pad(b.length);
  }

  /** Read at most `want` bytes of `fd` into the buffer; returns them (valid until the next call). */
  readFrom(fd: number, want: number): Buffer {
    if (this.pos === HASH_CHUNK) this.flush();
    const n = readSync(fd, this.buf, this.pos, Math.min(want, HASH_CHUNK - this.pos), null);
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return view;
  }
}

export interface CopyHashingOptions {
  /** Hashers fed the NAR of the tree (e.g. sha256, and another algorithm for --add-fixed --recursive). */
  narHashers: HashSink[];
  /** Fed the contents of the regular file(s): the flat hash of a single file. */
  contentsHasher?: HashSink;
  /** As in nar.ts DumpOptions: entries below the root for which it is false are left out. */
  filter?: (path: string, type: NarEntryType) => boolean;
}

/**
 * Copy the tree at `src` to `dst` (which must not exist) in the store's
 * canonical form (files 0444/0555, directories 0555, mtime 1, symlinks
 * included) and hash its NAR on the way. Returns the NAR size. The
 * hashes are of the bytes written. On failure `dst` is left as it is (the
 * caller removes it).
 */
export function copyTreeHashingNar(src: Buffer, dst: Buffer, opts: CopyHashingOptions): number {
  const feed = new NarHashFeeder(opts.narHashers);
  const umask = process.umask();
  feed.raw(T_MAGIC);
  copyNode(src, dst, lstatSync(src), feed, opts, umask);
  feed.flush();
  return feed.size;
}

function copyNode(src: Buffer, dst: Buffer, st: Stats, feed: NarHashFeeder, opts: CopyHashingOptions, umask: number): void {
  if (st.isFile()) {
    const executable = (st.mode & 0o100) !== 0;
    const mode = executable ? 0o555 : 0o444;
    const size = st.size;
    feed.raw(executable ? T_EXECUTABLE : T_REGULAR);
    feed.u64(size);
    const fd = openSync(src, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const out = openSync(dst, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
      try {
        let remaining = size;
        while (remaining > 0) {
          const piece = feed.readFrom(fd, remaining);
          if (piece.length === 0) {
            throw new NarDumpError(`file '${src.toString('latin1')}' got shorter while it was being archived`);
          }
          opts.contentsHasher?.update(piece);
          writeAll(out, piece);
          remaining -= piece.length;
        }
        if ((umask & mode) !== 0) fchmodSync(out, mode);
        futimesSync(out, 1, 1);
      } finally {
        closeSync(out);
      }
    } finally {
      closeSync(fd);
    }
    feed.pad(size);
    feed.raw(T_CLOSE);
  } else if (st.isSymbolicLink()) {
    const target = readlinkSync(src, { encoding: 'buffer' });
    feed.raw(T_SYMLINK);
    feed.str(target);
    feed.raw(T_CLOSE);
    symlinkSync(target, dst);
    lutimesSync(dst, 1, 1);
  } else if (st.isDirectory()) {
    feed.raw(T_DIRECTORY);
    mkdirSync(dst, 0o755);
    const names = readdirSync(src, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const name of names) {
      const child = Buffer.concat([src, SLASH, name]);
      const cst = lstatSync(child);
      if (opts.filter && !opts.filter(child.toString('latin1'), statType(cst))) continue;
      feed.raw(T_ENTRY);
      feed.str(name);
      feed.raw(T_NODE);
      copyNode(child, Buffer.concat([dst, SLASH, name]), cst, feed, opts, umask);
      feed.raw(T_CLOSE);
    }
    feed.raw(T_CLOSE);
    chmodSync(dst, 0o555);
    utimesSync(dst, 1, 1);
  } else {
    throw new NarDumpError(`file '${src.toString('latin1')}' has an unsupported type`);
  }
}

function statType(st: Stats): NarEntryType {
  if (st.isFile()) return 'regular';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'unknown';
}

// ---------------------------------------------------------------------------
// Receiving a NAR (import, substitution)

/** The metadata of a path received as a NAR (see LocalStore.addReceivedPaths). */
export interface ReceivedPathInfo {
  path: string;
  /** Expected NAR hash and size (checked when given). */
  narHash?: Hash;
  narSize?: number;
  references: string[];
  deriver?: string;
  ca?: string;
  sigs?: string[];
}

/**
 * A NAR being unpacked under a temporary name in the store while it is
 * hashed. Feed it with `push` (which returns the bytes that follow the NAR
 * once it is complete, for streams that carry more), then `end`. `discard`
 * removes whatever is left of it.
 */
export class IncomingNar {
  private readonly restorer: NarRestorer;
  private readonly parser: NarParser;
  private readonly hasher = new HashSink('sha256');
  private finished: { narHash: Hash; narSize: number } | undefined;
  /** Set once the tree was renamed to its store path. */
  moved = false;

  constructor(readonly temp: Buffer) {
    this.restorer = new NarRestorer(temp, { canonicalise: true });
    this.parser = new NarParser(this.restorer, { allowTrailing: true });
  }

  get done(): boolean {
    return this.parser.done;
  }

  /** Feed NAR bytes; returns the bytes after the end of the NAR (empty until it is complete). */
  push(chunk: Uint8Array): Buffer {
    if (this.parser.done) return Buffer.from(chunk);
    const before = this.parser.trailingLength;
    try {
      this.parser.push(chunk);
    } catch (e) {
      this.restorer.abort();
      if (isErrnoException(e)) throw new StoreError(sysErrorMessage(e));
      throw e;
    }
    const extra = this.parser.trailingLength - before;
    this.hasher.update(extra > 0 ? chunk.subarray(0, chunk.length - extra) : chunk);
    return this.parser.done ? this.parser.takeTrailing() : Buffer.alloc(0);
  }

  /** The NAR is complete (else an error); returns its hash and size. */
  end(): { narHash: Hash; narSize: number } {
    if (!this.finished) {
      const narSize = this.parser.end();
      this.finished = { narHash: this.hasher.finish().hash, narSize };
    }
    return this.finished;
  }

  /** `end()` for a NAR that must be complete already. */
  result(): { narHash: Hash; narSize: number } {
    return this.end();
  }

  /** Remove the temporary tree unless it was moved into place. */
  discard(): void {
    this.restorer.abort();
    if (!this.moved) removeTree(this.temp);
  }
}
