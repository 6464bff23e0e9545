import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { internal, TesseraError } from '../../common/errors.ts';
import { datastoreDiskFull, datastoreUnavailable, migrationFailed, schemaTooNew } from './errors.ts';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.ts';
import { latestVersion, type Migration } from './migrations/types.ts';
import type { Row } from './rows.ts';
import type { SqlConn, SqlDriver } from './sql-driver.ts';
import { SqlStore } from './sql-store.ts';
import type { ChangeEvent } from './types.ts';

export interface SqliteDatastoreOptions {
  /** Database file; created 0600 (its directory 0700) when missing. */
  path: string;
  clock?: Clock;
  logger?: Logger;
  /** How long a writer waits for another connection's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** For tests of the version check; production always uses the built-in list. */
  migrations?: readonly Migration[];
}

/**
 * The default, embedded store. One better-sqlite3 connection in WAL mode; every
 * operation runs under a per-connection queue so an async write transaction is never
 * observed half-done by a read on the same connection. Subscribers hear about writes
 * made through this object, synchronously after commit.
 */
export class SqliteDatastore extends SqlStore {
  readonly path: string;

  private constructor(driver: SqliteDriver, path: string, clock: Clock, logger: Logger) {
    super(driver, { clock, logger });
    this.path = path;
  }

  static open(opts: SqliteDatastoreOptions): SqliteDatastore {
    const clock = opts.clock ?? systemClock;
    const logger = (opts.logger ?? silentLogger).child({ component: 'datastore', engine: 'sqlite' });
    const busyTimeoutMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000));
    createPrivateFile(opts.path, logger);
    const db = new Database(opts.path);
    try {
      db.pragma('journal_mode = WAL');
      // FULL: a committed join-token consumption or ban must survive power loss.
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      migrate(db, opts.migrations ?? SQLITE_MIGRATIONS, opts.path, clock, logger);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteDatastore(new SqliteDriver(db, opts.path, busyTimeoutMs), opts.path, clock, logger);
  }

  protected afterCommit(events: ChangeEvent[]): void {
    for (const ev of events) this.listeners.emit(ev);
  }
}

function createPrivateFile(path: string, logger: Logger): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'wx', 0o600));
  const mode = statSync(path).mode & 0o777;
  if (mode !== 0o600) {
    // The file holds agent records and the audit trail: owner only.
    chmodSync(path, 0o600);
    logger.warn('tightened datastore file permissions', { path, from: mode.toString(8), to: '600' });
  }
}

function migrate(db: Database.Database, list: readonly Migration[], path: string, clock: Clock, logger: Logger): void {
  const latest = latestVersion(list);
  // IMMEDIATE: two servers starting on one file take turns instead of both migrating.
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number }).v;
    if (current > latest) throw schemaTooNew(current, latest, path);
    for (const m of list.slice(current)) {
      try { db.exec(m.sql); } catch (err) { throw migrationFailed(m, err); }
      db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)')
        .run(m.version, m.description, Math.floor(clock.now() / 1000));
      logger.info('applied datastore migration', { version: m.version, description: m.description });
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

class SqliteDriver implements SqlDriver {
  readonly description: string;
  readonly lockRows = '';
  private statements = new Map<string, Database.Statement>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly conn: SqlConn;

  constructor(private readonly db: Database.Database, private readonly path: string, private readonly busyTimeoutMs: number) {
    this.description = `sqlite:${path}`;
    const stmt = (sql: string) => {
      let s = this.statements.get(sql);
      if (!s) { s = this.db.prepare(sql); this.statements.set(sql, s); }
      return s;
    };
    this.conn = {
      all: async (sql, params = []) => {
        const s = stmt(sql);
        if (s.reader) return s.all(...params) as Row[];
        s.run(...params);
        return [];
      },
      run: async (sql, params = []) => stmt(sql).run(...params).changes,
    };
  }

  /** Operations on the one connection run one at a time, in call order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw datastoreUnavailable(`${this.description}: datastore is closed`);
      return fn();
    }).catch((err: unknown) => { throw this.classify(err); });
    this.queue = run.catch(() => undefined);
    return run;
  }

  writeTransaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.begin();
      try {
        const r = await fn(this.conn);
        this.db.exec('COMMIT');
        return r;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** SQLite has one writer per database: every write transaction is serialised anyway. */
  transaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    return this.writeTransaction(fn);
  }

  read<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn(this.conn));
  }

  /**
   * BEGIN IMMEDIATE, waiting for the write lock without blocking the event loop.
   * SQLite's own busy handler sleeps synchronously: when another connection in this
   * process holds the lock across an await (an async write transaction), that sleep
   * would stop the holder from ever committing. So the wait happens here, on real
   * timers (it waits on a real file lock, not on the injected clock).
   */
  private async begin(): Promise<void> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      this.db.pragma('busy_timeout = 0');
      try {
        this.db.exec('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        const code = String((err as { code?: unknown })?.code ?? '');
        if (!code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
      } finally {
        this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(50, 2 ** attempt) * (0.5 + Math.random())));
    }
  }

  private classify(err: unknown): Error {
    return classifySqliteError(err, this.description, () => freeBytes(this.path));
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.closed = true;
      this.statements.clear();
      this.db.close();
    }).catch(() => undefined);
  }
}

/** Below this much free space, a failed write is put down to the full disk. */
const DISK_FULL_BYTES = 1024 * 1024;

/**
 * Lock timeouts and a full disk become Unavailable: both pass (the lock is released,
 * space is freed), so callers should retry. Other engine errors are Internal, with
 * the cause kept. SQLite reports ENOSPC as SQLITE_FULL, or as a plain disk I/O error
 * (SQLITE_IOERR_*) when the write fails in the WAL or an fsync, so an I/O error is
 * put down to a full disk when the filesystem has (next to) no space left.
 */
export function classifySqliteError(err: unknown, description: string, free: () => number | undefined): Error {
  if (err instanceof TesseraError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const msg = (err as Error)?.message ?? String(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return datastoreUnavailable(`${description} is busy: ${msg}`, err);
  }
  if (code === 'SQLITE_FULL') return datastoreDiskFull(description, msg, err);
  if (code.startsWith('SQLITE_IOERR')) {
    const left = free();
    if (left !== undefined && left < DISK_FULL_BYTES) return datastoreDiskFull(description, `${msg} (${left} bytes free)`, err);
  }
  return internal('ERR_DATASTORE', `${description}: ${msg}`, err);
}

/** Bytes available to this process on the filesystem holding `path`; undefined if unknown. */
function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(dirname(path));
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
