import { TesseraError } from '../../common/errors.ts';
import type { SqlConn, SqlDriver } from './sql-driver.ts';
import type { ChangeEvent, ChangeKind } from './types.ts';

/** Appends one change event inside the current write transaction. */
export type LogChange = (kind: ChangeKind, id: string) => Promise<void>;
export type WriteFn<T> = (c: SqlConn, log: LogChange) => Promise<T>;

interface Job {
  fn: WriteFn<unknown>;
  /** Plain batches run their jobs in key order (see submit). */
  key?: string;
  /** Unix seconds the caller asked at: the time its change rows carry. */
  time: number;
  events: ChangeEvent[];
  result?: unknown;
  resolve(v: unknown): void;
  reject(err: unknown): void;
}

/** Jobs per transaction: bounds how long one transaction holds the write lock. */
const MAX_JOBS = 256;

/**
 * Group commit for change-log writes. Every write transaction is serialised behind the
 * store's write lock (sequence numbers commit in order), and each costs a commit (an
 * fsync) and several round trips, so one write per transaction caps single-entry
 * writes far below what a batch achieves. Here the writes that arrive while a
 * transaction is running wait, and all of them run together in the next one: one
 * lock hold, one commit. Each keeps its own result, and the events go to `afterCommit`
 * once, in sequence order.
 *
 * One write throwing must fail alone. Rather than a savepoint around every write (two
 * more round trips each, on the common path), the transaction is rolled back, that
 * write gets its error, and the others run again in a fresh transaction: writes are
 * re-runnable by contract (SqlDriver.writeTransaction may retry), and a write that
 * throws is rare (bad items are per-item results, not throws).
 *
 * When the database is unavailable, the writes queued behind the failed transaction
 * fail with it rather than wait through another deadline each.
 */
export class GroupCommit {
  private queue: Job[] = [];
  private running = false;

  /**
   * `changeLog: false` (single-use writes, docs in SqlDriver.transaction): batches run in
   * plain transactions, not behind the change-log lock, and may append no events.
   */
  constructor(
    private readonly driver: SqlDriver,
    private readonly now: () => number,
    private readonly afterCommit: (events: ChangeEvent[]) => void,
    private readonly opts: { changeLog: boolean } = { changeLog: true },
  ) {}

  /**
   * `key` (plain batches): the row the write takes, e.g. "used:<hash>". A batch runs its
   * jobs sorted by key (same key: in submission order, so the first use of a hash wins),
   * keyless ones last: every server then locks rows in one global order, and two
   * servers' batches cannot deadlock over the same rows.
   */
  submit<T>(fn: WriteFn<T>, key?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, key, time: this.now(), events: [], resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * Starts a transaction on the next turn of the event loop, not at once: a SQLite
   * transaction runs start to commit without yielding (the engine is synchronous), so
   * requests read from the same socket read would otherwise each get their own.
   */
  private schedule(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const failure = await this.commit(this.queue.splice(0, MAX_JOBS));
        if (failure) for (const job of this.queue.splice(0)) job.reject(failure);
      }
    } finally {
      this.running = false;
    }
  }

  /** Commits `jobs` (minus those that throw); returns the error when the database itself failed. */
  private async commit(jobs: Job[]): Promise<Error | undefined> {
    let pending = this.opts.changeLog ? jobs : jobs.sort(byKey);
    while (pending.length) {
      let thrower: Job | undefined;
      const transaction = this.opts.changeLog ? this.driver.writeTransaction.bind(this.driver) : this.driver.transaction.bind(this.driver);
      try {
        await transaction(async (c) => {
          thrower = undefined;
          for (const job of pending) {
            job.events = []; // a retried transaction starts over
            const log: LogChange = async (kind, id) => {
              if (!this.opts.changeLog) throw new Error(`a plain write cannot append change events (${kind} ${id})`);
              const rows = await c.all('INSERT INTO changes (kind, id, time) VALUES (?, ?, ?) RETURNING seq', [kind, id, job.time]);
              job.events.push({ seq: Number(rows[0]!.seq), kind, id });
            };
            try {
              job.result = await job.fn(c, log);
            } catch (err) {
              thrower = job;
              throw err;
            }
          }
        });
      } catch (err) {
        if (thrower && !unavailable(err)) {
          thrower.reject(err);
          pending = pending.filter((j) => j !== thrower);
          continue;
        }
        for (const job of pending) job.reject(err);
        return unavailable(err) ? err as Error : undefined;
      }
      const events = pending.flatMap((j) => j.events);
      if (events.length) this.afterCommit(events);
      for (const job of pending) job.resolve(job.result);
      return undefined;
    }
    return undefined;
  }
}

const unavailable = (err: unknown) => err instanceof TesseraError && err.kind === 'unavailable';
/** Stable (Array.prototype.sort is): equal keys keep their order; keyless jobs go last. */
const byKey = (a: Job, b: Job): number =>
  (a.key === b.key ? 0 : a.key === undefined ? 1 : b.key === undefined ? -1 : a.key < b.key ? -1 : 1);

/** Audit rows per INSERT: 4 parameters each, well under either engine's parameter limit. */
const MAX_AUDIT_ROWS = 500;

/** One audit-table row as INSERT parameters: time, event, subject, data (JSON text). */
export type AuditRow = [number, string, string, string];

/** Audit rows, in order, as multi-row INSERTs of at most MAX_AUDIT_ROWS (inside the caller's transaction, if any). */
export async function insertAuditRows(c: SqlConn, rows: readonly AuditRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += MAX_AUDIT_ROWS) {
    const chunk = rows.slice(i, i + MAX_AUDIT_ROWS);
    await c.run(`INSERT INTO audit (time, event, subject, data) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`, chunk.flat());
  }
}

/**
 * Group commit for the audit trail: rows appended while an insert is running go into
 * the next one, a single multi-row INSERT (one statement, one commit). Audit rows are
 * outside the change log, so this never takes the write lock. Should a combined insert
 * fail for a reason other than the database being unavailable, each row is retried on
 * its own so that one bad row fails alone.
 */
export class AuditAppender {
  private queue: { params: AuditRow; resolve(): void; reject(err: unknown): void }[] = [];
  private running = false;

  constructor(private readonly driver: SqlDriver) {}

  append(params: AuditRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ params, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.drain()); // as GroupCommit.schedule()
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const rows = this.queue.splice(0, MAX_AUDIT_ROWS);
        try {
          await this.insert(rows.map((r) => r.params));
          for (const r of rows) r.resolve();
        } catch (err) {
          if (rows.length === 1 || unavailable(err)) { for (const r of rows) r.reject(err); continue; }
          for (const r of rows) await this.insert([r.params]).then(r.resolve, r.reject);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private insert(rows: AuditRow[]): Promise<void> {
    return this.driver.read((c) => insertAuditRows(c, rows));
  }
}
