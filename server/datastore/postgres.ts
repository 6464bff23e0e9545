import pg from 'pg';
import { systemClock, type Clock } from '../../common/clock.ts';
import { internal, TesseraError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { datastoreUnavailable, migrationFailed, schemaTooNew } from './errors.ts';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.ts';
import { latestVersion, type Migration } from './migrations/types.ts';
import type { Row } from './rows.ts';
import type { SqlConn, SqlDriver } from './sql-driver.ts';
import { SqlStore } from './sql-store.ts';
import type { ChangeEvent } from './types.ts';

export interface PostgresDatastoreOptions {
  /** e.g. "postgres://tessera@db.internal:5432/tessera". */
  connectionString: string;
  /** Pool size per server. Default 10. */
  maxConnections?: number;
  clock?: Clock;
  logger?: Logger;
  /** false: no LISTEN connection and no subscribe() events from other servers (one-shot CLI tools). */
  listen?: boolean;
  /** For tests of the version check; production always uses the built-in list. */
  migrations?: readonly Migration[];
}

const CHANNEL = 'tessera_changes';
/** pg_advisory_xact_lock key serialising change-log writers ("tessera" in ASCII, fits int8). */
const WRITE_LOCK_KEY = '8392585648256934241';
/** Migrations take a different lock so a starting server does not wait behind writers. */
const MIGRATION_LOCK_KEY = '8392585648256934242';
const PUMP_BATCH = 1000;

/**
 * PostgreSQL store: several servers share one database. Writers that append to the
 * change log take one transaction-scoped advisory lock, so sequence numbers commit in
 * order; each write transaction NOTIFYs, and every store LISTENs and forwards the new
 * changes (read with changesSince, so a dropped connection loses nothing) to its
 * subscribers in sequence order.
 */
export class PostgresDatastore extends SqlStore {
  private readonly pgDriver: PostgresDriver;
  private readonly connectionString: string;
  private delivered = 0;
  private pumping = false;
  private pumpAgain = false;
  private listenClient: pg.Client | undefined;
  private readonly stopping = new AbortController();

  private constructor(driver: PostgresDriver, opts: PostgresDatastoreOptions, clock: Clock, logger: Logger) {
    super(driver, { clock, logger });
    this.pgDriver = driver;
    this.connectionString = opts.connectionString;
  }

  static async open(opts: PostgresDatastoreOptions): Promise<PostgresDatastore> {
    const clock = opts.clock ?? systemClock;
    const logger = (opts.logger ?? silentLogger).child({ component: 'datastore', engine: 'postgres' });
    const pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.maxConnections ?? 10 });
    // An idle pooled connection can fail (server restart); without a handler that would crash the process.
    pool.on('error', (err) => logger.warn('idle datastore connection failed', { err }));
    const driver = new PostgresDriver(pool, redact(opts.connectionString));
    try {
      await migrate(pool, opts.migrations ?? POSTGRES_MIGRATIONS, driver.description, clock, logger);
      const store = new PostgresDatastore(driver, opts, clock, logger);
      store.delivered = await store.currentSequence();
      if (opts.listen !== false) await store.startListening();
      return store;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw classify(err, driver.description);
    }
  }

  protected afterCommit(events: ChangeEvent[]): void {
    // Fast path: our own write directly follows what subscribers have seen.
    if (!this.pumping && events[0].seq === this.delivered + 1) {
      for (const ev of events) { this.delivered = ev.seq; this.listeners.emit(ev); }
      return;
    }
    this.pump();
  }

  /** Forwards every change after `delivered`, in order; one pump at a time, re-run if poked meanwhile. */
  private pump(): void {
    if (this.pumping) { this.pumpAgain = true; return; }
    this.pumping = true;
    void (async () => {
      try {
        for (;;) {
          this.pumpAgain = false;
          const evs = await this.changesSince(this.delivered, PUMP_BATCH);
          for (const ev of evs) {
            if (ev.seq <= this.delivered) continue;
            this.delivered = ev.seq;
            this.listeners.emit(ev);
          }
          if (evs.length < PUMP_BATCH && !this.pumpAgain) break;
        }
      } catch (err) {
        if (!this.stopping.signal.aborted) this.logger.warn('could not read datastore changes', { err: err as Error });
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async startListening(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', () => this.pump());
    const lost = (err?: Error) => {
      if (this.stopping.signal.aborted || this.listenClient !== client) return;
      this.logger.warn('datastore LISTEN connection lost; reconnecting', { err });
      void this.reconnect(client);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    this.listenClient = client;
  }

  private async reconnect(dead: pg.Client): Promise<void> {
    if (this.listenClient !== dead) return;
    this.listenClient = undefined;
    dead.end().catch(() => undefined);
    for (let attempt = 0; !this.stopping.signal.aborted; attempt++) {
      const delay = Math.min(30_000, 250 * 2 ** attempt) * (0.5 + Math.random());
      try {
        if (attempt > 0) await this.clock.sleep(delay, this.stopping.signal);
        await this.startListening();
        this.logger.info('datastore LISTEN connection restored', { attempt });
        this.pump(); // whatever was written while we were deaf
        return;
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.logger.warn('datastore LISTEN reconnect failed', { err: err as Error, attempt });
      }
    }
  }

  /** The LISTEN connection's backend pid (tests kill it to prove catch-up). */
  get listenerPid(): number | undefined {
    return (this.listenClient as unknown as { processID?: number } | undefined)?.processID;
  }

  override async close(): Promise<void> {
    this.stopping.abort();
    const c = this.listenClient;
    this.listenClient = undefined;
    await c?.end().catch(() => undefined);
    await super.close();
  }

  get pool(): pg.Pool { return this.pgDriver.pool; }
}

async function migrate(pool: pg.Pool, list: readonly Migration[], where: string, clock: Clock, logger: Logger): Promise<void> {
  const latest = latestVersion(list);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Several servers may start at once against one database: one migrates, the others wait and find it done.
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const current = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version')).rows[0].v);
    if (current > latest) throw schemaTooNew(current, latest, where);
    for (const m of list.slice(current)) {
      try { await client.query(m.sql); } catch (err) { throw migrationFailed(m, err); }
      await client.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)',
        [m.version, m.description, Math.floor(clock.now() / 1000)]);
      logger.info('applied datastore migration', { version: m.version, description: m.description });
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

class PostgresDriver implements SqlDriver {
  readonly lockRows = ' FOR UPDATE';
  private texts = new Map<string, string>();
  constructor(readonly pool: pg.Pool, readonly description: string) {}

  /** `?` placeholders -> `$n` (the shared SQL never has a literal `?`). */
  private text(sql: string): string {
    let t = this.texts.get(sql);
    if (t === undefined) {
      let n = 0;
      t = sql.replace(/\?/g, () => `$${++n}`);
      this.texts.set(sql, t);
    }
    return t;
  }

  private conn(q: pg.Pool | pg.PoolClient): SqlConn {
    return {
      all: async (sql, params = []) => (await q.query(this.text(sql), params as unknown[])).rows as Row[],
      run: async (sql, params = []) => (await q.query(this.text(sql), params as unknown[])).rowCount ?? 0,
    };
  }

  async writeTransaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try { client = await this.pool.connect(); } catch (err) { throw classify(err, this.description); }
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`);
      const r = await fn(this.conn(client));
      // Delivered by PostgreSQL at COMMIT, never for a rolled-back write.
      await client.query(`SELECT pg_notify('${CHANNEL}', '')`);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw classify(err, this.description);
    } finally {
      client.release(broken);
    }
  }

  async read<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    try { return await fn(this.conn(this.pool)); } catch (err) { throw classify(err, this.description); }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/** Connection-level failures become Unavailable (callers retry); anything else Internal. */
function classify(err: unknown, where: string): Error {
  if (err instanceof TesseraError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const msg = (err as Error)?.message ?? String(err);
  if (/^(08|57P0[123]|53)/.test(code) || /^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|AI_AGAIN)$/.test(code) ||
    /Connection terminated|Client has encountered a connection error/.test(msg)) {
    return datastoreUnavailable(`datastore ${where} is unavailable: ${msg}`, err);
  }
  return internal('ERR_DATASTORE', `datastore ${where}: ${msg}`, err);
}

/** Connection strings may carry a password; logs and errors get the rest. */
function redact(cs: string): string {
  try {
    const u = new URL(cs);
    if (u.password) u.password = '***';
    return u.toString();
  } catch { return 'postgres'; }
}
