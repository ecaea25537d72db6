/**
 * `nix-store --export` / `--import`: a stream of store paths with their
 * metadata. For each path:
 *
 *   u64 1, the NAR, u64 0x4558494e ('NIXE'), string path,
 *   u64 n + n strings (references, sorted), string deriver ('' if none),
 *   u64 0 (no legacy signature; 1 + a string is accepted and ignored)
 *
 * and after the last path u64 0. A u64 is 8 bytes little-endian; a string
 * is its length as u64, the bytes, zero padding to a multiple of 8.
 *
 * Export writes the paths in dependency order (references first), as
 * CppNix does, checking that each NAR still has its registered hash.
 * Import unpacks each NAR under a temporary name while it streams in, and
 * registers all the paths in one transaction at the end (CppNix commits
 * them one by one; here a failed import leaves nothing registered).
 * Imported paths have no content address and are not "ultimate", as in
 * CppNix.
 */
import { StoreError } from './compute-store.js';
import { HashSink } from './hash.js';
import { IncomingNar, type LocalStore, type ReceivedPathInfo } from './local-store.js';
import { compareBytes } from './store-path.js';

export const EXPORT_MAGIC = 0x4558494e;

/** Longest path string accepted in a stream (a store path is far shorter). */
const MAX_PATH_STRING = 64 * 1024;
const MAX_REFERENCES = 1 << 20;

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n % 0x100000000, 0);
  b.writeUInt32LE(Math.floor(n / 0x100000000), 4);
  return b;
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  const pad = (8 - (bytes.length % 8)) % 8;
  return Buffer.concat([u64(bytes.length), bytes, Buffer.alloc(pad)]);
}

/**
 * Write the export stream of `paths` (valid store paths) to `sink`, in
 * dependency order. Fails if a path is not valid or its contents no longer
 * match the registered NAR hash.
 */
export function exportPaths(store: LocalStore, paths: Iterable<string>, sink: (chunk: Buffer) => void): void {
  const infos = [...new Set(paths)].map((p) => store.pathInfo(p));
  for (const path of store.topoSortPaths(infos.map((i) => i.path))) {
    const info = store.pathInfo(path);
    sink(u64(1));
    const hasher = new HashSink(info.narHash.algo);
    for (const chunk of store.dumpPath(path)) {
      hasher.update(chunk);
      sink(chunk);
    }
    const got = hasher.finish().hash;
    if (!got.equals(info.narHash)) {
      throw new StoreError(`hash of path '${path}' has changed from '${info.narHash.toString()}' to '${got.toString()}'!`);
    }
    const refs = [...info.references].sort(compareBytes);
    sink(Buffer.concat([u64(EXPORT_MAGIC), str(path), u64(refs.length), ...refs.map(str), str(info.deriver ?? ''), u64(0)]));
  }
  sink(u64(0));
}

/** The whole export stream of `paths` in memory. */
export function exportPathsToBuffer(store: LocalStore, paths: Iterable<string>): Buffer {
  const chunks: Buffer[] = [];
  exportPaths(store, paths, (c) => chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks);
}

const NOT_EXPORT = "input doesn't look like something created by 'nix-store --export'";

/** Reads the fixed-size parts of the stream from chunks, and hands NAR bytes to an IncomingNar. */
class StreamReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const c = Buffer.from(r.value);
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    return true;
  }

  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (!(await this.more())) throw new StoreError('unexpected end-of-file in the import stream');
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async u64(): Promise<number> {
    const b = await this.bytes(8);
    const hi = b.readUInt32LE(4);
    if (hi >= 0x200000) throw new StoreError('number in the import stream is too large');
    return hi * 0x100000000 + b.readUInt32LE(0);
  }

  /** A u64 that must be small (0 or 1 in the places it is used); any other value gives -1. */
  async tag(): Promise<number> {
    const b = await this.bytes(8);
    return b.readUInt32LE(4) === 0 && b.readUInt32LE(0) <= 1 ? b.readUInt32LE(0) : -1;
  }

  async string(max: number): Promise<string> {
    const len = await this.u64();
    if (len > max) throw new StoreError('string in the import stream is too long');
    const padded = len + ((8 - (len % 8)) % 8);
    const b = await this.bytes(padded);
    for (let i = len; i < padded; i++) if (b[i] !== 0) throw new StoreError('non-zero padding in the import stream');
    return b.subarray(0, len).toString('latin1');
  }

  /** Feed the stream to `nar` until it is complete; what follows stays buffered. */
  async nar(nar: IncomingNar): Promise<void> {
    for (;;) {
      if (this.buf.length) {
        const chunk = this.buf;
        this.buf = Buffer.alloc(0);
        const rest = nar.push(chunk);
        if (nar.done) {
          this.buf = rest;
          nar.end();
          return;
        }
      }
      if (!(await this.more())) {
        nar.end(); // throws: truncated
        return;
      }
    }
  }
}

/**
 * Import an export stream into the store (`nix-store --import`). Returns the
 * imported paths in stream order (including those that were valid already).
 * All new paths become valid in one transaction; on any error none does.
 */
export async function importPaths(
  store: LocalStore,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<string[]> {
  const r = new StreamReader(source);
  const items: { info: ReceivedPathInfo; nar: IncomingNar }[] = [];
  try {
    for (;;) {
      const n = await r.tag();
      if (n === 0) break;
      if (n !== 1) throw new StoreError(NOT_EXPORT);
      const nar = store.receiveNar();
      let pushed = false;
      try {
        await r.nar(nar);
        const magic = await r.bytes(8);
        if (magic.readUInt32LE(0) !== EXPORT_MAGIC || magic.readUInt32LE(4) !== 0) throw new StoreError('Nix archive cannot be imported; wrong format');
        const path = await r.string(MAX_PATH_STRING);
        const count = await r.u64();
        if (count > MAX_REFERENCES) throw new StoreError('too many references in the import stream');
        const references: string[] = [];
        for (let i = 0; i < count; i++) references.push(await r.string(MAX_PATH_STRING));
        const deriver = await r.string(MAX_PATH_STRING);
        if ((await r.tag()) === 1) await r.string(MAX_PATH_STRING); // legacy signature, ignored
        const info: ReceivedPathInfo = { path, references };
        if (deriver !== '') info.deriver = deriver;
        items.push({ info, nar });
        pushed = true;
      } finally {
        if (!pushed) nar.discard();
      }
    }
    for (const { info } of items) {
      if (info.deriver !== undefined) checkPath(store, info.deriver);
      for (const ref of info.references) checkPath(store, ref);
    }
  } catch (e) {
    for (const { nar } of items) nar.discard();
    throw e;
  }
  if (items.length === 0) return [];
  return store.addReceivedPaths(items);
}

function checkPath(store: LocalStore, p: string): void {
  if (!p.startsWith(store.storeDir + '/') || p.indexOf('/', store.storeDir.length + 1) >= 0) {
    throw new StoreError(`path '${p}' is not in the Nix store`);
  }
}
