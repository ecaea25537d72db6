/**
 * A store for evaluation that writes nothing but remembers what it would have
 * written, so that it can be written later: the REPL evaluates with it (no
 * writable store needed) and, before `:b` builds a derivation, writes the
 * closure of that derivation into a real LocalStore with `materialize`.
 *
 * Paths are computed exactly as ComputeStore computes them. Recorded are:
 * - derivations (writeDerivation),
 * - text files (toFile, and `.drv` files made with toFile),
 * - added sources with the options they were added with (including a path
 *   filter: materializing calls it again, in the thread that evaluates).
 *
 * A fallback store (usually the LocalStore, opened read-only on demand) makes
 * paths that are already valid there valid here too (`storePath`,
 * derivations read back from an existing .drv).
 */
import { copyFromCache, type FileBinaryCache } from './binary-cache.js';
import type { Derivation } from './derivation.js';
import { ComputeStore, StoreError } from './compute-store.js';
import { derivationReferences } from './derivation.js';
import type { FsPath } from './fs-path.js';
import type { LocalStore } from './local-store.js';
import type { AddedPath, AddPathOptions } from './store-api.js';
import { storePathName } from './store-path.js';

/** What was recorded for a path. */
export type RecordedPath =
  | { kind: 'derivation'; path: string; drv: Derivation; references: readonly string[] }
  | { kind: 'text'; path: string; name: string; text: string; references: readonly string[] }
  | { kind: 'source'; path: string; src: FsPath; opts: AddPathOptions; references: readonly string[] }
  | { kind: 'cache'; path: string; cache: FileBinaryCache; references: readonly string[] };

/** The part of a store the fallback needs (LocalStore has it). */
export interface FallbackStore {
  isValidPath(path: string): boolean;
  readDerivation(drvPath: string): Derivation;
  queryReferences(path: string): readonly string[] | undefined;
}

export interface RecordingStoreOptions {
  /** Called when a path is not known here; null/undefined: no fallback. */
  fallback?: () => FallbackStore | null;
}

export class RecordingStore extends ComputeStore {
  private readonly recorded = new Map<string, RecordedPath>();
  private readonly fallback: () => FallbackStore | null;

  constructor(storeDir?: string, opts: RecordingStoreOptions = {}) {
    super(storeDir);
    this.fallback = opts.fallback ?? (() => null);
  }

  /** What was recorded for a path, if anything. */
  recordedPath(path: string): RecordedPath | undefined {
    return this.recorded.get(path);
  }

  /** Every recorded path, in the order they were first computed. */
  recordedPaths(): string[] {
    return [...this.recorded.keys()];
  }

  override addPath(src: FsPath, opts: AddPathOptions): AddedPath {
    const res = super.addPath(src, opts);
    if (!this.recorded.has(res.path)) {
      const references = [...new Set(opts.references ?? [])].sort();
      this.recorded.set(res.path, { kind: 'source', path: res.path, src, opts: { ...opts }, references });
    }
    return res;
  }

  override addFromBinaryCache(cache: FileBinaryCache, paths: string[]): string[] {
    const added = super.addFromBinaryCache(cache, paths);
    for (const p of added) {
      if (!this.recorded.has(p)) this.recorded.set(p, { kind: 'cache', path: p, cache, references: this.queryReferences(p) ?? [] });
    }
    return added;
  }

  override addText(name: string, text: string, references: string[]): string {
    const path = super.addText(name, text, references);
    if (!this.recorded.has(path)) {
      this.recorded.set(path, { kind: 'text', path, name, text, references: [...new Set(references)].sort() });
    }
    return path;
  }

  override writeDerivation(drv: Derivation): string {
    const path = super.writeDerivation(drv);
    if (!this.recorded.has(path)) {
      this.recorded.set(path, { kind: 'derivation', path, drv, references: derivationReferences(drv) });
    }
    return path;
  }

  override readDerivation(drvPath: string): Derivation {
    const rec = this.recorded.get(drvPath);
    if (rec?.kind === 'derivation') return rec.drv;
    const fb = this.fallback();
    if (fb && fb.isValidPath(drvPath)) return fb.readDerivation(drvPath);
    return super.readDerivation(drvPath);
  }

  override isValidPath(path: string): boolean {
    if (super.isValidPath(path)) return true;
    const fb = this.fallback();
    return fb !== null && fb.isValidPath(path);
  }

  override queryReferences(path: string): readonly string[] | undefined {
    return super.queryReferences(path) ?? this.fallback()?.queryReferences(path);
  }

  /**
   * Writes the closure of `paths` (what was recorded for them and for what
   * they refer to) into `local`, references first. Paths already valid in
   * `local` are left alone; a path neither valid there nor recorded here is
   * an error. Returns the paths written.
   */
  materialize(local: LocalStore, paths: readonly string[]): string[] {
    const order: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (p: string, from: string | null): void => {
      const s = state.get(p);
      if (s === 'done') return;
      if (s === 'visiting') throw new StoreError(`cycle in the references of '${p}'`);
      if (local.isValidPath(p)) {
        state.set(p, 'done');
        return;
      }
      const rec = this.recorded.get(p);
      if (!rec) {
        throw new StoreError(
          from === null
            ? `path '${p}' is not valid`
            : `path '${p}' (a reference of '${from}') is not valid and was not computed in this session`,
        );
      }
      state.set(p, 'visiting');
      for (const r of rec.references) if (r !== p) visit(r, p);
      state.set(p, 'done');
      order.push(p);
    };
    for (const p of paths) visit(p, null);

    // Paths from binary caches (fetchClosure) first: they refer only to each other.
    for (const p of order) {
      const rec = this.recorded.get(p)!;
      if (rec.kind === 'cache' && !local.isValidPath(p)) copyFromCache(local, rec.cache, [p], { checkSigs: false });
    }
    return local.batch(() => {
      for (const p of order) {
        const rec = this.recorded.get(p)!;
        let written: string;
        switch (rec.kind) {
          case 'derivation':
            written = local.writeDerivation(rec.drv);
            break;
          case 'text':
            // a `.drv` written with toFile is parsed and its outputs checked here
            written = local.addText(rec.name, rec.text, [...rec.references]);
            break;
          case 'source': {
            written = local.addPath(rec.src, rec.opts).path;
            break;
          }
          case 'cache':
            written = p;
            break;
        }
        if (written !== p) {
          throw new StoreError(
            `'${storePathName(p)}' changed since it was evaluated: it was '${p}' and is now '${written}'`,
          );
        }
      }
      return order;
    });
  }
}
