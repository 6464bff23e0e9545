import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { authorityViews, withTaint, x509AuthorityId } from '../../server/ca/local-authority.ts';
import { toWireBundle } from '../../server/entries/wire.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The CA manager's operator operations (tessera-server localauthority): the rules and what they leave behind. */
const td = TrustDomain.parse('example.org');

async function open(t: ExecutionContext, dir = tempDir(t), clock = new FakeClock(Date.UTC(2026, 0, 1))) {
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => store.close());
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock, logger: silentLogger });
  t.teardown(() => ca.close());
  return { dir, clock, store, ca };
}

/** prepare → activate: returns the old (formerly active) and the new slot. */
async function rotated(ca: CaManager) {
  const old = ca.active();
  const next = await ca.prepareNow();
  await ca.activateNow(next.id);
  return { old, next };
}

const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');

test('prepare publishes a new authority without activating it; a second prepare is refused', async (t) => {
  const { ca, store } = await open(t);
  const active = ca.active();
  const p = await ca.prepareNow();
  t.is(ca.active(), active);
  t.is(ca.prepared(), p);
  t.true((await store.getBundle('example.org'))!.x509Authorities.some((d) => hex(d) === hex(p.certificate)));
  await t.throwsAsync(ca.prepareNow(), { code: 'ERR_AUTHORITY_PREPARED' } as never);
  t.deepEqual(authorityViews(ca, 'x509').map((v) => v.state), ['active', 'prepared']);
});

test('activate needs the prepared authority; the active one becomes old', async (t) => {
  const { ca } = await open(t);
  await t.throwsAsync(ca.activateNow(ca.active().id), { code: 'ERR_AUTHORITY_NOT_PREPARED' } as never);
  const { old, next } = await rotated(ca);
  t.is(ca.active(), next);
  t.is(ca.prepared(), undefined);
  t.deepEqual(authorityViews(ca, 'x509').map((v) => [v.authority_id, v.state]), [[x509AuthorityId(next), 'active'], [x509AuthorityId(old), 'old']]);
});

test('only an old authority can be tainted, and only a tainted one revoked', async (t) => {
  const { ca } = await open(t);
  const first = ca.active();
  await t.throwsAsync(ca.taint('x509', first.id), { code: 'ERR_AUTHORITY_ACTIVE' } as never);
  const p = await ca.prepareNow();
  await t.throwsAsync(ca.taint('x509', p.id), { code: 'ERR_AUTHORITY_PREPARED' } as never);
  await ca.activateNow(p.id);
  await t.throwsAsync(ca.revoke('x509', first.id), { code: 'ERR_AUTHORITY_NOT_TAINTED' } as never);
  await ca.taint('x509', first.id);
  await t.throwsAsync(ca.taint('x509', first.id), { code: 'ERR_AUTHORITY_TAINTED' } as never);
  await t.throwsAsync(ca.taint('x509', 'no-such-slot'), { code: 'ERR_AUTHORITY_NOT_FOUND' } as never);
});

test('a taint is announced (event) and marked on the wire bundle, X.509 by subject key ID, JWT by kid', async (t) => {
  const { ca } = await open(t);
  const { old } = await rotated(ca);
  const events: string[] = [];
  ca.onChange((e) => events.push(e));
  await ca.taint('x509', old.id);
  await ca.taint('jwt', old.id);
  t.deepEqual(events, ['taint', 'taint']);
  const wire = withTaint(toWireBundle(ca.bundle()), ca);
  t.deepEqual(wire.tainted_x509_authority_ids, [x509AuthorityId(old)]);
  t.deepEqual(wire.tainted_jwt_key_ids, [old.jwtKey.kid]);
  // Tainted authorities stay trusted until revoked.
  t.true(ca.x509Authorities().some((d) => hex(d) === hex(old.certificate)));
});

test('revoke removes the authority from the stored bundle, for good: a later rotation step and a restart do not put it back', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const { ca, store } = await open(t, dir, clock);
  const { old, next } = await rotated(ca);
  await ca.taint('x509', old.id);
  await ca.revoke('x509', old.id);
  const stored = (await store.getBundle('example.org'))!;
  t.deepEqual(stored.x509Authorities.map(hex), [hex(next.certificate)]);
  t.true(stored.jwtAuthorities.some((k) => k.kid === old.jwtKey.kid), 'the JWT key of the slot is its own authority: still there');
  t.false(ca.x509Authorities().some((d) => hex(d) === hex(old.certificate)));
  await ca.tick();
  t.deepEqual((await store.getBundle('example.org'))!.x509Authorities.map(hex), [hex(next.certificate)]);

  await ca.taint('jwt', old.id);
  await ca.revoke('jwt', old.id);
  t.false((await store.getBundle('example.org'))!.jwtAuthorities.some((k) => k.kid === old.jwtKey.kid));
  ca.close();

  const again = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock, logger: silentLogger });
  t.teardown(() => again.close());
  const b = (await store.getBundle('example.org'))!;
  t.deepEqual(b.x509Authorities.map(hex), [hex(next.certificate)]);
  t.false(b.jwtAuthorities.some((k) => k.kid === old.jwtKey.kid));
  t.deepEqual(authorityViews(again, 'x509').map((v) => [v.state, v.tainted, v.revoked]), [['active', false, false], ['old', true, true]]);
});
