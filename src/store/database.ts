/**
 * The store database: SQLite through better-sqlite3, in WAL mode with a busy
 * timeout, holding
 * - valid paths: path, NAR hash, NAR size, deriver, registration time,
 *   content address, signatures, whether it was built here ("ultimate");
 * - references: path -> path, self-references included;
 * - derivation outputs: .drv path, output name, output path.
 *
 * Opening is lazy. Reading never creates anything: without a database file
 * every path is simply invalid, and a database in a folder the user may not
 * write is opened read-only. The folders, the file and the schema are made
 * on the first write. better-sqlite3 itself (a native module) is loaded only
 * when a database file is really opened, so commands that never touch the
 * database do not pay for it.
 *
 * Registrations go through `registerValidPaths`, one transaction for any
 * number of paths: either all of them become valid or none does. Paths are
 * stored as given (logical byte strings, e.g. `/nix/store/…`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { toFsPath } from './fs-path.js';
import { parseHash, type Hash } from './hash.js';
import { compareBytes } from './store-path.js';

type Db = BetterSqlite3.Database;
type Stmt = BetterSqlite3.Statement;

/**
 * The schema version this code writes (`PRAGMA user_version`). Version 1
 * lacked `ultimate`; such a database is migrated when first opened for
 * writing (its paths with a deriver were built here, so they are ultimate).
 */
export const SCHEMA_VERSION = 2;

const SCHEMA = `
create table if not exists valid_paths (
  id                integer primary key autoincrement not null,
  path              text unique not null,
  nar_hash          text not null,     -- 'sha256:<base16>'
  nar_size          integer not null,
  registration_time integer not null,  -- seconds since the epoch
  deriver           text,              -- a .drv path, or null
  ca                text,              -- content address ('fixed:r:sha256:…', 'text:sha256:…'), or null
  sigs              text,              -- space-separated signatures (sorted), or null
  ultimate          integer            -- 1 if built by this store (trusted without signatures), or null
);
create table if not exists refs (
  referrer  integer not null references valid_paths(id) on delete cascade,
  reference integer not null references valid_paths(id) on delete restrict,
  primary key (referrer, reference)
) without rowid;
create index if not exists refs_by_reference on refs(reference);
create table if not exists derivation_outputs (
  drv    integer not null references valid_paths(id) on delete cascade,
  output text not null,
  path   text not null,
  primary key (drv, output)
) without rowid;
create index if not exists derivation_outputs_by_path on derivation_outputs(path);
`;

/** Milliseconds to wait for another process's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 60_000;

export class StoreDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreDatabaseError';
  }
}

/** What is registered for a path. */
export interface PathRegistration {
  path: string;
  /** The sha256 hash of the path's NAR. */
  narHash: Hash;
  narSize: number;
  /** Store paths the contents refer to; may include `path` itself. */
  references: Iterable<string>;
  deriver?: string;
  /** Rendered content address, e.g. `fixed:r:sha256:<nix32>`. */
  ca?: string;
  /** Seconds since the epoch; default now. */
  registrationTime?: number;
  /** For a .drv: output name -> output path (the outputs whose paths are known). */
  derivationOutputs?: ReadonlyMap<string, string>;
  /** Signatures (`keyname:base64`); added to those already recorded. */
  sigs?: Iterable<string>;
  /** Built by this store; default: true when a deriver is given (a local build), else false. */
  ultimate?: boolean;
}

/** A valid path as the database knows it. */
export interface ValidPathInfo {
  path: string;
  narHash: Hash;
  narSize: number;
  /** Sorted (byte order); includes the path itself for a self-reference. */
  references: string[];
  deriver?: string;
  ca?: string;
  registrationTime: number;
  /** Signatures, sorted (byte order). */
  sigs: string[];
  /** Built by this store. */
  ultimate: boolean;
}

interface Statements {
  isValid: Stmt;
  pathRow: Stmt;
  pathId: Stmt;
  references: Stmt;
  referrers: Stmt;
  insertPath: Stmt;
  updatePath: Stmt;
  deleteRefsOf: Stmt;
  insertRef: Stmt;
  insertOutput: Stmt;
  outputs: Stmt;
  derivers: Stmt;
  allPaths: Stmt;
  pathNamed: Stmt;
  deletePath: Stmt;
  setSigs: Stmt;
}

interface PathRow {
  id: number;
  nar_hash: string;
  nar_size: number;
  registration_time: number;
  deriver: string | null;
  ca: string | null;
  sigs: string | null;
  ultimate: number | null;
}

let sqlite: typeof BetterSqlite3 | undefined;
let nativeBinding: string | undefined;
export function loadSqlite(): typeof BetterSqlite3 {
  if (!sqlite) {
    const require = createRequire(import.meta.url);
    sqlite = require('better-sqlite3') as typeof BetterSqlite3;
    // Name the compiled addon directly: better-sqlite3's default lookup tries many paths.
    try {
      const addon = join(dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
      if (existsSync(addon)) nativeBinding = addon;
    } catch {
      // keep the default lookup
    }
  }
  return sqlite;
}

export function sqliteOptions(o: BetterSqlite3.Options): BetterSqlite3.Options {
  return nativeBinding !== undefined ? { ...o, nativeBinding } : o;
}

export function isSqliteError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && e.name === 'SqliteError';
}

export class StoreDatabase {
  private db: Db | undefined;
  private st: Statements | undefined;
  private writableChecked = false;

  /** The file as Node's fs and SQLite take it. */
  private readonly fsPath: Buffer;
  private readonly sqlitePath: string;

  /** `dbPath` is a byte string (see fs-path.ts), as every path in src/store. */
  constructor(readonly dbPath: string) {
    this.fsPath = toFsPath(dbPath);
    this.sqlitePath = this.fsPath.toString('utf8');
  }

  /** Whether the database file exists (nothing is valid if not). */
  get exists(): boolean {
    return this.db !== undefined || existsSync(this.fsPath);
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  /** The connection for reading, or undefined when there is no database yet. */
  private reader(): Statements | undefined {
    if (this.st) return this.st;
    if (!existsSync(this.fsPath)) return undefined;
    this.openExisting();
    return this.st;
  }

  /** The connection for writing: folders, file and schema are created if needed. */
  private writer(): Statements {
    if (this.st && this.writableChecked) return this.st;
    if (!this.db) {
      if (existsSync(this.fsPath)) this.openExisting();
      if (!this.db) this.create();
    }
    const db = this.db as Db;
    if (db.readonly) {
      throw new StoreDatabaseError(`cannot write to the store database '${this.dbPath}': it is read-only for this user`);
    }
    this.writableChecked = true;
    return this.st as Statements;
  }

  private openExisting(): void {
    const Database = loadSqlite();
    let db: Db;
    try {
      db = new Database(this.sqlitePath, sqliteOptions({ fileMustExist: true, timeout: BUSY_TIMEOUT_MS }));
      // Fails here, not later, if the file or folder is not writable.
      db.pragma('journal_mode = WAL');
    } catch (e) {
      if (!isSqliteError(e) || !/READONLY|CANTOPEN|PERM|AUTH/.test(e.code)) throw this.wrap(e);
      try {
        db = new Database(this.sqlitePath, sqliteOptions({ fileMustExist: true, readonly: true, timeout: BUSY_TIMEOUT_MS }));
      } catch (e2) {
        throw this.wrap(e2);
      }
    }
    this.setUp(db);
  }

  private create(): void {
    const Database = loadSqlite();
    let db: Db;
    try {
      mkdirSync(toFsPath(dirname(this.dbPath)), { recursive: true });
      db = new Database(this.sqlitePath, sqliteOptions({ timeout: BUSY_TIMEOUT_MS }));
      db.pragma('journal_mode = WAL');
    } catch (e) {
      throw this.wrap(e);
    }
    this.setUp(db);
  }

  private setUp(db: Db): void {
    try {
      if (!db.readonly) db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      let version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0 && !db.readonly) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
        version = SCHEMA_VERSION;
      }
      if (version === 1 && !db.readonly) {
        db.transaction(() => {
          if (!(db.pragma('table_info(valid_paths)') as { name: string }[]).some((c) => c.name === 'ultimate')) {
            db.exec('alter table valid_paths add column ultimate integer');
          }
          db.exec('update valid_paths set ultimate = 1 where deriver is not null');
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
        version = SCHEMA_VERSION;
      }
      if (version === 0 && db.readonly) {
        // An empty database nobody initialised, which this user cannot write: nothing is valid.
        db.close();
        return;
      }
      if (version === 1 && db.readonly) {
        // Not migrated yet and read-only for this user: read it as version 1 knew it.
        this.db = db;
        this.st = prepare(db, false);
        return;
      }
      if (version !== SCHEMA_VERSION) {
        db.close();
        throw new StoreDatabaseError(
          `the store database '${this.dbPath}' has schema version ${version}; this tsnix knows version ${SCHEMA_VERSION}`,
        );
      }
      this.db = db;
      this.st = prepare(db);
    } catch (e) {
      if (db.open && this.db !== db) db.close();
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown): Error {
    if (e instanceof StoreDatabaseError) return e;
    if (isSqliteError(e)) return new StoreDatabaseError(`store database '${this.dbPath}': ${e.message}`);
    return e instanceof Error ? e : new Error(String(e));
  }

  // -------------------------------------------------------------------------
  // Queries (none of them creates the database)

  isValidPath(path: string): boolean {
    const st = this.reader();
    return st !== undefined && st.isValid.get(path) !== undefined;
  }

  queryPathInfo(path: string): ValidPathInfo | undefined {
    const st = this.reader();
    if (!st) return undefined;
    const row = st.pathRow.get(path) as PathRow | undefined;
    if (!row) return undefined;
    const info: ValidPathInfo = {
      path,
      narHash: parseHash(row.nar_hash),
      narSize: row.nar_size,
      references: (st.references.all(row.id) as string[]).sort(compareBytes),
      registrationTime: row.registration_time,
      sigs: splitSigs(row.sigs),
      ultimate: row.ultimate === 1,
    };
    if (row.deriver !== null) info.deriver = row.deriver;
    if (row.ca !== null) info.ca = row.ca;
    return info;
  }

  /**
   * Add signatures to a valid path (kept sorted, without duplicates).
   * Returns false if the path is not valid.
   */
  addSignatures(path: string, sigs: Iterable<string>): boolean {
    const st = this.writer();
    return this.transaction(() => {
      const row = st.pathRow.get(path) as PathRow | undefined;
      if (!row) return false;
      st.setSigs.run(mergeSigs(row.sigs, sigs), row.id);
      return true;
    });
  }

  /** References of a valid path (sorted), or undefined if it is not valid. */
  queryReferences(path: string): string[] | undefined {
    const st = this.reader();
    if (!st) return undefined;
    const id = st.pathId.get(path) as number | undefined;
    if (id === undefined) return undefined;
    return (st.references.all(id) as string[]).sort(compareBytes);
  }

  /** Valid paths referring to `path` (sorted; itself if it refers to itself). */
  queryReferrers(path: string): string[] {
    const st = this.reader();
    if (!st) return [];
    return (st.referrers.all(path) as string[]).sort(compareBytes);
  }

  /** Output name -> path recorded for a valid .drv. */
  queryDerivationOutputs(drvPath: string): Map<string, string> {
    const st = this.reader();
    const m = new Map<string, string>();
    if (!st) return m;
    for (const r of st.outputs.all(drvPath) as { output: string; path: string }[]) m.set(r.output, r.path);
    return m;
  }

  /** Valid .drv paths that have `outputPath` as an output (sorted). */
  queryValidDerivers(outputPath: string): string[] {
    const st = this.reader();
    if (!st) return [];
    return (st.derivers.all(outputPath) as string[]).sort(compareBytes);
  }

  /** Whether a valid path `<storeDir>/<32 characters>-<name>` exists (a scan of the table). */
  hasPathNamed(storeDir: string, name: string): boolean {
    const st = this.reader();
    if (!st) return false;
    return st.pathNamed.get(storeDir.length + 34, `-${name}`, storeDir.length + 34 + name.length) !== undefined;
  }

  /** Every valid path, sorted. */
  queryAllValidPaths(): string[] {
    const st = this.reader();
    if (!st) return [];
    return (st.allPaths.all() as string[]).sort(compareBytes);
  }

  // -------------------------------------------------------------------------
  // Writes

  /** Create the folders, the file and the schema now if needed, and check the database is writable. */
  ensureWritable(): void {
    this.writer();
  }

  /**
   * Run `fn` in one write transaction (BEGIN IMMEDIATE): everything it
   * registers commits together, or nothing does if it throws. Nested calls
   * become savepoints.
   */
  transaction<T>(fn: () => T): T {
    this.writer();
    const db = this.db as Db;
    try {
      return db.inTransaction ? db.transaction(fn)() : db.transaction(fn).immediate();
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /**
   * Make the given paths valid, in one transaction. References may point at
   * paths registered in the same call (in any order) or already valid; a
   * reference to anything else fails the whole call. Registering a path that
   * is already valid updates its information and references.
   */
  registerValidPaths(regs: readonly PathRegistration[]): void {
    if (regs.length === 0) return;
    const st = this.writer();
    const now = Math.floor(Date.now() / 1000);
    this.transaction(() => {
      const ids = new Map<string, number>();
      const updated = new Set<string>();
      for (const r of regs) {
        const values = [
          r.path,
          r.narHash.format('base16', true),
          r.narSize,
          r.registrationTime ?? now,
          r.deriver ?? null,
          r.ca ?? null,
        ];
        const sigs = r.sigs !== undefined ? mergeSigs(null, r.sigs) : null;
        const ultimate = (r.ultimate ?? r.deriver !== undefined) ? 1 : null;
        let id = st.insertPath.get(...values, sigs, ultimate) as number | undefined;
        if (id === undefined) {
          // valid already (registered again, or by another process meanwhile): update it
          id = st.updatePath.get(values[1], values[2], values[4], values[5], ultimate, r.path) as number;
          if (r.sigs !== undefined) {
            const row = st.pathRow.get(r.path) as PathRow;
            st.setSigs.run(mergeSigs(row.sigs, r.sigs), id);
          }
          updated.add(r.path);
        }
        ids.set(r.path, id);
      }
      for (const r of regs) {
        const id = ids.get(r.path) as number;
        if (updated.has(r.path)) st.deleteRefsOf.run(id);
        for (const ref of r.references) {
          let refId = ids.get(ref);
          if (refId === undefined) {
            refId = st.pathId.get(ref) as number | undefined;
            if (refId === undefined) {
              throw new StoreDatabaseError(`cannot register path '${r.path}': its reference '${ref}' is not valid`);
            }
            ids.set(ref, refId);
          }
          st.insertRef.run(id, refId);
        }
        if (r.derivationOutputs) {
          for (const [output, path] of r.derivationOutputs) st.insertOutput.run(id, output, path);
        }
      }
    });
  }

  /**
   * Make paths invalid (remove them from the database, not from disk). A path
   * still referenced by a valid path outside the set is an error, and
   * nothing is removed then.
   */
  invalidatePaths(paths: readonly string[]): void {
    if (paths.length === 0) return;
    const st = this.writer();
    const set = new Set(paths);
    this.transaction(() => {
      const ids: number[] = [];
      for (const p of paths) {
        const id = st.pathId.get(p) as number | undefined;
        if (id === undefined) continue;
        for (const r of st.referrers.all(p) as string[]) {
          if (!set.has(r)) {
            throw new StoreDatabaseError(`cannot invalidate path '${p}': it is still referenced by '${r}'`);
          }
        }
        ids.push(id);
      }
      for (const id of ids) st.deleteRefsOf.run(id);
      for (const id of ids) st.deletePath.run(id);
    });
  }

  /** Close the connection (it is reopened on the next use). */
  close(): void {
    if (this.db) {
      this.db.close();
      this.db = undefined;
      this.st = undefined;
      this.writableChecked = false;
    }
  }
}

/** Signatures as stored (space-separated) to a sorted list. */
function splitSigs(s: string | null): string[] {
  return s === null ? [] : s.split(' ').filter((x) => x !== '').sort(compareBytes);
}

/** Stored signatures plus new ones: sorted, without duplicates, space-separated (null if none). */
function mergeSigs(stored: string | null, add: Iterable<string>): string | null {
  const all = new Set(splitSigs(stored));
  for (const s of add) if (s !== '') all.add(s);
  return all.size === 0 ? null : [...all].sort(compareBytes).join(' ');
}

/** `hasUltimate` false: a version 1 database opened read-only (no `ultimate` column). */
function prepare(db: Db, hasUltimate = true): Statements {
  return {
    isValid: db.prepare('select 1 from valid_paths where path = ?').pluck(),
    pathRow: db.prepare(
      `select id, nar_hash, nar_size, registration_time, deriver, ca, sigs, ${hasUltimate ? 'ultimate' : '(deriver is not null)'} as ultimate ` +
        'from valid_paths where path = ?',
    ),
    pathId: db.prepare('select id from valid_paths where path = ?').pluck(),
    references: db
      .prepare('select v.path from refs r join valid_paths v on v.id = r.reference where r.referrer = ?')
      .pluck(),
    referrers: db
      .prepare(
        'select v.path from refs r join valid_paths v on v.id = r.referrer ' +
          'where r.reference = (select id from valid_paths where path = ?)',
      )
      .pluck(),
    // (A read-only version 1 database never runs the writing statements, which name `ultimate`.)
    insertPath: db
      .prepare(
        hasUltimate
          ? 'insert into valid_paths (path, nar_hash, nar_size, registration_time, deriver, ca, sigs, ultimate) ' +
              'values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (path) do nothing returning id'
          : 'select null',
      )
      .pluck(),
    updatePath: db
      .prepare(
        hasUltimate
          ? 'update valid_paths set nar_hash = ?, nar_size = ?, deriver = coalesce(?, deriver), ca = coalesce(?, ca), ' +
              'ultimate = coalesce(?, ultimate) where path = ? returning id'
          : 'select null',
      )
      .pluck(),
    deleteRefsOf: db.prepare('delete from refs where referrer = ?'),
    insertRef: db.prepare('insert or ignore into refs (referrer, reference) values (?, ?)'),
    insertOutput: db.prepare('insert or replace into derivation_outputs (drv, output, path) values (?, ?, ?)'),
    outputs: db.prepare(
      'select output, path from derivation_outputs where drv = (select id from valid_paths where path = ?) order by output',
    ),
    derivers: db
      .prepare('select v.path from derivation_outputs d join valid_paths v on v.id = d.drv where d.path = ?')
      .pluck(),
    allPaths: db.prepare('select path from valid_paths').pluck(),
    pathNamed: db
      .prepare('select 1 from valid_paths where substr(path, ?) = ? and length(path) = ? limit 1')
      .pluck(),
    deletePath: db.prepare('delete from valid_paths where id = ?'),
    setSigs: db.prepare('update valid_paths set sigs = ? where id = ?'),
  };
}
