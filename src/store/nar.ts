/**
 * NAR (Nix ARchive): the canonical serialisation of a file-system tree.
 *
 * Every string is a little-endian u64 length, the bytes, and zero padding to a
 * multiple of 8. A node is
 *   ( type regular [executable ""] contents <bytes> )
 *   ( type symlink target <target> )
 *   ( type directory { entry ( name <name> node <node> ) }* )
 * after the magic `nix-archive-1`. Directory entries are sorted by the byte
 * order of their names; a regular file is executable when the owner x bit is set.
 *
 * Serialisation streams in chunks (never a whole tree in memory); restoration
 * is a push parser (NarParser) that validates as it goes and writes only
 * inside the target.
 *
 * Paths: a `string` path is a byte string (each char code one byte, as Nix
 * strings are), a Buffer is raw bytes. Names handed to callbacks are byte strings.
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  futimesSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { toFsPath, type FsPath } from './fs-path.js';
import { HashSink, type Hash, type HashAlgo } from './hash.js';

export const NAR_MAGIC = 'nix-archive-1';

/** Errors in NAR data (bad tokens, names, order, truncation). `offset` is the byte offset in the NAR. */
export class NarFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset} of the NAR)`);
    this.name = 'NarFormatError';
  }
}

/** A file that cannot be archived (unsupported type, changed while being read). */
export class NarDumpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NarDumpError';
  }
}

// ---------------------------------------------------------------------------
// Serialisation

const DEFAULT_CHUNK = 256 * 1024;

/** NAR framing: each token as a length-prefixed, 8-byte padded string. */
export function encodeTokens(...tokens: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const t of tokens) {
    const b = Buffer.from(t, 'latin1');
    const len = Buffer.alloc(8);
    len.writeUInt32LE(b.length, 0);
    parts.push(len, b, Buffer.alloc((8 - (b.length % 8)) % 8));
  }
  return Buffer.concat(parts);
}

export const T_MAGIC = encodeTokens(NAR_MAGIC);
export const T_REGULAR = encodeTokens('(', 'type', 'regular', 'contents');
export const T_EXECUTABLE = encodeTokens('(', 'type', 'regular', 'executable', '', 'contents');
export const T_SYMLINK = encodeTokens('(', 'type', 'symlink', 'target');
export const T_DIRECTORY = encodeTokens('(', 'type', 'directory');
export const T_ENTRY = encodeTokens('entry', '(', 'name');
export const T_NODE = encodeTokens('node');
export const T_CLOSE = encodeTokens(')');
const ZEROS = Buffer.alloc(8);

/**
 * Buffers NAR output into chunks of a fixed size. With `reuse`, a chunk's
 * memory is recycled once the consumer has had it (see `drain`), so chunks
 * are only valid until the consumer returns.
 */
class ChunkWriter {
  private buf: Buffer;
  private pos = 0;
  /** Full chunks waiting to be handed out. */
  readonly ready: Buffer[] = [];
  private readonly pool: Buffer[] = [];

  constructor(
    private readonly chunkSize: number,
    private readonly reuse = false,
  ) {
    this.buf = this.alloc();
  }

  private alloc(): Buffer {
    if (this.reuse) return this.pool.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
    return Buffer.allocUnsafe(this.chunkSize);
  }

  /** The consumer is done with a chunk from `ready`. */
  release(chunk: Buffer): void {
    if (this.reuse && chunk.byteOffset === 0 && chunk.buffer.byteLength === this.chunkSize) {
      this.pool.push(Buffer.from(chunk.buffer, 0, this.chunkSize));
    }
  }

  flush(): void {
    if (this.pos > 0) {
      this.ready.push(this.buf.subarray(0, this.pos));
      this.buf = this.alloc();
      this.pos = 0;
    }
  }

  write(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      if (this.pos === this.buf.length) this.flush();
      const n = Math.min(b.length - off, this.buf.length - this.pos);
      this.buf.set(b.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
    }
  }

  u64(n: number): void {
    if (this.buf.length - this.pos < 8) this.flush();
    this.buf.writeUInt32LE(n % 0x100000000, this.pos);
    this.buf.writeUInt32LE(Math.floor(n / 0x100000000), this.pos + 4);
    this.pos += 8;
  }

  /** A NAR string: length, bytes, padding. */
  str(b: Uint8Array): void {
    this.u64(b.length);
    this.write(b);
    this.pad(b.length);
  }

  pad(len: number): void {
    const p = (8 - (len % 8)) % 8;
    if (p) this.write(ZEROS.subarray(0, p));
  }

  /**
   * Read up to `remaining` bytes of an open file straight into the chunk
   * buffer (at most what fits). Returns the number read, 0 at end of file.
   */
  readFrom(fd: number, remaining: number): number {
    if (this.pos === this.buf.length) this.flush();
    const want = Math.min(remaining, this.buf.length - this.pos);
    const n = readSync(fd, this.buf, this.pos, want, null);
    this.pos += n;
    return n;
  }
}

/** Hand out the full chunks, recycling each once the consumer is back. */
function* drain(w: ChunkWriter): Generator<Buffer, void, undefined> {
  while (w.ready.length) {
    const c = w.ready.shift() as Buffer;
    yield c;
    w.release(c);
  }
}

export type NarEntryType = 'regular' | 'directory' | 'symlink' | 'unknown';

export interface DumpOptions {
  /** Chunk size in bytes (default 256 KiB). */
  chunkSize?: number;
  /**
   * Recycle chunk memory: each chunk is valid only until the consumer asks
   * for the next one (or its sink returns). Faster for hashing; do not keep
   * the chunks. Default false.
   */
  reuseChunks?: boolean;
  /**
   * Called for every entry below the root (not for the root itself) with its
   * full path (a byte string) and type; return false to leave it out, as
   * `builtins.path { filter }` / `filterSource` do.
   */
  filter?: (path: string, type: NarEntryType) => boolean;
}

function entryType(st: Stats): NarEntryType {
  if (st.isFile()) return 'regular';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'unknown';
}

const SLASH = Buffer.from('/');

/**
 * The NAR of the tree at `path`, as a synchronous iterable of chunks (each a
 * fresh Buffer the consumer may keep, unless `reuseChunks`). File-system
 * access is synchronous; memory use is one chunk plus one directory listing
 * per open directory level.
 */
export function* narChunks(path: FsPath, opts: DumpOptions = {}): Generator<Buffer, void, undefined> {
  const w = new ChunkWriter(opts.chunkSize ?? DEFAULT_CHUNK, opts.reuseChunks === true);
  const root = toFsPath(path);
  w.write(T_MAGIC);
  yield* dumpNode(root, lstatSync(root), w, opts);
  w.flush();
  yield* drain(w);
}

function* dumpNode(
  p: Buffer,
  st: Stats,
  w: ChunkWriter,
  opts: DumpOptions,
): Generator<Buffer, void, undefined> {
  if (st.isFile()) {
    const size = st.size;
    w.write((st.mode & 0o100) !== 0 ? T_EXECUTABLE : T_REGULAR);
    w.u64(size);
    const fd = openSync(p, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      let remaining = size;
      while (remaining > 0) {
        const n = w.readFrom(fd, remaining);
        if (n === 0) {
          throw new NarDumpError(`file '${p.toString('latin1')}' got shorter while it was being archived`);
        }
        remaining -= n;
        if (w.ready.length) yield* drain(w);
      }
    } finally {
      closeSync(fd);
    }
    w.pad(size);
    w.write(T_CLOSE);
  } else if (st.isSymbolicLink()) {
    w.write(T_SYMLINK);
    w.str(readlinkSync(p, { encoding: 'buffer' }));
    w.write(T_CLOSE);
  } else if (st.isDirectory()) {
    w.write(T_DIRECTORY);
    const names = readdirSync(p, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const name of names) {
      const child = Buffer.concat([p, SLASH, name]);
      const cst = lstatSync(child);
      if (opts.filter && !opts.filter(child.toString('latin1'), entryType(cst))) continue;
      w.write(T_ENTRY);
      w.str(name);
      w.write(T_NODE);
      yield* dumpNode(child, cst, w, opts);
      w.write(T_CLOSE);
      if (w.ready.length) yield* drain(w);
    }
    w.write(T_CLOSE);
  } else {
    throw new NarDumpError(`file '${p.toString('latin1')}' has an unsupported type`);
  }
  if (w.ready.length) yield* drain(w);
}

/** Stream the NAR of `path` into `sink`, synchronously. */
export function dumpPathSync(path: FsPath, sink: (chunk: Buffer) => void, opts: DumpOptions = {}): void {
  for (const c of narChunks(path, opts)) sink(c);
}

/** Bytes between two yields to the event loop in the async functions. */
const YIELD_EVERY = 8 * 1024 * 1024;

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Stream the NAR of `path` into `sink`. If the sink returns a promise, it is
 * awaited before the next chunk (back-pressure). The event loop gets a turn
 * every few MiB even for a synchronous sink.
 */
export async function dumpPath(
  path: FsPath,
  sink: (chunk: Buffer) => void | Promise<void>,
  opts: DumpOptions = {},
): Promise<void> {
  let since = 0;
  for (const c of narChunks(path, opts)) {
    const r = sink(c);
    if (r) await r;
    since += c.length;
    if (since >= YIELD_EVERY) {
      since = 0;
      await nextTick();
    }
  }
}

/** The NAR of `path` as an async iterable (e.g. for `stream.Readable.from`). */
export async function* narStream(path: FsPath, opts: DumpOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  let since = 0;
  for (const c of narChunks(path, opts)) {
    yield c;
    since += c.length;
    if (since >= YIELD_EVERY) {
      since = 0;
      await nextTick();
    }
  }
}

export interface NarHashResult {
  hash: Hash;
  /** Length of the NAR in bytes. */
  narSize: number;
}

/**
 * A sink that hashes a NAR while it streams past and counts its size:
 * `const s = new NarHashSink(); dumpPathSync(p, s.sink); s.finish()`.
 */
export class NarHashSink {
  private readonly h: HashSink;
  constructor(algo: HashAlgo = 'sha256') {
    this.h = new HashSink(algo);
  }
  /** Bound, so it can be passed as a callback. */
  readonly sink = (chunk: Uint8Array): void => {
    this.h.update(chunk);
  };
  get size(): number {
    return this.h.size;
  }
  finish(): NarHashResult {
    const { hash, size } = this.h.finish();
    return { hash, narSize: size };
  }
}

/** NAR hash and size of the tree at `path` (`nix-hash --type algo path`), synchronously. */
export function hashPathSync(path: FsPath, algo: HashAlgo = 'sha256', opts: DumpOptions = {}): NarHashResult {
  const s = new NarHashSink(algo);
  dumpPathSync(path, s.sink, { reuseChunks: true, ...opts });
  return s.finish();
}

/** NAR hash and size of the tree at `path`, giving the event loop a turn now and then. */
export async function hashPath(
  path: FsPath,
  algo: HashAlgo = 'sha256',
  opts: DumpOptions = {},
): Promise<NarHashResult> {
  const s = new NarHashSink(algo);
  await dumpPath(path, s.sink, { reuseChunks: true, ...opts });
  return s.finish();
}

/** The NAR of a single regular file with the given contents. */
export function narFromContents(contents: string | Uint8Array, executable = false): Buffer {
  const data = typeof contents === 'string' ? Buffer.from(contents, 'latin1') : contents;
  const w = new ChunkWriter(Math.max(DEFAULT_CHUNK, data.length + 256));
  w.write(T_MAGIC);
  w.write(executable ? T_EXECUTABLE : T_REGULAR);
  w.str(data);
  w.write(T_CLOSE);
  w.flush();
  return Buffer.concat(w.ready);
}

// ---------------------------------------------------------------------------
// Parsing

/** Receives the parts of a NAR in order. Paths are relative byte strings, '' for the root. */
export interface NarHandler {
  directory(path: string): void;
  /** A regular file begins; `contents` calls follow, then `fileEnd`. */
  file(path: string, executable: boolean, size: number): void;
  contents(chunk: Buffer): void;
  fileEnd(): void;
  symlink(path: string, target: string): void;
  /** A directory's entries are complete. */
  directoryEnd?(path: string): void;
}

export interface NarParserOptions {
  /** Longest entry name accepted (default 255, NAME_MAX on Linux). */
  maxNameLength?: number;
  /** Longest symlink target accepted (default 4095). */
  maxTargetLength?: number;
  /** Deepest directory nesting accepted (default 2048). */
  maxDepth?: number;
  /** Keep bytes after the end of the NAR instead of failing (see takeTrailing). */
  allowTrailing?: boolean;
}

const MAX_TAG = 64;
const EMPTY = Buffer.alloc(0);

/** Thrown inside a parsing unit when the buffered bytes run out; the unit is retried with more. */
const UNDERFLOW = Symbol('underflow');

enum S {
  Magic,
  Node,
  Contents,
  FileEnd,
  EntryEnd,
  DirNext,
  Done,
}

interface Frame {
  path: string;
  prev: string | undefined;
}

/**
 * A push parser for NARs: feed it chunks with `push`, then call `end`.
 * Callbacks run synchronously inside `push`; file contents are handed on as
 * slices of the pushed chunks, without copying. Anything malformed throws a
 * NarFormatError: bad magic or tags, non-zero padding, entry names that are
 * empty, `.`, `..`, contain `/` or NUL, are duplicated or out of order,
 * non-canonical attribute order, truncation (at `end`), trailing data.
 *
 * It is a state machine over small "units" (a node header, a directory
 * entry header, …): a unit is parsed only once all its bytes are buffered, and
 * has no effect until it is complete, so a chunk boundary anywhere is harmless.
 */
export class NarParser {
  /** Unconsumed input: `buf[pos..]`; `base` is the NAR offset of `buf[0]`. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  private base = 0;
  private state = S.Magic;
  private readonly stack: Frame[] = [];
  private cur = '';
  /** Bytes of file contents still to come, and the file's size. */
  private remaining = 0;
  private fileSize = 0;
  private trailing: Buffer[] = [];
  private readonly maxName: number;
  private readonly maxTarget: number;
  private readonly maxDepth: number;

  constructor(
    private readonly handler: NarHandler,
    private readonly opts: NarParserOptions = {},
  ) {
    this.maxName = opts.maxNameLength ?? 255;
    this.maxTarget = opts.maxTargetLength ?? 4095;
    this.maxDepth = opts.maxDepth ?? 2048;
  }

  /** NAR bytes consumed so far (the NAR size once `done`). */
  get offset(): number {
    return this.base + this.pos;
  }

  get done(): boolean {
    return this.state === S.Done;
  }

  push(chunk: Uint8Array): void {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (b.length === 0) return;
    if (this.state === S.Done) {
      this.addTrailing(b);
      return;
    }
    if (this.pos < this.buf.length) {
      // A unit straddles the boundary: join what is left (a few bytes, never file contents) with the chunk.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), b]);
    } else {
      this.buf = b;
    }
    this.base += this.pos;
    this.pos = 0;
    this.run();
    if (this.done && this.pos < this.buf.length) {
      const rest = this.buf.subarray(this.pos);
      this.base += this.pos;
      this.buf = EMPTY;
      this.pos = 0;
      this.addTrailing(rest);
    }
  }

  /** Signal the end of input; throws if the NAR is incomplete. Returns the NAR size. */
  end(): number {
    if (this.state !== S.Done) {
      throw new NarFormatError('unexpected end of NAR (truncated input)', this.base + this.buf.length);
    }
    return this.offset;
  }

  /** Bytes that followed the NAR (only with allowTrailing). */
  takeTrailing(): Buffer {
    const t = Buffer.concat(this.trailing);
    this.trailing = [];
    return t;
  }

  /** Number of bytes that followed the NAR so far. */
  get trailingLength(): number {
    let n = 0;
    for (const t of this.trailing) n += t.length;
    return n;
  }

  private addTrailing(b: Buffer): void {
    if (!this.opts.allowTrailing) {
      throw new NarFormatError('trailing data after the end of the NAR', this.offset);
    }
    this.trailing.push(b);
  }

  // -- primitives; they throw UNDERFLOW when the bytes are not there yet --

  private fail(message: string, at: number): never {
    throw new NarFormatError(message, this.base + at);
  }

  private u64(): number {
    const p = this.pos;
    if (this.buf.length - p < 8) throw UNDERFLOW;
    const lo = this.buf.readUInt32LE(p);
    const hi = this.buf.readUInt32LE(p + 4);
    if (hi > 0x1fffff) this.fail('number too large', p);
    this.pos = p + 8;
    return hi * 0x100000000 + lo;
  }

  private padding(len: number): void {
    const n = (8 - (len % 8)) % 8;
    if (this.buf.length - this.pos < n) throw UNDERFLOW;
    for (let i = 0; i < n; i++) if (this.buf[this.pos + i] !== 0) this.fail('non-zero padding', this.pos + i);
    this.pos += n;
  }

  /** A string of at most `max` bytes, as a byte string. */
  private str(max: number, what: string): string {
    const at = this.pos;
    const len = this.u64();
    if (len > max) this.fail(`${what} is ${len} bytes long, more than the limit of ${max}`, at);
    const padded = len + ((8 - (len % 8)) % 8);
    if (this.buf.length - this.pos < padded) throw UNDERFLOW;
    const s = this.buf.toString('latin1', this.pos, this.pos + len);
    this.pos += len;
    this.padding(len);
    return s;
  }

  private expect(token: string, context: string): void {
    const at = this.pos;
    const buf = this.buf;
    const len = token.length;
    // Fast path: compare the bytes in place.
    if (buf.length - at >= 16 && buf.readUInt32LE(at) === len && buf.readUInt32LE(at + 4) === 0) {
      let ok = true;
      for (let i = 0; i < len; i++) {
        if (buf[at + 8 + i] !== token.charCodeAt(i)) {
          ok = false;
          break;
        }
      }
      if (ok) {
        this.pos = at + 8 + len;
        this.padding(len);
        return;
      }
    }
    const t = this.str(MAX_TAG, 'a tag');
    if (t !== token) this.fail(`expected '${token}' ${context}, got '${printable(t)}'`, at);
  }

  // -- the state machine --

  private run(): void {
    for (;;) {
      const unitStart = this.pos;
      try {
        switch (this.state) {
          case S.Contents: {
            const avail = this.buf.length - this.pos;
            if (avail === 0) return;
            const k = Math.min(avail, this.remaining);
            const piece = this.buf.subarray(this.pos, this.pos + k);
            this.pos += k;
            this.remaining -= k;
            this.handler.contents(piece);
            if (this.remaining === 0) {
              this.handler.fileEnd();
              this.state = S.FileEnd;
            }
            break;
          }
          case S.Magic:
            this.unitMagic();
            break;
          case S.Node:
            this.unitNode();
            break;
          case S.FileEnd:
            this.padding(this.fileSize);
            this.expect(')', 'at the end of a regular file');
            this.nodeDone();
            break;
          case S.EntryEnd:
            this.expect(')', 'at the end of a directory entry');
            this.state = S.DirNext;
            break;
          case S.DirNext:
            this.unitDirNext();
            break;
          case S.Done:
            return;
        }
      } catch (e) {
        if (e === UNDERFLOW) {
          this.pos = unitStart;
          return;
        }
        throw e;
      }
    }
  }

  private unitMagic(): void {
    if (this.buf.length - this.pos < 8) throw UNDERFLOW;
    if (this.buf.readUInt32LE(this.pos) !== NAR_MAGIC.length || this.buf.readUInt32LE(this.pos + 4) !== 0) {
      this.fail('not a NAR: it does not start with the NAR magic', this.pos);
    }
    const at = this.pos;
    const m = this.str(MAX_TAG, 'the NAR magic');
    if (m !== NAR_MAGIC) this.fail(`not a NAR: bad magic '${printable(m)}'`, at);
    this.state = S.Node;
  }

  private unitNode(): void {
    this.expect('(', 'at the start of a node');
    this.expect('type', 'in a node');
    const typeAt = this.pos;
    const type = this.str(MAX_TAG, 'a node type');
    if (type === 'regular') {
      let tagAt = this.pos;
      let tag = this.str(MAX_TAG, 'a tag');
      let executable = false;
      if (tag === 'executable') {
        const at = this.pos;
        if (this.str(MAX_TAG, "the value of 'executable'") !== '') {
          this.fail(`'executable' must be followed by an empty string`, at);
        }
        executable = true;
        tagAt = this.pos;
        tag = this.str(MAX_TAG, 'a tag');
      }
      if (tag !== 'contents') this.fail(`expected 'contents' in a regular file, got '${printable(tag)}'`, tagAt);
      const size = this.u64();
      // complete: commit
      this.handler.file(this.cur, executable, size);
      this.fileSize = size;
      this.remaining = size;
      if (size > 0) {
        this.state = S.Contents;
      } else {
        this.handler.fileEnd();
        this.state = S.FileEnd;
      }
    } else if (type === 'symlink') {
      this.expect('target', 'in a symlink');
      const at = this.pos;
      const target = this.str(this.maxTarget, 'a symlink target');
      if (target.length === 0) this.fail('empty symlink target', at);
      if (target.includes('\0')) this.fail('symlink target contains a NUL byte', at);
      this.expect(')', 'at the end of a symlink');
      this.handler.symlink(this.cur, target);
      this.nodeDone();
    } else if (type === 'directory') {
      if (this.stack.length >= this.maxDepth) {
        this.fail(`directories nested deeper than ${this.maxDepth} levels`, typeAt);
      }
      this.handler.directory(this.cur);
      this.stack.push({ path: this.cur, prev: undefined });
      this.state = S.DirNext;
    } else {
      this.fail(`unknown file type '${printable(type)}'`, typeAt);
    }
  }

  private unitDirNext(): void {
    const top = this.stack[this.stack.length - 1] as Frame;
    const at = this.pos;
    const tag = this.str(MAX_TAG, 'a tag');
    if (tag === ')') {
      this.stack.pop();
      this.handler.directoryEnd?.(top.path);
      this.nodeDone();
      return;
    }
    if (tag !== 'entry') this.fail(`expected 'entry' or ')' in a directory, got '${printable(tag)}'`, at);
    this.expect('(', "after 'entry'");
    this.expect('name', 'in a directory entry');
    const nameAt = this.pos;
    const name = this.str(this.maxName, 'an entry name');
    checkEntryName(name, this.base + nameAt);
    if (top.prev !== undefined && !(name > top.prev)) {
      this.fail(
        name === top.prev
          ? `duplicate entry name '${printable(name)}'`
          : `entry name '${printable(name)}' is out of order (after '${printable(top.prev)}')`,
        nameAt,
      );
    }
    this.expect('node', 'in a directory entry');
    top.prev = name;
    this.cur = top.path === '' ? name : `${top.path}/${name}`;
    this.state = S.Node;
  }

  private nodeDone(): void {
    this.state = this.stack.length === 0 ? S.Done : S.EntryEnd;
  }
}

function checkEntryName(name: string, at: number): void {
  if (name.length === 0) throw new NarFormatError('empty entry name', at);
  if (name === '.' || name === '..') throw new NarFormatError(`invalid entry name '${name}'`, at);
  if (name.includes('/')) throw new NarFormatError(`entry name '${printable(name)}' contains '/'`, at);
  if (name.includes('\0')) throw new NarFormatError(`entry name '${printable(name)}' contains a NUL byte`, at);
}

/** Byte string for an error message, with control characters escaped and long ones cut. */
function printable(s: string): string {
  const cut = s.length > 80 ? s.slice(0, 80) + '…' : s;
  return cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// ---------------------------------------------------------------------------
// Restoration

export interface RestoreOptions extends NarParserOptions {
  /** Also hash the NAR bytes with this algorithm while restoring. */
  hashAlgo?: HashAlgo;
  /** Remove what was written if restoring fails (default true). */
  cleanupOnError?: boolean;
  /**
   * Write the tree in the store's canonical form straight away: files 0444
   * (0555 if executable), directories 0555, mtime 1 for everything,
   * symlinks included. Default false: 0666/0777 and 0777 minus the umask, and
   * the current time.
   */
  canonicalise?: boolean;
}

export interface RestoreResult {
  narSize: number;
  /** Present when `hashAlgo` was given. */
  hash?: Hash;
}

const O_CREATE_FILE =
  fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * Writes a NAR's tree under `target`, which must not exist yet. Every path it
 * creates is `target` or below a directory it created itself, and files are
 * created with O_EXCL|O_NOFOLLOW, so nothing outside `target` is touched.
 */
export class NarRestorer implements NarHandler {
  private fd: number | undefined;
  private fileMode = 0;
  readonly target: Buffer;
  /** True once `target` itself has been created. */
  created = false;
  private readonly canonical: boolean;
  /** The umask would strip bits of 0555, so modes are set explicitly. */
  private readonly needChmod: boolean;

  constructor(target: FsPath, opts: { canonicalise?: boolean } = {}) {
    this.target = toFsPath(target);
    this.canonical = opts.canonicalise === true;
    this.needChmod = this.canonical && (process.umask() & 0o555) !== 0;
  }

  private p(rel: string): Buffer {
    return rel === '' ? this.target : Buffer.concat([this.target, SLASH, Buffer.from(rel, 'latin1')]);
  }

  directory(path: string): void {
    mkdirSync(this.p(path), 0o777);
    if (path === '') this.created = true;
  }

  directoryEnd(path: string): void {
    if (this.canonical) {
      const p = this.p(path);
      chmodSync(p, 0o555);
      utimesSync(p, 1, 1);
    }
  }

  file(path: string, executable: boolean): void {
    this.fileMode = this.canonical ? (executable ? 0o555 : 0o444) : executable ? 0o777 : 0o666;
    this.fd = openSync(this.p(path), O_CREATE_FILE, this.fileMode);
    if (path === '') this.created = true;
  }

  contents(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd as number, chunk, off, chunk.length - off);
  }

  fileEnd(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      try {
        if (this.canonical) {
          if (this.needChmod) fchmodSync(fd, this.fileMode);
          futimesSync(fd, 1, 1);
        }
      } finally {
        closeSync(fd);
      }
    }
  }

  symlink(path: string, target: string): void {
    const p = this.p(path);
    symlinkSync(Buffer.from(target, 'latin1'), p);
    if (path === '') this.created = true;
    if (this.canonical) lutimesSync(p, 1, 1);
  }

  /** Close any open file (after an error). */
  abort(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      closeSync(fd);
    }
  }
}

function removeCreated(r: NarRestorer): void {
  r.abort();
  if (!r.created) return;
  // A canonicalised directory is read-only; make directories writable again to delete them.
  const unlock = (p: Buffer): void => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st?.isDirectory()) return;
    chmodSync(p, 0o755);
    for (const n of readdirSync(p, { encoding: 'buffer' })) unlock(Buffer.concat([p, SLASH, n]));
  };
  try {
    unlock(r.target);
  } catch {
    // best effort; rmSync reports what cannot be removed
  }
  rmSync(r.target, { recursive: true, force: true });
}

/**
 * Restore a NAR read from `source` (chunks, sync or async) into `target`,
 * which must not exist. Each chunk is parsed, hashed and written before the
 * next one is requested, so a source may reuse its buffers (e.g.
 * `narChunks(path, { reuseChunks: true })`). On failure the partial tree is
 * removed (unless `cleanupOnError` is false) and the error rethrown.
 */
export async function restorePath(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  target: FsPath,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  const restorer = new NarRestorer(target, opts);
  const parser = new NarParser(restorer, opts);
  const hasher = opts.hashAlgo ? new HashSink(opts.hashAlgo) : undefined;
  try {
    if (Symbol.asyncIterator in source) {
      for await (const chunk of source) feed(parser, hasher, chunk);
    } else {
      let since = 0;
      for (const chunk of source) {
        feed(parser, hasher, chunk);
        since += chunk.length;
        if (since >= YIELD_EVERY) {
          since = 0;
          await nextTick();
        }
      }
    }
    const narSize = parser.end();
    return hasher ? { narSize, hash: hasher.finish().hash } : { narSize };
  } catch (e) {
    if (opts.cleanupOnError !== false) removeCreated(restorer);
    else restorer.abort();
    throw e;
  }
}

/** Restore a NAR held in memory into `target` (which must not exist). */
export function restoreNarSync(nar: Uint8Array, target: FsPath, opts: RestoreOptions = {}): RestoreResult {
  const restorer = new NarRestorer(target, opts);
  const parser = new NarParser(restorer, opts);
  const hasher = opts.hashAlgo ? new HashSink(opts.hashAlgo) : undefined;
  try {
    feed(parser, hasher, nar);
    const narSize = parser.end();
    return hasher ? { narSize, hash: hasher.finish().hash } : { narSize };
  } catch (e) {
    if (opts.cleanupOnError !== false) removeCreated(restorer);
    throw e;
  }
}

function feed(parser: NarParser, hasher: HashSink | undefined, chunk: Uint8Array): void {
  const wasDone = parser.done;
  const before = parser.trailingLength;
  parser.push(chunk);
  if (hasher && !wasDone) {
    const extra = parser.trailingLength - before;
    hasher.update(extra > 0 ? chunk.subarray(0, chunk.length - extra) : chunk);
  }
}

/**
 * Copy the tree at `source` to `target` (which must not exist) through its
 * NAR, in one pass: what is written is exactly what was hashed, even if the
 * source changes meanwhile. This is `nix-store --add` without the database:
 * restore into a temporary name in the store with `hashAlgo: 'sha256'` and
 * `canonicalise: true`, compute the path from the hash, then rename.
 * `filter` applies to the source as in DumpOptions.
 */
export async function copyPath(
  source: FsPath,
  target: FsPath,
  opts: RestoreOptions & Pick<DumpOptions, 'filter'> = {},
): Promise<RestoreResult> {
  return restorePath(narChunks(source, { reuseChunks: true, filter: opts.filter }), target, opts);
}

/** copyPath, synchronously. */
export function copyPathSync(
  source: FsPath,
  target: FsPath,
  opts: RestoreOptions & Pick<DumpOptions, 'filter'> = {},
): RestoreResult {
  const restorer = new NarRestorer(target, opts);
  const parser = new NarParser(restorer, opts);
  const hasher = opts.hashAlgo ? new HashSink(opts.hashAlgo) : undefined;
  try {
    for (const chunk of narChunks(source, { reuseChunks: true, filter: opts.filter })) feed(parser, hasher, chunk);
    const narSize = parser.end();
    return hasher ? { narSize, hash: hasher.finish().hash } : { narSize };
  } catch (e) {
    if (opts.cleanupOnError !== false) removeCreated(restorer);
    else restorer.abort();
    throw e;
  }
}

/** Check that `nar` is a well-formed NAR without writing anything; returns its size. */
export function validateNar(nar: Uint8Array, opts: NarParserOptions = {}): number {
  const parser = new NarParser(
    { directory() {}, file() {}, contents() {}, fileEnd() {}, symlink() {} },
    opts,
  );
  parser.push(nar);
  return parser.end();
}

/** A tree as a NAR describes it, for tests and small NARs. */
export type NarTree =
  | { type: 'regular'; executable: boolean; contents: Buffer }
  | { type: 'symlink'; target: string }
  | { type: 'directory'; entries: Map<string, NarTree> };

/** Parse a NAR held in memory into a NarTree (names and targets are byte strings). */
export function parseNarToTree(nar: Uint8Array, opts: NarParserOptions = {}): NarTree {
  let root: NarTree | undefined;
  const dirs = new Map<string, Map<string, NarTree>>();
  let file: { type: 'regular'; executable: boolean; contents: Buffer } | undefined;
  let parts: Buffer[] = [];
  const place = (path: string, node: NarTree): void => {
    if (path === '') {
      root = node;
      return;
    }
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    (dirs.get(parent) as Map<string, NarTree>).set(path.slice(slash + 1), node);
  };
  const parser = new NarParser(
    {
      directory(path) {
        const entries = new Map<string, NarTree>();
        dirs.set(path, entries);
        place(path, { type: 'directory', entries });
      },
      file(path, executable) {
        file = { type: 'regular', executable, contents: EMPTY };
        parts = [];
        place(path, file);
      },
      contents(chunk) {
        parts.push(Buffer.from(chunk));
      },
      fileEnd() {
        if (file) file.contents = Buffer.concat(parts);
      },
      symlink(path, target) {
        place(path, { type: 'symlink', target });
      },
    },
    opts,
  );
  parser.push(nar);
  parser.end();
  return root as NarTree;
}
