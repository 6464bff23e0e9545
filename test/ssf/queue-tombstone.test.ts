import test from 'ava';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The queue's exactly-once rule across servers, at the store: every server hears each
 * revocation and queues its SET, UNIQUE (stream, src) keeping one. A server that hears
 * it only after another has already delivered it (found by a fresh-clone run of
 * test/ssf/ha-postgres.test.ts under load) must not queue it again: a delivered or
 * acknowledged SET stays as a tombstone.
 */
test('a SET delivered by one server is not queued again by a server that hears its cause later', async (t) => {
  const store = SqliteDatastore.open({ path: join(tempDir(t), 'db.sqlite3'), clock: systemClock });
  t.teardown(() => store.close());
  const now = Date.now();
  for (const [id, method] of [['ssf_push', 'push'], ['ssf_poll', 'poll']] as const) {
    await store.ssf.createStream({ id, owner: 'spiffe://example.org/rs', method, status: 'enabled', reason: '', config: '{}', createdAt: now, updatedAt: now });
  }
  const queue = (stream: string, jti: string) => store.ssf.enqueue([{ streamId: stream, src: 'rev:7', jti, set: 'x.y.z', createdAt: Date.now() }]);

  t.is(await queue('ssf_push', 'set_a'), 1, 'server A queues the SET');
  const [row] = await store.ssf.due(Date.now(), 10);
  t.true(await store.ssf.claim(row!.seq, Date.now(), Date.now() + 30_000));
  await store.ssf.drop(row!.seq);
  t.is(await queue('ssf_push', 'set_b'), 0, 'server B, late, cannot queue the same cause again');
  t.deepEqual(await store.ssf.due(Date.now() + 60_000, 10), [], 'nothing left to push');
  t.is(await store.ssf.nextDue(), undefined);
  t.false(await store.ssf.claim(row!.seq, Date.now() + 60_000, Date.now() + 90_000), 'a tombstone cannot be claimed');

  t.is(await queue('ssf_poll', 'set_c'), 1);
  t.is(await store.ssf.ack('ssf_poll', ['set_c']), 1, 'the receiver acknowledges it');
  t.is(await queue('ssf_poll', 'set_d'), 0, 'acknowledged: not queued again');
  t.deepEqual(await store.ssf.pending('ssf_poll', 10), [], 'the poll queue is empty');
  t.is(await store.ssf.ack('ssf_poll', ['set_c']), 0, 'a second acknowledgement ends nothing');
});
