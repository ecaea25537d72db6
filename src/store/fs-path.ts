/**
 * File-system paths as the store takes them. Nix strings are byte strings
 * (a JS string whose char codes are bytes), so a `string` path is read as
 * latin1; a Buffer is used as it is. Node's fs accepts Buffer paths, which
 * keeps names that are not valid UTF-8 intact.
 */
export type FsPath = string | Buffer;

export function toFsPath(p: FsPath): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
}
