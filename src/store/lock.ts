/**
 * File locks that the kernel releases when their holder dies.
 *
 * Node has no flock(2), so a lock is an (empty) SQLite database file held in
 * an exclusive transaction: SQLite takes a POSIX record lock on the file,
 * which the kernel drops when the process exits or is killed (SIGKILL
 * included), so a dead holder never blocks anyone. SQLite also tracks locks
 * between connections of the same process, so two locks on one file in one
 * process conflict as they would across processes.
 *
 * Exclusive locks: build outputs (one per output path, `waiting for lock on
 * …`), a process's temporary-roots file (held for its lifetime: "this process
 * is alive"). Shared locks: the global GC lock, taken shared while adding a
 * temporary root and exclusively by the collector.
 */
import { mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { isSqliteError, loadSqlite, sqliteOptions } from './database.js';

type Db = BetterSqlite3.Database;

function fsPath(p: string): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

export class FileLock {
  private constructor(
    /** The lock file (a byte string). */
    readonly path: string,
    private db: Db | undefined,
  ) {}

  /**
   * Try to lock `path` (created if missing) without waiting: the lock, or
   * undefined if another holder has it. `shared` locks coexist with each
   * other but not with an exclusive one.
   */
  static tryAcquire(path: string, mode: 'exclusive' | 'shared' = 'exclusive', waitMs = 0): FileLock | undefined {
    const p = fsPath(path);
    mkdirSync(dirname(p), { recursive: true });
    const Database = loadSqlite();
    const db = new Database(p, sqliteOptions({ timeout: waitMs }));
    try {
      if (mode === 'exclusive') {
        db.exec('BEGIN EXCLUSIVE');
      } else {
        db.exec('BEGIN');
        db.prepare('SELECT count(*) FROM sqlite_master').get();
      }
    } catch (e) {
      db.close();
      if (isSqliteError(e) && (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_LOCKED')) return undefined;
      throw e;
    }
    return new FileLock(path, db);
  }

  /** Lock `path`, blocking the whole process up to `timeoutMs` (for short critical sections). */
  static acquireSync(path: string, mode: 'exclusive' | 'shared' = 'exclusive', timeoutMs = 600_000): FileLock {
    const l = FileLock.tryAcquire(path, mode, timeoutMs);
    if (!l) throw new Error(`timed out waiting for lock on '${path}'`);
    return l;
  }

  /**
   * Lock `path`, waiting without blocking the event loop; `onWait` is called
   * once if the lock is held by someone else.
   */
  static async acquire(path: string, onWait?: () => void, signal?: AbortSignal): Promise<FileLock> {
    let delay = 5;
    let warned = false;
    for (;;) {
      const l = FileLock.tryAcquire(path);
      if (l) return l;
      if (!warned) {
        warned = true;
        onWait?.();
      }
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
  }

  get held(): boolean {
    return this.db !== undefined;
  }

  /** Release the lock; with `remove`, delete the lock file first (while still holding it). */
  release(remove = false): void {
    const db = this.db;
    if (!db) return;
    this.db = undefined;
    if (remove) {
      try {
        unlinkSync(fsPath(this.path));
      } catch {
        // already gone
      }
    }
    try {
      db.exec('ROLLBACK');
    } catch {
      // nothing to roll back
    }
    db.close();
  }
}
