// The narrow interface through which the evaluator reaches a store.  The
// evaluator never sees a database: it asks for paths to be added (or only
// computed, in a read-only store) and for derivations to be written/read.
//
// Implementations:
// - ComputeStore (compute-store.ts): computes every path exactly, writes
//   nothing; used by `--eval`, the REPL and whenever no writable store is needed.
// - LocalStore (local-store.ts): the real store with its SQLite database.

import type { FileBinaryCache } from './binary-cache.js';
import type { Derivation } from './derivation.js';
import type { FsPath } from './fs-path.js';
import type { Hash, HashAlgo } from './hash.js';

export type FileType = 'regular' | 'directory' | 'symlink';

export interface AddPathOptions {
  /** Store path name (e.g. the file's base name, or `name` of builtins.path). */
  name: string;
  /** `recursive`: NAR of the tree (source paths); `flat`: the file's bytes (one regular file). */
  method: 'recursive' | 'flat';
  /** Hash algorithm of the content address (default sha256: a `source` path when recursive). */
  hashAlgo?: HashAlgo;
  /** Keep only entries for which this returns true (paths are absolute byte strings). */
  filter?: (path: string, type: FileType) => boolean;
  /** Store paths the added content refers to (source paths with references). */
  references?: string[];
  /** If given, the content hash must equal it, else an error naming both hashes. */
  expectedHash?: Hash;
}

export interface AddedPath {
  path: string;
  narHash: Hash;
  narSize: number;
}

export interface StoreApi {
  /** Logical store directory, e.g. `/nix/store`. */
  readonly storeDir: string;
  /** Whether adding really writes (false for ComputeStore). */
  readonly writable: boolean;
  addPath(src: FsPath, opts: AddPathOptions): AddedPath;
  /** A `text` path (toFile, .drv files) with the given references. */
  addText(name: string, text: string, references: string[]): string;
  /** Writes (or computes) the .drv of a derivation whose output paths are filled in; returns its path. */
  writeDerivation(drv: Derivation): string;
  /** A derivation previously written or present in the store; throws if unknown. */
  readDerivation(drvPath: string): Derivation;
  /** Whether a store path is valid (registered), for `storePath` and builds. */
  isValidPath(path: string): boolean;
  /**
   * Makes the closure of `paths` valid from a `file://` binary cache
   * (fetchClosure): LocalStore copies it (NARs checked, no signature check:
   * the caller checked them), ComputeStore only remembers the paths.
   */
  addFromBinaryCache(cache: FileBinaryCache, paths: string[]): string[];
}
