// Runs parse() in a worker thread with a large stack: the fallback used by
// parser.ts when an input is nested too deeply for the main thread's stack.
// The caller blocks on `shared` (Atomics.wait) and reads the reply from `port`
// with receiveMessageOnPort, so the whole exchange is synchronous.

import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Source } from './ast.js';
import { NixParseError } from './errors.js';
import { flatten } from './flatten.js';
import { parse } from './parser.js';
import type { ParseOptions } from './parser.js';

interface Request {
  path: string | null;
  origin: string;
  text: string;
  opts: Omit<ParseOptions, 'warn'>;
  port: MessagePort;
  shared: Int32Array;
}

const { path, origin, text, opts, port, shared } = workerData as Request;
const warnings: [string, number][] = [];
try {
  const expr = parse(new Source(path, origin, text), { ...opts, warn: (m, p) => warnings.push([m, p]) });
  // Flattened: structured cloning of a deeply nested AST would overflow the receiver's stack.
  port.postMessage({ flat: flatten(expr), warnings });
} catch (e) {
  if (e instanceof NixParseError) port.postMessage({ error: { msg: e.msg, offset: e.pos.offset }, warnings });
  else port.postMessage({ internal: e instanceof Error ? (e.stack ?? e.message) : String(e), warnings });
} finally {
  Atomics.store(shared, 0, 1);
  Atomics.notify(shared, 0);
}
