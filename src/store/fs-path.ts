import { writeSync } from 'node:fs';

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

/**
 * Writes all of a buffer to a file descriptor, synchronously (so that
 * output and errors interleave in order). A non-blocking pipe (EAGAIN) is
 * retried; a closed one (EPIPE) ends the writing quietly.
 */
export function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}
