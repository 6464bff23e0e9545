import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync, X509Certificate, createHash } from 'node:crypto';
import { statSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { memoryLogger, silentLogger } from '../../common/logger.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { CaManager, loadUpstreamCa } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { activateAt, prepareAt, renewAt } from '../../server/ca/rotation.ts';
import { derToPem } from '../../spiffe/pem.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/wait.ts';

const td = TrustDomain.parse('example.org');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function setup(t: ExecutionContext, o: { ttl?: number; upstream?: ReturnType<typeof loadUpstreamCa>; clock?: FakeClock; dir?: string } = {}) {
  const dir = o.dir ?? tempDir(t);
  const clock = o.clock ?? new FakeClock(Date.UTC(2026, 0, 1));
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => store.close());
  const ca = await CaManager.open({
    trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: o.ttl ?? 86_400, refreshHintSeconds: 300,
    upstream: o.upstream, store, clock, logger: silentLogger,
  });
  return { dir, clock, store, ca, signer: new SvidSigner(ca, clock) };
}

test('rotation timing follows the spec digest: prepare at min(ttl/2, 30d) left, activate at min(ttl/6, 7d) left', (t) => {
  const day = { notBefore: 0, notAfter: DAY };
  t.is(prepareAt(day), DAY / 2);
  t.is(activateAt(day), DAY - DAY / 6);
  const year = { notBefore: 0, notAfter: 365 * DAY };
  t.is(prepareAt(year), 365 * DAY - 30 * DAY);
  t.is(activateAt(year), 365 * DAY - 7 * DAY);
  const r = renewAt({ notBefore: 0, notAfter: 1000 }, () => 0.5);
  t.is(r, 500);
  t.true(renewAt({ notBefore: 0, notAfter: 1000 }, () => 0) >= 400);
  t.true(renewAt({ notBefore: 0, notAfter: 1000 }, () => 0.9999) <= 600);
});

test('first start makes an EC P-256 root whose keys are on disk with mode 0600 in a 0700 directory', async (t) => {
  const { dir, ca } = await setup(t);
  const slot = ca.active();
  t.is(slot.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const cert = new X509Certificate(slot.certificate);
  t.true(cert.ca);
  t.is(cert.subject, cert.issuer);
  t.is(statSync(join(dir, 'ca')).mode & 0o777, 0o700);
  const files = readdirSync(join(dir, 'ca', slot.id));
  for (const f of files) t.is(statSync(join(dir, 'ca', slot.id, f)).mode & 0o777, 0o600, f);
  t.true(files.includes('ca.key') && files.includes('jwt.key'));
  t.is(ca.fingerprint(), createHash('sha256').update(slot.certificate).digest('hex'));
});

test('the CA survives a restart: same key, certificate and JWT kid', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const a = await setup(t, { dir, clock });
  const first = a.ca.active();
  await a.store.close();
  const b = await setup(t, { dir, clock });
  t.is(b.ca.active().id, first.id);
  t.deepEqual(Buffer.from(b.ca.active().certificate), Buffer.from(first.certificate));
  t.is(b.ca.active().jwtKey.kid, first.jwtKey.kid);
});

test('the bundle is written to the store with the X.509 root and the JWT key (with kid)', async (t) => {
  const { ca, store } = await setup(t);
  const b = (await store.getBundle('example.org'))!;
  t.deepEqual(b.x509Authorities.map((x) => Buffer.from(x)), [Buffer.from(ca.active().certificate)]);
  t.deepEqual(b.jwtAuthorities.map((k) => k.kid), [ca.active().jwtKey.kid]);
  t.is(b.refreshHint, 300);
});

test('rotation with an injected clock: prepare publishes the next CA, activate switches signing, expiry prunes the old one', async (t) => {
  const { ca, clock, store, signer } = await setup(t, { ttl: 86_400 });
  const first = ca.active();
  const events: string[] = [];
  ca.onChange((e) => events.push(e));
  const seq0 = (await store.getBundle('example.org'))!.sequence;

  clock.advance(11 * HOUR);
  await ca.tick();
  t.is(ca.prepared(), undefined, 'nothing to do before half-life');

  clock.advance(1 * HOUR + 1000); // 12h elapsed: half of 24h left
  await ca.tick();
  const next = ca.prepared()!;
  t.truthy(next);
  t.is(ca.active().id, first.id, 'prepared, not yet active');
  const b1 = (await store.getBundle('example.org'))!;
  t.is(b1.sequence, seq0 + 1);
  t.is(b1.x509Authorities.length, 2, 'the next CA is published before it signs anything');
  t.is(b1.jwtAuthorities.length, 2);
  t.deepEqual(events, ['bundle']);

  clock.advance(8 * HOUR); // 20h+ elapsed: less than ttl/6 (4h) left
  await ca.tick();
  t.is(ca.active().id, next.id);
  t.deepEqual(events, ['bundle', 'activated']);
  const leaf = signer.signX509({ spiffeId: td.id('w'), publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ttlSeconds: 3600 }).chain[0]!;
  t.true(new X509Certificate(leaf).verify(new X509Certificate(next.certificate).publicKey), 'new SVIDs are signed by the new CA');

  clock.advance(4 * HOUR); // the first CA expired (and the second reached its own half-life)
  await ca.tick();
  const inGrace = (await store.getBundle('example.org'))!;
  t.true(inGrace.x509Authorities.some((x) => Buffer.from(x).equals(Buffer.from(first.certificate))), 'kept for the grace period (clock skew between servers)');
  t.false(ca.x509Authorities().some((x) => Buffer.from(x).equals(Buffer.from(first.certificate))), 'but no longer trusted');
  clock.advance(1 * HOUR); // past the default 1 h grace
  await ca.tick();
  const b2 = (await store.getBundle('example.org'))!;
  const hex = b2.x509Authorities.map((x) => Buffer.from(x).toString('hex'));
  t.false(hex.includes(Buffer.from(first.certificate).toString('hex')), 'expired CA pruned from the bundle');
  t.true(hex.includes(Buffer.from(next.certificate).toString('hex')));
  t.false(b2.jwtAuthorities.some((k) => k.kid === first.jwtKey.kid));
});

test('the rotation loop, driven only by the fake clock, prepares and activates', async (t) => {
  const { ca, clock } = await setup(t, { ttl: 3600 });
  const first = ca.active().id;
  const ac = new AbortController();
  const loop = ca.run(ac.signal);
  t.teardown(() => ac.abort());
  let activated = false;
  ca.onChange((e) => { if (e === 'activated') activated = true; });
  // A minute of fake time per look, until the loop has activated the next CA (however
  // slowly it gets to run: time only moves on while it has not).
  await until(() => { if (activated) return true; clock.advance(60_000); return false; }, 'the loop to activate the next CA');
  t.not(ca.active().id, first);
  ac.abort();
  await loop;
});

test('SVID notAfter is never beyond the CA notAfter', async (t) => {
  const { ca, signer, clock } = await setup(t, { ttl: 7200 });
  clock.advance(3000_000); // ~50 min: CA has ~70 min left
  const out = signer.signX509({ spiffeId: td.id('w'), publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ttlSeconds: 86_400 });
  const leaf = new X509Certificate(out.chain[0]!);
  t.true(Date.parse(leaf.validTo) <= ca.active().notAfter);
  const jwt = await signer.mintJwt({ spiffeId: td.id('w'), audience: ['a'], ttlSeconds: 86_400 });
  t.true(jwt.expiresAt * 1000 <= ca.active().notAfter);
});

test('signing a CSR yields a leaf that verifies against the bundle and carries the agent claims', async (t) => {
  const { ca, signer, clock } = await setup(t);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr(privateKey, publicKey, td.id('w'));
  const out = signer.signX509({ spiffeId: td.id('w'), csr, ttlSeconds: 600, claims: { agent_model: 'm', agent_instance_id: 'inst_x' } });
  const bundle = new X509Bundle(td, ca.x509Authorities());
  const v = verifyX509Svid(out.chain, { getX509BundleForTrustDomain: () => bundle }, { now: new Date(clock.now()) });
  t.is(v.id.toString(), 'spiffe://example.org/w');
  t.deepEqual(v.claims, { agent_model: 'm', agent_instance_id: 'inst_x' });
  t.is(out.serial, new X509Certificate(out.chain[0]!).serialNumber.toLowerCase().replace(/^0+/, ''));
});

test('a bad CSR is InvalidArgument naming the field', (t) => {
  const e = t.throws(() => SvidSigner.readCsr(new Uint8Array([0x30, 0]), 'params.csr'));
  t.is((e as { kind?: string }).kind, 'invalid_argument');
  t.regex(e!.message, /params\.csr/);
});

test('with an upstream CA the server is an intermediate: chains carry it and the bundle carries the upstream root', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const up = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const root = await createCaCertificate({
    trustDomain: td, publicKey: up.publicKey, privateKey: up.privateKey,
    notBefore: new Date(clock.now() - DAY), notAfter: new Date(clock.now() + 365 * DAY),
  });
  writeFileSync(join(dir, 'up.crt'), derToPem(root));
  writeFileSync(join(dir, 'up.key'), up.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const upstream = loadUpstreamCa(join(dir, 'up.crt'), join(dir, 'up.key'));
  const { ca, signer, store } = await setup(t, { dir, clock, upstream });
  t.deepEqual(ca.x509Authorities().map((x) => Buffer.from(x)), [Buffer.from(root)]);
  t.deepEqual((await store.getBundle('example.org'))!.x509Authorities.map((x) => Buffer.from(x)), [Buffer.from(root)]);
  const inter = new X509Certificate(ca.active().certificate);
  t.true(inter.ca);
  t.true(inter.verify(new X509Certificate(root).publicKey));
  const out = signer.signX509({ spiffeId: td.id('w'), publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ttlSeconds: 600 });
  t.is(out.chain.length, 2);
  const bundle = new X509Bundle(td, [root]);
  const v = verifyX509Svid(out.chain, { getX509BundleForTrustDomain: () => bundle }, { now: new Date(clock.now()) });
  t.is(v.id.toString(), 'spiffe://example.org/w');
  t.is(ca.fingerprint(), createHash('sha256').update(root).digest('hex'));
});

test('CA activation is logged', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => store.close());
  const logger = memoryLogger();
  await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 3600, refreshHintSeconds: 60, store, clock, logger });
  t.true(logger.records.some((r) => r.msg === 'activated CA'));
});

// ---- several servers sharing one store (HA) ----

async function twoServers(t: ExecutionContext, o: { ttl?: number; grace?: number } = {}) {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  // Two store objects on one file: as two servers on one database (SQLite tells only
  // the writing object's subscribers, so each manager also re-reads on every tick).
  const storeA = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  const storeB = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(async () => { await storeA.close(); await storeB.close(); });
  const open = (name: string, store: SqliteDatastore) => CaManager.open({
    trustDomain: td, dir: join(dir, name), ttlSeconds: o.ttl ?? 86_400, refreshHintSeconds: 300,
    bundlePruneGraceSeconds: o.grace, store, clock, logger: silentLogger,
  });
  const a = await open('a', storeA);
  const b = await open('b', storeB);
  t.teardown(() => { a.close(); b.close(); });
  return { clock, store: storeA, a, b };
}

const hasCert = (list: Uint8Array[], der: Uint8Array) => list.some((x) => Buffer.from(x).equals(Buffer.from(der)));

test('two servers on one store each append their own CA and JWT key; neither overwrites the other', async (t) => {
  const { store, a, b } = await twoServers(t);
  t.not(a.active().id, b.active().id);
  const stored = (await store.getBundle('example.org'))!;
  t.is(stored.x509Authorities.length, 2);
  t.true(hasCert(stored.x509Authorities, a.active().certificate) && hasCert(stored.x509Authorities, b.active().certificate));
  t.deepEqual(stored.jwtAuthorities.map((k) => k.kid).sort(), [a.active().jwtKey.kid, b.active().jwtKey.kid].sort());
  await a.tick();
  t.true(hasCert(a.x509Authorities(), b.active().certificate), 'A trusts B after re-reading the shared bundle');
  t.true(hasCert(b.x509Authorities(), a.active().certificate));
  const seq = (await store.getBundle('example.org'))!.sequence;
  await a.tick(); await b.tick();
  t.is((await store.getBundle('example.org'))!.sequence, seq, 'idle ticks write nothing');
});

test('two servers rotating on one store: each publishes its next CA before use and prunes only what expired', async (t) => {
  const { clock, store, a, b } = await twoServers(t, { ttl: 86_400, grace: 600 });
  const a1 = a.active(), b1 = b.active();
  clock.advance(12 * HOUR + 1000);
  await a.tick();
  const a2 = a.prepared()!;
  let stored = (await store.getBundle('example.org'))!;
  t.true(hasCert(stored.x509Authorities, a2.certificate), 'A\'s next CA is published while A still signs with the first');
  t.true(hasCert(stored.x509Authorities, b1.certificate), 'B\'s live CA untouched');
  await b.tick();
  const b2 = b.prepared()!;
  stored = (await store.getBundle('example.org'))!;
  t.is(stored.x509Authorities.length, 4);
  t.is(stored.jwtAuthorities.length, 4);

  clock.advance(8 * HOUR);
  await a.tick(); await b.tick();
  t.is(a.active().id, a2.id);
  t.is(b.active().id, b2.id);

  clock.advance(4 * HOUR + 600_000); // first CAs expired, plus the grace
  await a.tick(); // A prunes both its own and B's expired CA; never B's live one
  stored = (await store.getBundle('example.org'))!;
  t.false(hasCert(stored.x509Authorities, a1.certificate));
  t.false(hasCert(stored.x509Authorities, b1.certificate));
  t.true(hasCert(stored.x509Authorities, a2.certificate) && hasCert(stored.x509Authorities, b2.certificate));
  t.false(stored.jwtAuthorities.some((k) => k.kid === a1.jwtKey.kid || k.kid === b1.jwtKey.kid));
  await b.tick();
  t.false(hasCert(b.x509Authorities(), b1.certificate));
  t.true(hasCert(b.x509Authorities(), a2.certificate));
});

test('a server whose CA was removed from the shared bundle by a replacing writer appends it again', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => store.close());
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock, logger: silentLogger });
  t.teardown(() => ca.close());
  const bundles: string[] = [];
  ca.onChange((e) => bundles.push(e));
  await store.putBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [], refreshHint: 300 });
  const b = await until(async () => {
    const got = (await store.getBundle('example.org'))!;
    return hasCert(got.x509Authorities, ca.active().certificate) && got;
  }, 'our CA back in the stored bundle');
  t.deepEqual(b.jwtAuthorities.map((k) => k.kid), [ca.active().jwtKey.kid]);
});
