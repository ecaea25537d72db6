// Messages between the REPL's interface (main thread) and its evaluator
// (src/repl/worker.ts).

import type { BuildProgress } from './build.js';
import type { SessionConfig, SessionSnapshot } from './session.js';

export interface WorkerInit {
  config: SessionConfig;
  /** Int32Array(1) over it: non-zero interrupts evaluation (see setInterruptFlag in src/eval/ops.ts). */
  flag: SharedArrayBuffer;
  /** Replayed instead of loading the files (after a restart). */
  snapshot?: SessionSnapshot;
}

export type Request =
  | { type: 'run'; id: number; input: string }
  | { type: 'complete'; id: number; text: string; cursor: number }
  | { type: 'xchildren'; id: number; node: number; offset: number; limit: number }
  | { type: 'xforce'; id: number; node: number }
  | { type: 'xclose'; id: number }
  | { type: 'afterEdit'; id: number };

export type ToWorker = Request | { type: 'abort' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'out'; stream: 'out' | 'err'; text: string }
  | { type: 'progress'; ev: BuildProgress }
  | { type: 'result'; id: number; ok: true; value: unknown; snapshot?: SessionSnapshot }
  | { type: 'result'; id: number; ok: false; error: string; snapshot?: SessionSnapshot };
