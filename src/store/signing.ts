/**
 * ed25519 signatures of store paths, as CppNix (libsodium) makes them.
 *
 * - A secret key is `name:base64(seed32 || pub32)` (libsodium's 64-byte
 *   secret key), a public key `name:base64(pub32)`. Key files hold exactly
 *   that text (CppNix writes no newline; a trailing one is tolerated).
 * - What is signed is a path's fingerprint:
 *   `1;<store path>;<sha256:nix32 NAR hash>;<NAR size>;<references, comma-separated>`.
 * - A signature is `name:base64(64-byte detached signature)`. ed25519 is
 *   deterministic: the same key and fingerprint always give the same bytes.
 *
 * node:crypto does ed25519; keys are handed to it as DER (PKCS#8 / SPKI),
 * which for ed25519 is a fixed prefix followed by the raw 32 bytes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { StoreError } from './compute-store.js';
import { decodeBase64Strict, type Hash } from './hash.js';
import { compareBytes } from './store-path.js';

/** A bad key or signature (a StoreError, so the CLI prints it as such). */
export class SigningError extends StoreError {}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SecretKey {
  name: string;
  /** The 32-byte seed. */
  seed: Buffer;
  /** The 32-byte public key stored after the seed. */
  pub: Buffer;
}

export interface PublicKey {
  name: string;
  /** The 32-byte public key. */
  key: Buffer;
}

/** `name:base64` as CppNix's Key splits it (the text is trimmed of surrounding white space). */
function splitKey(text: string, what: 'secret' | 'public'): { name: string; key: Buffer } {
  const s = text.trim();
  const colon = s.indexOf(':');
  const name = colon > 0 ? s.slice(0, colon) : '';
  const b64 = colon > 0 ? s.slice(colon + 1) : '';
  if (name === '' || b64 === '') throw new SigningError(`${what} key is corrupt`);
  let key: Buffer;
  try {
    key = decodeBase64Strict(b64);
  } catch {
    throw new SigningError(`${what} key is not valid`);
  }
  return { name, key };
}

export function parseSecretKey(text: string): SecretKey {
  const { name, key } = splitKey(text, 'secret');
  if (key.length !== 64) throw new SigningError('secret key is not valid');
  return { name, seed: key.subarray(0, 32), pub: key.subarray(32) };
}

export function parsePublicKey(text: string): PublicKey {
  const { name, key } = splitKey(text, 'public');
  if (key.length !== 32) throw new SigningError('public key is not valid');
  return { name, key };
}

export function formatSecretKey(k: SecretKey): string {
  return `${k.name}:${Buffer.concat([k.seed, k.pub]).toString('base64')}`;
}

export function formatPublicKey(k: PublicKey): string {
  return `${k.name}:${k.key.toString('base64')}`;
}

/** The public half of a secret key (as stored in it). */
export function publicKeyOf(k: SecretKey): PublicKey {
  return { name: k.name, key: k.pub };
}

/** A new key pair (`nix-store --generate-binary-cache-key NAME …`). */
export function generateKeyPair(name: string): { secret: SecretKey; public: PublicKey } {
  if (name === '' || name.includes(':')) throw new SigningError(`invalid key name '${name}'`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const secret = { name, seed: Buffer.from(seed), pub: Buffer.from(pub) };
  return { secret, public: publicKeyOf(secret) };
}

const privateObjects = new WeakMap<SecretKey, KeyObject>();

function privateKeyObject(k: SecretKey): KeyObject {
  let o = privateObjects.get(k);
  if (!o) {
    o = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, k.seed]), format: 'der', type: 'pkcs8' });
    privateObjects.set(k, o);
  }
  return o;
}

function publicKeyObject(key: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: 'der', type: 'spki' });
}

/** `name:base64(signature)` of a message (a byte string). */
export function signDetached(key: SecretKey, message: string): string {
  const sig = sign(null, Buffer.from(message, 'latin1'), privateKeyObject(key));
  return `${key.name}:${sig.toString('base64')}`;
}

/** What a store path's signature covers. */
export interface FingerprintInfo {
  path: string;
  narHash: Hash;
  narSize: number;
  references: Iterable<string>;
}

/**
 * `1;<path>;sha256:<nix32>;<narSize>;<refs>` (references sorted, comma-separated;
 * empty after the last `;` when there are none).
 */
export function fingerprintPath(info: FingerprintInfo, storeDir?: string): string {
  if (storeDir !== undefined && !info.path.startsWith(storeDir + '/')) {
    throw new SigningError(`path '${info.path}' is not in the Nix store`);
  }
  if (info.narHash.algo !== 'sha256') {
    throw new SigningError(`cannot calculate fingerprint of path '${info.path}' because its hash is not SHA-256`);
  }
  const refs = [...info.references].sort(compareBytes);
  return `1;${info.path};${info.narHash.format('nix32', true)};${info.narSize};${refs.join(',')}`;
}

/** The signature of a path with a key. */
export function signPath(info: FingerprintInfo, key: SecretKey): string {
  return signDetached(key, fingerprintPath(info));
}

/** Trusted public keys by name. */
export type PublicKeys = Map<string, PublicKey>;

/** Public keys from `name:base64` texts (a setting such as trusted-public-keys). */
export function parsePublicKeys(texts: Iterable<string>): PublicKeys {
  const m: PublicKeys = new Map();
  for (const t of texts) {
    const k = parsePublicKey(t);
    m.set(k.name, k);
  }
  return m;
}

/**
 * Whether `sig` (`name:base64`) is a valid signature of `message` by one of
 * `keys` (the key is chosen by name). A signature of the wrong length is an
 * error, as in CppNix; an unknown key name or a bad signature is false.
 */
export function verifyDetached(message: string, sig: string, keys: PublicKeys): boolean {
  const colon = sig.indexOf(':');
  if (colon <= 0) return false;
  const key = keys.get(sig.slice(0, colon));
  if (!key) return false;
  let raw: Buffer;
  try {
    raw = decodeBase64Strict(sig.slice(colon + 1));
  } catch {
    throw new SigningError('signature is not valid');
  }
  if (raw.length !== 64) throw new SigningError('signature is not valid');
  return verify(null, Buffer.from(message, 'latin1'), publicKeyObject(key.key), raw);
}

/** How many of a path's signatures are valid for the trusted keys (each distinct signature counted once). */
export function countValidSignatures(info: FingerprintInfo, sigs: Iterable<string>, keys: PublicKeys): number {
  const fp = fingerprintPath(info);
  let n = 0;
  for (const s of new Set(sigs)) if (verifyDetached(fp, s, keys)) n++;
  return n;
}
