import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * Reads a server's store directly (not through the server): every registration entry
 * with its selector rows and change-log rows, to tell a whole entry from a half-written
 * one after a crash. The same SQL runs on both engines (docs/datastore.md, schema).
 */
export interface StoredEntry {
  id: string;
  spiffeId: string;
  /** Selectors in the entry row (JSON column). */
  selectorCount: number;
  /** Rows in entry_selectors for this entry. */
  selectorRows: number;
  /** entry_upsert rows in the change log for this entry. */
  changeRows: number;
}

const ENTRIES = `SELECT e.id, e.spiffe_id, e.selectors,
  (SELECT COUNT(*) FROM entry_selectors s WHERE s.entry_id = e.id) AS selector_rows,
  (SELECT COUNT(*) FROM changes c WHERE c.kind = 'entry_upsert' AND c.id = e.id) AS change_rows
  FROM registration_entries e`;

type Row = { id: string; spiffe_id: string; selectors: string; selector_rows: number | string; change_rows: number | string };

const toEntry = (r: Row): StoredEntry => ({
  id: r.id, spiffeId: r.spiffe_id, selectorCount: (JSON.parse(r.selectors) as unknown[]).length,
  selectorRows: Number(r.selector_rows), changeRows: Number(r.change_rows),
});

/** Entries of a SQLite store, plus `PRAGMA integrity_check` (must be "ok"). */
export function sqliteEntries(path: string): { entries: StoredEntry[]; integrity: string } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    return { entries: (db.prepare(ENTRIES).all() as Row[]).map(toEntry), integrity };
  } finally {
    db.close();
  }
}

export async function postgresEntries(url: string): Promise<StoredEntry[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<Row>(ENTRIES)).rows.map(toEntry);
  } finally {
    await c.end();
  }
}

/** Entries that are not whole: a selector row or its change-log row missing. */
export const halfWritten = (entries: StoredEntry[]): StoredEntry[] =>
  entries.filter((e) => e.selectorRows !== e.selectorCount || e.changeRows < 1);
