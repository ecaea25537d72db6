// Output of the engine on its way to the interface: kept until the
// interface subscribes (output can come before Ink is ready).

import type { BuildProgress } from './build.js';
import type { EngineListener } from './engine.js';

export type BusEvent = { type: 'output'; stream: 'out' | 'err'; text: string } | { type: 'progress'; ev: BuildProgress };

export class OutputBus implements EngineListener {
  private queue: BusEvent[] = [];
  private sink: ((e: BusEvent) => void) | null = null;

  output(stream: 'out' | 'err', text: string): void {
    this.emit({ type: 'output', stream, text });
  }

  progress(ev: BuildProgress): void {
    this.emit({ type: 'progress', ev });
  }

  private emit(e: BusEvent): void {
    if (this.sink) this.sink(e);
    else this.queue.push(e);
  }

  subscribe(sink: (e: BusEvent) => void): () => void {
    this.sink = sink;
    const q = this.queue;
    this.queue = [];
    for (const e of q) sink(e);
    return () => {
      if (this.sink === sink) this.sink = null;
    };
  }
}
