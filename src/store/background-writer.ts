/**
 * Creating files in a worker thread while the main thread goes on evaluating.
 *
 * Creating a small file costs a few hundred microseconds of kernel time on
 * some disks (ext4 on a virtual disk: 0.3-0.6 ms), far more than printing and
 * hashing the derivation it holds: instantiating a package set spends most
 * of its time creating .drv files one after the other. LocalStore hands the
 * .drv files it writes to a BackgroundWriter instead, which creates them on
 * a second thread, and waits for them (`drain`) before it commits their
 * registrations: a path still becomes valid only once its file is complete.
 *
 * Jobs are claimed with a compare-and-swap on a status word in shared
 * memory, by the worker as it receives them or by the main thread when it
 * drains: the main thread never waits for a job the worker has not started
 * (nor for the worker to start at all), it does such jobs itself. A job the
 * worker could not do (the file exists already, a write failed) is done
 * again by the main thread, synchronously, with the store's full handling
 * (replacing an unregistered leftover, or the error message of the failure).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';

// (loaded when first needed, not at the top: a worker_threads module taken
// into the start-up snapshot cannot start workers after it is deserialized,
// Node 20's process.cwd() in the new thread fails)
function loadWorkerThreads(): typeof import('node:worker_threads') {
  return createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
}

/** A file to create: read-only, mtime 1, with these contents. */
export interface FileJob {
  /** The file's path (bytes as latin1). */
  readonly file: string;
  /** Its contents (bytes as latin1). */
  readonly text: string;
  /** What the store writes the file with when it does it itself (and what it throws). */
  readonly writeSync: () => void;
}

const QUEUED = 0;
const BY_WORKER = 1;
const BY_MAIN = 2;
const DONE = 3;
const FAILED = 4;
const CHUNK = 1024;

// The worker: create each file it can claim; on any failure remove what it
// created and report FAILED (the main thread then does the job itself).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const C = fs.constants;
const chunks = [];
parentPort.on('message', (m) => {
  if (m.chunk) chunks.push(new Int32Array(m.chunk));
  if (m.c < 0) return;
  const st = chunks[m.c];
  if (Atomics.compareExchange(st, m.i, ${QUEUED}, ${BY_WORKER}) !== ${QUEUED}) return;
  // (everything after the claim in the try: the main thread waits for a claimed job's end)
  let fd = -1, ok = false, f;
  try {
    f = Buffer.from(m.f, 'latin1');
    const d = Buffer.from(m.d, 'latin1');
    fd = fs.openSync(f, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o444);
    for (let off = 0; off < d.length; ) off += fs.writeSync(fd, d, off, d.length - off);
    if (m.chmod) fs.fchmodSync(fd, 0o444);
    fs.futimesSync(fd, 1, 1);
    ok = true;
  } catch {
  } finally {
    if (fd >= 0) {
      try { fs.closeSync(fd); } catch { ok = false; }
      if (!ok) try { fs.rmSync(f, { force: true }); } catch {}
    }
  }
  Atomics.store(st, m.i, ok ? ${DONE} : ${FAILED});
  Atomics.notify(st, m.i);
});
`;

/** Files queued before the worker is started: a few are cheaper to write here than to start a thread for. */
const START_AFTER = 8;
/** Finished jobs are forgotten every PRUNE_EVERY new ones; at MAX_BACKLOG unfinished ones, all are drained. */
const PRUNE_EVERY = 256;
const MAX_BACKLOG = 4096;

export class BackgroundWriter {
  private worker: Worker | null = null;
  private failedToStart = false;
  private readonly chunks: Int32Array[] = [];
  /** Jobs not drained yet, with their chunk and slot. */
  private jobs: { job: FileJob; c: number; i: number }[] = [];
  private next = CHUNK;
  /** Contents of the files queued and not drained yet, by path. */
  private readonly queued = new Map<string, string>();
  private readonly chmod: boolean;
  /** The store directory, logical and physical (bytes as latin1): see storeReadBarrier. */
  readonly dirs: readonly string[];

  constructor(opts: { dirs: readonly string[]; chmod: boolean }) {
    this.dirs = opts.dirs;
    this.chmod = opts.chmod;
  }

  /** Files queued and not drained yet. */
  get pending(): number {
    return this.jobs.length;
  }

  /** Files created so far by the worker, and by the main thread (tests look at these). */
  readonly stats = { byWorker: 0, byMain: 0 };

  /** The contents of a file that is queued and perhaps not on disk yet. */
  queuedText(file: string): string | undefined {
    return this.queued.get(file);
  }

  enqueue(job: FileJob): void {
    let chunk: SharedArrayBuffer | undefined;
    if (this.next === CHUNK) {
      chunk = new SharedArrayBuffer(CHUNK * 4);
      this.chunks.push(new Int32Array(chunk));
      this.next = 0;
    }
    const c = this.chunks.length - 1;
    const i = this.next++;
    this.jobs.push({ job, c, i });
    this.queued.set(job.file, job.text);
    activeWriters.add(this);
    if (!this.worker && !this.failedToStart && this.jobs.length >= START_AFTER) this.start();
    if (this.worker) this.post(c, i, job, chunk);
    if (++this.sincePrune === PRUNE_EVERY) {
      this.sincePrune = 0;
      this.prune();
      // (a disk slower than the evaluation: the main thread helps, so that
      // what waits, and its text in memory, stays bounded)
      if (this.jobs.length >= MAX_BACKLOG) this.drain();
    }
  }

  private sincePrune = 0;

  /** Forget the jobs the worker has finished (and their texts). */
  private prune(): void {
    const keep: { job: FileJob; c: number; i: number }[] = [];
    for (const j of this.jobs) {
      if (Atomics.load(this.chunks[j.c] as Int32Array, j.i) === DONE) {
        this.queued.delete(j.job.file);
        this.stats.byWorker++;
      } else {
        keep.push(j);
      }
    }
    this.jobs = keep;
  }

  private post(c: number, i: number, job: FileJob, chunk?: SharedArrayBuffer): void {
    // (strings: a Buffer would be sent with all of the pool it is a slice of)
    (this.worker as Worker).postMessage({ chunk, c, i, f: job.file, d: job.text, chmod: this.chmod });
  }

  private start(): void {
    try {
      const w = new (loadWorkerThreads().Worker)(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
      w.unref();
      // (an error outside a job leaves the jobs unclaimed, to the main thread's drain)
      w.on('error', () => {});
      this.worker = w;
    } catch {
      this.failedToStart = true;
      return;
    }
    // The chunks so far, then the jobs queued so far.
    for (const st of this.chunks) this.worker.postMessage({ chunk: st.buffer, c: -1, i: -1 });
    for (const { job, c, i } of this.jobs) this.post(c, i, job);
  }

  /**
   * Wait until every queued file is complete on disk: do here the jobs the
   * worker has not claimed, wait for those it has, and do again those it
   * failed (whose error, if it happens again, is thrown).
   */
  drain(): void {
    const jobs = this.jobs;
    this.jobs = [];
    this.queued.clear();
    activeWriters.delete(this);
    for (let k = 0; k < jobs.length; k++) {
      const { job, c, i } = jobs[k]!;
      const st = this.chunks[c] as Int32Array;
      // (the worker never leaves a job it claimed: its whole job is in a try)
      let s = Atomics.compareExchange(st, i, QUEUED, BY_MAIN);
      while (s === BY_WORKER) {
        Atomics.wait(st, i, BY_WORKER);
        s = Atomics.load(st, i);
      }
      if (s === DONE) {
        this.stats.byWorker++;
        continue;
      }
      // claimed here (s was QUEUED), or failed by the worker
      try {
        job.writeSync();
      } catch (e) {
        this.abandon(jobs, k + 1);
        throw e;
      }
      this.stats.byMain++;
    }
  }

  /** After a failure: the jobs not started yet are dropped (their files would be unregistered leftovers). */
  private abandon(jobs: { c: number; i: number }[], from: number): void {
    for (let k = from; k < jobs.length; k++) {
      const { c, i } = jobs[k]!;
      Atomics.compareExchange(this.chunks[c] as Int32Array, i, QUEUED, BY_MAIN);
    }
  }
}

const activeWriters = new Set<BackgroundWriter>();

/**
 * Make every file queued in this process complete on disk before `path` is
 * read, if `path` (bytes as latin1) is in a store directory with queued
 * files: the evaluator calls this before it reads a file
 * (`builtins.readFile drv.drvPath`). Errors are those of writing the files.
 */
export function storeReadBarrier(path: string): void {
  if (activeWriters.size === 0) return;
  for (const w of [...activeWriters]) {
    if (w.dirs.some((d) => path === d || path.startsWith(d + '/'))) w.drain();
  }
}
