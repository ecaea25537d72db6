// The session in a worker thread (see engine.ts). Ctrl-C sets a flag the
// evaluator checks on every function call; if the evaluator does not stop
// within a moment (a long loop inside a builtin), the worker is terminated
// and a new one replays the session's bindings and loaded files, so the
// scope survives.

import { Worker } from 'node:worker_threads';
import type { Completion, EngineListener, ReplEngine } from './engine.js';
import type { XNode } from './explore.js';
import type { FromWorker, Request, WorkerInit } from './protocol.js';
import type { RunResult, SessionConfig, SessionSnapshot } from './session.js';

/** How long an interrupted evaluation may take to stop before its worker is replaced. */
const KILL_AFTER_MS = 1500;

type Pending = { req: Request; resolve: (v: unknown) => void };

/** Distributive Omit, so that each request type keeps its own fields. */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** The worker's stack: as big as the main thread's (bin/tsnix raises it for deep recursion). */
function stackSizeMb(): number {
  const flag = process.execArgv.find((a) => a.startsWith('--stack-size='));
  const kb = flag ? Number(flag.slice('--stack-size='.length)) : NaN;
  return Number.isFinite(kb) && kb > 4096 ? Math.min(Math.floor(kb / 1024), 1024) : 256;
}

export class WorkerEngine implements ReplEngine {
  private worker!: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private snapshot: SessionSnapshot | undefined;
  private killTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readyPromise!: Promise<void>;
  private readyResolve!: () => void;

  constructor(
    private readonly config: SessionConfig,
    private readonly listener: EngineListener,
    private readonly workerUrl: URL = new URL('./worker.js', import.meta.url),
  ) {
    this.spawn(undefined);
  }

  /** Resolves when the worker has loaded the start-up files. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  private spawn(snapshot: SessionSnapshot | undefined): void {
    this.readyPromise = new Promise((r) => (this.readyResolve = r));
    const init: WorkerInit = { config: this.config, flag: this.flag.buffer as SharedArrayBuffer, snapshot };
    const w = new Worker(this.workerUrl, {
      workerData: init,
      resourceLimits: { stackSizeMb: stackSizeMb() },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e: Error & { code?: string }) => {
      if (w !== this.worker) return;
      const what = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : e.message;
      this.replace(`error: the evaluator stopped (${what}); the session was restored\n`);
    });
    w.on('exit', () => {
      if (w !== this.worker || this.closed) return;
      this.replace('error: the evaluator stopped unexpectedly; the session was restored\n');
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        this.readyResolve();
        return;
      case 'out':
        this.listener.output(m.stream, m.text);
        return;
      case 'progress':
        this.listener.progress?.(m.ev);
        return;
      case 'result': {
        if (m.snapshot) this.snapshot = m.snapshot;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.clearKillTimer();
        if (m.ok) p.resolve(m.value);
        else {
          this.listener.output('err', m.error + '\n');
          p.resolve(fallback(p.req));
        }
      }
    }
  }

  private clearKillTimer(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = null;
  }

  /** Replaces the worker by a new one with the session's scope; pending requests end. */
  private replace(message: string): void {
    this.clearKillTimer();
    const old = this.worker;
    this.spawn(this.snapshot);
    void old.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.listener.progress?.({ type: 'end' });
    this.listener.output('err', message);
    for (const p of pending) p.resolve(fallback(p.req));
  }

  private request<T>(body: RequestBody): Promise<T> {
    if (this.closed) return Promise.resolve(fallback({ ...body, id: 0 } as Request) as T);
    const req = { ...body, id: this.nextId++ } as Request;
    return new Promise<T>((resolve) => {
      this.pending.set(req.id, { req, resolve: resolve as (v: unknown) => void });
      // a new request starts uninterrupted (the flag is only ever set while one runs)
      if (this.pending.size === 1) Atomics.store(this.flag, 0, 0);
      this.worker.postMessage(req);
    });
  }

  run(input: string): Promise<RunResult> {
    return this.request<RunResult>({ type: 'run', input });
  }

  complete(text: string, cursor: number): Promise<Completion> {
    return this.request<Completion>({ type: 'complete', text, cursor });
  }

  exploreChildren(node: number, offset: number, limit: number): Promise<{ nodes: XNode[]; total: number }> {
    return this.request({ type: 'xchildren', node, offset, limit });
  }

  exploreForce(node: number): Promise<XNode | null> {
    return this.request({ type: 'xforce', node });
  }

  exploreClose(): Promise<void> {
    return this.request({ type: 'xclose' });
  }

  afterEdit(): Promise<void> {
    return this.request({ type: 'afterEdit' });
  }

  /** Whether a request is running. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  interrupt(): void {
    if (this.pending.size === 0) return;
    Atomics.store(this.flag, 0, 1);
    this.worker.postMessage({ type: 'abort' });
    this.killTimer ??= setTimeout(() => {
      this.killTimer = null;
      if (this.pending.size > 0) this.replace('error: interrupted by the user\n');
    }, KILL_AFTER_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clearKillTimer();
    await this.worker.terminate();
  }
}

/** What a request gives when it could not complete (its error was printed). */
function fallback(req: Request): unknown {
  switch (req.type) {
    case 'run':
      return { kind: 'done' } satisfies RunResult;
    case 'complete':
      return { start: req.cursor, candidates: [] } satisfies Completion;
    case 'xchildren':
      return { nodes: [], total: 0 };
    default:
      return null;
  }
}
