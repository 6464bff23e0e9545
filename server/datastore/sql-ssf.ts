import type { Row } from './rows.ts';
import type { SqlDriver } from './sql-driver.ts';

/** `attempts` of a delivered or acknowledged SET: a tombstone (see drop). */
const DELIVERED = -1;
const TOMBSTONE_MS = 3_600_000;

/**
 * SQL for the OpenID Shared Signals transmitter (server/ssf/, docs/shared-signals.md):
 * receivers' streams and the queue of signed SETs not yet delivered. Both live in the
 * store, so streams survive restarts and every server sharing the database serves them.
 *
 * Exactly-once rules are conditional statements the database enforces across servers:
 * a source event is queued once per stream (UNIQUE (stream_id, src): every server hears
 * the same revocation and tries), and a queued SET is pushed by the one server whose
 * UPDATE claimed it (claimed_until in the past). A push that fails releases the claim
 * with a later next_at; only a receiver's 2xx (or a permanent 4xx refusal) ends it, as a
 * tombstone kept an hour so that a server hearing the same cause late cannot queue it again.
 * Times in this table are unix milliseconds.
 */
export type SsfMethod = 'push' | 'poll';
export type SsfStatus = 'enabled' | 'paused' | 'disabled';

export interface SsfStreamRecord {
  id: string;
  /** The receiver that created it: a SPIFFE ID (mTLS) or an OAuth client_id (access token). */
  owner: string;
  method: SsfMethod;
  status: SsfStatus;
  reason: string;
  /** JSON of the receiver-supplied configuration (server/ssf/stream-config.ts). */
  config: string;
  createdAt: number;
  updatedAt: number;
}

export interface SsfQueuedSet {
  seq: number;
  streamId: string;
  /** The underlying event (`rev:12`, `chg:40`, `verify:…`): one SET per stream and source. */
  src: string;
  jti: string;
  set: string;
  attempts: number;
  nextAt: number;
}

export interface SsfStore {
  createStream(r: SsfStreamRecord): Promise<void>;
  getStream(id: string): Promise<SsfStreamRecord | undefined>;
  /** Oldest first; `owner`: only that receiver's. */
  listStreams(owner?: string): Promise<SsfStreamRecord[]>;
  /** Replaces config/status/reason of the owner's stream; false when it has no such stream. */
  updateStream(r: Pick<SsfStreamRecord, 'id' | 'owner' | 'method' | 'status' | 'reason' | 'config' | 'updatedAt'>): Promise<boolean>;
  /** Deletes the stream and its queue; false when the owner has no such stream. */
  deleteStream(id: string, owner: string): Promise<boolean>;
  /** Queues SETs, skipping a (stream, src) already queued; returns how many were new. */
  enqueue(sets: { streamId: string; src: string; jti: string; set: string; createdAt: number }[]): Promise<number>;
  /** A stream's queued SETs in order (poll delivery). */
  pending(streamId: string, limit: number): Promise<SsfQueuedSet[]>;
  /** Ends the stream's SETs with these jtis (poll acknowledgement; kept as tombstones, see drop); returns how many. */
  ack(streamId: string, jtis: string[]): Promise<number>;
  /** SETs of enabled push streams due at `nowMs` and claimed by nobody. */
  due(nowMs: number, limit: number): Promise<SsfQueuedSet[]>;
  /** The earliest next_at of an unclaimed SET of an enabled push stream. */
  nextDue(): Promise<number | undefined>;
  /** Claims a SET for one push attempt until `untilMs`: true for exactly one server. */
  claim(seq: number, nowMs: number, untilMs: number): Promise<boolean>;
  /** Ends a SET (delivered, or refused for good), keeping a tombstone so the same cause is not queued again. */
  drop(seq: number): Promise<void>;
  /** Releases a claim after a failed attempt; tried again at `nextAtMs`. */
  retryAt(seq: number, nextAtMs: number, attempts: number): Promise<void>;
  /** Drops every queued SET of a stream (it was disabled). */
  clearQueue(streamId: string): Promise<number>;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

const toStream = (r: Row): SsfStreamRecord => ({
  id: str(r.id), owner: str(r.owner), method: str(r.method) as SsfMethod, status: str(r.status) as SsfStatus, reason: str(r.reason),
  config: str(r.config), createdAt: num(r.created_at), updatedAt: num(r.updated_at),
});

const toSet = (r: Row): SsfQueuedSet => ({
  seq: num(r.seq), streamId: str(r.stream_id), src: str(r.src), jti: str(r.jti), set: str(r.set_jwt), attempts: num(r.attempts), nextAt: num(r.next_at),
});

const SET_COLUMNS = 'seq, stream_id, src, jti, set_jwt, attempts, next_at';

export class SqlSsfStore implements SsfStore {
  constructor(private readonly driver: SqlDriver) {}

  async createStream(r: SsfStreamRecord): Promise<void> {
    await this.driver.read((c) => c.run(
      'INSERT INTO ssf_streams (id, owner, method, status, reason, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [r.id, r.owner, r.method, r.status, r.reason, r.config, r.createdAt, r.updatedAt]));
  }

  async getStream(id: string): Promise<SsfStreamRecord | undefined> {
    const rows = await this.driver.read((c) => c.all('SELECT * FROM ssf_streams WHERE id = ?', [id]));
    return rows[0] ? toStream(rows[0]) : undefined;
  }

  async listStreams(owner?: string): Promise<SsfStreamRecord[]> {
    const rows = await this.driver.read((c) => (owner === undefined
      ? c.all('SELECT * FROM ssf_streams ORDER BY created_at, id')
      : c.all('SELECT * FROM ssf_streams WHERE owner = ? ORDER BY created_at, id', [owner])));
    return rows.map(toStream);
  }

  async updateStream(r: Pick<SsfStreamRecord, 'id' | 'owner' | 'method' | 'status' | 'reason' | 'config' | 'updatedAt'>): Promise<boolean> {
    const n = await this.driver.read((c) => c.run(
      'UPDATE ssf_streams SET method = ?, status = ?, reason = ?, config = ?, updated_at = ? WHERE id = ? AND owner = ?',
      [r.method, r.status, r.reason, r.config, r.updatedAt, r.id, r.owner]));
    return n === 1;
  }

  deleteStream(id: string, owner: string): Promise<boolean> {
    return this.driver.transaction(async (c) => {
      const n = await c.run('DELETE FROM ssf_streams WHERE id = ? AND owner = ?', [id, owner]);
      if (n === 1) await c.run('DELETE FROM ssf_events WHERE stream_id = ?', [id]);
      return n === 1;
    });
  }

  enqueue(sets: { streamId: string; src: string; jti: string; set: string; createdAt: number }[]): Promise<number> {
    if (sets.length === 0) return Promise.resolve(0);
    return this.driver.transaction(async (c) => {
      // Delivered SETs stay as tombstones for an hour (see drop): long enough for every server
      // to have heard the same cause and been stopped by UNIQUE (stream, src).
      await c.run('DELETE FROM ssf_events WHERE attempts = ? AND created_at < ?', [DELIVERED, sets[0]!.createdAt - TOMBSTONE_MS]);
      let n = 0;
      for (const s of sets) {
        n += await c.run(
          'INSERT INTO ssf_events (stream_id, src, jti, set_jwt, created_at, attempts, next_at, claimed_until) VALUES (?, ?, ?, ?, ?, 0, 0, 0) ON CONFLICT DO NOTHING',
          [s.streamId, s.src, s.jti, s.set, s.createdAt]);
      }
      return n;
    });
  }

  async pending(streamId: string, limit: number): Promise<SsfQueuedSet[]> {
    const rows = await this.driver.read((c) => c.all(`SELECT ${SET_COLUMNS} FROM ssf_events WHERE stream_id = ? AND attempts >= 0 ORDER BY seq LIMIT ?`, [streamId, limit]));
    return rows.map(toSet);
  }

  ack(streamId: string, jtis: string[]): Promise<number> {
    if (jtis.length === 0) return Promise.resolve(0);
    return this.driver.transaction(async (c) => {
      let n = 0;
      for (const j of jtis) n += await c.run("UPDATE ssf_events SET attempts = ?, set_jwt = '' WHERE stream_id = ? AND jti = ? AND attempts >= 0", [DELIVERED, streamId, j]);
      return n;
    });
  }

  async due(nowMs: number, limit: number): Promise<SsfQueuedSet[]> {
    const rows = await this.driver.read((c) => c.all(
      `SELECT e.seq, e.stream_id, e.src, e.jti, e.set_jwt, e.attempts, e.next_at FROM ssf_events e JOIN ssf_streams s ON s.id = e.stream_id
       WHERE s.method = 'push' AND s.status = 'enabled' AND e.attempts >= 0 AND e.next_at <= ? AND e.claimed_until < ? ORDER BY e.seq LIMIT ?`, [nowMs, nowMs, limit]));
    return rows.map(toSet);
  }

  async nextDue(): Promise<number | undefined> {
    const rows = await this.driver.read((c) => c.all(
      `SELECT MIN(CASE WHEN e.next_at > e.claimed_until THEN e.next_at ELSE e.claimed_until END) AS at FROM ssf_events e
       JOIN ssf_streams s ON s.id = e.stream_id WHERE s.method = 'push' AND s.status = 'enabled' AND e.attempts >= 0`));
    const at = rows[0]?.at;
    return at === null || at === undefined ? undefined : num(at);
  }

  async claim(seq: number, nowMs: number, untilMs: number): Promise<boolean> {
    const n = await this.driver.read((c) => c.run(
      'UPDATE ssf_events SET claimed_until = ? WHERE seq = ? AND attempts >= 0 AND claimed_until < ? AND next_at <= ?', [untilMs, seq, nowMs, nowMs]));
    return n === 1;
  }

  /**
   * Done with a SET (delivered, or refused for good): kept as a tombstone, not deleted, so a
   * server that hears the same cause later cannot queue it again (UNIQUE (stream, src)) and
   * push it twice; tombstones are pruned by enqueue after TOMBSTONE_MS.
   */
  async drop(seq: number): Promise<void> {
    await this.driver.read((c) => c.run("UPDATE ssf_events SET attempts = ?, set_jwt = '' WHERE seq = ?", [DELIVERED, seq]));
  }

  async retryAt(seq: number, nextAtMs: number, attempts: number): Promise<void> {
    await this.driver.read((c) => c.run('UPDATE ssf_events SET next_at = ?, attempts = ?, claimed_until = 0 WHERE seq = ? AND attempts >= 0', [nextAtMs, attempts, seq]));
  }

  clearQueue(streamId: string): Promise<number> {
    return this.driver.read((c) => c.run('DELETE FROM ssf_events WHERE stream_id = ?', [streamId]));
  }
}
