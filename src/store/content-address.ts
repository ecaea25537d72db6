/**
 * Content addresses: the `ca` field of a valid path (`nix path-info --json`,
 * narinfo `CA:`), e.g. `fixed:r:sha256:<nix32>` for `nix-store --add`,
 * `fixed:sha256:<nix32>` for flat `--add-fixed`, `text:sha256:<nix32>` for
 * toFile and .drv files. The store path each one implies is computed here too.
 */
import { BadHashError, Hash, parseHash, parseHashAlgo } from './hash.js';
import {
  DEFAULT_STORE_DIR,
  makeFixedOutputPath,
  makeTextPath,
  type FileIngestionMethod,
} from './store-path.js';

export type ContentAddress =
  | { method: 'text'; hash: Hash }
  | { method: 'fixed'; ingestion: FileIngestionMethod; hash: Hash };

/** Render as Nix does: `text:sha256:<nix32>` or `fixed:[r:]<algo>:<nix32>`. */
export function renderContentAddress(ca: ContentAddress): string {
  if (ca.method === 'text') return `text:${ca.hash.format('nix32', true)}`;
  return `fixed:${ca.ingestion === 'recursive' ? 'r:' : ''}${ca.hash.format('nix32', true)}`;
}

export function parseContentAddress(s: string): ContentAddress {
  if (s.startsWith('text:')) {
    const hash = parseHash(s.slice(5));
    if (hash.algo !== 'sha256') throw new BadHashError(`text content address '${s}' must use sha256`);
    return { method: 'text', hash };
  }
  if (s.startsWith('fixed:')) {
    let rest = s.slice(6);
    let ingestion: FileIngestionMethod = 'flat';
    if (rest.startsWith('r:')) {
      ingestion = 'recursive';
      rest = rest.slice(2);
    }
    const colon = rest.indexOf(':');
    if (colon < 0) throw new BadHashError(`content address '${s}' has no hash algorithm`);
    const algo = parseHashAlgo(rest.slice(0, colon));
    return { method: 'fixed', ingestion, hash: parseHash(rest.slice(colon + 1), algo) };
  }
  throw new BadHashError(`content address prefix in '${s}' is not recognised`);
}

/** The store path a content address gives for `name` and `references`. */
export function makeContentAddressedPath(
  name: string,
  ca: ContentAddress,
  references: Iterable<string> = [],
  storeDir: string = DEFAULT_STORE_DIR,
  hasSelfReference = false,
): string {
  if (ca.method === 'text') return makeTextPath(name, ca.hash, references, storeDir);
  return makeFixedOutputPath(name, ca.ingestion, ca.hash, storeDir, references, hasSelfReference);
}
