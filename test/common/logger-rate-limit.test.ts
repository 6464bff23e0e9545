import test from 'ava';
import { memoryLogger, rateLimited } from '../../common/logger.ts';

test('a rate-limited logger writes a message at most once per interval and then says how many similar lines it suppressed', (t) => {
  const mem = memoryLogger();
  let now = 1_000;
  const log = rateLimited(mem, 10_000, () => now);
  for (let i = 0; i < 50; i++) { log.warn('cannot mint', { i }); now += 100; }
  t.is(mem.records.length, 1);
  t.is(mem.records[0]!.i, 0);
  t.is(mem.records[0]!.suppressed_similar, undefined);
  now = 11_000;
  log.warn('cannot mint', { i: 99 });
  t.is(mem.records.length, 2);
  t.is(mem.records[1]!.i, 99);
  t.is(mem.records[1]!.suppressed_similar, 49);
  // Nothing suppressed since: the next line after another interval carries no count.
  now = 30_000;
  log.warn('cannot mint');
  t.is(mem.records[2]!.suppressed_similar, undefined);
});

test('distinct messages and levels have their own limits; children share their parent\'s', (t) => {
  const mem = memoryLogger();
  const log = rateLimited(mem, 60_000, () => 0);
  log.warn('a');
  log.warn('b');
  log.error('a');
  log.child({ conn: 1 }).warn('a');
  log.child({ conn: 2 }).warn('c');
  t.deepEqual(mem.records.map((r) => `${r.level}:${r.msg}`), ['warn:a', 'warn:b', 'error:a', 'warn:c']);
  t.is(mem.records[3]!.conn, 2);
});
