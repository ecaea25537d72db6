/**
 * What happens to a builder's outputs before they become valid: the
 * canonical form (read-only, mtime 1, no setuid/setgid), the NAR hash and
 * size, the references found by scanning, and the hash check of a fixed
 * output.
 */
import { chmodSync, lstatSync, lutimesSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { NIX32_ALPHABET } from '../base32.js';
import { Hash, hashString, type HashAlgo } from '../hash.js';
import { NarHashSink, dumpPathSync } from '../nar.js';
import { storePathHashPart } from '../store-path.js';

function fsPath(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/**
 * Make a tree canonical, as CppNix leaves every store path: regular files
 * 0444 (0555 if the owner could execute them), directories 0555, every
 * mtime (symlinks' too) 1 second after the epoch. Fails on sockets, FIFOs
 * and devices.
 */
export function canonicalisePath(path: string): void {
  canonicaliseNode(fsPath(path), lstatSync(fsPath(path)));
}

function canonicaliseNode(p: Buffer, st: Stats): void {
  if (st.isDirectory()) {
    // readable and searchable first, so that the entries can be reached
    if ((st.mode & 0o700) !== 0o700) chmodSync(p, 0o700);
    for (const name of readdirSync(p, { encoding: 'buffer' })) {
      const child = Buffer.concat([p, Buffer.from('/'), name]);
      canonicaliseNode(child, lstatSync(child));
    }
    chmodSync(p, 0o555);
  } else if (st.isFile()) {
    chmodSync(p, (st.mode & 0o100) !== 0 ? 0o555 : 0o444);
  } else if (!st.isSymbolicLink()) {
    throw new OutputError(`file '${p.toString('latin1')}' has an unsupported type`);
  }
  lutimesSync(p, 1, 1);
}

/**
 * Finds which of a set of store path hash parts (32 nix32 characters) occur
 * in a byte stream fed in chunks: CppNix's reference scanner.
 */
export class RefScanner {
  private static readonly isNix32 = (() => {
    const t = new Uint8Array(256);
    for (const c of NIX32_ALPHABET) t[c.charCodeAt(0)] = 1;
    return t;
  })();
  private readonly wanted: Set<string>;
  readonly found = new Set<string>();
  /** The trailing run of nix32 characters of the last chunk (at most 31 bytes). */
  private tail = Buffer.alloc(0);

  constructor(hashParts: Iterable<string>) {
    this.wanted = new Set(hashParts);
  }

  readonly sink = (chunk: Uint8Array): void => {
    if (this.wanted.size === 0) return;
    const buf = this.tail.length ? Buffer.concat([this.tail, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const t = RefScanner.isNix32;
    const n = buf.length;
    let run = 0;
    for (let i = 0; i < n; i++) {
      if (t[buf[i] as number]) {
        run++;
        if (run >= 32) {
          const h = buf.toString('latin1', i - 31, i + 1);
          if (this.wanted.has(h)) {
            this.found.add(h);
            this.wanted.delete(h);
            if (this.wanted.size === 0) return;
          }
        }
      } else {
        run = 0;
      }
    }
    const keep = Math.min(run, 31);
    this.tail = Buffer.from(buf.subarray(n - keep, n));
  };
}

export interface OutputInfo {
  narHash: Hash;
  narSize: number;
  /** The candidates (store paths) whose hash part occurs in the NAR. */
  references: string[];
}

/**
 * NAR hash, size and references of a (canonical) output at `physicalPath`;
 * `candidates` are logical store paths: the inputs' closure and the outputs.
 */
export function analyseOutput(physicalPath: string, candidates: Iterable<string>): OutputInfo {
  const byHash = new Map<string, string>();
  for (const c of candidates) byHash.set(storePathHashPart(c), c);
  const nar = new NarHashSink('sha256');
  const scan = new RefScanner(byHash.keys());
  dumpPathSync(fsPath(physicalPath), (c) => (nar.sink(c), scan.sink(c)), { reuseChunks: true });
  const { hash, narSize } = nar.finish();
  const references = [...scan.found].map((h) => byHash.get(h) as string);
  return { narHash: hash, narSize, references };
}

/** The content hash of a fixed output: of the file (flat) or of its NAR (recursive). */
export function fixedOutputHash(physicalPath: string, method: 'flat' | 'recursive', algo: HashAlgo): Hash {
  if (method === 'flat') {
    const st = lstatSync(fsPath(physicalPath));
    if (!st.isFile()) {
      throw new OutputError(`output path '${physicalPath}' should be a non-executable regular file since recursive hashing is not enabled (outputHashMode=flat)`);
    }
    return hashString(algo, readFileSync(fsPath(physicalPath)));
  }
  const sink = new NarHashSink(algo);
  dumpPathSync(fsPath(physicalPath), sink.sink, { reuseChunks: true });
  return sink.finish().hash;
}
