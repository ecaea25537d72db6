/**
 * Hashes as Nix uses them: md5, sha1, sha256, sha512 and (behind the
 * `blake3-hashes` experimental feature, as in CppNix) BLAKE3 digests, parsed
 * from and printed to base16, nix32, base64 and SRI, with CppNix's parse rules
 * and error messages.
 *
 * Strings that come from Nix are byte strings (each char code is one byte);
 * `hashString` and the parsers take such strings.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
// (BLAKE3: node:crypto has none; @noble/hashes is an audited, dependency-free implementation)
import { blake3 } from '@noble/hashes/blake3.js';
import { nix32Decode, nix32Encode, nix32EncodedLength, Nix32Error } from './base32.js';
import { toFsPath, type FsPath } from './fs-path.js';

export type HashAlgo = 'md5' | 'sha1' | 'sha256' | 'sha512' | 'blake3';

/** Output formats. `base32` is accepted as the old name of `nix32`. */
export type HashFormat = 'base16' | 'nix32' | 'base64' | 'sri';

const SIZES: Record<HashAlgo, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64, blake3: 32 };

export function hashSize(algo: HashAlgo): number {
  return SIZES[algo];
}
export function base16Length(algo: HashAlgo): number {
  return SIZES[algo] * 2;
}
export function nix32Length(algo: HashAlgo): number {
  return nix32EncodedLength(SIZES[algo]);
}
export function base64Length(algo: HashAlgo): number {
  return Math.ceil(SIZES[algo] / 3) * 4;
}

/** A malformed or mismatching hash (CppNix's BadHash). */
export class BadHashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadHashError';
  }
}

/**
 * An unknown algorithm name. The message is the one current CppNix prints (and
 * the language test suite pins): `unknown hash algorithm 'foo', expect 'blake3',
 * 'md5', 'sha1', 'sha256', or 'sha512'`. Nix 2.8 printed only the part before
 * the comma; `shortMessage` holds that form.
 */
export class UnknownHashAlgorithmError extends BadHashError {
  readonly shortMessage: string;
  constructor(readonly algo: string) {
    super(
      `unknown hash algorithm '${algo}', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'`,
    );
    this.name = 'UnknownHashAlgorithmError';
    this.shortMessage = `unknown hash algorithm '${algo}'`;
  }
}

/** An experimental feature that is off (CppNix's MissingExperimentalFeature), with CppNix's message. */
export class MissingFeatureError extends Error {
  constructor(readonly feature: string) {
    super(`experimental Nix feature '${feature}' is disabled; add '--extra-experimental-features ${feature}' to enable it`);
    this.name = 'MissingFeatureError';
  }
}

/**
 * Whether BLAKE3 may be used: CppNix's `blake3-hashes` experimental feature,
 * which, like all of CppNix's experimental features, is a setting of the whole
 * process (the evaluator's settings set it, see Settings).
 */
let blake3Enabled = false;
export function enableBlake3(on: boolean): void {
  blake3Enabled = on;
}

export function isHashAlgo(s: string): s is HashAlgo {
  return s === 'md5' || s === 'sha1' || s === 'sha256' || s === 'sha512' || s === 'blake3';
}

/** Parse an algorithm name (case-sensitive, as in CppNix); `blake3` needs the `blake3-hashes` feature. */
export function parseHashAlgo(s: string): HashAlgo {
  if (s === 'blake3' && !blake3Enabled) throw new MissingFeatureError('blake3-hashes');
  if (isHashAlgo(s)) return s;
  throw new UnknownHashAlgorithmError(s);
}

/** Parse a format name; `base32` is the deprecated alias of `nix32`. */
export function parseHashFormat(s: string): HashFormat | undefined {
  switch (s) {
    case 'base16':
    case 'nix32':
    case 'base64':
    case 'sri':
      return s;
    case 'base32':
      return 'nix32';
    default:
      return undefined;
  }
}

export class Hash {
  readonly algo: HashAlgo;
  readonly bytes: Buffer;

  constructor(algo: HashAlgo, bytes: Uint8Array) {
    if (bytes.length !== SIZES[algo]) {
      throw new BadHashError(
        `a ${algo} hash must have ${SIZES[algo]} bytes, not ${bytes.length}`,
      );
    }
    this.algo = algo;
    this.bytes = Buffer.from(bytes); // a copy: callers may reuse their buffer
  }

  /** The all-zero hash of an algorithm (what CppNix assumes for an empty hash). */
  static zero(algo: HashAlgo): Hash {
    return new Hash(algo, Buffer.alloc(SIZES[algo]));
  }

  toBase16(): string {
    return this.bytes.toString('hex');
  }
  toNix32(): string {
    return nix32Encode(this.bytes);
  }
  toBase64(): string {
    return this.bytes.toString('base64');
  }
  toSRI(): string {
    return `${this.algo}-${this.toBase64()}`;
  }

  /**
   * Print in `format`. With `withAlgo` the non-SRI formats get an `algo:`
   * prefix (`sha256:1b8m…`); SRI always carries its algorithm.
   */
  format(format: HashFormat, withAlgo = false): string {
    switch (format) {
      case 'sri':
        return this.toSRI();
      case 'base16':
        return withAlgo ? `${this.algo}:${this.toBase16()}` : this.toBase16();
      case 'nix32':
        return withAlgo ? `${this.algo}:${this.toNix32()}` : this.toNix32();
      case 'base64':
        return withAlgo ? `${this.algo}:${this.toBase64()}` : this.toBase64();
    }
  }

  equals(other: Hash): boolean {
    return this.algo === other.algo && this.bytes.equals(other.bytes);
  }

  /** `algo:nix32`, the form Nix uses for NAR hashes in its database. */
  toString(): string {
    return this.format('nix32', true);
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_DIGIT: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/**
 * Base64 as CppNix 2.8 decodes it: newlines are skipped, decoding stops at the
 * first '=', trailing bits are dropped, any other character outside the
 * alphabet is an error.
 */
export function decodeBase64Strict(s: string): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let k = 0; k < s.length; k++) {
    const ch = s.charCodeAt(k);
    if (ch === 0x0a) continue;
    if (ch === 0x3d) break;
    const d = ch > 255 ? -1 : (B64_DIGIT[ch] as number);
    if (d < 0) throw new BadHashError(`invalid character in Base64 string: '${s[k]}'`);
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function isBase16(s: string): boolean {
  return /^[0-9a-fA-F]*$/.test(s);
}

/**
 * Parse the part of a hash after any `algo:` / `algo-` prefix, for a known
 * algorithm. Base16, nix32 and base64 are told apart by length; with `sri`
 * only base64 is accepted.
 */
function parseHashBody(rest: string, algo: HashAlgo, sri: boolean): Hash {
  if (!sri && rest.length === base16Length(algo)) {
    if (!isBase16(rest)) throw new BadHashError(`invalid base-16 hash '${rest}'`);
    return new Hash(algo, Buffer.from(rest, 'hex'));
  }
  if (!sri && rest.length === nix32Length(algo)) {
    try {
      return new Hash(algo, nix32Decode(rest));
    } catch (e) {
      if (e instanceof Nix32Error) throw new BadHashError(`invalid base-32 hash '${rest}'`);
      throw e;
    }
  }
  if (sri || rest.length === base64Length(algo)) {
    const bytes = decodeBase64Strict(rest);
    if (bytes.length !== SIZES[algo]) {
      throw new BadHashError(`invalid ${sri ? 'SRI' : 'base-64'} hash '${rest}'`);
    }
    return new Hash(algo, bytes);
  }
  throw new BadHashError(`hash '${rest}' has wrong length for hash type '${algo}'`);
}

/**
 * Parse a hash the way CppNix parses `outputHash`, `nix hash convert` input
 * and the like:
 * - `algo:body` (body base16, nix32 or base64 by length),
 * - SRI `algo-base64`,
 * - a bare body, if `algo` is given.
 * When both a prefix and `algo` are present they must agree.
 */
export function parseHash(s: string, algo?: HashAlgo): Hash {
  let prefix: string | undefined;
  let rest = s;
  let sri = false;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    prefix = s.slice(0, colon);
    rest = s.slice(colon + 1);
  } else {
    const dash = s.indexOf('-');
    if (dash >= 0) {
      prefix = s.slice(0, dash);
      rest = s.slice(dash + 1);
      sri = true;
    }
  }
  let effective: HashAlgo;
  if (prefix !== undefined) {
    effective = parseHashAlgo(prefix);
    if (algo !== undefined && algo !== effective) {
      throw new BadHashError(`hash '${s}' should have type '${algo}'`);
    }
  } else if (algo !== undefined) {
    effective = algo;
  } else {
    throw new BadHashError(
      `hash '${s}' does not include a type, nor is the type otherwise known from context`,
    );
  }
  return parseHashBody(rest, effective, sri);
}

/** Parse an SRI hash `algo-base64` only. */
export function parseSRI(s: string): Hash {
  const dash = s.indexOf('-');
  if (dash < 0) throw new BadHashError(`hash '${s}' is not SRI`);
  const algo = parseHashAlgo(s.slice(0, dash));
  return parseHashBody(s.slice(dash + 1), algo, true);
}

/**
 * Like parseHash, but an empty string stands for the all-zero hash of `algo`
 * (CppNix warns `found empty hash, assuming 'sha256-AAAA…='`; the warning text
 * is passed to `warn`). Without `algo` an empty hash is an error.
 */
export function parseHashAllowEmpty(
  s: string,
  algo: HashAlgo | undefined,
  warn?: (message: string) => void,
): Hash {
  if (s === '') {
    if (algo === undefined) throw new BadHashError('empty hash requires explicit hash type');
    const h = Hash.zero(algo);
    warn?.(`found empty hash, assuming '${h.toSRI()}'`);
    return h;
  }
  return parseHash(s, algo);
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
}

/** Scratch space for the bytes of a string being hashed (see hashString); made on first use. */
let scratch: Buffer | null = null;
const SCRATCH_SIZE = 1 << 16;

/** An incremental hash of `algo` (node:crypto's, or BLAKE3's). */
interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}
function newHasher(algo: HashAlgo): Hasher {
  return algo === 'blake3' ? blake3.create() : createHash(algo);
}

/** Hash of a byte string (or bytes). */
export function hashString(algo: HashAlgo, data: string | Uint8Array): Hash {
  if (algo === 'blake3') return new Hash(algo, blake3(toBytes(data)));
  // (crypto.hash, one call without a Hash object, is about twice as fast on the small inputs of .drv files)
  if (typeof data === 'string' && data.length <= SCRATCH_SIZE) {
    // the bytes of a small string go to a reused buffer: hashing is
    // synchronous, and a new Buffer per .drv text cost more than the hash
    scratch ??= Buffer.allocUnsafe(SCRATCH_SIZE);
    const n = scratch.write(data, 0, 'latin1');
    return new Hash(algo, oneShotHash(algo, scratch.subarray(0, n), 'buffer'));
  }
  return new Hash(algo, oneShotHash(algo, toBytes(data), 'buffer'));
}

/** sha256 convenience: the digest of a byte string. */
export function sha256(data: string | Uint8Array): Hash {
  return hashString('sha256', data);
}

/** XOR-fold `bytes` into `size` bytes: byte i goes to position i mod size. */
export function compressHash(bytes: Uint8Array, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < bytes.length; i++) {
    out[i % size] = (out[i % size] as number) ^ (bytes[i] as number);
  }
  return out;
}

/** An incremental hasher that also counts the bytes it was fed. */
export class HashSink {
  private readonly h: Hasher;
  private n = 0;
  constructor(readonly algo: HashAlgo) {
    this.h = newHasher(algo);
  }
  update(chunk: Uint8Array | string): this {
    const b = toBytes(chunk);
    this.n += b.length;
    this.h.update(b);
    return this;
  }
  /** Bytes fed so far. */
  get size(): number {
    return this.n;
  }
  /** Finish; the sink cannot be used afterwards. */
  finish(): { hash: Hash; size: number } {
    return { hash: new Hash(this.algo, this.h.digest()), size: this.n };
  }
}

/** Flat hash of a file's contents (`nix-hash --flat`), streaming. */
export async function hashFile(algo: HashAlgo, path: FsPath): Promise<Hash> {
  const h = newHasher(algo);
  for await (const chunk of createReadStream(toFsPath(path), { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
  }
  return new Hash(algo, h.digest());
}

/** Flat hash of a file's contents, synchronously. */
export function hashFileSync(algo: HashAlgo, path: FsPath): Hash {
  const h = newHasher(algo);
  const fd = openSync(toFsPath(path), 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return new Hash(algo, h.digest());
}
