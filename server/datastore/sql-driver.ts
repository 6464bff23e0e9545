import type { Row } from './rows.ts';

/**
 * The seam between the SQL-agnostic store (sql-store.ts) and a database engine.
 * SQL text uses `?` placeholders; drivers translate for their engine.
 */
export interface SqlConn {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface SqlDriver {
  /** "sqlite:/path" or "postgres://host/db": for logs and error messages. */
  readonly description: string;
  /**
   * Appended to a SELECT inside writeTransaction to lock the rows it reads until commit
   * (" FOR UPDATE" on PostgreSQL; "" on SQLite, whose write transactions already hold
   * the database's one write lock from BEGIN IMMEDIATE).
   */
  readonly lockRows: string;
  /**
   * Runs `fn` in one transaction that is serialised against every other writer of the
   * change log, so change sequence numbers are assigned in commit order (a reader of
   * changesSince never skips a sequence that commits later). Rolls back on throw.
   * Connection failures and missed deadlines reject with ERR_DATASTORE_UNAVAILABLE.
   * SqlStore calls it through GroupCommit (group-commit.ts), which puts several
   * callers' writes in one transaction and may run a write again after a rollback.
   */
  writeTransaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in one transaction that is NOT serialised against change-log writers (no
   * change events, no notification): for writes whose exactly-once rule is their own
   * conditional statement (a unique key, `WHERE used_at = 0`), which the database
   * enforces across servers by row locks. Rolls back on throw; a deadlock between such
   * transactions on two servers runs `fn` again. Same error classes as writeTransaction.
   */
  transaction<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
  /** A single statement or read outside an explicit transaction. */
  read<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
