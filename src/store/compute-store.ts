/**
 * A store that computes paths and writes nothing: what evaluation needs when
 * no writable store is wanted (`instantiate --eval`, the REPL, tests).
 *
 * Every path is the one CppNix would produce for the same store directory:
 * - addPath: the NAR of the (filtered) tree, hashed; a `source` path for
 *   recursive sha256, otherwise a fixed-output path;
 * - addText: a `text` path (toFile, .drv files) with its references;
 * - writeDerivation: the .drv's text path; the derivation is remembered so
 *   that readDerivation, and hashDerivationModulo of derivations that depend on
 *   it, work without a .drv file on disk.
 *
 * The store also remembers the references of what it computed
 * (`queryReferences`), so that the closure of a .drv (the `=drv` "deep" string
 * context) can be followed.
 */
import { lstatSync, readFileSync } from 'node:fs';
import type { FileBinaryCache } from './binary-cache.js';
import { computeDrvPath, derivationReferences, type Derivation } from './derivation.js';
import { toFsPath, type FsPath } from './fs-path.js';
import { Hash, hashString, type HashAlgo } from './hash.js';
import { NarHashSink, dumpPathSync, type NarEntryType } from './nar.js';
import type { AddedPath, AddPathOptions, FileType, StoreApi } from './store-api.js';
import {
  DEFAULT_STORE_DIR,
  compareBytes,
  computeTextPath,
  makeFixedOutputPath,
  makeSourcePath,
} from './store-path.js';

/** An error of the store (missing file, hash mismatch, unknown derivation). */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Stores that can tell the references of a path (ComputeStore can; optional in StoreApi). */
export interface ReferenceQuery {
  /** References of a valid path, or undefined if the store does not know the path. */
  queryReferences(path: string): readonly string[] | undefined;
}

export function canQueryReferences(store: StoreApi): store is StoreApi & ReferenceQuery {
  return typeof (store as Partial<ReferenceQuery>).queryReferences === 'function';
}

/** The hash (`algo`) of the contents of one regular file. */
function hashFlatFile(src: FsPath, algo: HashAlgo): Hash {
  return hashString(algo, readFileSync(toFsPath(src)));
}

export class ComputeStore implements StoreApi, ReferenceQuery {
  readonly writable = false;
  private readonly drvs = new Map<string, Derivation>();
  private readonly references = new Map<string, readonly string[]>();
  private readonly addCache = new Map<string, AddedPath>();

  constructor(readonly storeDir: string = DEFAULT_STORE_DIR) {}

  addPath(src: FsPath, opts: AddPathOptions): AddedPath {
    const algo = opts.hashAlgo ?? 'sha256';
    const refs = [...new Set(opts.references ?? [])].sort(compareBytes);
    // A filter is a function of the evaluator: results with one are not cached.
    const key =
      opts.filter === undefined
        ? `${toFsPath(src).toString('latin1')}\0${opts.name}\0${opts.method}\0${algo}\0${refs.join(' ')}`
        : undefined;
    if (key !== undefined) {
      const hit = this.addCache.get(key);
      if (hit && (opts.expectedHash === undefined || this.expectedPath(opts, hit.path))) return hit;
    }

    if (opts.method === 'flat' && !lstatSync(toFsPath(src)).isFile()) {
      throw new StoreError(`file '${toFsPath(src).toString('latin1')}' is not a regular file, so it cannot be added flat`);
    }
    const filter = opts.filter;
    const dumpOpts = filter ? { filter: (p: string, t: NarEntryType) => filter(p, t as FileType) } : {};
    // One pass over the tree (the filter is called once per entry, as in CppNix).
    const narSink = new NarHashSink('sha256');
    const caSink = opts.method === 'recursive' && algo !== 'sha256' ? new NarHashSink(algo) : undefined;
    dumpPathSync(src, caSink ? (c) => (narSink.sink(c), caSink.sink(c)) : narSink.sink, { reuseChunks: true, ...dumpOpts });
    const nar = narSink.finish();
    let path: string;
    let caHash: Hash;
    if (opts.method === 'flat') {
      caHash = hashFlatFile(src, algo);
      path = makeFixedOutputPath(opts.name, 'flat', caHash, this.storeDir, refs);
    } else if (algo === 'sha256') {
      caHash = nar.hash;
      path = makeSourcePath(opts.name, nar.hash, refs, this.storeDir);
    } else {
      caHash = (caSink as NarHashSink).finish().hash;
      path = makeFixedOutputPath(opts.name, 'recursive', caHash, this.storeDir, refs);
    }
    if (opts.expectedHash !== undefined && !caHash.equals(opts.expectedHash)) {
      throw new StoreError(
        `hash mismatch importing path '${toFsPath(src).toString('latin1')}';\n` +
          `  specified: ${opts.expectedHash.format('sri', true)}\n` +
          `  got:       ${caHash.format('sri', true)}`,
      );
    }
    const res: AddedPath = { path, narHash: nar.hash, narSize: nar.narSize };
    this.references.set(path, refs);
    if (key !== undefined) this.addCache.set(key, res);
    return res;
  }

  private expectedPath(opts: AddPathOptions, path: string): boolean {
    const h = opts.expectedHash as Hash;
    if (opts.method === 'recursive' && h.algo === 'sha256') {
      return makeSourcePath(opts.name, h, opts.references ?? [], this.storeDir) === path;
    }
    return makeFixedOutputPath(opts.name, opts.method, h, this.storeDir) === path;
  }

  addText(name: string, text: string, references: string[]): string {
    const refs = [...new Set(references)].sort(compareBytes);
    const path = computeTextPath(name, text, refs, this.storeDir);
    this.references.set(path, refs);
    return path;
  }

  writeDerivation(drv: Derivation): string {
    const path = computeDrvPath(drv, this.storeDir);
    if (!this.drvs.has(path)) {
      this.drvs.set(path, drv);
      this.references.set(path, derivationReferences(drv));
    }
    return path;
  }

  readDerivation(drvPath: string): Derivation {
    const d = this.drvs.get(drvPath);
    if (!d) throw new StoreError(`derivation '${drvPath}' is not known to this store (it was not computed in this evaluation)`);
    return d;
  }

  isValidPath(path: string): boolean {
    return this.references.has(path);
  }

  queryReferences(path: string): readonly string[] | undefined {
    return this.references.get(path);
  }

  /** Remembers the closure of `paths` in the cache as valid (nothing is copied); returns the paths new here. */
  addFromBinaryCache(cache: FileBinaryCache, paths: string[]): string[] {
    cache.initForReading();
    const added: string[] = [];
    const todo = [...paths];
    while (todo.length) {
      const p = todo.pop() as string;
      if (this.isValidPath(p)) continue;
      const ni = cache.readNarInfo(p);
      if (!ni) throw new StoreError(`path '${p}' is not valid in binary cache '${cache.url}'`);
      this.registerPath(p, ni.references);
      added.push(p);
      for (const r of ni.references) if (r !== p) todo.push(r);
    }
    return added;
  }

  /** Record a path computed elsewhere (e.g. an output known to be valid) with its references. */
  registerPath(path: string, references: readonly string[] = []): void {
    if (!this.references.has(path)) this.references.set(path, [...references].sort(compareBytes));
  }
}
