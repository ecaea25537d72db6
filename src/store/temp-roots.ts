/**
 * Temporary GC roots: store paths a running process needs (outputs being
 * built, paths just added or instantiated) that the collector must keep.
 *
 * Layout in the state directory:
 * - `gc.lock`: taken shared by a process while it adds temporary roots, and
 *   exclusively by the collector for the whole collection, so no root can be
 *   added between the collector reading the roots and deleting paths.
 * - `temproots/<pid>`: the roots of process `pid`, one store path per line;
 *   `temproots/<pid>.lock` is held exclusively by that process for its
 *   lifetime. If the collector can take that lock, the process is dead and
 *   both files are stale.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FileLock } from './lock.js';

function fsPath(p: string): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

export function gcLockPath(stateDir: string): string {
  return `${stateDir}/gc.lock`;
}

export function tempRootsDir(stateDir: string): string {
  return `${stateDir}/temproots`;
}

/** How long to wait for a running garbage collection (it holds gc.lock exclusively). */
const GC_WAIT_MS = 24 * 3600 * 1000;

/**
 * This process's temporary roots in one state directory. Use
 * `TempRoots.of(stateDir)`: one object per state directory for the whole
 * life of the process (its lock says "this process is alive").
 *
 * `add` makes roots at once (taking gc.lock shared for a moment).
 * `addDeferred` is for many paths in a row (a store writing thousands of
 * .drv files): the first call takes gc.lock shared and keeps it, the paths
 * are buffered, and `flush` writes them and lets go of the lock. No
 * collection can start in between, so buffered roots are as safe as written
 * ones.
 */
export class TempRoots {
  private static readonly byState = new Map<string, TempRoots>();

  static of(stateDir: string): TempRoots {
    let t = TempRoots.byState.get(stateDir);
    if (!t) TempRoots.byState.set(stateDir, (t = new TempRoots(stateDir)));
    return t;
  }

  /**
   * Drop the roots of every state directory: for a command that is done with
   * its stores (all closed) and exits (see src/cli/main.ts).
   */
  static releaseAll(): void {
    for (const t of TempRoots.byState.values()) t.release();
  }

  private readonly file: string;
  private alive: FileLock | undefined;
  private readonly added = new Set<string>();
  /** gc.lock held shared for deferred roots, and the roots waiting to be written. */
  private held: FileLock | undefined;
  private buffer: string[] = [];

  constructor(readonly stateDir: string) {
    this.file = `${tempRootsDir(stateDir)}/${process.pid}`;
  }

  private ensureAlive(): void {
    if (!this.alive) {
      mkdirSync(fsPath(tempRootsDir(this.stateDir)), { recursive: true });
      this.alive = FileLock.acquireSync(`${this.file}.lock`);
    }
  }

  private lockGc(): FileLock {
    let l = FileLock.tryAcquire(gcLockPath(this.stateDir), 'shared');
    if (!l) {
      process.stderr.write('waiting for the big garbage collector lock...\n');
      l = FileLock.acquireSync(gcLockPath(this.stateDir), 'shared', GC_WAIT_MS);
    }
    return l;
  }

  private append(paths: string[]): void {
    if (paths.length) appendFileSync(fsPath(this.file), Buffer.from(paths.map((p) => p + '\n').join(''), 'latin1'));
  }

  /** Make `paths` roots until this process exits (or `release` is called). */
  add(paths: Iterable<string>): void {
    const fresh = [...paths].filter((p) => !this.added.has(p));
    if (fresh.length === 0) return;
    this.ensureAlive();
    if (this.held) {
      this.buffer.push(...fresh);
    } else {
      const gc = this.lockGc();
      try {
        this.append(fresh);
      } finally {
        gc.release();
      }
    }
    for (const p of fresh) this.added.add(p);
  }

  /** Make `path` a root now as far as any collection can tell; written at the next `flush`. */
  addDeferred(path: string): void {
    if (this.added.has(path)) return;
    this.ensureAlive();
    this.held ??= this.lockGc();
    this.buffer.push(path);
    this.added.add(path);
  }

  /** Write the deferred roots and release gc.lock. */
  flush(): void {
    if (!this.held) return;
    try {
      this.append(this.buffer);
    } finally {
      this.buffer = [];
      this.held.release();
      this.held = undefined;
    }
  }

  /** Drop this process's roots (its file) now. */
  release(): void {
    this.flush();
    if (!this.alive) return;
    try {
      unlinkSync(fsPath(this.file));
    } catch {
      // gone
    }
    this.alive.release(true);
    this.alive = undefined;
    this.added.clear();
  }
}

/**
 * The temporary roots of all live processes (call while holding the GC lock
 * exclusively). Files of dead processes are deleted. Includes this process's.
 */
export function readTempRoots(stateDir: string): Set<string> {
  const dir = tempRootsDir(stateDir);
  const roots = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(fsPath(dir));
  } catch {
    return roots;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const file = join(fsPath(dir), n);
    const own = Number(n) === process.pid;
    const probe = own ? undefined : FileLock.tryAcquire(`${dir}/${n}.lock`);
    if (probe) {
      // its process is gone
      try {
        unlinkSync(file);
      } catch {
        // gone
      }
      probe.release(true);
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file).toString('latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (line !== '') roots.add(line);
  }
  return roots;
}
