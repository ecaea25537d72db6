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

/** This process's temporary roots in one state directory. */
export class TempRoots {
  private readonly file: string;
  private alive: FileLock | undefined;
  private readonly added = new Set<string>();

  constructor(readonly stateDir: string) {
    this.file = `${tempRootsDir(stateDir)}/${process.pid}`;
  }

  /** Make `paths` roots until this process exits (or `release` is called). */
  add(paths: Iterable<string>): void {
    const fresh = [...paths].filter((p) => !this.added.has(p));
    if (fresh.length === 0) return;
    if (!this.alive) {
      mkdirSync(fsPath(tempRootsDir(this.stateDir)), { recursive: true });
      this.alive = FileLock.acquireSync(`${this.file}.lock`);
    }
    const gc = FileLock.acquireSync(gcLockPath(this.stateDir), 'shared');
    try {
      appendFileSync(fsPath(this.file), Buffer.from(fresh.map((p) => p + '\n').join(''), 'latin1'));
    } finally {
      gc.release();
    }
    for (const p of fresh) this.added.add(p);
  }

  /** Drop this process's roots (its file) now. */
  release(): void {
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
