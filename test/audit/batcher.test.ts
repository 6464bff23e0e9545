import test from 'ava';
import { FakeClock, systemClock } from '../../common/clock.ts';
import { internal, TesseraError, unavailable } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { Batcher, pacedLinger } from '../../server/audit/batcher.ts';
import { until, within } from '../helpers/wait.ts';

/**
 * The batcher in front of the transparency log (docs/audit.md "Batching and
 * back-pressure"): one write per batch, nothing ever dropped, bounded memory.
 * The flush here is a small real log: an array that takes items in order.
 */
function fakeLog() {
  const written: number[] = [];
  const batches: number[][] = [];
  const calls: number[][] = [];
  let failures = 0;
  let gate: Promise<void> | undefined;
  return {
    written, batches, calls,
    failNext(n: number) { failures = n; },
    hold() { let open!: () => void; gate = new Promise((r) => { open = r; }); return () => { gate = undefined; open(); }; },
    async flush(items: number[]): Promise<number[]> {
      calls.push([...items]);
      await gate;
      if (failures > 0) { failures--; throw unavailable('ERR_DATASTORE_UNAVAILABLE', 'database away'); }
      if (items.includes(-1)) throw internal('ERR_BAD_ITEM', 'item -1 cannot be written');
      batches.push([...items]);
      return items.map((i) => { written.push(i); return written.length - 1; });
    },
  };
}

test('the wait before a flush is the linger, stretched so flushes take at most their share of the time, up to a cap', (t) => {
  t.is(pacedLinger(0, 40), 0, 'no linger configured: next turn, whatever a flush costs');
  t.is(pacedLinger(50, 1), 50, 'a cheap commit keeps the configured linger');
  t.is(pacedLinger(50, 5), 95, 'a 5 ms commit waits 19 × 5 ms: 5 % of the time');
  t.is(pacedLinger(50, 10, 0.1), 90);
  t.is(pacedLinger(50, 100), 250, 'bounded: what a kill -9 can lose stays small');
  t.is(pacedLinger(50, 100, 0.05, 400), 400);
});

test('items submitted while a flush runs are written by the next one, in submission order', async (t) => {
  const log = fakeLog();
  const b = new Batcher<number, number>({ flush: (i) => log.flush(i), clock: systemClock, logger: silentLogger });
  const release = log.hold();
  const first = [b.submit(0), b.submit(1)];
  await until(() => log.calls.length === 1 || undefined, 'first flush started');
  const second = [b.submit(2), b.submit(3), b.submit(4)];
  release();
  t.deepEqual(await Promise.all([...first, ...second]), [0, 1, 2, 3, 4]);
  t.deepEqual(log.batches, [[0, 1], [2, 3, 4]]);
});

test('a flush that fails because the database is away is retried with the same items, in order: none is dropped', async (t) => {
  const log = fakeLog();
  const b = new Batcher<number, number>({ flush: (i) => log.flush(i), clock: systemClock, logger: silentLogger, lingerMs: 1 });
  log.failNext(3);
  const results = await within(Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i))), 'retried flush');
  t.deepEqual(results, Array.from({ length: 10 }, (_, i) => i));
  t.deepEqual(log.written, Array.from({ length: 10 }, (_, i) => i));
  await b.flushed();
});

test('an item the store refuses fails alone; the rest of its batch is written', async (t) => {
  const log = fakeLog();
  const b = new Batcher<number, number>({ flush: (i) => log.flush(i), clock: systemClock, logger: silentLogger });
  const [a, bad, c] = [b.submit(1), b.submit(-1), b.submit(2)];
  t.is(await a, 0);
  await t.throwsAsync(bad, { instanceOf: TesseraError, message: /item -1/ });
  t.is(await c, 1);
  t.deepEqual(log.written, [1, 2]);
});

test('a full queue makes producers wait for room, then refuses them with ERR_AUDIT_BACKLOG', async (t) => {
  const clock = new FakeClock();
  const log = fakeLog();
  const b = new Batcher<number, number>({ flush: (i) => log.flush(i), clock, logger: silentLogger, maxQueue: 3, maxBatch: 3 });
  const release = log.hold();
  const queued = [b.submit(0), b.submit(1), b.submit(2)];
  t.true(b.full);
  const waiting = b.waitForRoom(5000);
  clock.advance(5000);
  await t.throwsAsync(waiting, { instanceOf: TesseraError, code: 'ERR_AUDIT_BACKLOG' });
  const next = b.waitForRoom(5000);
  release();
  await within(next, 'room once the batch is written');
  t.deepEqual(await Promise.all(queued), [0, 1, 2]);
  b.close();
  await t.throwsAsync(b.submit(3), { code: 'ERR_AUDIT_CLOSED' });
});
