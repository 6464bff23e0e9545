import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { TesseraError } from '../../common/errors.ts';
import { classifySqliteError } from '../../server/datastore/sqlite.ts';
import { adminCall, startServer, type TestServer } from '../helpers/server.ts';
import { until } from '../helpers/wait.ts';
import { dumpOnFailure, figure, smallTmpfs } from './lib.ts';
import { halfWritten, sqliteEntries } from './store-check.ts';

/**
 * The server's data dir on a small tmpfs (a real filesystem that really runs out of
 * space). Filled up while the server runs: entry writes fail with a clear error
 * naming the cause, the server keeps running and serving reads, the store is not
 * corrupted (integrity check, no half-written entry, every acknowledged write there),
 * and writes work again as soon as space returns. Then the data dir read-only at
 * start: the server refuses to start with a clear message and starts once it is
 * writable again. A tmpfs cannot be made read-only while files are open for writing
 * (EBUSY), so read-only is tested at start. Needs root (mount); skipped loudly otherwise.
 */
const MIB = 1024 * 1024;
type CreateResult = { results: { status: { code: number; message: string }; entry: { id: string } }[] };

const entry = (n: number) => ({
  spiffe_id: `spiffe://example.org/disk/e${n}`, parent_id: 'spiffe://example.org/tessera/agent/join_token/disk',
  selectors: [{ type: 'unix', value: `uid:${n}` }, { type: 'unix', value: `gid:${n}` }],
});

/**
 * A server whose data dir is made inside `dir`: startServer makes its data dir under
 * os.tmpdir(), which follows TMPDIR (this file's worker process only).
 */
async function serverIn(t: ExecutionContext, dir: string): Promise<TestServer> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await startServer(t);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved;
  }
}

/** Fills the filesystem with one file until ENOSPC; returns its path and size. */
function fill(dir: string): { path: string; bytes: number } {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    for (const size of [MIB, 4096, 512]) {
      const buf = Buffer.alloc(size, 1);
      for (;;) {
        try { bytes += writeSync(fd, buf); } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally { closeSync(fd); }
  return { path, bytes };
}

test.serial('data dir full (ENOSPC): writes fail with a clear error, nothing is corrupted, writes resume when space returns', async (t) => {
  t.timeout(240_000);
  const fs = smallTmpfs(t, 24 * MIB);
  if (!fs) { t.log('SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)'); t.pass(); return; }
  const srv = await serverIn(t, fs.dir);
  dumpOnFailure(t, { server: () => srv.proc });
  let exited = false;
  void srv.proc.exited.then(() => { exited = true; });
  const acked = new Set<string>();
  let n = 0;
  const create = async () => {
    const r = await adminCall<CreateResult>(srv.admin().entry, 'BatchCreateEntry', { entries: Array.from({ length: 20 }, () => entry(++n)) });
    for (const x of r.results) if (x.status.code === 0) acked.add(x.entry.id);
    return r;
  };
  for (let i = 0; i < 5; i++) await create();

  const filler = fill(fs.dir);
  t.log(`filled the data dir with ${Math.round(filler.bytes / MIB)} MiB`);
  // SQLite reuses WAL pages it already has: keep writing until one needs a new block.
  let failure: Error & { code?: string; grpcCode?: number } | undefined;
  for (let i = 0; i < 500 && !failure; i++) {
    try {
      const r = await create();
      const refused = r.results.find((x) => x.status.code !== 0);
      if (refused) failure = Object.assign(new Error(refused.status.message), { grpcCode: refused.status.code });
    } catch (e) { failure = e as Error & { code?: string; grpcCode?: number }; }
  }
  t.truthy(failure, 'a write failed once the disk was full');
  t.log(`error returned to the admin client: ${failure?.code} ${failure?.message}`);
  t.regex(failure!.message, /disk is full/i, 'the error says the disk is full');
  t.is(failure!.grpcCode, status.UNAVAILABLE, 'a full disk passes: UNAVAILABLE tells the client to retry');
  t.false(exited, 'the server keeps running on a full disk');
  const count = await adminCall<{ count: number }>(srv.admin().entry, 'CountEntries', {});
  t.is(count.count, acked.size, 'reads are served on a full disk, and show exactly the acknowledged writes');
  t.regex(srv.proc.stderr(), /disk is full|no space left|SQLITE_FULL|ENOSPC/i, 'the server logged the cause');

  const freedAt = Date.now();
  rmSync(filler.path);
  const id = await until(async () => {
    try {
      const r = await create();
      return r.results.every((x) => x.status.code === 0) ? r.results[0]!.entry.id : undefined;
    } catch { return undefined; }
  }, 'a write to succeed after space returned', 120_000);
  figure(t, 'space freed → first successful write', Date.now() - freedAt, 'ms');
  t.truthy(id);

  await checkStore(t, srv, acked);
  // And the store opens cleanly in a fresh process.
  await srv.restart();
  t.is((await adminCall<{ count: number }>(srv.admin().entry, 'CountEntries', {})).count, acked.size);
});

test.serial('data dir read-only at start: the server refuses to start with a clear message, and starts once it is writable', async (t) => {
  t.timeout(240_000);
  const fs = smallTmpfs(t, 24 * MIB);
  if (!fs) { t.log('SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)'); t.pass(); return; }
  const srv = await serverIn(t, fs.dir);
  dumpOnFailure(t, { server: () => srv.proc });
  const r = await adminCall<CreateResult>(srv.admin().entry, 'BatchCreateEntry', { entries: [entry(1), entry(2)] });
  const acked = new Set(r.results.map((x) => x.entry.id));
  await srv.stop();

  fs.remount('ro');
  const refused = await srv.restart().then(() => undefined, (e: Error) => e);
  t.truthy(refused, 'the server does not start on a read-only data dir');
  const said = refused?.message ?? '';
  t.log(`server output on a read-only data dir (tail): ${said.slice(-600)}`);
  t.regex(said, /read-only file system|EROFS|readonly database|SQLITE_READONLY|unable to open database/i, 'the message names the cause');
  t.notRegex(said, /Unhandled 'error' event|uncaughtException/, 'a clear error, not a crash');

  fs.remount('rw');
  await srv.restart();
  await checkStore(t, srv, acked);
});

async function checkStore(t: ExecutionContext, srv: TestServer, acked: Set<string>): Promise<void> {
  const { entries, integrity } = sqliteEntries(join(srv.dataDir, 'datastore.sqlite3'));
  t.is(integrity, 'ok', 'PRAGMA integrity_check');
  t.deepEqual(halfWritten(entries), [], 'no half-written entry');
  const stored = new Set(entries.map((e) => e.id));
  t.deepEqual([...acked].filter((id) => !stored.has(id)), [], 'every acknowledged write is stored');
}

test('SQLite "database or disk is full" is Unavailable, saying the disk is full', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-full-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(join(dir, 'full.db'));
  t.teardown(() => db.close());
  db.exec('CREATE TABLE t (v BLOB)');
  // A page cap makes SQLite fail exactly as on a full disk (SQLITE_FULL).
  db.pragma('max_page_count = 8');
  let engineError: unknown;
  try {
    for (let i = 0; i < 100; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096));
  } catch (e) { engineError = e; }
  t.is((engineError as { code?: string }).code, 'SQLITE_FULL');
  const err = classifySqliteError(engineError, 'sqlite:full.db', () => 10 * 1024 * 1024);
  t.true(err instanceof TesseraError);
  t.like(err as TesseraError, { kind: 'unavailable', code: 'ERR_DATASTORE_UNAVAILABLE' });
  t.regex(err.message, /disk is full.*database or disk is full/);
});

test('SQLite "disk I/O error" is Unavailable when the filesystem has no space left, Internal otherwise', (t) => {
  const ioError = new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');
  const full = classifySqliteError(ioError, 'sqlite:x.db', () => 0) as TesseraError;
  t.like(full, { kind: 'unavailable', code: 'ERR_DATASTORE_UNAVAILABLE' });
  t.regex(full.message, /disk is full.*disk I\/O error \(0 bytes free\)/);
  const broken = classifySqliteError(ioError, 'sqlite:x.db', () => 10 * 1024 * 1024 * 1024) as TesseraError;
  t.like(broken, { kind: 'internal', code: 'ERR_DATASTORE' });
  const unknown = classifySqliteError(ioError, 'sqlite:x.db', () => undefined) as TesseraError;
  t.is(unknown.kind, 'internal', 'an I/O error with unknown free space is not guessed to be a full disk');
});
