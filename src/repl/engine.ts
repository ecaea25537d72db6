// The REPL's user interfaces talk to the evaluator through a ReplEngine:
// - WorkerEngine (worker-engine.ts): the session runs in a worker thread, so
//   that the interface stays responsive and Ctrl-C can interrupt a
//   synchronous evaluation (interactive REPL and piped input);
// - LocalEngine (here): the session runs in the calling thread (tests).

import type { BuildProgress } from './build.js';
import type { XNode } from './explore.js';
import { ReplSession, type RunResult, type SessionConfig } from './session.js';

export interface Completion {
  /** Where the completed word starts in the text. */
  start: number;
  candidates: string[];
}

export interface EngineListener {
  output(stream: 'out' | 'err', text: string): void;
  progress?(ev: BuildProgress): void;
}

export interface ReplEngine {
  /** Runs one input (the lines typed so far, joined by newlines). */
  run(input: string): Promise<RunResult>;
  complete(text: string, cursor: number): Promise<Completion>;
  exploreChildren(node: number, offset: number, limit: number): Promise<{ nodes: XNode[]; total: number }>;
  exploreForce(node: number): Promise<XNode | null>;
  exploreClose(): Promise<void>;
  /** After `:e`: reload the files. */
  afterEdit(): Promise<void>;
  /** Ctrl-C: interrupts what is running (evaluation or build). */
  interrupt(): void;
  close(): Promise<void>;
}

/** The session in this thread (evaluation cannot be interrupted while it runs; builds can). */
export class LocalEngine implements ReplEngine {
  readonly session: ReplSession;

  constructor(config: SessionConfig, listener: EngineListener) {
    this.session = new ReplSession(config, {
      out: (t) => listener.output('out', t),
      err: (t) => listener.output('err', t),
      progress: (ev) => listener.progress?.(ev),
    });
    this.session.start();
  }

  run(input: string): Promise<RunResult> {
    return this.session.run(input);
  }

  async complete(text: string, cursor: number): Promise<Completion> {
    try {
      return this.session.complete(text, cursor);
    } catch {
      return { start: cursor, candidates: [] };
    }
  }

  async exploreChildren(node: number, offset: number, limit: number): Promise<{ nodes: XNode[]; total: number }> {
    return this.session.exploreChildren(node, offset, limit);
  }

  async exploreForce(node: number): Promise<XNode | null> {
    return this.session.exploreForce(node);
  }

  async exploreClose(): Promise<void> {
    this.session.exploreClose();
  }

  async afterEdit(): Promise<void> {
    this.session.afterEdit();
  }

  interrupt(): void {
    this.session.abortBuilds();
  }

  async close(): Promise<void> {}
}
