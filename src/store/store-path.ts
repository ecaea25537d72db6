/**
 * Store paths: `<storeDir>/<32 nix32 chars>-<name>`, how they are computed
 * (text, source, fixed-output and input-addressed output paths), how they are
 * validated and parsed, and the output placeholders.
 *
 * The fingerprint hashed for a path is
 *   `<type>:sha256:<hex digest>:<storeDir>:<name>`
 * and the 32-byte sha256 of it is XOR-folded to 20 bytes and printed in nix32.
 *
 * All strings are byte strings (one char code per byte).
 */
import { nix32Decode, nix32Encode, Nix32Error } from './base32.js';
import { compressHash, Hash, sha256 } from './hash.js';

export const DEFAULT_STORE_DIR = '/nix/store';
/** Characters of the hash part of a store path (20 bytes in nix32). */
export const STORE_PATH_HASH_CHARS = 32;
/** Bytes of the hash part of a store path. */
export const STORE_PATH_HASH_BYTES = 20;
/** The longest allowed name, as in CppNix (211 characters). */
export const MAX_STORE_PATH_NAME_LENGTH = 211;

export class BadStorePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadStorePathError';
  }
}

export type StorePathNameProblem =
  | { reason: 'empty' }
  | { reason: 'too-long' }
  | { reason: 'illegal-character'; character: string }
  | { reason: 'dot'; component: '.' | '..' };

/**
 * An invalid store path name. The message has the form current CppNix uses
 * (`name '~x~' contains illegal character '~'`); `problem` holds the facts for
 * callers that word it differently.
 */
export class BadStorePathNameError extends BadStorePathError {
  constructor(
    readonly storePathName: string,
    readonly problem: StorePathNameProblem,
  ) {
    super(describeNameProblem(storePathName, problem));
    this.name = 'BadStorePathNameError';
  }
}

function describeNameProblem(name: string, p: StorePathNameProblem): string {
  switch (p.reason) {
    case 'empty':
      return 'name must not be empty';
    case 'too-long':
      return `name '${name}' must be no longer than ${MAX_STORE_PATH_NAME_LENGTH} characters`;
    case 'illegal-character':
      return `name '${name}' contains illegal character '${p.character}'`;
    case 'dot':
      return name === '.' || name === '..'
        ? `name '${name}' is not valid`
        : `name '${name}' is not valid: first dash-separated component must not be '${p.component}'`;
  }
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x2b || // +
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x3f || // ?
    c === 0x3d // =
  );
}

export interface NameCheckOptions {
  /**
   * Also reject the names `.` and `..` and names starting with `.-` or `..-`
   * (current CppNix does; Nix 2.8 accepted them). Default false, as in 2.8.
   */
  rejectDotNames?: boolean;
}

/** What is wrong with a store path name, if anything. */
export function storePathNameProblem(
  name: string,
  opts: NameCheckOptions = {},
): StorePathNameProblem | undefined {
  if (name.length === 0) return { reason: 'empty' };
  if (name.length > MAX_STORE_PATH_NAME_LENGTH) return { reason: 'too-long' };
  if (opts.rejectDotNames && name[0] === '.') {
    if (name === '.' || name.startsWith('.-')) return { reason: 'dot', component: '.' };
    if (name === '..' || name.startsWith('..-')) return { reason: 'dot', component: '..' };
  }
  for (let i = 0; i < name.length; i++) {
    if (!isNameChar(name.charCodeAt(i))) return { reason: 'illegal-character', character: name[i] as string };
  }
  return undefined;
}

/** Allowed characters `[a-zA-Z0-9+\-._?=]`, 1 to 211 of them. */
export function isValidStorePathName(name: string, opts: NameCheckOptions = {}): boolean {
  return storePathNameProblem(name, opts) === undefined;
}

/** Throws BadStorePathNameError if `name` cannot be a store path name. */
export function checkStorePathName(name: string, opts: NameCheckOptions = {}): void {
  const p = storePathNameProblem(name, opts);
  if (p) throw new BadStorePathNameError(name, p);
}

export interface StorePathParts {
  /** The 32 nix32 characters. */
  hashPart: string;
  name: string;
  /** `<hashPart>-<name>` */
  baseName: string;
}

/**
 * Parse and validate the base name of a store path (`<hash>-<name>`), with
 * Nix 2.8's messages, e.g. `store path 'xxx-a b' contains illegal character ' '`.
 */
export function parseStorePathBaseName(baseName: string, opts: NameCheckOptions = {}): StorePathParts {
  if (baseName.length < STORE_PATH_HASH_CHARS + 1) {
    throw new BadStorePathError(`'${baseName}' is too short to be a valid store path`);
  }
  const hashPart = baseName.slice(0, STORE_PATH_HASH_CHARS);
  try {
    nix32Decode(hashPart);
  } catch (e) {
    if (e instanceof Nix32Error) {
      throw new BadStorePathError(
        `store path '${baseName}' contains illegal base-32 character '${e.character ?? ''}'`,
      );
    }
    throw e;
  }
  const name = baseName.slice(STORE_PATH_HASH_CHARS + 1);
  const p = storePathNameProblem(name, opts);
  if (p) {
    switch (p.reason) {
      case 'empty':
        throw new BadStorePathError(`store path '${baseName}' has an empty name`);
      case 'too-long':
        throw new BadStorePathError(
          `store path '${baseName}' has a name longer than ${MAX_STORE_PATH_NAME_LENGTH} characters`,
        );
      case 'illegal-character':
        throw new BadStorePathError(`store path '${baseName}' contains illegal character '${p.character}'`);
      case 'dot':
        throw new BadStorePathError(`store path '${baseName}' has an invalid name: ${describeNameProblem(name, p)}`);
    }
  }
  return { hashPart, name, baseName };
}

/**
 * Parse a full store path `<storeDir>/<hash>-<name>` (no trailing components;
 * the path is taken as given, not canonicalised).
 */
export function parseStorePath(
  path: string,
  storeDir: string = DEFAULT_STORE_DIR,
  opts: NameCheckOptions = {},
): StorePathParts {
  const slash = path.lastIndexOf('/');
  const dir = slash <= 0 ? (slash === 0 ? '/' : '') : path.slice(0, slash);
  if (dir !== storeDir) throw new BadStorePathError(`path '${path}' is not in the Nix store`);
  return parseStorePathBaseName(path.slice(slash + 1), opts);
}

export function isStorePath(path: string, storeDir: string = DEFAULT_STORE_DIR): boolean {
  try {
    parseStorePath(path, storeDir);
    return true;
  } catch (e) {
    if (e instanceof BadStorePathError) return false;
    throw e;
  }
}

/** True if `path` is the store directory's child or lies below one (`/nix/store/x-y/z`). */
export function isInStore(path: string, storeDir: string = DEFAULT_STORE_DIR): boolean {
  return path.length > storeDir.length + 1 && path.startsWith(storeDir + '/');
}

/**
 * Split a path inside the store into the store path and the rest:
 * `/nix/store/abc-foo/bin/x` -> { storePath: '/nix/store/abc-foo', subPath: '/bin/x' }.
 */
export function splitStorePath(
  path: string,
  storeDir: string = DEFAULT_STORE_DIR,
): { storePath: string; subPath: string } {
  if (!isInStore(path, storeDir)) throw new BadStorePathError(`path '${path}' is not in the Nix store`);
  const slash = path.indexOf('/', storeDir.length + 1);
  const storePath = slash < 0 ? path : path.slice(0, slash);
  parseStorePath(storePath, storeDir);
  return { storePath, subPath: slash < 0 ? '' : path.slice(slash) };
}

/** The hash part of a store path or base name. */
export function storePathHashPart(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.slice(0, STORE_PATH_HASH_CHARS);
}

/** The name part of a store path or base name. */
export function storePathName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.slice(STORE_PATH_HASH_CHARS + 1);
}

function hashForFingerprint(hash: Hash | string): string {
  return typeof hash === 'string' ? `sha256:${hash}` : hash.format('base16', true);
}

/**
 * The fingerprint a store path hash is computed from:
 * `<type>:<algo>:<hex>:<storeDir>:<name>`. `hash` is a Hash or a sha256 hex digest.
 */
export function storePathFingerprint(type: string, hash: Hash | string, name: string, storeDir: string): string {
  return `${type}:${hashForFingerprint(hash)}:${storeDir}:${name}`;
}

/**
 * CppNix's makeStorePath: `storeDir + '/' + nix32(compress20(sha256(fingerprint))) + '-' + name`.
 * `hash` is a Hash or a sha256 hex digest. The name is validated (2.8's messages).
 */
export function makeStorePath(
  type: string,
  hash: Hash | string,
  name: string,
  storeDir: string = DEFAULT_STORE_DIR,
): string {
  const digest = sha256(storePathFingerprint(type, hash, name, storeDir)).bytes;
  const base = `${nix32Encode(compressHash(digest, STORE_PATH_HASH_BYTES))}-${name}`;
  parseStorePathBaseName(base);
  return `${storeDir}/${base}`;
}

/** The type string with references: `base:ref1:ref2…[:self]`, references sorted. */
export function makeType(base: string, references: Iterable<string> = [], hasSelfReference = false): string {
  let type = base;
  for (const r of [...new Set(references)].sort(compareBytes)) type += `:${r}`;
  if (hasSelfReference) type += ':self';
  return type;
}

/** Byte-order comparison of byte strings (as C++ std::string sorts). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Path of a text file (builtins.toFile, .drv files): type `text` plus the
 * references; `contentsHash` is the sha256 of the contents.
 */
export function makeTextPath(
  name: string,
  contentsHash: Hash,
  references: Iterable<string> = [],
  storeDir: string = DEFAULT_STORE_DIR,
): string {
  if (contentsHash.algo !== 'sha256') {
    throw new BadStorePathError(`text paths need a sha256 hash, not ${contentsHash.algo}`);
  }
  return makeStorePath(makeType('text', references), contentsHash, name, storeDir);
}

/** Text path of the given contents (a byte string or bytes). */
export function computeTextPath(
  name: string,
  contents: string | Uint8Array,
  references: Iterable<string> = [],
  storeDir: string = DEFAULT_STORE_DIR,
): string {
  return makeTextPath(name, sha256(contents), references, storeDir);
}

/**
 * Path of an added file or tree (`nix-store --add`, path literals,
 * builtins.path): type `source` plus references; `narHash` is the sha256 of the NAR.
 */
export function makeSourcePath(
  name: string,
  narHash: Hash,
  references: Iterable<string> = [],
  storeDir: string = DEFAULT_STORE_DIR,
  hasSelfReference = false,
): string {
  if (narHash.algo !== 'sha256') {
    throw new BadStorePathError(`source paths need a sha256 NAR hash, not ${narHash.algo}`);
  }
  return makeStorePath(makeType('source', references, hasSelfReference), narHash, name, storeDir);
}

/** How the contents of a fixed-output path are hashed. */
export type FileIngestionMethod = 'flat' | 'recursive';

/** The hash of the `fixed:out:` string behind a fixed-output path. */
export function fixedOutputInnerHash(method: FileIngestionMethod, hash: Hash): Hash {
  return sha256(`fixed:out:${method === 'recursive' ? 'r:' : ''}${hash.algo}:${hash.toBase16()}:`);
}

/**
 * Path of fixed-output contents (fixed-output derivations, `--add-fixed`):
 * recursive sha256 is a `source` path; anything else is `output:out` with
 * sha256(`fixed:out:[r:]algo:hex:`). Only the `source` form may have references.
 */
export function makeFixedOutputPath(
  name: string,
  method: FileIngestionMethod,
  hash: Hash,
  storeDir: string = DEFAULT_STORE_DIR,
  references: Iterable<string> = [],
  hasSelfReference = false,
): string {
  if (method === 'recursive' && hash.algo === 'sha256') {
    return makeSourcePath(name, hash, references, storeDir, hasSelfReference);
  }
  if (hasSelfReference || [...references].length > 0) {
    throw new BadStorePathError(
      `fixed-output path '${name}' with method ${method} and ${hash.algo} cannot have references`,
    );
  }
  return makeStorePath('output:out', fixedOutputInnerHash(method, hash), name, storeDir);
}

/** `name` for the output `out`, otherwise `name-<output>`. */
export function outputPathName(drvName: string, outputName: string): string {
  return outputName === 'out' ? drvName : `${drvName}-${outputName}`;
}

/**
 * Path of an input-addressed derivation output: type `output:<outputName>`,
 * hash = hashDerivationModulo (a Hash or its sha256 hex).
 */
export function makeOutputPath(
  outputName: string,
  drvHash: Hash | string,
  drvName: string,
  storeDir: string = DEFAULT_STORE_DIR,
): string {
  return makeStorePath(`output:${outputName}`, drvHash, outputPathName(drvName, outputName), storeDir);
}

/**
 * `builtins.placeholder`: `/` + nix32(sha256("nix-output:" + outputName)), the
 * string that stands for an output's path before it is known.
 */
export function placeholder(outputName: string): string {
  return '/' + sha256(`nix-output:${outputName}`).toNix32();
}

/**
 * The placeholder of an output of a content-addressed derivation that is not
 * built yet: `/` + nix32(sha256("nix-upstream-output:" + drvHashPart + ":" +
 * outputPathName(drvName, outputName))), where drvName is the .drv's name
 * without `.drv`.
 */
export function downstreamPlaceholder(drvPath: string, outputName: string): string {
  const hashPart = storePathHashPart(drvPath);
  let drvName = storePathName(drvPath);
  if (drvName.endsWith('.drv')) drvName = drvName.slice(0, -4);
  return (
    '/' + sha256(`nix-upstream-output:${hashPart}:${outputPathName(drvName, outputName)}`).toNix32()
  );
}

/** The 20 bytes a store path's hash part stands for. */
export function storePathHashBytes(path: string): Buffer {
  return nix32Decode(storePathHashPart(path));
}
