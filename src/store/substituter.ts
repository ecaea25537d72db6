/**
 * Binary caches as substituters of builds: before building a derivation
 * whose outputs are missing, the build engine asks each configured cache
 * (`substituters` setting, in order) whether it has them with their whole
 * closure, and if so copies them instead of building (`copying path '…'
 * from '…'...`), with the same checks as `tsnix copy --from`.
 */
import type { Substituter } from './build/api.js';
import { copyFromCache, FileBinaryCache, parseCacheUrl, type CopyFromOptions, type NarInfo } from './binary-cache.js';
import type { LocalStore } from './local-store.js';
import type { PublicKeys } from './signing.js';

export class FileCacheSubstituter implements Substituter {
  private readable: boolean | undefined;

  constructor(
    private readonly store: LocalStore,
    private readonly cache: FileBinaryCache,
    private readonly opts: CopyFromOptions,
  ) {}

  get url(): string {
    return this.cache.url;
  }

  query(paths: readonly string[]): { download: number; unpacked: number; paths: string[] } | undefined {
    if (this.readable === undefined) {
      try {
        this.cache.initForReading();
        this.readable = true;
      } catch {
        this.readable = false;
      }
    }
    if (!this.readable) return undefined;
    const infos = new Map<string, NarInfo>();
    const todo = [...paths];
    while (todo.length) {
      const p = todo.pop() as string;
      if (infos.has(p) || this.store.isValidPath(p)) continue;
      const ni = this.cache.readNarInfo(p);
      if (!ni) return undefined;
      infos.set(p, ni);
      for (const r of ni.references) if (r !== p) todo.push(r);
    }
    let download = 0;
    let unpacked = 0;
    for (const ni of infos.values()) {
      download += ni.fileSize ?? ni.narSize;
      unpacked += ni.narSize;
    }
    return { download, unpacked, paths: [...infos.keys()] };
  }

  substitute(paths: readonly string[], log: (line: string) => void): void {
    copyFromCache(this.store, this.cache, paths, {
      ...this.opts,
      // the plan already said how many; CppNix prints one line per path
      log: (line) => {
        if (!line.startsWith('copying path ')) return;
        log(line);
      },
    });
  }
}

/**
 * The substituters of a store from the `substituters` setting (`file://`
 * URLs; others are skipped with a warning) and the trusted keys: with keys,
 * a path that is not content-addressed needs a valid signature by one.
 */
export function substitutersFor(
  store: LocalStore,
  urls: readonly string[],
  publicKeys: PublicKeys,
  warn: (msg: string) => void,
): FileCacheSubstituter[] {
  const out: FileCacheSubstituter[] = [];
  for (const u of urls) {
    try {
      const url = parseCacheUrl(u);
      out.push(new FileCacheSubstituter(store, new FileBinaryCache(url, store.storeDir), { publicKeys }));
    } catch (e) {
      warn(`ignoring substituter '${u}': ${(e as Error).message}`);
    }
  }
  return out;
}
