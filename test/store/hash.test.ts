import { describe, expect, it } from 'vitest';
import { nix32Decode, nix32Encode, Nix32Error, isNix32 } from '../../src/store/base32.js';
import {
  BadHashError,
  compressHash,
  decodeBase64Strict,
  Hash,
  HashSink,
  hashString,
  parseHash,
  parseHashAlgo,
  parseHashAllowEmpty,
  parseHashFormat,
  parseSRI,
  UnknownHashAlgorithmError,
  type HashAlgo,
} from '../../src/store/hash.js';
import { bytes, loadVectors } from './vectors.js';

interface Nix32Vector {
  algo: HashAlgo;
  bytes: number;
  description: string;
  hex: string;
  nix32: string;
  base64: string;
  sri: string;
}

interface HashStringVector {
  description: string;
  string: string;
  utf8_hex?: string;
  utf8_length: number;
  hashes: Record<HashAlgo, string>;
}

const nix32Vectors = loadVectors<Nix32Vector>('nixbase32.json').vectors;
const hashStringVectors = loadVectors<HashStringVector>('hash-string.json').vectors;

describe('nixbase32.json', () => {
  it('has 40 vectors', () => expect(nix32Vectors.length).toBe(40));

  for (const v of nix32Vectors) {
    it(`${v.algo} ${v.description}`, () => {
      const raw = Buffer.from(v.hex, 'hex');
      expect(raw.length).toBe(v.bytes);
      // encoding
      expect(nix32Encode(raw)).toBe(v.nix32);
      const h = new Hash(v.algo, raw);
      expect(h.toNix32()).toBe(v.nix32);
      expect(h.toBase16()).toBe(v.hex);
      expect(h.toBase64()).toBe(v.base64);
      expect(h.toSRI()).toBe(v.sri);
      expect(h.format('nix32', true)).toBe(`${v.algo}:${v.nix32}`);
      // decoding
      expect(nix32Decode(v.nix32).toString('hex')).toBe(v.hex);
      for (const s of [v.hex, v.nix32, v.base64, `${v.algo}:${v.hex}`, `${v.algo}:${v.nix32}`, `${v.algo}:${v.base64}`, v.sri]) {
        const p = parseHash(s, s.includes(':') || s.includes('-') ? undefined : v.algo);
        expect(p.algo).toBe(v.algo);
        expect(p.toBase16()).toBe(v.hex);
      }
      expect(parseSRI(v.sri).toBase16()).toBe(v.hex);
      expect(parseHash(v.hex.toUpperCase(), v.algo).toBase16()).toBe(v.hex);
    });
  }
});

describe('nix32', () => {
  it('rejects characters outside the alphabet', () => {
    for (const c of ['e', 'o', 'u', 't', 'A', '-', ' ']) {
      const s = '0'.repeat(31) + c;
      expect(isNix32(s)).toBe(false);
      expect(() => nix32Decode(s)).toThrow(Nix32Error);
      try {
        nix32Decode(s);
      } catch (e) {
        expect((e as Nix32Error).character).toBe(c);
      }
    }
  });
  it('rejects bits beyond the decoded length', () => {
    // 52 chars = 260 bits for 32 bytes: the first character may only be 0 or 1
    expect(nix32Decode('1' + '0'.repeat(51)).length).toBe(32);
    expect(() => nix32Decode('2' + '0'.repeat(51))).toThrow(/does not fit/);
    expect(() => nix32Decode('z' + '0'.repeat(51))).toThrow(Nix32Error);
  });
  it('round-trips every length', () => {
    for (let n = 0; n < 70; n++) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 151 + 7) & 0xff));
      const s = nix32Encode(b);
      expect(s.length).toBe(Math.ceil((n * 8) / 5));
      expect(nix32Decode(s).equals(b)).toBe(true);
    }
  });
});

describe('hash-string.json', () => {
  it('has 8 strings', () => expect(hashStringVectors.length).toBe(8));
  for (const v of hashStringVectors) {
    for (const algo of ['md5', 'sha1', 'sha256', 'sha512'] as const) {
      it(`${algo} of ${v.description}`, () => {
        const s = bytes(v.string);
        expect(s.length).toBe(v.utf8_length);
        if (v.utf8_hex !== undefined) expect(Buffer.from(s, 'latin1').toString('hex')).toBe(v.utf8_hex);
        expect(hashString(algo, s).toBase16()).toBe(v.hashes[algo]);
        expect(hashString(algo, Buffer.from(v.string, 'utf8')).toBase16()).toBe(v.hashes[algo]);
        const sink = new HashSink(algo);
        for (let i = 0; i < s.length; i += 7) sink.update(s.slice(i, i + 7));
        const r = sink.finish();
        expect(r.size).toBe(v.utf8_length);
        expect(r.hash.toBase16()).toBe(v.hashes[algo]);
      });
    }
  }
});

/** Messages checked against `nix-instantiate` 2.8 (derivation outputHash, see the report). */
describe('parseHash errors (CppNix messages)', () => {
  const zero64 = '0'.repeat(64);
  const cases: [string, HashAlgo | undefined, string][] = [
    ['abc', undefined, "hash 'abc' does not include a type, nor is the type otherwise known from context"],
    [zero64, undefined, `hash '${zero64}' does not include a type, nor is the type otherwise known from context`],
    ['sha256-abc', undefined, "invalid SRI hash 'abc'"],
    ['sha256-AAAA', undefined, "invalid SRI hash 'AAAA'"],
    ['sha256-', undefined, "invalid SRI hash ''"],
    ['sha256:abc', undefined, "hash 'abc' has wrong length for hash type 'sha256'"],
    ['sha256:', undefined, "hash '' has wrong length for hash type 'sha256'"],
    ['abc', 'sha256', "hash 'abc' has wrong length for hash type 'sha256'"],
    [
      'sha1:' + '0'.repeat(40),
      'sha256',
      `hash 'sha1:${'0'.repeat(40)}' should have type 'sha256'`,
    ],
    ['md5-AAAAAAAAAAAAAAAAAAAAAA==', 'sha256', "hash 'md5-AAAAAAAAAAAAAAAAAAAAAA==' should have type 'sha256'"],
    ['0'.repeat(63) + 'g', 'sha256', `invalid base-16 hash '${'0'.repeat(63)}g'`],
    ['0'.repeat(51) + 'e', 'sha256', `invalid base-32 hash '${'0'.repeat(51)}e'`],
    ['z' + '0'.repeat(50) + 'z', 'sha256', `invalid base-32 hash 'z${'0'.repeat(50)}z'`],
    ['0'.repeat(50) + 'A0', 'sha256', `invalid base-32 hash '${'0'.repeat(50)}A0'`],
    ['A'.repeat(44), 'sha256', `invalid base-64 hash '${'A'.repeat(44)}'`],
    ['A'.repeat(42) + '=A', 'sha256', `invalid base-64 hash '${'A'.repeat(42)}=A'`],
    [
      'sha256:sha256-' + 'A'.repeat(43) + '=',
      undefined,
      `hash 'sha256-${'A'.repeat(43)}=' has wrong length for hash type 'sha256'`,
    ],
  ];
  for (const [input, algo, message] of cases) {
    it(`${JSON.stringify(input)} (${algo ?? 'no type'})`, () => {
      expect(() => parseHash(input, algo)).toThrow(BadHashError);
      expect(() => parseHash(input, algo)).toThrow(message);
      try {
        parseHash(input, algo);
      } catch (e) {
        expect((e as Error).message).toBe(message);
      }
    });
  }

  it('unknown algorithms', () => {
    for (const s of ['foo:abc', 'foo-abc', 'SHA256:' + zero64]) {
      const algo = s.slice(0, s.search(/[:-]/));
      expect(() => parseHash(s)).toThrow(UnknownHashAlgorithmError);
      expect(() => parseHash(s)).toThrow(
        `unknown hash algorithm '${algo}', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'`,
      );
    }
    try {
      parseHashAlgo('foo');
    } catch (e) {
      expect((e as UnknownHashAlgorithmError).shortMessage).toBe("unknown hash algorithm 'foo'");
      expect((e as UnknownHashAlgorithmError).algo).toBe('foo');
    }
  });

  it("base64 is decoded as Nix 2.8 does", () => {
    const zero = '0'.repeat(64);
    // stops at '=', ignores what follows; skips newlines; ignores trailing bits
    expect(parseHash('sha256-' + 'A'.repeat(43) + '=AAAA').toBase16()).toBe(zero);
    expect(parseHash('sha256-' + 'A'.repeat(41) + '\nAA=').toBase16()).toBe(zero);
    expect(parseHash('sha256-' + 'A'.repeat(43)).toBase16()).toBe(zero);
    expect(parseHash('A'.repeat(42) + 'B=', 'sha256').toBase16()).toBe(zero);
    expect(() => parseHash('sha256-' + 'A'.repeat(42) + '.=')).toThrow(/invalid character in Base64 string/);
    expect(() => parseHash('sha256-' + 'A'.repeat(42) + '-_')).toThrow(/invalid character in Base64 string/);
    expect(decodeBase64Strict('aGVsbG8=').toString()).toBe('hello');
    expect(parseHash('sha256:' + zero.slice(0, 63) + 'A').toBase16()).toBe(zero.slice(0, 63) + 'a');
  });

  it('empty hashes', () => {
    const warnings: string[] = [];
    const h = parseHashAllowEmpty('', 'sha256', (m) => warnings.push(m));
    expect(h.toBase16()).toBe('0'.repeat(64));
    expect(warnings).toEqual(["found empty hash, assuming 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='"]);
    expect(() => parseHashAllowEmpty('', undefined)).toThrow('empty hash requires explicit hash type');
  });
});

describe('hash helpers', () => {
  it('compressHash XOR-folds', () => {
    const b = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const c = compressHash(b, 20);
    for (let i = 0; i < 20; i++) expect(c[i]).toBe(i < 12 ? i ^ (i + 20) : i);
    expect(compressHash(Buffer.from([1, 2, 3]), 20).toString('hex')).toBe('010203' + '00'.repeat(17));
  });
  it('formats', () => {
    expect(parseHashFormat('base32')).toBe('nix32');
    expect(parseHashFormat('sri')).toBe('sri');
    expect(parseHashFormat('hex')).toBeUndefined();
    const h = hashString('sha256', '');
    expect(h.format('base16', true)).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(h.format('sri', false)).toBe('sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(String(h)).toBe('sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73');
    expect(h.equals(parseHash(String(h)))).toBe(true);
  });
  it('hashString takes byte strings', () => {
    // "é" as a Nix string is the two bytes c3 a9
    expect(hashString('md5', bytes('é')).toBase16()).toBe(hashString('md5', Buffer.from('é', 'utf8')).toBase16());
  });
});
