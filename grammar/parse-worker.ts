// Runs parse() in a worker thread with a large stack: the fallback used by
// parser.ts when an input is nested too deeply for the main thread's stack.
// The caller blocks on `shared` (Atomics.wait) and reads the reply from `port`
// with receiveMessageOnPort, so the whole exchange is synchronous.

import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Source } from './ast.js';
import { NixParseError } from './errors.js';
import { flatten } from './flatten.js';
import { parse, parseRange } from './parser.js';
import type { ParseOptions } from './parser.js';

interface Request {
  path: string | null;
  origin: string;
  text: string;
  range: { start: number; end: number } | undefined;
  opts: Omit<ParseOptions, 'warn'>;
  port: MessagePort;
  shared: Int32Array;
}

const { path, origin, text, range, opts, port, shared } = workerData as Request;
const warnings: [string, number][] = [];
try {
  const src = new Source(path, origin, text);
  const o = { ...opts, warn: (m: string, p: number) => void warnings.push([m, p]) };
  const expr = range ? parseRange(src, range.start, range.end, o) : parse(src, o);
  // Flattened: structured cloning of a deeply nested AST would overflow the receiver's stack.
  port.postMessage({ flat: flatten(expr), warnings });
} catch (e) {
  if (e instanceof NixParseError) port.postMessage({ error: { msg: e.msg, offset: e.pos.offset }, warnings });
  else port.postMessage({ internal: e instanceof Error ? (e.stack ?? e.message) : String(e), warnings });
} finally {
  Atomics.store(shared, 0, 1);
  Atomics.notify(shared, 0);
}
