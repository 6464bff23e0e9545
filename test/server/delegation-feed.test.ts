import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { memoryLogger, silentLogger, type Logger } from '../../common/logger.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { revocationFeedHandler } from '../../server/delegation/feed.ts';
import { RevocationIndex } from '../../server/delegation/revocations.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from './datastore-contract.ts';

interface SseEvent { event: string; id?: string; data: unknown }

/** An SSE client over plain HTTP: collects parsed events; `ended` once the server closed the stream. */
interface FeedClient { status: number; events: SseEvent[]; ended: boolean; close(): void }

interface Feed {
  index: RevocationIndex;
  clock: FakeClock;
  url: string;
  stop: AbortController;
  connect(query?: string, headers?: Record<string, string>): Promise<FeedClient>;
}

async function startFeed(t: ExecutionContext, o: { logger?: Logger; maxBufferedBytes?: number } = {}): Promise<Feed> {
  const clock = new FakeClock();
  const store = SqliteDatastore.open({ path: join(tempDir(t), 'ds.sqlite3'), clock });
  t.teardown(() => store.close());
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const index = await RevocationIndex.load(store, { clock, logger: silentLogger, signal: stop.signal });
  const handler = revocationFeedHandler({
    index, clock, logger: o.logger ?? silentLogger, heartbeatMs: 5000, signal: stop.signal, maxBufferedBytes: o.maxBufferedBytes,
  });
  const server = http.createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/oauth2/revocations') handler(req, res);
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/revocations`;
  const connect = (query = '', headers: Record<string, string> = {}) => new Promise<FeedClient>((resolve, reject) => {
    const req = http.get(url + query, { headers }, (res) => {
      const c: FeedClient = { status: res.statusCode ?? 0, events: [], ended: false, close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: undefined };
          for (const line of block.split('\n')) {
            const [k, ...v] = line.split(': ');
            if (k === 'event') ev.event = v.join(': ');
            else if (k === 'id') ev.id = v.join(': ');
            else if (k === 'data') ev.data = JSON.parse(v.join(': '));
          }
          c.events.push(ev);
        }
      });
      res.on('end', () => { c.ended = true; });
      res.on('error', () => { c.ended = true; });
      resolve(c);
    });
    req.on('error', reject);
    t.teardown(() => req.destroy());
  });
  return { index, clock, url, stop, connect };
}

const sec = (clock: FakeClock) => Math.floor(clock.now() / 1000);

test('a new subscriber gets a snapshot of every live record, then each new record pushed in seq order', async (t) => {
  const f = await startFeed(t);
  const a = await f.index.revoke('grant', 'grt_1', 'admin', 300);
  const c = await f.connect();
  t.is(c.status, 200);
  await waitFor(() => c.events.length === 1);
  t.deepEqual(c.events[0], {
    event: 'snapshot', id: String(a.seq),
    data: { seq: a.seq, revocations: [{ seq: a.seq, kind: 'grant', value: 'grt_1', at: a.at, expires_at: a.expiresAt }] },
  });
  const b = await f.index.revoke('jti', 'tok_2', 'admin', 300);
  const d = await f.index.revoke('actor', 'spiffe://example.org/agents/x', 'admin', 300);
  await waitFor(() => c.events.length === 3);
  t.deepEqual(c.events.slice(1), [b, d].map((r) => ({
    event: 'revocation', id: String(r.seq), data: { seq: r.seq, kind: r.kind, value: r.value, at: r.at, expires_at: r.expiresAt },
  })));
  t.false(JSON.stringify(c.events).includes('admin'), '`by` stays off the wire');
});

test('the snapshot of an empty index has seq 0 and no records', async (t) => {
  const f = await startFeed(t);
  const c = await f.connect();
  await waitFor(() => c.events.length === 1);
  t.deepEqual(c.events[0], { event: 'snapshot', id: '0', data: { seq: 0, revocations: [] } });
});

test('?since= resumes with only later records then a heartbeat; Last-Event-ID works the same; an unknown seq gets a fresh snapshot', async (t) => {
  const f = await startFeed(t);
  const a = await f.index.revoke('grant', 'grt_1', 'admin', 300);
  const b = await f.index.revoke('grant', 'grt_2', 'admin', 300);
  const c = await f.connect(`?since=${a.seq}`);
  await waitFor(() => c.events.length === 2);
  t.deepEqual(c.events.map((e) => e.event), ['revocation', 'heartbeat']);
  t.like(c.events[0].data as object, { seq: b.seq, value: 'grt_2' });
  t.deepEqual(c.events[1].data, { seq: b.seq, time: sec(f.clock) });
  const h = await f.connect('', { 'Last-Event-ID': String(b.seq) });
  await waitFor(() => h.events.length === 1);
  t.deepEqual(h.events.map((e) => e.event), ['heartbeat'], 'nothing missed');
  const fresh = await f.connect(`?since=${b.seq + 50}`);
  await waitFor(() => fresh.events.length === 1);
  t.is(fresh.events[0].event, 'snapshot');
  t.is((fresh.events[0].data as { revocations: unknown[] }).revocations.length, 2);
});

test('a malformed since is a 400 invalid_request', async (t) => {
  const f = await startFeed(t);
  for (const q of ['?since=abc', '?since=-1', '?since=1&since=2']) {
    const res = await fetch(f.url + q);
    t.is(res.status, 400, q);
    t.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'since must be a non-negative integer revocation sequence number' });
  }
  const post = await fetch(f.url, { method: 'POST' });
  t.is(post.status, 405);
});

test('a heartbeat with the current seq and time goes out every heartbeat interval of the clock', async (t) => {
  const f = await startFeed(t);
  const a = await f.index.revoke('subject', 'https://idp.example.org#alice', 'admin', 300);
  const c = await f.connect();
  await waitFor(() => c.events.length === 1);
  f.clock.advance(5000);
  await waitFor(() => c.events.length === 2);
  t.deepEqual(c.events[1], { event: 'heartbeat', data: { seq: a.seq, time: sec(f.clock) } });
  f.clock.advance(5000);
  await waitFor(() => c.events.length === 3);
  t.is(c.events[2].event, 'heartbeat');
});

test('two subscribers each get every record', async (t) => {
  const f = await startFeed(t);
  const [c1, c2] = [await f.connect(), await f.connect()];
  await waitFor(() => c1.events.length === 1 && c2.events.length === 1);
  const recs = [];
  for (let i = 0; i < 5; i++) recs.push(await f.index.revoke('jti', `tok_${i}`, 'admin', 300));
  await waitFor(() => c1.events.length === 6 && c2.events.length === 6);
  for (const c of [c1, c2]) t.deepEqual(c.events.slice(1).map((e) => (e.data as { seq: number }).seq), recs.map((r) => r.seq));
});

test('a subscriber that stops reading is cut off and does not hold up the others', async (t) => {
  const logger = memoryLogger();
  const f = await startFeed(t, { logger, maxBufferedBytes: 64 * 1024 });
  // A raw connection that sends the request and never reads a byte.
  const { port } = new URL(f.url);
  const stalled = net.connect(Number(port), '127.0.0.1');
  t.teardown(() => stalled.destroy());
  await new Promise<void>((r) => stalled.once('connect', () => r()));
  stalled.pause();
  stalled.write('GET /oauth2/revocations HTTP/1.1\r\nHost: x\r\n\r\n');
  const reader = await f.connect();
  await waitFor(() => reader.events.length === 1);
  const big = 'x'.repeat(32 * 1024);
  const cut = () => logger.records.some((r) => r.msg === 'revocation feed subscriber is not reading; disconnecting it');
  const seen = () => reader.events.filter((e) => e.event === 'revocation').map((e) => (e.data as { value: string }).value);
  let n = 0;
  // Kernel socket buffers absorb a few MB first; each heartbeat check finds the stalled
  // stream over its limit without draining, the second such check cuts it off.
  while (!cut() && n < 2000) {
    await f.index.revoke('jti', `${big}${n}`, 'admin', 300);
    n++;
    await waitFor(() => seen().length === n); // the reading subscriber keeps up meanwhile
    f.clock.advance(5000);
  }
  t.true(cut(), `stalled subscriber cut off after ${n} records`);
  t.is(logger.records.filter((r) => r.msg === 'revocation feed subscriber is not reading; disconnecting it').length, 1, 'only the stalled one');
  t.deepEqual(seen().map((v) => v.slice(big.length)), Array.from({ length: n }, (_, i) => String(i)));
  t.false(reader.ended);
  await f.index.revoke('jti', 'tok_after', 'admin', 300);
  await waitFor(() => seen().length === n + 1);
  t.log(`stalled subscriber disconnected after ${n} records of 32 KiB`);
});

test('stopping the server ends every stream cleanly', async (t) => {
  const f = await startFeed(t);
  const [c1, c2] = [await f.connect(), await f.connect()];
  await waitFor(() => c1.events.length === 1 && c2.events.length === 1);
  f.stop.abort();
  await waitFor(() => c1.ended && c2.ended);
  t.pass();
});
