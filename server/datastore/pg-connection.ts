import pg from 'pg';
import { internal, TesseraError } from '../../common/errors.ts';
import { datastoreUnavailable } from './errors.ts';

/**
 * Deadlines on every step of the PostgreSQL path. Without them a database that stops
 * answering (a stalled network, a hung proxy) holds requests, the write lock and the
 * LISTEN connection for as long as the stall lasts; with them each request fails with
 * ERR_DATASTORE_UNAVAILABLE (gRPC UNAVAILABLE, retryable) and the server keeps serving.
 */
export interface PgTimeouts {
  /** Opening a connection (TCP connect + startup + authentication). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * One statement: PostgreSQL cancels it after this (statement_timeout, which also
   * bounds waiting for the write lock), and the client gives up on a connection that
   * has not answered 1 s later (it is then closed). Also the longest a transaction
   * may sit idle (idle_in_transaction_session_timeout), so a vanished writer's lock is
   * freed. Default 10000.
   */
  statementTimeoutMs?: number;
  /** Waiting for a pooled connection when all are busy (also caps opening one). Default 5000. */
  poolWaitTimeoutMs?: number;
  /**
   * TCP keepalive idle time; also how often the LISTEN connection is probed with a
   * query, since keepalive alone does not notice a peer that ACKs but never answers.
   * Default 10000.
   */
  keepAliveMs?: number;
}

export const DEFAULT_PG_TIMEOUTS: Required<PgTimeouts> = {
  connectTimeoutMs: 5000, statementTimeoutMs: 10_000, poolWaitTimeoutMs: 5000, keepAliveMs: 10_000,
};

/** How much later than PostgreSQL's own statement_timeout the client abandons a silent connection. */
const CLIENT_GRACE_MS = 1000;

export function resolveTimeouts(t: PgTimeouts): Required<PgTimeouts> {
  const out = { ...DEFAULT_PG_TIMEOUTS };
  for (const k of Object.keys(out) as (keyof PgTimeouts)[]) {
    const v = t[k];
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`datastore: ${k} must be a positive number of milliseconds, got ${v}`);
    out[k] = Math.ceil(v);
  }
  return out;
}

/** Settings of every connection this store opens (pooled and LISTEN). */
export function clientConfig(connectionString: string, t: Required<PgTimeouts>): pg.ClientConfig {
  return {
    connectionString,
    application_name: 'tessera-server',
    connectionTimeoutMillis: t.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: t.keepAliveMs,
    statement_timeout: t.statementTimeoutMs,
    idle_in_transaction_session_timeout: t.statementTimeoutMs,
    query_timeout: t.statementTimeoutMs + CLIENT_GRACE_MS,
  };
}

export function newPool(connectionString: string, max: number, t: Required<PgTimeouts>): pg.Pool {
  const config = clientConfig(connectionString, t);
  // pg-pool hands its own options to each new client, and uses connectionTimeoutMillis
  // for waiting on a busy pool too: the subclass keeps the connect deadline per client.
  class BoundedClient extends pg.Client {
    constructor() { super(config); }
  }
  return new pg.Pool({ ...config, max, connectionTimeoutMillis: t.poolWaitTimeoutMs, Client: BoundedClient });
}

/**
 * Closes a client's socket at once. `end()` alone sends Terminate and waits for the
 * server, which never comes on a stalled connection.
 */
export function destroyClient(c: pg.Client | pg.PoolClient): void {
  c.end().catch(() => undefined);
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|57014|55P03|25P03)/;
const UNAVAILABLE_ERRNO = /^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|AI_AGAIN)$/;
const UNAVAILABLE_MESSAGE = new RegExp([
  'Connection terminated', 'Client has encountered a connection error', 'Client was closed',
  'Query read timeout', 'timeout expired', 'timeout exceeded when trying to connect', 'Cannot use a pool after calling end',
].join('|'));

/**
 * Connection-level failures and missed deadlines become Unavailable (callers retry);
 * anything else Internal. 57014 is a statement cancelled by statement_timeout, 55P03 a
 * lock wait cut short, 25P03 a transaction ended by idle_in_transaction_session_timeout.
 */
export function classify(err: unknown, where: string): Error {
  if (err instanceof TesseraError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const msg = (err as Error)?.message ?? String(err);
  if (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.test(code) || UNAVAILABLE_MESSAGE.test(msg)) {
    return datastoreUnavailable(`datastore ${where} is unavailable: ${msg}`, err);
  }
  return internal('ERR_DATASTORE', `datastore ${where}: ${msg}`, err);
}

/** True when the connection that produced `err` cannot be trusted with another statement. */
export function isConnectionLoss(err: Error): boolean {
  return err instanceof TesseraError && err.kind === 'unavailable' && !/^(57014|55P03)$/.test(String((err.cause as { code?: unknown })?.code ?? ''));
}

/** Connection strings may carry a password; logs and errors get the rest. */
export function redact(cs: string): string {
  try {
    const u = new URL(cs);
    if (u.password) u.password = '***';
    return u.toString();
  } catch { return 'postgres'; }
}
