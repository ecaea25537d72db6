import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync, closeSync, openSync, ftruncateSync, symlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFileSync, hashString, parseHash, type HashAlgo } from '../../src/store/hash.js';
import {
  copyPath,
  copyPathSync,
  dumpPath,
  dumpPathSync,
  hashPath,
  hashPathSync,
  narChunks,
  narFromContents,
  NarDumpError,
  NarFormatError,
  NarHashSink,
  NarParser,
  narStream,
  parseNarToTree,
  restoreNarSync,
  restorePath,
  validateNar,
} from '../../src/store/nar.js';
import { makeFixedOutputPath, makeSourcePath } from '../../src/store/store-path.js';
import { renderContentAddress } from '../../src/store/content-address.js';
import { loadVectors } from './vectors.js';
import { child, createTree, diffTree, tempDir, type TreeDesc } from './tree-helpers.js';

interface PathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  ca?: string;
}

interface NarVector {
  name: string;
  description: string;
  tree: TreeDesc;
  nar_base64: string;
  nar_size: number;
  nar_sha256_base16_computed_from_nar_bytes: string;
  nix_hash_sha256_base16: string;
  nix_hash_sha256_base32: string;
  nix_hash_sha1_base32: string;
  store_path_add: string;
  store_path_add_fixed_recursive_sha256: string;
  store_path_add_fixed_recursive_sha1: string;
  path_info_of_store_path_add: PathInfo;
  path_info_of_store_path_add_fixed_flat_sha256?: PathInfo;
  [k: string]: unknown;
}

const narVectors = loadVectors<NarVector>('nar.json').vectors;

let tmp: { dir: string; cleanup: () => void };
let scratch: Buffer; // the trees, as the vectors' scratch directory
beforeAll(() => {
  tmp = tempDir();
  scratch = Buffer.from(join(tmp.dir, 'scratch'));
  mkdirSync(scratch);
  for (const v of narVectors) createTree(child(scratch, v.name), v.tree);
});
afterAll(() => tmp.cleanup());

let restoreCounter = 0;
function freshTarget(): Buffer {
  return Buffer.from(join(tmp.dir, `restore-${restoreCounter++}`));
}

describe('nar.json', () => {
  it('has 15 trees', () => expect(narVectors.length).toBe(15));

  for (const v of narVectors) {
    describe(v.name, () => {
      const expected = Buffer.from(v.nar_base64, 'base64');

      it('serialises to the exact NAR bytes', () => {
        expect(expected.length).toBe(v.nar_size);
        const chunks: Buffer[] = [];
        dumpPathSync(child(scratch, v.name), (c) => chunks.push(c));
        const nar = Buffer.concat(chunks);
        expect(nar.length).toBe(v.nar_size);
        expect(nar.equals(expected)).toBe(true);
        // tiny chunks exercise every boundary
        for (const chunkSize of [8, 13, 64]) {
          const small = Buffer.concat([...narChunks(child(scratch, v.name), { chunkSize })]);
          expect(small.equals(expected)).toBe(true);
        }
      });

      it('NAR hashes (nix-hash) and size', async () => {
        const p = child(scratch, v.name);
        const s256 = hashPathSync(p);
        expect(s256.narSize).toBe(v.nar_size);
        expect(s256.hash.toBase16()).toBe(v.nix_hash_sha256_base16);
        expect(s256.hash.toBase16()).toBe(v.nar_sha256_base16_computed_from_nar_bytes);
        expect(s256.hash.toNix32()).toBe(v.nix_hash_sha256_base32);
        expect(hashPathSync(p, 'sha1').hash.toNix32()).toBe(v.nix_hash_sha1_base32);
        const asyncResult = await hashPath(p);
        expect(asyncResult.hash.toBase16()).toBe(v.nix_hash_sha256_base16);
        expect(hashString('sha256', expected).toBase16()).toBe(v.nix_hash_sha256_base16);
        // path-info
        const pi = v.path_info_of_store_path_add;
        expect(pi.narSize).toBe(v.nar_size);
        expect(s256.hash.toSRI()).toBe(pi.narHash);
        expect(renderContentAddress({ method: 'fixed', ingestion: 'recursive', hash: s256.hash })).toBe(pi.ca);
      });

      it('store paths of nix-store --add / --add-fixed', () => {
        const p = child(scratch, v.name);
        const narHash = hashPathSync(p).hash;
        expect(makeSourcePath(v.name, narHash)).toBe(v.store_path_add);
        expect(makeFixedOutputPath(v.name, 'recursive', narHash)).toBe(v.store_path_add_fixed_recursive_sha256);
        expect(makeFixedOutputPath(v.name, 'recursive', hashPathSync(p, 'sha1').hash)).toBe(
          v.store_path_add_fixed_recursive_sha1,
        );
        expect(v.path_info_of_store_path_add.path).toBe(v.store_path_add);
        if (v.tree.type !== 'regular') return;
        for (const algo of ['sha256', 'sha1', 'md5', 'sha512'] as HashAlgo[]) {
          const flat = hashFileSync(algo, p);
          expect(flat.toBase16()).toBe(v[`flat_${algo}_base16`]);
          expect(flat.toNix32()).toBe(v[`flat_${algo}_base32`]);
          expect(makeFixedOutputPath(v.name, 'flat', flat)).toBe(v[`store_path_add_fixed_flat_${algo}`]);
        }
        const pi = v.path_info_of_store_path_add_fixed_flat_sha256 as PathInfo;
        expect(pi.path).toBe(v.store_path_add_fixed_flat_sha256);
        expect(renderContentAddress({ method: 'fixed', ingestion: 'flat', hash: hashFileSync('sha256', p) })).toBe(pi.ca);
        // Nix 2.8 keeps the executable bit on flat adds, so narHash is that of the file's own NAR
        expect(hashString('sha256', narFromContents(readFileSync(p), v.tree.executable)).toSRI()).toBe(pi.narHash);
      });

      it('restores to the described tree and re-serialises identically', async () => {
        const t1 = freshTarget();
        const r1 = restoreNarSync(expected, t1, { hashAlgo: 'sha256' });
        expect(r1.narSize).toBe(v.nar_size);
        expect(r1.hash?.toBase16()).toBe(v.nix_hash_sha256_base16);
        expect(diffTree(t1, v.tree)).toEqual([]);
        expect(Buffer.concat([...narChunks(t1)]).equals(expected)).toBe(true);
        // streamed one byte at a time
        const t2 = freshTarget();
        const bytes = function* () {
          for (let i = 0; i < expected.length; i++) yield expected.subarray(i, i + 1);
        };
        const r2 = await restorePath(bytes(), t2);
        expect(r2.narSize).toBe(v.nar_size);
        expect(diffTree(t2, v.tree)).toEqual([]);
        // and from the async serialiser
        const t3 = freshTarget();
        await restorePath(narStream(child(scratch, v.name)), t3);
        expect(diffTree(t3, v.tree)).toEqual([]);
      });

      it('parses to a tree', () => {
        const tree = parseNarToTree(expected);
        expect(tree.type).toBe(v.tree.type);
        expect(validateNar(expected)).toBe(v.nar_size);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// Hand-made NARs

type Part = string | { u64: number } | { raw: Buffer };

function str(b: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeUInt32LE(b.length % 0x100000000, 0);
  len.writeUInt32LE(Math.floor(b.length / 0x100000000), 4);
  return Buffer.concat([len, b, Buffer.alloc((8 - (b.length % 8)) % 8)]);
}

function nar(...parts: Part[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p === 'string') return str(Buffer.from(p, 'latin1'));
      if ('u64' in p) {
        const b = Buffer.alloc(8);
        b.writeUInt32LE(p.u64 % 0x100000000, 0);
        b.writeUInt32LE(Math.floor(p.u64 / 0x100000000), 4);
        return b;
      }
      return p.raw;
    }),
  );
}

const file = (contents: string): Part[] => ['(', 'type', 'regular', 'contents', contents, ')'];
const entry = (name: string, node: Part[]): Part[] => ['entry', '(', 'name', name, 'node', ...node, ')'];
const dir = (...entries: Part[][]): Part[] => ['(', 'type', 'directory', ...entries.flat(), ')'];

function expectRejected(data: Buffer, message: RegExp): void {
  const target = freshTarget();
  let err: unknown;
  try {
    restoreNarSync(data, target);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NarFormatError);
  expect((err as Error).message).toMatch(message);
  expect(existsSync(target)).toBe(false);
}

describe('NAR restore rejects malformed and malicious archives', () => {
  it('accepts the hand-made baseline', () => {
    const target = freshTarget();
    restoreNarSync(nar('nix-archive-1', ...dir(entry('a', file('x')), entry('b', file('y')))), target);
    expect(readFileSync(join(target.toString(), 'b'), 'utf8')).toBe('y');
  });

  const bad: [string, Buffer, RegExp][] = [
    ['bad magic', nar('nix-archive-2', ...file('x')), /bad magic/],
    ['not a NAR at all', Buffer.from('hello world, this is not a NAR file at all'), /not a NAR/],
    ['entry ..', nar('nix-archive-1', ...dir(entry('..', file('x')))), /invalid entry name '\.\.'/],
    ['entry .', nar('nix-archive-1', ...dir(entry('.', file('x')))), /invalid entry name '\.'/],
    ['entry with /', nar('nix-archive-1', ...dir(entry('a/b', file('x')))), /contains '\/'/],
    ['entry ../escape', nar('nix-archive-1', ...dir(entry('../escape', file('x')))), /contains '\/'/],
    ['entry with NUL', nar('nix-archive-1', ...dir(entry('a\0b', file('x')))), /NUL/],
    ['empty entry name', nar('nix-archive-1', ...dir(entry('', file('x')))), /empty entry name/],
    ['duplicate names', nar('nix-archive-1', ...dir(entry('a', file('x')), entry('a', file('y')))), /duplicate entry name 'a'/],
    ['out of order', nar('nix-archive-1', ...dir(entry('b', file('x')), entry('a', file('y')))), /out of order/],
    [
      'symlink then directory of the same name',
      nar('nix-archive-1', ...dir(entry('a', ['(', 'type', 'symlink', 'target', '/tmp', ')']), entry('a', dir(entry('x', file('pwned')))))),
      /duplicate entry name/,
    ],
    ['bad tag', nar('nix-archive-1', '(', 'typo', 'regular', 'contents', 'x', ')'), /expected 'type'/],
    ['unknown type', nar('nix-archive-1', '(', 'type', 'fifo', ')'), /unknown file type 'fifo'/],
    ['missing contents', nar('nix-archive-1', '(', 'type', 'regular', ')'), /expected 'contents'/],
    ['executable with a value', nar('nix-archive-1', '(', 'type', 'regular', 'executable', 'yes', 'contents', 'x', ')'), /'executable' must be followed by an empty string/],
    ['executable after contents', nar('nix-archive-1', '(', 'type', 'regular', 'contents', 'x', 'executable', '', ')'), /expected '\)'/],
    ['junk in a directory', nar('nix-archive-1', '(', 'type', 'directory', 'file', ')'), /expected 'entry' or '\)'/],
    ['empty symlink target', nar('nix-archive-1', '(', 'type', 'symlink', 'target', '', ')'), /empty symlink target/],
    [
      'non-zero padding',
      Buffer.concat([nar('nix-archive-1', '(', 'type', 'regular', 'contents', { u64: 1 }), Buffer.from([0x78, 1, 0, 0, 0, 0, 0, 0]), nar(')')]),
      /non-zero padding/,
    ],
    ['huge name length', nar('nix-archive-1', '(', 'type', 'directory', 'entry', '(', 'name', { u64: 2 ** 40 }), /more than the limit/],
    ['u64 beyond 2^53', nar('nix-archive-1', '(', 'type', 'regular', 'contents', { raw: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]) }), /number too large/],
    ['trailing data', Buffer.concat([nar('nix-archive-1', ...file('x')), Buffer.alloc(8)]), /trailing data/],
    ['empty input', Buffer.alloc(0), /unexpected end of NAR/],
  ];
  for (const [what, data, message] of bad) {
    it(what, () => expectRejected(data, message));
  }

  it('reports the byte offset', () => {
    const data = nar('nix-archive-1', ...dir(entry('b', file('x')), entry('a', file('y'))));
    try {
      restoreNarSync(data, freshTarget());
      expect.unreachable();
    } catch (e) {
      const err = e as NarFormatError;
      // offset of the second name: magic(24) + ( type directory (8+16+16+24=) ...
      const secondName = data.indexOf(str(Buffer.from('a')), 100);
      expect(err.offset).toBe(secondName);
      expect(err.message).toContain(`at byte ${secondName}`);
    }
  });

  it('rejects every truncation of a valid NAR and leaves nothing behind', async () => {
    const good = Buffer.from(narVectors.find((v) => v.name === 'tree')!.nar_base64, 'base64');
    for (let len = 0; len < good.length; len += 8) {
      expectRejected(good.subarray(0, len), /unexpected end of NAR|non-zero padding/);
    }
    for (const len of [1, 3, 9, 27, good.length - 1]) {
      const target = freshTarget();
      await expect(restorePath([good.subarray(0, len)], target)).rejects.toThrow(NarFormatError);
      expect(existsSync(target)).toBe(false);
    }
  });

  it('never writes outside the target', () => {
    const outside = Buffer.from(join(tmp.dir, 'outside'));
    mkdirSync(outside);
    const attempts = [
      nar('nix-archive-1', ...dir(entry('..', dir(entry('pwned', file('x')))))),
      nar('nix-archive-1', ...dir(entry('link', ['(', 'type', 'symlink', 'target', outside.toString('latin1'), ')']), entry('link', dir(entry('pwned', file('x')))))),
      nar('nix-archive-1', ...dir(entry('link', ['(', 'type', 'symlink', 'target', outside.toString('latin1'), ')']), entry('link', file('x')))),
      nar('nix-archive-1', ...dir(entry('x/../../outside/pwned', file('x')))),
    ];
    for (const a of attempts) {
      const target = freshTarget();
      expect(() => restoreNarSync(a, target)).toThrow(NarFormatError);
      expect(existsSync(target)).toBe(false);
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses an existing target and leaves it alone', async () => {
    const target = freshTarget();
    mkdirSync(target);
    writeFileSync(join(target.toString(), 'keep'), 'me');
    expect(() => restoreNarSync(nar('nix-archive-1', ...dir()), target)).toThrow(/EEXIST/);
    await expect(restorePath([nar('nix-archive-1', ...file('x'))], target)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(join(target.toString(), 'keep'), 'utf8')).toBe('me');
    // a symlink at the target is not followed either
    const link = freshTarget();
    symlinkSync(join(tmp.dir, 'does-not-exist'), link);
    expect(() => restoreNarSync(nar('nix-archive-1', ...file('x')), link)).toThrow(/EEXIST/);
    expect(existsSync(join(tmp.dir, 'does-not-exist'))).toBe(false);
  });

  it('can keep trailing bytes (export streams)', () => {
    const data = Buffer.concat([nar('nix-archive-1', ...file('x')), Buffer.from('rest')]);
    const p = new NarParser({ directory() {}, file() {}, contents() {}, fileEnd() {}, symlink() {} }, { allowTrailing: true });
    p.push(data);
    expect(p.done).toBe(true);
    expect(p.end()).toBe(data.length - 4);
    expect(p.takeTrailing().toString()).toBe('rest');
  });
});

describe('canonical restore and cleanup', () => {
  it('removes a partly restored, already read-only tree on error', () => {
    const data = nar('nix-archive-1', ...dir(entry('a', dir(entry('x', file('1')))), entry('b', ['(', 'type', 'fifo', ')'])));
    const target = freshTarget();
    expect(() => restoreNarSync(data, target, { canonicalise: true })).toThrow(/unknown file type 'fifo'/);
    expect(existsSync(target)).toBe(false);
  });

  it('keeps the partial tree with cleanupOnError: false', async () => {
    const data = nar('nix-archive-1', ...dir(entry('a', file('1')), entry('a', file('2'))));
    const target = freshTarget();
    await expect(restorePath([data], target, { cleanupOnError: false })).rejects.toThrow(/duplicate/);
    expect(readFileSync(join(target.toString(), 'a'), 'utf8')).toBe('1');
  });

  it('copyPath / copyPathSync copy through the NAR and hash', async () => {
    for (const v of narVectors) {
      const a = freshTarget();
      const r = await copyPath(child(scratch, v.name), a, { hashAlgo: 'sha256', canonicalise: true });
      expect(r.hash?.toBase16()).toBe(v.nix_hash_sha256_base16);
      expect(r.narSize).toBe(v.nar_size);
      expect(diffTree(a, v.tree)).toEqual([]);
      const b = freshTarget();
      expect(copyPathSync(child(scratch, v.name), b, { hashAlgo: 'sha1' }).hash?.toNix32()).toBe(v.nix_hash_sha1_base32);
      expect(diffTree(b, v.tree)).toEqual([]);
    }
  });

  it('restores from an async source', async () => {
    const v = narVectors.find((x) => x.name === 'tree')!;
    const data = Buffer.from(v.nar_base64, 'base64');
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += 100) {
        await new Promise((r) => setImmediate(r));
        yield data.subarray(i, i + 100);
      }
    }
    const target = freshTarget();
    const r = await restorePath(source(), target, { hashAlgo: 'sha1', canonicalise: true });
    expect(r.hash?.toNix32()).toBe(v.nix_hash_sha1_base32);
    expect(diffTree(target, v.tree)).toEqual([]);
    expect(lstatSync(child(target, 'a/y')).mode & 0o777).toBe(0o555);
    expect(lstatSync(child(target, 'a/x')).mtimeMs).toBe(1000);
  });
});

describe('serialisation details', () => {
  it('names are bytes, not UTF-8 text', () => {
    const d = Buffer.from(join(tmp.dir, 'bytes-names'));
    mkdirSync(d);
    const odd = Buffer.concat([d, Buffer.from('/'), Buffer.from([0xff, 0x41, 0xe9])]);
    writeFileSync(odd, 'x');
    const data = Buffer.concat([...narChunks(d)]);
    expect(data.includes(Buffer.from([0xff, 0x41, 0xe9]))).toBe(true);
    const tree = parseNarToTree(data);
    expect(tree.type === 'directory' && [...tree.entries.keys()]).toEqual(['\xff\x41\xe9']);
    const target = freshTarget();
    restoreNarSync(data, target);
    expect(readdirSync(target, { encoding: 'buffer' })[0]!.equals(Buffer.from([0xff, 0x41, 0xe9]))).toBe(true);
    // a byte-string path works too
    expect(hashPathSync(d.toString('latin1')).hash.equals(hashPathSync(d).hash)).toBe(true);
  });

  it('refuses special files', () => {
    const fifo = join(tmp.dir, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => hashPathSync(fifo)).toThrow(NarDumpError);
    expect(() => hashPathSync(fifo)).toThrow(`file '${fifo}' has an unsupported type`);
  });

  it('narFromContents matches dumping a file', () => {
    const d = Buffer.from(join(tmp.dir, 'nfc'));
    mkdirSync(d);
    for (const [name, contents, exec] of [['a', 'hello\n', false], ['b', '', true], ['c', 'x'.repeat(1000), false]] as const) {
      const p = child(d, name);
      writeFileSync(p, contents);
      chmodSync(p, exec ? 0o755 : 0o644);
      expect(narFromContents(contents, exec).equals(Buffer.concat([...narChunks(p)]))).toBe(true);
    }
    // the toFile greeting.txt path-info narHash (tofile.json)
    expect(hashString('sha256', narFromContents('hello\n')).toSRI()).toBe('sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=');
  });

  it('executable means the owner x bit', () => {
    const d = Buffer.from(join(tmp.dir, 'modes'));
    mkdirSync(d);
    const cases: [number, boolean][] = [[0o100, true], [0o700, true], [0o010, false], [0o001, false], [0o644, false], [0o500, true]];
    for (const [mode, exec] of cases) {
      const p = child(d, mode.toString(8));
      writeFileSync(p, 'x');
      chmodSync(p, mode);
      const tree = parseNarToTree(Buffer.concat([...narChunks(p)]));
      expect(tree.type === 'regular' && tree.executable).toBe(exec);
    }
  });

  it('filter leaves entries out', () => {
    const p = child(scratch, 'tree');
    const seen: [string, string][] = [];
    const chunks: Buffer[] = [];
    dumpPathSync(p, (c) => chunks.push(c), {
      filter: (path, type) => {
        seen.push([path.slice(p.length), type]);
        return !path.endsWith('/sub') && type !== 'symlink';
      },
    });
    const tree = parseNarToTree(Buffer.concat(chunks));
    expect(tree.type).toBe('directory');
    if (tree.type !== 'directory') return;
    expect([...tree.entries.keys()]).toEqual(['10', '9', 'B', '_underscore', 'a', 'a-b', 'a.txt', 'aa', 'b']);
    expect(seen).toContainEqual(['/link-to-dir', 'symlink']);
    expect(seen).toContainEqual(['/a/y', 'regular']);
    expect(seen.some(([q]) => q.startsWith('/sub/'))).toBe(false);
  });

  it('async dumpPath awaits the sink', async () => {
    const p = child(scratch, 'weird-names');
    const chunks: Buffer[] = [];
    await dumpPath(p, async (c) => {
      await new Promise((r) => setTimeout(r, 1));
      chunks.push(c);
    }, { chunkSize: 512 });
    const v = narVectors.find((x) => x.name === 'weird-names')!;
    expect(Buffer.concat(chunks).toString('base64')).toBe(v.nar_base64);
  });

  it('hashes a 512 MiB file in bounded memory', async () => {
    const big = join(tmp.dir, 'big-sparse');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, 512 * 1024 * 1024);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sink = new NarHashSink();
    let n = 0;
    await dumpPath(big, (c) => {
      sink.sink(c);
      if (++n % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    });
    const r = sink.finish();
    // the NAR is header + zeros + ')' : check against an independent hash
    const header = nar('nix-archive-1', '(', 'type', 'regular', 'contents', { u64: 512 * 1024 * 1024 });
    expect(r.narSize).toBe(header.length + 512 * 1024 * 1024 + 16);
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256').update(header);
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 512; i++) h.update(zeros);
    h.update(nar(')'));
    expect(r.hash.toBase16()).toBe(h.digest('hex'));
  });
});

describe('builds.json outputs', () => {
  interface BuildVector {
    id: string;
    outputs: Record<string, { path: string; narHash: string; narSize: number; nar_base64: string; stat: { path: string; type: string; mode: string; mtime: number }[]; path_info: PathInfo }>;
  }
  const builds = loadVectors<BuildVector>('builds.json').vectors;
  it('has 7 builds', () => expect(builds.length).toBe(7));
  for (const b of builds) {
    for (const [out, o] of Object.entries(b.outputs)) {
      it(`${b.id} ${out}: NAR hash, size, restore and re-dump`, () => {
        const data = Buffer.from(o.nar_base64, 'base64');
        expect(data.length).toBe(o.narSize);
        const h = hashString('sha256', data);
        expect(h.equals(parseHash(o.narHash))).toBe(true);
        expect(h.toSRI()).toBe(o.path_info.narHash);
        const target = freshTarget();
        const r = restoreNarSync(data, target, { hashAlgo: 'sha256' });
        expect(r.hash?.toBase16()).toBe(h.toBase16());
        // the restored tree has the recorded entries, types and executable bits
        for (const s of o.stat) {
          const p = s.path === '.' ? target : child(target, s.path);
          const tree = parseNarToTree(Buffer.concat([...narChunks(p)]));
          const type = { 'regular file': 'regular', 'regular empty file': 'regular', directory: 'directory', 'symbolic link': 'symlink' }[s.type];
          expect(tree.type).toBe(type);
          if (tree.type === 'regular') expect(tree.executable).toBe(s.mode === '0555');
        }
        expect(Buffer.concat([...narChunks(target)]).equals(data)).toBe(true);
      });

      it(`${b.id} ${out}: restored in canonical form has the recorded modes and mtimes`, async () => {
        const target = freshTarget();
        const data = Buffer.from(o.nar_base64, 'base64');
        const chunks = [data.subarray(0, 100), data.subarray(100)];
        await restorePath(chunks, target, { canonicalise: true });
        for (const s of o.stat) {
          const st = lstatSync(s.path === '.' ? target : child(target, s.path));
          expect(`${s.path} ${'0' + (st.mode & 0o777).toString(8)} ${st.mtimeMs / 1000}`).toBe(`${s.path} ${s.mode} ${s.mtime}`);
        }
        expect(Buffer.concat([...narChunks(target)]).equals(data)).toBe(true);
      });
    }
  }
});

describe('export-and-binary-cache.json NARs', () => {
  interface Export {
    description: string;
    export_base64: string;
    decoded: { nar_base64: string; nar_sha256_nix32: string; path: string }[];
  }
  const file = loadVectors<never>('export-and-binary-cache.json') as unknown as { exports: Export[] };
  it('has 3 exports', () => expect(file.exports.length).toBe(3));
  for (const e of file.exports) {
    it(`${e.description}: NARs found in the export stream by the parser`, () => {
      let rest: Buffer = Buffer.from(e.export_base64, 'base64');
      for (const d of e.decoded) {
        expect(rest.readBigUInt64LE(0)).toBe(1n);
        rest = rest.subarray(8);
        // the parser stops at the end of the NAR and hands back what follows
        const p = new NarParser({ directory() {}, file() {}, contents() {}, fileEnd() {}, symlink() {} }, { allowTrailing: true });
        for (let i = 0; i < rest.length; i += 50) p.push(rest.subarray(i, i + 50));
        const narSize = p.end();
        const narBytes = rest.subarray(0, narSize);
        expect(narBytes.toString('base64')).toBe(d.nar_base64);
        expect(hashString('sha256', narBytes).toNix32()).toBe(d.nar_sha256_nix32);
        rest = p.takeTrailing();
        expect(rest.readUInt32LE(0)).toBe(0x4558494e);
        // skip magic, path, references, deriver, signature flag
        let off = 8;
        const str = (): string => {
          const n = Number(rest.readBigUInt64LE(off));
          const s = rest.toString('latin1', off + 8, off + 8 + n);
          off += 8 + n + ((8 - (n % 8)) % 8);
          return s;
        };
        expect(str()).toBe(d.path);
        const nrefs = Number(rest.readBigUInt64LE(off));
        off += 8;
        for (let i = 0; i < nrefs; i++) str();
        str();
        off += 8;
        rest = rest.subarray(off);
      }
      expect(rest.equals(Buffer.alloc(8))).toBe(true);
    });
  }
});
