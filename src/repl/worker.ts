// The REPL's evaluator thread: one ReplSession, driven by messages from the
// interface thread (see protocol.ts and worker-engine.ts). Requests are
// handled one at a time; `abort` (Ctrl-C) is handled at once: it stops
// builds, and the shared interrupt flag stops a running evaluation.

import { parentPort, workerData } from 'node:worker_threads';
import { setInterruptFlag } from '../eval/ops.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { ReplSession } from './session.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

setInterruptFlag(new Int32Array(init.flag));

const session = new ReplSession(init.config, {
  out: (text) => post({ type: 'out', stream: 'out', text }),
  err: (text) => post({ type: 'out', stream: 'err', text }),
  progress: (ev) => post({ type: 'progress', ev }),
});

async function handle(m: Exclude<ToWorker, { type: 'abort' }>): Promise<void> {
  try {
    let value: unknown;
    switch (m.type) {
      case 'run':
        value = await session.run(m.input);
        break;
      case 'complete':
        try {
          value = session.complete(m.text, m.cursor);
        } catch {
          value = { start: m.cursor, candidates: [] };
        }
        break;
      case 'xchildren':
        value = session.exploreChildren(m.node, m.offset, m.limit);
        break;
      case 'xforce':
        value = session.exploreForce(m.node);
        break;
      case 'xclose':
        session.exploreClose();
        break;
      case 'afterEdit':
        session.afterEdit();
        break;
    }
    post({ type: 'result', id: m.id, ok: true, value, snapshot: session.snapshot() });
  } catch (e) {
    post({ type: 'result', id: m.id, ok: false, error: session.formatError(e), snapshot: session.snapshot() });
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  if (m.type === 'abort') {
    session.abortBuilds();
    return;
  }
  chain = chain.then(() => handle(m));
});

try {
  session.start(init.snapshot);
} catch (e) {
  session.reportError(e);
}
post({ type: 'ready' });
