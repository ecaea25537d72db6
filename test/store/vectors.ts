/** Loading of the CppNix 2.8 vectors in ../shared/vectors (see its README). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const VECTORS_DIR = process.env.TSNIX_VECTORS_DIR ?? resolve(here, '../../../shared/vectors');

export interface VectorFile<T> {
  description: string;
  nix_version: string;
  vectors: T[];
  [k: string]: unknown;
}

/** A vector file (parsed JSON); the tests need them, so their absence is a clear failure. */
export function readVectorFile(file: string): unknown {
  const f = join(VECTORS_DIR, file);
  if (!existsSync(f)) {
    throw new Error(`CppNix's vectors are needed: ${f} is missing (clone tsnix beside ../shared, or set TSNIX_VECTORS_DIR)`);
  }
  return JSON.parse(readFileSync(f, 'utf8'));
}

export function loadVectors<T>(file: string): VectorFile<T> {
  return readVectorFile(file) as VectorFile<T>;
}

/** A JS (Unicode) string as a Nix byte string: its UTF-8 bytes, one char code each. */
export function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A Nix byte string back to a JS (Unicode) string. */
export function unicode(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
