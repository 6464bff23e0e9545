import test from 'ava';
import { systemClock } from '../../common/clock.ts';
import { TesseraError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { OAuthAudit } from '../../server/oauth/audit.ts';
import { postgresTestDatabase } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { until } from '../helpers/wait.ts';

/**
 * The token endpoint's audit trail never drops an event (server/oauth/audit.ts): with the
 * datastore unreachable, events stay queued; a full queue makes the next request wait
 * for room and then fail (ERR_AUDIT_BACKLOG, before it acts) instead of dropping
 * anything; once the database is back, every event lands exactly once, as an audit row
 * and as a transparency-log leaf.
 */
const PG = new URL(process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres');
/** The log batcher's bound (SqlStore): the queue is full at this many waiting events. */
const QUEUE_BOUND = 10_000;

test('with the datastore away, OAuth audit events wait (none dropped), a full queue refuses new requests, and all land once it is back', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_oaudit');
  if (!url) { t.log('PostgreSQL is not reachable at 127.0.0.1:5432: skipped'); t.pass(); return; }
  const proxy = await startTcpProxy(t, { host: PG.hostname, port: Number(PG.port || 5432) });
  const viaProxy = new URL(url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const store = await PostgresDatastore.open({
    connectionString: viaProxy.toString(), logger: silentLogger, maxConnections: 2, listen: false,
    connectTimeoutMs: 1000, statementTimeoutMs: 2000, poolWaitTimeoutMs: 1000,
  });
  t.teardown(() => store.close());
  const direct = await PostgresDatastore.open({ connectionString: url, logger: silentLogger, maxConnections: 2, listen: false });
  t.teardown(() => direct.close());
  const audit = new OAuthAudit({ store, logger: silentLogger, clock: systemClock, backlogWaitMs: 200 });

  proxy.set({ kind: 'drop' });
  const total = QUEUE_BOUND + 5;
  await audit.admit(); // room: resolves at once
  for (let i = 0; i < total; i++) audit.record('oauth.token_exchange', `user${i}`, { jti: `tok_${i}`, grant_id: `grt_${i}` });

  const refused = await t.throwsAsync(audit.admit(), { instanceOf: TesseraError });
  t.is(refused?.code, 'ERR_AUDIT_BACKLOG');
  t.is(refused?.kind, 'unavailable', 'the token endpoint answers 503 temporarily_unavailable');
  t.is(await direct.logSize(), 0, 'nothing reached the database while it was away');

  proxy.set({ kind: 'pass' });
  await until(async () => (await direct.logSize()) >= total || undefined, 'every queued event written after the database came back', 120_000);
  await audit.flush();
  await audit.admit(); // room again
  const rows = await direct.listAudit({ event: 'oauth.token_exchange' });
  t.is(rows.length, total, 'one audit row per event');
  t.is(await direct.logSize(), total, 'one log leaf per event, none twice');
  t.deepEqual(new Set(rows.map((r) => r.subject)).size, total);
  t.deepEqual(rows.slice(0, 2).map((r) => [r.subject, r.data]), [['user0', { jti: 'tok_0', grant_id: 'grt_0' }], ['user1', { jti: 'tok_1', grant_id: 'grt_1' }]]);
});
