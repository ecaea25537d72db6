/**
 * A binary cache in a local folder (`file://DIR`), laid out as CppNix's
 * LocalBinaryCacheStore lays it out:
 *
 *   nix-cache-info            `StoreDir: /nix/store\n`
 *   <hashpart>.narinfo        a path's metadata (see formatNarInfo)
 *   nar/<filehash>.nar[.xz]   its NAR, named after the hash of the file as stored
 *   log/, realisations/       (empty)
 *
 * With `compression=none` the file is the NAR itself, so FileHash equals
 * NarHash and identical NARs share one file. `xz` (the default) runs the
 * `xz` program (Node has no xz): `xz -6 --check=crc64 -T1`, liblzma's
 * default preset as CppNix uses it, so with the same liblzma the files are
 * byte-identical to CppNix's. A `secret-key` signs each narinfo as it is
 * written.
 *
 * Copying to a cache writes the closure of the paths, references first,
 * skipping paths whose narinfo is there already. Copying from a cache checks
 * each NAR against NarHash/NarSize and, when required, the signatures, and
 * adds the whole closure to the local store in one transaction.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { StoreError } from './compute-store.js';
import { parseContentAddress } from './content-address.js';
import { toFsPath } from './fs-path.js';
import { BadHashError, HashSink, parseHash, type Hash } from './hash.js';
import type { LocalStore, ReceivedPathInfo } from './local-store.js';
import { IncomingNar } from './local-store.js';
import { countValidSignatures, parseSecretKey, signPath, type PublicKeys, type SecretKey } from './signing.js';
import { makeContentAddressedPath } from './content-address.js';
import { compareBytes, parseStorePath, storePathHashPart } from './store-path.js';

export type Compression = 'none' | 'xz';

/** What a `.narinfo` file says. Store paths are full paths. */
export interface NarInfo {
  storePath: string;
  url: string;
  compression: string;
  fileHash?: Hash;
  fileSize?: number;
  narHash: Hash;
  narSize: number;
  /** Full store paths, sorted. */
  references: string[];
  deriver?: string;
  /** Sorted. */
  sigs: string[];
  ca?: string;
  system?: string;
}

/** The narinfo text, fields in CppNix's order. */
export function formatNarInfo(ni: NarInfo, storeDir: string): string {
  const base = (p: string): string => p.slice(storeDir.length + 1);
  let s = `StorePath: ${ni.storePath}\n`;
  s += `URL: ${ni.url}\n`;
  s += `Compression: ${ni.compression}\n`;
  if (ni.fileHash) s += `FileHash: ${ni.fileHash.format('nix32', true)}\n`;
  if (ni.fileSize !== undefined) s += `FileSize: ${ni.fileSize}\n`;
  s += `NarHash: ${ni.narHash.format('nix32', true)}\n`;
  s += `NarSize: ${ni.narSize}\n`;
  s += `References: ${[...ni.references].sort(compareBytes).map(base).join(' ')}\n`;
  if (ni.deriver !== undefined) s += `Deriver: ${base(ni.deriver)}\n`;
  for (const sig of [...ni.sigs].sort(compareBytes)) s += `Sig: ${sig}\n`;
  if (ni.ca !== undefined) s += `CA: ${ni.ca}\n`;
  return s;
}

/** Parse a narinfo (`whence` names it in errors). */
export function parseNarInfo(text: string, whence: string, storeDir: string): NarInfo {
  const corrupt = (why: string): StoreError => new StoreError(`NAR info file '${whence}' is corrupt: ${why}`);
  const fields: Partial<NarInfo> & { sigs: string[] } = { sigs: [] };
  let haveNarHash = false;
  const full = (base: string): string => {
    const p = `${storeDir}/${base}`;
    try {
      parseStorePath(p, storeDir);
    } catch (e) {
      throw corrupt((e as Error).message);
    }
    return p;
  };
  const hash = (v: string): Hash => {
    try {
      return parseHash(v);
    } catch (e) {
      if (e instanceof BadHashError) throw corrupt(e.message);
      throw e;
    }
  };
  const num = (v: string, name: string): number => {
    if (!/^[0-9]+$/.test(v)) throw corrupt(`bad ${name} '${v}'`);
    return Number(v);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon < 0) throw corrupt(`bad line '${line}'`);
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    switch (name) {
      case 'StorePath':
        try {
          parseStorePath(value, storeDir);
        } catch (e) {
          throw corrupt((e as Error).message);
        }
        fields.storePath = value;
        break;
      case 'URL':
        fields.url = value;
        break;
      case 'Compression':
        fields.compression = value;
        break;
      case 'FileHash':
        fields.fileHash = hash(value);
        break;
      case 'FileSize':
        fields.fileSize = num(value, 'FileSize');
        break;
      case 'NarHash':
        fields.narHash = hash(value);
        haveNarHash = true;
        break;
      case 'NarSize':
        fields.narSize = num(value, 'NarSize');
        break;
      case 'References':
        fields.references = value.split(' ').filter((r) => r !== '').map(full);
        break;
      case 'Deriver':
        if (value !== 'unknown-deriver') fields.deriver = full(value);
        break;
      case 'System':
        fields.system = value;
        break;
      case 'Sig':
        fields.sigs.push(value);
        break;
      case 'CA':
        try {
          parseContentAddress(value);
        } catch (e) {
          throw corrupt((e as Error).message);
        }
        fields.ca = value;
        break;
      default:
        break; // unknown fields are ignored, as by CppNix
    }
  }
  if (fields.storePath === undefined) throw corrupt('no StorePath');
  if (fields.url === undefined) throw corrupt('no URL');
  if (!haveNarHash) throw corrupt('no NarHash');
  if (fields.narSize === undefined) throw corrupt('no NarSize');
  const ni: NarInfo = {
    storePath: fields.storePath,
    url: fields.url,
    compression: fields.compression === undefined || fields.compression === '' ? 'bzip2' : fields.compression,
    narHash: fields.narHash as Hash,
    narSize: fields.narSize,
    references: (fields.references ?? []).sort(compareBytes),
    sigs: fields.sigs.sort(compareBytes),
  };
  if (fields.fileHash) ni.fileHash = fields.fileHash;
  if (fields.fileSize !== undefined) ni.fileSize = fields.fileSize;
  if (fields.deriver !== undefined) ni.deriver = fields.deriver;
  if (fields.ca !== undefined) ni.ca = fields.ca;
  if (fields.system !== undefined) ni.system = fields.system;
  return ni;
}

// ---------------------------------------------------------------------------
// Store URLs

export interface CacheUrl {
  /** The URL as given. */
  url: string;
  /** The folder (a byte string). */
  dir: string;
  compression: Compression;
  /** Files holding secret keys to sign with (`secret-key=`). */
  secretKeyFiles: string[];
  /** Parameters tsnix does not know (ignored). */
  unknown: string[];
}

/** Parse `file://DIR[?compression=none|xz][&secret-key=FILE]`. */
export function parseCacheUrl(url: string): CacheUrl {
  if (!url.startsWith('file://')) {
    throw new StoreError(`don't know how to open Nix store '${url}' (tsnix supports 'file://DIR' binary caches here)`);
  }
  const q = url.indexOf('?');
  const dir = url.slice(7, q < 0 ? undefined : q);
  if (!dir.startsWith('/')) throw new StoreError(`binary cache URL '${url}' must name an absolute folder (file:///DIR)`);
  const out: CacheUrl = { url, dir: dir.length > 1 ? dir.replace(/\/+$/, '') : dir, compression: 'xz', secretKeyFiles: [], unknown: [] };
  if (q >= 0) {
    for (const kv of url.slice(q + 1).split('&')) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      const k = eq < 0 ? kv : kv.slice(0, eq);
      const v = eq < 0 ? '' : decodeURIComponentSafe(kv.slice(eq + 1));
      if (k === 'compression') {
        if (v !== 'none' && v !== 'xz') throw new StoreError(`unknown compression method '${v}' (tsnix supports 'none' and 'xz')`);
        out.compression = v;
      } else if (k === 'secret-key') out.secretKeyFiles.push(v);
      else out.unknown.push(k);
    }
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return Buffer.from(decodeURIComponent(s), 'utf8').toString('latin1');
  } catch {
    return s;
  }
}

/** Read a secret key file (`name:base64`). */
export function readSecretKeyFile(file: string): SecretKey {
  let text: string;
  try {
    text = readFileSync(toFsPath(file)).toString('latin1');
  } catch (e) {
    throw new StoreError(`reading secret key file '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
  }
  return parseSecretKey(text);
}

// ---------------------------------------------------------------------------
// xz through the `xz` program

function runXz(args: string[], input: Buffer, what: string): Buffer {
  const r = spawnSync('xz', args, { input, maxBuffer: 1 << 30 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new StoreError(`${what} needs the 'xz' program, which is not installed (use '?compression=none')`);
    }
    throw new StoreError(`${what}: running xz: ${r.error.message}`);
  }
  if (r.status !== 0) {
    throw new StoreError(`${what}: xz failed: ${r.stderr.toString('latin1').trim() || `exit status ${r.status}`}`);
  }
  return r.stdout;
}

export function compressXz(data: Buffer): Buffer {
  return runXz(['-6', '--check=crc64', '-T1', '-c', '-q'], data, 'compressing with xz');
}

export function decompressXz(data: Buffer): Buffer {
  return runXz(['-d', '-c', '-q'], data, 'decompressing with xz');
}

// ---------------------------------------------------------------------------

/** What is uploaded for a path. */
export interface CachePathInfo {
  path: string;
  narHash: Hash;
  narSize: number;
  references: string[];
  deriver?: string;
  ca?: string;
  sigs?: string[];
}

export class FileBinaryCache {
  readonly dir: string;
  readonly url: string;
  readonly compression: Compression;
  readonly secretKeys: SecretKey[];

  constructor(
    url: CacheUrl,
    readonly storeDir: string,
  ) {
    this.dir = url.dir;
    // As CppNix names the store in messages: without the parameters.
    this.url = `file://${url.dir}`;
    this.compression = url.compression;
    this.secretKeys = url.secretKeyFiles.map(readSecretKeyFile);
  }

  private file(rel: string): Buffer {
    return toFsPath(`${this.dir}/${rel}`);
  }

  /** Prepare for writing: the folders and nix-cache-info (or check an existing one's StoreDir). */
  initForWriting(): void {
    try {
      for (const d of ['nar', 'realisations', 'log']) mkdirSync(this.file(d), { recursive: true });
    } catch (e) {
      throw new StoreError(`creating binary cache '${this.url}': ${(e as Error).message}`);
    }
    if (!this.checkCacheInfo()) this.writeAtomically('nix-cache-info', Buffer.from(`StoreDir: ${this.storeDir}\n`, 'latin1'));
  }

  /** Prepare for reading: nix-cache-info must be there, for our store directory. */
  initForReading(): void {
    if (!this.checkCacheInfo()) throw new StoreError(`'${this.url}' is not a binary cache (it has no 'nix-cache-info')`);
  }

  /** Whether nix-cache-info exists; an error if it is for another store directory. */
  private checkCacheInfo(): boolean {
    let text: string;
    try {
      text = readFileSync(this.file('nix-cache-info')).toString('latin1');
    } catch {
      return false;
    }
    for (const line of text.split('\n')) {
      const m = /^StoreDir:\s*(.*)$/.exec(line);
      if (m && m[1] !== this.storeDir) {
        throw new StoreError(`binary cache '${this.url}' is for Nix stores with prefix '${m[1]}', not '${this.storeDir}'`);
      }
    }
    return true;
  }

  private writeAtomically(rel: string, data: Buffer): void {
    const tmp = this.file(`${rel}.tmp-${process.pid}`);
    try {
      writeFileSync(tmp, data);
      renameSync(tmp, this.file(rel));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new StoreError(`writing '${this.dir}/${rel}': ${(e as Error).message}`);
    }
  }

  narInfoFile(path: string): string {
    return `${storePathHashPart(path)}.narinfo`;
  }

  /** Whether the cache has a narinfo for this path. */
  hasPath(path: string): boolean {
    return existsSync(this.file(this.narInfoFile(path)));
  }

  /** The narinfo of a path, or undefined if the cache does not have it. */
  readNarInfo(path: string): NarInfo | undefined {
    const rel = this.narInfoFile(path);
    let text: string;
    try {
      text = readFileSync(this.file(rel)).toString('latin1');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StoreError(`reading '${this.dir}/${rel}': ${(e as Error).message}`);
    }
    const ni = parseNarInfo(text, `${this.dir}/${rel}`, this.storeDir);
    if (ni.storePath !== path) return undefined;
    return ni;
  }

  /**
   * Upload a path: its NAR (compressed; not rewritten if the file exists)
   * and its narinfo, signed with the cache's secret keys. Returns the narinfo.
   */
  addPath(info: CachePathInfo, nar: Buffer): NarInfo {
    const narHasher = new HashSink('sha256').update(nar).finish();
    if (!narHasher.hash.equals(info.narHash) || narHasher.size !== info.narSize) {
      throw new StoreError(`NAR of '${info.path}' does not match its hash or size`);
    }
    const data = this.compression === 'xz' ? compressXz(nar) : nar;
    const fileHash = this.compression === 'none' ? info.narHash : new HashSink('sha256').update(data).finish().hash;
    const url = `nar/${fileHash.toNix32()}.nar${this.compression === 'xz' ? '.xz' : ''}`;
    if (!existsSync(this.file(url))) this.writeAtomically(url, data);
    const sigs = new Set(info.sigs ?? []);
    for (const k of this.secretKeys) sigs.add(signPath(info, k));
    const ni: NarInfo = {
      storePath: info.path,
      url,
      compression: this.compression,
      fileHash,
      fileSize: data.length,
      narHash: info.narHash,
      narSize: info.narSize,
      references: [...info.references].sort(compareBytes),
      sigs: [...sigs].sort(compareBytes),
    };
    if (info.deriver !== undefined) ni.deriver = info.deriver;
    if (info.ca !== undefined) ni.ca = info.ca;
    this.writeAtomically(this.narInfoFile(info.path), Buffer.from(formatNarInfo(ni, this.storeDir), 'latin1'));
    return ni;
  }

  /** The NAR of a narinfo, decompressed. */
  readNar(ni: NarInfo): Buffer {
    if (ni.url.includes('..') || ni.url.startsWith('/')) throw new StoreError(`NAR URL '${ni.url}' of '${ni.storePath}' is not inside the cache`);
    let data: Buffer;
    try {
      data = readFileSync(this.file(ni.url));
    } catch (e) {
      throw new StoreError(`reading NAR '${this.dir}/${ni.url}' of '${ni.storePath}': ${(e as Error).message}`);
    }
    switch (ni.compression) {
      case 'none':
        return data;
      case 'xz':
        return decompressXz(data);
      default:
        throw new StoreError(`NAR of '${ni.storePath}' uses compression '${ni.compression}', which tsnix does not support`);
    }
  }

  /** The size of the NAR file (for tests and messages). */
  narFileSize(ni: NarInfo): number {
    return statSync(this.file(ni.url)).size;
  }
}

// ---------------------------------------------------------------------------
// Copying

export interface CopyOptions {
  /** Progress lines (`copying path '…' to '…'...`), without newline. */
  log?: (line: string) => void;
}

/**
 * Copy the closure of `paths` (valid in `store`) to the cache, references
 * first; paths the cache has already are skipped. Returns the paths copied.
 */
export function copyToCache(store: LocalStore, cache: FileBinaryCache, paths: Iterable<string>, opts: CopyOptions = {}): string[] {
  const log = opts.log ?? ((): void => {});
  cache.initForWriting();
  const todo = store.queryRequisites(paths).filter((p) => !cache.hasPath(p));
  if (todo.length) log(`copying ${todo.length} paths...`);
  for (const p of todo) {
    log(`copying path '${p}' to '${cache.url}'...`);
    const info = store.pathInfo(p);
    const chunks: Buffer[] = [];
    for (const c of store.dumpPath(p)) chunks.push(Buffer.from(c));
    const nar = Buffer.concat(chunks);
    const got = new HashSink(info.narHash.algo).update(nar).finish().hash;
    if (!got.equals(info.narHash)) {
      throw new StoreError(`hash of path '${p}' has changed from '${info.narHash.toString()}' to '${got.toString()}'!`);
    }
    const ci: CachePathInfo = { path: p, narHash: info.narHash, narSize: info.narSize, references: info.references, sigs: info.sigs };
    if (info.deriver !== undefined) ci.deriver = info.deriver;
    if (info.ca !== undefined) ci.ca = info.ca;
    cache.addPath(ci, nar);
  }
  return todo;
}

export interface CopyFromOptions extends CopyOptions {
  /**
   * Trusted keys. When given (and `checkSigs` is not false), every path
   * that is not content-addressed needs a valid signature by one of them.
   */
  publicKeys?: PublicKeys;
  /** Require signatures even when no key is trusted (then nothing unsigned-CA passes). */
  requireSigs?: boolean;
  /** False: accept paths without checking signatures (`--no-check-sigs`). */
  checkSigs?: boolean;
}

/** Whether a narinfo's content address gives its store path (then no signature is needed, as in CppNix). */
function isContentAddressed(ni: NarInfo, storeDir: string): boolean {
  if (ni.ca === undefined) return false;
  try {
    const refs = ni.references.filter((r) => r !== ni.storePath);
    const name = ni.storePath.slice(storeDir.length + 34);
    return makeContentAddressedPath(name, parseContentAddress(ni.ca), refs, storeDir, refs.length !== ni.references.length) === ni.storePath;
  } catch {
    return false;
  }
}

/**
 * Substitute the closure of `paths` from the cache into the local store.
 * Every NAR is checked against its NarHash/NarSize (and content address);
 * signatures as `opts` says. All new paths become valid in one transaction.
 * Returns the paths copied (those that were not valid yet), references first.
 */
export function copyFromCache(store: LocalStore, cache: FileBinaryCache, paths: Iterable<string>, opts: CopyFromOptions = {}): string[] {
  const log = opts.log ?? ((): void => {});
  cache.initForReading();
  // The closure in the cache, skipping what is valid locally.
  const infos = new Map<string, NarInfo>();
  const todo = [...paths];
  while (todo.length) {
    const p = todo.pop() as string;
    if (infos.has(p) || store.isValidPath(p)) continue;
    const ni = cache.readNarInfo(p);
    if (!ni) throw new StoreError(`path '${p}' is not valid in binary cache '${cache.url}'`);
    infos.set(p, ni);
    for (const r of ni.references) if (r !== p) todo.push(r);
  }
  const keys = opts.publicKeys ?? new Map();
  const mustSign = opts.checkSigs !== false && (keys.size > 0 || opts.requireSigs === true);
  // References first.
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const r of (infos.get(p) as NarInfo).references) if (r !== p && infos.has(r)) visit(r);
    order.push(p);
  };
  for (const p of [...infos.keys()].sort(compareBytes)) visit(p);
  if (mustSign) {
    for (const p of order) {
      const ni = infos.get(p) as NarInfo;
      const info = { path: p, narHash: ni.narHash, narSize: ni.narSize, references: ni.references };
      if (!isContentAddressed(ni, store.storeDir) && countValidSignatures(info, ni.sigs, keys) === 0) {
        throw new StoreError(`cannot add path '${p}' because it lacks a valid signature`);
      }
    }
  }
  if (order.length) log(`copying ${order.length} paths...`);
  const items: { info: ReceivedPathInfo; nar: IncomingNar }[] = [];
  try {
    for (const p of order) {
      log(`copying path '${p}' from '${cache.url}'...`);
      const ni = infos.get(p) as NarInfo;
      const nar = store.receiveNar();
      items.push({ info: receivedInfo(ni), nar });
      const rest = nar.push(cache.readNar(ni));
      nar.end();
      if (rest.length) throw new StoreError(`NAR of '${p}' in '${cache.url}' has trailing data`);
    }
  } catch (e) {
    for (const { nar } of items) nar.discard();
    throw e;
  }
  if (items.length) store.addReceivedPaths(items);
  return order;
}

function receivedInfo(ni: NarInfo): ReceivedPathInfo {
  const info: ReceivedPathInfo = {
    path: ni.storePath,
    narHash: ni.narHash,
    narSize: ni.narSize,
    references: ni.references,
    sigs: ni.sigs,
  };
  if (ni.deriver !== undefined) info.deriver = ni.deriver;
  if (ni.ca !== undefined) info.ca = ni.ca;
  return info;
}
