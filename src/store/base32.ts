/**
 * Nix base32 ("nix32"): the encoding of hashes in store paths and in
 * `sha256:<nix32>` strings.
 *
 * The alphabet omits e, o, u and t. The bit order is Nix's own: the byte
 * string is read as one little-endian number and the characters are written
 * most significant first, so character i (from the left) of an n-character
 * string holds bits 5*(n-1-i) .. 5*(n-1-i)+4 of that number.
 */

export const NIX32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';

/** char code -> digit value, or -1 */
const DIGIT: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < NIX32_ALPHABET.length; i++) t[NIX32_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

/** Thrown for malformed nix32 text. `character` is set for a bad character. */
export class Nix32Error extends Error {
  constructor(
    message: string,
    readonly input: string,
    readonly character?: string,
  ) {
    super(message);
    this.name = 'Nix32Error';
  }
}

/** Number of nix32 characters for `byteLength` bytes: ceil(8n / 5). */
export function nix32EncodedLength(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5);
}

/** Number of bytes a nix32 string of `charLength` characters decodes to: floor(5n / 8). */
export function nix32DecodedLength(charLength: number): number {
  return Math.floor((charLength * 5) / 8);
}

export function nix32Encode(bytes: Uint8Array): string {
  const len = nix32EncodedLength(bytes.length);
  let out = '';
  for (let n = len - 1; n >= 0; n--) {
    const bit = n * 5;
    const i = bit >>> 3;
    const j = bit & 7;
    const lo = bytes[i] ?? 0;
    const hi = bytes[i + 1] ?? 0;
    const v = ((lo >>> j) | (hi << (8 - j))) & 0x1f;
    out += NIX32_ALPHABET[v];
  }
  return out;
}

/** True if every character is a nix32 digit. */
export function isNix32(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 255 || DIGIT[c] === -1) return false;
  }
  return true;
}

/**
 * Decode nix32 text into floor(5n/8) bytes. Throws Nix32Error for a character
 * outside the alphabet, or when the string has set bits beyond the decoded
 * length (e.g. a 52-character sha256 whose first character is above '1').
 */
export function nix32Decode(s: string): Buffer {
  const size = nix32DecodedLength(s.length);
  const out = Buffer.alloc(size);
  const len = s.length;
  for (let k = 0; k < len; k++) {
    const code = s.charCodeAt(k);
    const digit = code > 255 ? -1 : (DIGIT[code] as number);
    if (digit < 0) {
      throw new Nix32Error(`invalid character '${s[k]}' in nix32 string '${s}'`, s, s[k]);
    }
    const n = len - 1 - k;
    const bit = n * 5;
    const i = bit >>> 3;
    const j = bit & 7;
    if (i < size) {
      out[i] = (out[i] as number) | ((digit << j) & 0xff);
    } else if (digit !== 0) {
      throw new Nix32Error(`nix32 string '${s}' does not fit in ${size} bytes`, s);
    }
    const carry = digit >>> (8 - j);
    if (carry !== 0) {
      if (i + 1 < size) out[i + 1] = (out[i + 1] as number) | carry;
      else throw new Nix32Error(`nix32 string '${s}' does not fit in ${size} bytes`, s);
    }
  }
  return out;
}
