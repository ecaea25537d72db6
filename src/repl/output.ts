// Writing to the standard streams synchronously (so that output and errors
// interleave in order), ending quietly on a closed pipe.
import fs from 'node:fs';

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') return;
      throw e;
    }
  }
}

/** Display text (a JS string) to stdout. */
export const stdoutWrite = (s: string): void => writeAll(1, Buffer.from(s, 'utf8'));
/** Display text to stderr. */
export const stderrWrite = (s: string): void => writeAll(2, Buffer.from(s, 'utf8'));
