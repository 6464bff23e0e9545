import test from 'ava';
import pg from 'pg';
import { adminCall, attestJoinToken, startServer } from '../helpers/server.ts';

/** The server on PostgreSQL (datastore.kind: postgres), in a database of its own. */
const ADMIN_URL = process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

test('the server runs on PostgreSQL: attest, create an entry, restart, data is still there', async (t) => {
  const db = `tessera_srv_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try { await admin.connect(); } catch (e) {
    t.log(`PostgreSQL not reachable at ${ADMIN_URL}: ${(e as Error).message}`);
    t.pass('skipped: no PostgreSQL');
    return;
  }
  await admin.query(`CREATE DATABASE ${db}`);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  const srv = await startServer(t, { config: { datastore: { kind: 'postgres', connection: url.toString() } } });
  const a = await attestJoinToken(srv, await srv.joinToken());
  a.client.close();
  await adminCall(srv.admin().entry, 'BatchCreateEntry', {
    entries: [{ spiffe_id: 'spiffe://example.org/pg', parent_id: a.id, selectors: [{ type: 'unix', value: 'uid:1' }] }],
  });
  await srv.restart();
  const list = await srv.cli(['entry', 'list', '--parent-id', a.id, '--output', 'json']);
  t.is(list.code, 0, list.stderr);
  t.is(JSON.parse(list.stdout)[0].spiffe_id, 'spiffe://example.org/pg');
  const agent = await srv.cli(['agent', 'show', a.id, '--output', 'json']);
  t.is(JSON.parse(agent.stdout).spiffe_id, a.id);
});
