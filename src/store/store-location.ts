/**
 * Where the store lives (DESIGN.md, "Store").
 *
 * 1. `TSNIX_STORE_DIR` set: the logical and the physical store directory are
 *    the same folder. State (database, later locks and GC roots) goes to
 *    `TSNIX_STATE_DIR`, or by default to `<parent of the store dir>/var/tsnix`
 *    (so `/tmp/x/store` keeps its state in `/tmp/x/var/tsnix`, the same layout
 *    as a root below).
 * 2. Otherwise the logical store is `/nix/store` (every hash equals CppNix's),
 *    kept physically below a root folder: `TSNIX_ROOT`, or by default
 *    `$XDG_DATA_HOME/tsnix/root` (`~/.local/share/tsnix/root`). Files live in
 *    `<root>/nix/store`, state in `<root>/nix/var/tsnix`. `TSNIX_ROOT=/`
 *    means the real `/nix`. `TSNIX_STATE_DIR` overrides the state folder here too.
 *
 * The database is `<stateDir>/db/db.sqlite`. Empty variables count as unset;
 * every variable must hold an absolute path. All paths here are byte strings
 * (UTF-8 bytes, one char code each), like every path in src/store.
 *
 * Paths handed around by the store are logical (`/nix/store/…`, what hashes
 * are computed from and what is printed); file-system access goes through
 * `toPhysical`. A result symlink points at the physical path.
 */
import { homedir } from 'node:os';
import { posix } from 'node:path';

export interface StoreLocation {
  /** Logical store directory: what store paths start with and hashes are computed from. */
  storeDir: string;
  /** Physical directory holding the store's files (equal to storeDir in TSNIX_STORE_DIR mode). */
  realStoreDir: string;
  /** Folder for the database (and later locks and GC roots). */
  stateDir: string;
  /** The SQLite database file. */
  dbPath: string;
}

export class StoreLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLocationError';
  }
}

/** `/a//b/./c/` -> `/a/b/c`; the variable must hold an absolute path. */
function absoluteDir(value: string, variable: string): string {
  if (!value.startsWith('/')) {
    throw new StoreLocationError(`${variable} must be an absolute path, not '${value}'`);
  }
  const n = posix.normalize(value);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** An environment variable as a byte string (its UTF-8 bytes, one char code each), or undefined if empty. */
function env(e: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = e[name];
  return v === undefined || v === '' ? undefined : Buffer.from(v, 'utf8').toString('latin1');
}

/** The store location the environment selects (see the comment at the top). */
export function storeLocation(e: NodeJS.ProcessEnv = process.env): StoreLocation {
  const storeDirVar = env(e, 'TSNIX_STORE_DIR');
  const stateDirVar = env(e, 'TSNIX_STATE_DIR');
  let storeDir: string;
  let realStoreDir: string;
  let stateDir: string;
  if (storeDirVar !== undefined) {
    storeDir = realStoreDir = absoluteDir(storeDirVar, 'TSNIX_STORE_DIR');
    if (storeDir === '/') throw new StoreLocationError(`TSNIX_STORE_DIR must not be '/'`);
    stateDir =
      stateDirVar !== undefined
        ? absoluteDir(stateDirVar, 'TSNIX_STATE_DIR')
        : posix.join(posix.dirname(storeDir), 'var', 'tsnix');
  } else {
    const root = rootDir(e);
    storeDir = '/nix/store';
    realStoreDir = posix.join(root, 'nix', 'store');
    stateDir =
      stateDirVar !== undefined ? absoluteDir(stateDirVar, 'TSNIX_STATE_DIR') : posix.join(root, 'nix', 'var', 'tsnix');
  }
  return { storeDir, realStoreDir, stateDir, dbPath: posix.join(stateDir, 'db', 'db.sqlite') };
}

/** The root folder of the `/nix/store` mode: TSNIX_ROOT or `$XDG_DATA_HOME/tsnix/root`. */
export function rootDir(e: NodeJS.ProcessEnv = process.env): string {
  const root = env(e, 'TSNIX_ROOT');
  if (root !== undefined) return absoluteDir(root, 'TSNIX_ROOT');
  const xdg = env(e, 'XDG_DATA_HOME');
  if (xdg !== undefined && xdg.startsWith('/')) return posix.join(absoluteDir(xdg, 'XDG_DATA_HOME'), 'tsnix', 'root');
  const home = env(e, 'HOME') ?? Buffer.from(homedir(), 'utf8').toString('latin1');
  return posix.join(absoluteDir(home, 'HOME'), '.local', 'share', 'tsnix', 'root');
}

/** A location with logical and physical directory the same (tests, TSNIX_STORE_DIR). */
export function storeLocationAt(storeDir: string, stateDir?: string): StoreLocation {
  return storeLocation({ TSNIX_STORE_DIR: storeDir, TSNIX_STATE_DIR: stateDir });
}

/** Whether logical paths need translating to reach the files. */
export function isRelocated(loc: StoreLocation): boolean {
  return loc.storeDir !== loc.realStoreDir;
}

/**
 * The physical path of a logical path in the store (`/nix/store/x-y/z` ->
 * `<root>/nix/store/x-y/z`); other paths are returned unchanged.
 * Works on byte strings as well as on ordinary strings.
 */
export function toPhysical(loc: StoreLocation, logicalPath: string): string {
  if (loc.storeDir === loc.realStoreDir) return logicalPath;
  if (logicalPath === loc.storeDir) return loc.realStoreDir;
  if (logicalPath.startsWith(loc.storeDir + '/')) return loc.realStoreDir + logicalPath.slice(loc.storeDir.length);
  return logicalPath;
}

/** The logical path of a physical path in the store; other paths are returned unchanged. */
export function toLogical(loc: StoreLocation, physicalPath: string): string {
  if (loc.storeDir === loc.realStoreDir) return physicalPath;
  if (physicalPath === loc.realStoreDir) return loc.storeDir;
  if (physicalPath.startsWith(loc.realStoreDir + '/')) return loc.storeDir + physicalPath.slice(loc.realStoreDir.length);
  return physicalPath;
}

/** True if `p` lies below the physical store directory. */
export function isInRealStore(loc: StoreLocation, p: string): boolean {
  return p.startsWith(loc.realStoreDir + '/');
}
