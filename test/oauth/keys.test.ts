import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { OAuthKeyManager } from '../../server/oauth/keys.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from './harness.ts';

/**
 * The token-signing key schedule with an injected clock: a new key is published one
 * refresh interval before it signs, the old one stays published until the last token
 * it signed has expired, keys survive a restart (0600 on disk), and every manager on
 * the store serves every server's keys.
 */
const MIN = 60_000;
const opts = { rotationSeconds: 3600, publishLeadSeconds: 300, maxTokenTtlSeconds: 600 };

async function setup(t: import('ava').ExecutionContext) {
  const dir = tempDir(t, 'tok-');
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const store = await SqliteDatastore.open({ path: join(dir, 'ds.sqlite3'), clock });
  t.teardown(() => store.close());
  const open = (sub = 'keys') => OAuthKeyManager.open({ dir: join(dir, sub), store, clock, logger: memoryLogger(), ...opts });
  return { dir, clock, store, open };
}

const kids = (m: OAuthKeyManager) => (JSON.parse(m.jwks()).keys as { kid: string }[]).map((k) => k.kid).sort();

test('rotation: published ahead, signs on schedule, kept until its tokens expired', async (t) => {
  const { clock, store, open } = await setup(t);
  const m = await open();
  t.teardown(() => m.close());
  const first = m.signingKey();
  t.regex(first.kid, /^oak_/);
  t.deepEqual(kids(m), [first.kid]);
  t.deepEqual((await store.listOAuthKeys()).map((k) => k.kid), [first.kid]);

  const ac = new AbortController();
  const loop = m.run(ac.signal);
  t.teardown(async () => { ac.abort(); await loop; });
  // 55 min in: the next key is published (5 min lead) but the first still signs.
  clock.advance(55 * MIN);
  const published = await until('the next key to be published', () => (kids(m).length === 2 ? kids(m) : undefined));
  t.is(published.length, 2, 'next key published one refresh interval early');
  t.is(m.signingKey().kid, first.kid);
  const next = published.find((k) => k !== first.kid)!;
  t.is((await store.listOAuthKeys()).length, 2, 'and in the store for the other servers');

  // 60 min: the next key signs; the first stays published for the tokens it signed.
  clock.advance(5 * MIN);
  t.is(m.signingKey().kid, next);
  t.true(kids(m).includes(first.kid));
  t.truthy(await m.findKey(first.kid));

  // 60 min + max token TTL + skew margin: the first key is gone everywhere.
  clock.advance(11 * MIN + 1000);
  await until('the first key to be pruned', () => (kids(m).includes(first.kid) ? undefined : true));
  t.is(await m.findKey(first.kid), undefined);
  t.false((await store.listOAuthKeys()).some((k) => k.kid === first.kid));
});

test('keys persist 0600 and survive a restart', async (t) => {
  const { dir, open } = await setup(t);
  const m1 = await open();
  const kid = m1.signingKey().kid;
  m1.close();
  t.is(statSync(join(dir, 'keys', `${kid}.key`)).mode & 0o777, 0o600);
  t.is(statSync(join(dir, 'keys')).mode & 0o777, 0o700);
  const m2 = await open();
  t.teardown(() => m2.close());
  t.is(m2.signingKey().kid, kid, 'the same key signs after a restart');
});

test('every manager on the store serves every server\'s keys', async (t) => {
  const { open } = await setup(t);
  const a = await open('a');
  const b = await open('b');
  t.teardown(() => { a.close(); b.close(); });
  t.not(a.signingKey().kid, b.signingKey().kid);
  const both = [a.signingKey().kid, b.signingKey().kid].sort();
  // b was created after a: a learns b's key from the change feed (or on the unknown kid).
  t.truthy(await a.findKey(b.signingKey().kid));
  t.deepEqual(kids(a), both);
  t.deepEqual(kids(b), both);
  t.is(await a.findKey('oak_unknown'), undefined);
});
