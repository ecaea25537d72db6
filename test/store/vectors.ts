/** Loading of the CppNix 2.8 vectors in ../shared/vectors (see its README). */
import { readFileSync } from 'node:fs';
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

export function loadVectors<T>(file: string): VectorFile<T> {
  return JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')) as VectorFile<T>;
}

/** A JS (Unicode) string as a Nix byte string: its UTF-8 bytes, one char code each. */
export function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A Nix byte string back to a JS (Unicode) string. */
export function unicode(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
