// Writing to the standard streams synchronously (so that output and errors
// interleave in order), ending quietly on a closed pipe.
import { writeAll } from '../store/fs-path.js';

export { writeAll };

/** Display text (a JS string) to stdout. */
export const stdoutWrite = (s: string): void => writeAll(1, Buffer.from(s, 'utf8'));
/** Display text to stderr. */
export const stderrWrite = (s: string): void => writeAll(2, Buffer.from(s, 'utf8'));
