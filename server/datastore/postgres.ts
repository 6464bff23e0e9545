import pg from 'pg';
import { systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { datastoreUnavailable, migrationFailed, schemaTooNew } from './errors.ts';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.ts';
import { latestVersion, type Migration } from './migrations/types.ts';
import {
  classify, clientConfig, destroyClient, isConnectionLoss, newPool, redact, resolveTimeouts, type PgTimeouts,
} from './pg-connection.ts';
import type { Row } from './rows.ts';
import type { SqlConn, SqlDriver } from './sql-driver.ts';
import { SqlStore } from './sql-store.ts';
import type { ChangeEvent } from './types.ts';

export interface PostgresDatastoreOptions extends PgTimeouts {
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
/** Longest pause between LISTEN reconnect attempts: the feed is back soon after the database. */
const MAX_RECONNECT_DELAY_MS = 5000;
/** Runs of a plain transaction aborted by a deadlock or serialization failure before its error is returned. */
const MAX_CONFLICT_ATTEMPTS = 4;
/** deadlock_detected, serialization_failure: the transaction did nothing and may simply run again. */
const isConflict = (err: unknown): boolean =>
  /^(40P01|40001)$/.test(String(((err as { cause?: { code?: unknown } })?.cause ?? err as { code?: unknown })?.code ?? ''));

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
  private readonly timeouts: Required<PgTimeouts>;
  private delivered = 0;
  private pumping = false;
  private pumpAgain = false;
  private listenClient: pg.Client | undefined;
  private readonly stopping = new AbortController();

  private constructor(driver: PostgresDriver, opts: PostgresDatastoreOptions, clock: Clock, logger: Logger) {
    super(driver, { clock, logger });
    this.pgDriver = driver;
    this.connectionString = opts.connectionString;
    this.timeouts = resolveTimeouts(opts);
  }

  static async open(opts: PostgresDatastoreOptions): Promise<PostgresDatastore> {
    const clock = opts.clock ?? systemClock;
    const logger = (opts.logger ?? silentLogger).child({ component: 'datastore', engine: 'postgres' });
    const timeouts = resolveTimeouts(opts);
    const pool = newPool(opts.connectionString, opts.maxConnections ?? 10, timeouts);
    // An idle pooled connection can fail (server restart); without a handler that would crash the process.
    pool.on('error', (err) => logger.warn('idle datastore connection failed', { err }));
    const driver = new PostgresDriver(pool, redact(opts.connectionString), logger, timeouts.connectTimeoutMs);
    try {
      await migrate(driver, opts.migrations ?? POSTGRES_MIGRATIONS, clock, logger);
      const store = new PostgresDatastore(driver, opts, clock, logger);
      store.delivered = await store.currentSequence();
      if (opts.listen !== false) await store.startListening();
      return store;
    } catch (err) {
      await driver.close();
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
    const client = new pg.Client(clientConfig(this.connectionString, this.timeouts));
    client.on('notification', () => this.pump());
    const lost = (err?: Error) => {
      if (this.stopping.signal.aborted || this.listenClient !== client) return;
      this.logger.warn('datastore LISTEN connection lost; reconnecting', { err });
      void this.reconnect(client);
    };
    // Registered before connect: a socket error at any time is a lost connection, never an unhandled event.
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      destroyClient(client);
      throw err;
    }
    this.listenClient = client;
    void this.probe(client, lost);
  }

  /**
   * A stalled connection raises no error and delivers no notification: only a query
   * that must answer within the statement deadline tells it from a quiet database.
   */
  private async probe(client: pg.Client, lost: (err?: Error) => void): Promise<void> {
    while (this.listenClient === client) {
      try { await this.clock.sleep(this.timeouts.keepAliveMs, this.stopping.signal); } catch { return; }
      if (this.listenClient !== client) return;
      try { await client.query('SELECT 1'); } catch (err) { lost(err as Error); return; }
    }
  }

  private async reconnect(dead: pg.Client): Promise<void> {
    if (this.listenClient !== dead) return;
    this.listenClient = undefined;
    destroyClient(dead);
    for (let attempt = 0; !this.stopping.signal.aborted; attempt++) {
      const delay = Math.min(MAX_RECONNECT_DELAY_MS, 250 * 2 ** attempt) * (0.5 + Math.random());
      try {
        if (attempt > 0) await this.clock.sleep(delay, this.stopping.signal);
        await this.startListening();
        this.logger.info('datastore LISTEN connection restored', { attempt });
        this.pump(); // whatever was written while we were deaf
        return;
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.logger.warn('datastore LISTEN reconnect failed', { err: classify(err, this.pgDriver.description), attempt });
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
    if (c) destroyClient(c);
    await super.close();
  }

  get pool(): pg.Pool { return this.pgDriver.pool; }
}

async function migrate(driver: PostgresDriver, list: readonly Migration[], clock: Clock, logger: Logger): Promise<void> {
  const latest = latestVersion(list);
  await driver.withClient(async (client) => {
    try {
      await client.query('BEGIN');
      // Several servers may start at once against one database: one migrates, the others wait and find it done.
      await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const current = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version')).rows[0].v);
      if (current > latest) throw schemaTooNew(current, latest, driver.description);
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
    }
  });
}

class PostgresDriver implements SqlDriver {
  readonly lockRows = ' FOR UPDATE';
  private texts = new Map<string, string>();
  constructor(readonly pool: pg.Pool, readonly description: string, private readonly logger: Logger,
    private readonly closeTimeoutMs: number) {}

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

  /**
   * Runs `fn` on a checked-out connection. pg-pool removes its idle-error listener while
   * a client is checked out, so a socket error then (a reset mid-transaction) would be
   * an unhandled 'error' event that ends the process: this listener takes it (the
   * pending query rejects on its own). A lost connection is destroyed, not reused.
   */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try { client = await this.pool.connect(); } catch (err) { throw classify(err, this.description); }
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost ??= err;
      this.logger.warn('datastore connection failed during a request', { err });
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      const e = classify(lost ?? err, this.description);
      if (isConnectionLoss(e)) lost ??= e;
      throw e;
    } finally {
      client.removeListener('error', onError);
      if (lost) destroyClient(client);
      client.release(lost);
    }
  }

  writeTransaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    // One round trip each to start and to finish: the advisory lock is held as briefly as
    // the work allows. The notification is delivered by PostgreSQL at COMMIT, never for a
    // rolled-back write.
    return this.inTransaction(`BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`, `SELECT pg_notify('${CHANNEL}', ''); COMMIT`, fn);
  }

  async transaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inTransaction('BEGIN', 'COMMIT', fn);
      } catch (err) {
        // Two transactions locking the same rows in opposite order: PostgreSQL aborts one;
        // nothing of it committed, so it runs again. (Single-use batches take their rows in
        // key order, group-commit.ts, so this is the rare case, not the common one.)
        if (attempt >= MAX_CONFLICT_ATTEMPTS || !isConflict(err)) throw err;
        // A moment apart (jittered): rerun at once, it would meet the other still running.
        await new Promise((r) => setTimeout(r, (5 + 20 * Math.random()) * attempt));
      }
    }
  }

  /** `begin`, fn, `commit` on one pooled connection; rolled back when any of them throws. */
  private inTransaction<T>(begin: string, commit: string, fn: (c: SqlConn) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      try {
        // Inside the try: a lock wait cut short by statement_timeout must still roll back.
        await client.query(begin);
        const r = await fn(this.conn(client));
        await client.query(commit);
        return r;
      } catch (err) {
        // A connection that is gone or still busy with a timed-out statement cannot roll
        // back; closing it does (withClient destroys it).
        if (isConnectionLoss(classify(err, this.description))) throw err;
        try { await client.query('ROLLBACK'); } catch (rb) {
          throw datastoreUnavailable(`datastore ${this.description}: rollback failed (${(rb as Error).message}) after: ${(err as Error).message}`, err);
        }
        throw err;
      }
    });
  }

  async read<T>(fn: (c: SqlConn) => Promise<T>): Promise<T> {
    try { return await fn(this.conn(this.pool)); } catch (err) { throw classify(err, this.description); }
  }

  /** A graceful end waits for the server's goodbye, which a stalled connection never sends: bounded. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pool.end().catch(() => undefined),
      new Promise((r) => { timer = setTimeout(r, this.closeTimeoutMs); }),
    ]);
    clearTimeout(timer);
  }
}
