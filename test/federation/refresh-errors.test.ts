import test, { type ExecutionContext } from 'ava';
import { createServer } from 'node:net';
import { systemClock } from '../../common/clock.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { BundleEndpointProfile } from '../../server/datastore/sql-federation.ts';
import { fetchBundleDocument } from '../../server/federation/endpoint-client.ts';
import { ForeignBundles } from '../../server/federation/foreign-bundles.ts';
import { BundleRefresher } from '../../server/federation/refresher.ts';
import { makeRootCa, makeSvid, toPem } from '../helpers/pki.ts';
import { until } from '../helpers/wait.ts';
import { bundleJson, foreignDomain, json, memoryLogger, sqliteStore, startEndpoint, webPkiServer, type TestEndpoint } from './fixtures.ts';

/**
 * One relationship's fetches against a real HTTPS endpoint and a real SQLite store:
 * every bad answer is refused with its own error code, and the bundle stored before it
 * is still there, unchanged, afterwards (docs/federation.md "What is refused").
 */
const OWN = TrustDomain.parse('a.test');
const B = TrustDomain.parse('b.test');
const MAX_BYTES = 8192;

async function setup(t: ExecutionContext, o: { profile?: BundleEndpointProfile; endpointId?: string; url?: string; bootstrap?: boolean; webPkiCa?: string; tls?: { cert: string; key: string } } = {}) {
  const b = await foreignDomain('b.test');
  const ep = await startEndpoint(t, o.tls ?? b.tls);
  const store = sqliteStore(t);
  const logger = memoryLogger();
  const profile = o.profile ?? 'https_spiffe';
  const rel = await store.createFederationRelationship({
    trustDomain: B, bundleEndpointUrl: o.url ?? ep.url, profile, source: 'api',
    ...(profile === 'https_spiffe' ? { endpointSpiffeId: SpiffeId.parse(o.endpointId ?? 'spiffe://b.test/tessera/server') } : {}),
  });
  if (o.bootstrap !== false) await store.putBundle({ trustDomain: B, x509Authorities: [b.ca.root], jwtAuthorities: [], refreshHint: 300 });
  const foreign = await ForeignBundles.load({ own: OWN, store, logger });
  t.teardown(() => foreign.close());
  await foreign.settled();
  const refresher = new BundleRefresher(rel, {
    store, clock: systemClock, logger, minRefreshSeconds: 1, maxRefreshSeconds: 3600, retryInitialMs: 100,
    fetch: (target) => fetchBundleDocument(target, { bundles: foreign, maxBytes: MAX_BYTES, timeoutMs: 5000, webPkiCa: o.webPkiCa }),
  });
  return { b, ep, store, refresher, logger, foreign };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** The refresh fails with `code`, the stored bundle is byte for byte what it was, and the status says why. */
async function refused(t: ExecutionContext, s: Setup, code: string, message?: RegExp): Promise<void> {
  const before = await s.store.getBundle('b.test');
  const err = await t.throwsAsync(s.refresher.refresh(), { code });
  if (message) t.regex(err!.message, message);
  t.deepEqual(await s.store.getBundle('b.test'), before, 'the last good bundle is kept');
  t.is(s.refresher.status().lastError?.code, code);
  t.true(s.logger.records.some((r) => r.msg === 'federated bundle refresh failed; keeping the stored bundle' && (r.err as { code?: string }).code === code));
}

test('accepts a valid bundle: stores it for the trust domain, records its sequence, adopts its refresh hint', async (t) => {
  const s = await setup(t);
  const c2 = await makeRootCa('b.test');
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 7, refreshHint: 42, roots: [s.b.ca.root, c2.root] })));
  await s.refresher.refresh();
  const stored = await s.store.getBundle('b.test');
  t.is(stored!.x509Authorities.length, 2);
  t.is(s.refresher.status().bundleSequence, 7);
  t.is(s.refresher.status().refreshHintSeconds, 42);
  t.is((await s.store.getFederationRelationship('b.test'))!.bundleSequence, 7);
  t.is(s.refresher.status().lastError, undefined);
  // The same document again is not written again (no change event, same stored sequence).
  await s.refresher.refresh();
  t.is((await s.store.getBundle('b.test'))!.sequence, stored!.sequence);
});

test('refuses an unreachable endpoint (ERR_FEDERATION_UNREACHABLE) and keeps the stored bundle', async (t) => {
  const port = await new Promise<number>((resolve) => { const srv = createServer(); srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => resolve(p)); }); });
  const s = await setup(t, { url: `https://127.0.0.1:${port}/bundle` });
  await refused(t, s, 'ERR_FEDERATION_UNREACHABLE', /unreachable: ECONNREFUSED/);
});

test('refuses an endpoint presenting another SPIFFE ID than configured (ERR_FEDERATION_ENDPOINT_ID)', async (t) => {
  const s = await setup(t, { endpointId: 'spiffe://b.test/bundle-server' });
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 1 })));
  await refused(t, s, 'ERR_FEDERATION_ENDPOINT_ID', /spiffe:\/\/b\.test\/tessera\/server.*want spiffe:\/\/b\.test\/bundle-server/);
  t.is(s.ep.requests, 0, 'no response is read from an unauthenticated endpoint');
});

test('refuses an endpoint whose SVID does not chain to the trust domain\'s bundle (ERR_FEDERATION_ENDPOINT_UNTRUSTED)', async (t) => {
  const impostor = await makeRootCa('b.test');
  const svid = makeSvid(impostor, 'spiffe://b.test/tessera/server');
  const s = await setup(t, { tls: { cert: svid.certificates.map(toPem).join(''), key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string } });
  s.ep.handle(json(bundleJson(impostor, { sequence: 1 })));
  await refused(t, s, 'ERR_FEDERATION_ENDPOINT_UNTRUSTED');
});

test('refuses https_spiffe without a bundle of the endpoint\'s trust domain to verify it with (ERR_FEDERATION_NO_BUNDLE)', async (t) => {
  const s = await setup(t, { bootstrap: false });
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 1 })));
  await t.throwsAsync(s.refresher.refresh(), { code: 'ERR_FEDERATION_NO_BUNDLE', message: /bundle set/ });
  t.is(await s.store.getBundle('b.test'), undefined);
});

test('refuses a bundle whose CA belongs to another trust domain (ERR_FEDERATION_WRONG_TRUST_DOMAIN)', async (t) => {
  const s = await setup(t);
  const c = await makeRootCa('c.test');
  s.ep.handle(json(bundleJson(c, { sequence: 2 })));
  await refused(t, s, 'ERR_FEDERATION_WRONG_TRUST_DOMAIN', /CA of spiffe:\/\/c\.test, not of spiffe:\/\/b\.test/);
});

test('refuses a bundle whose spiffe_sequence goes backwards (ERR_FEDERATION_SEQUENCE), keeping the newer one', async (t) => {
  const s = await setup(t);
  const c2 = await makeRootCa('b.test');
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 5, roots: [s.b.ca.root, c2.root] })));
  await s.refresher.refresh();
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 4 })));
  await refused(t, s, 'ERR_FEDERATION_SEQUENCE', /went backwards \(4 < 5/);
  t.is((await s.store.getBundle('b.test'))!.x509Authorities.length, 2);
});

test('refuses an oversized bundle, declared or streamed (ERR_FEDERATION_TOO_LARGE)', async (t) => {
  const s = await setup(t);
  const big = JSON.stringify({ keys: [], pad: 'x'.repeat(MAX_BYTES) });
  s.ep.handle(json(big, 200, { 'content-length': String(Buffer.byteLength(big)) }));
  await refused(t, s, 'ERR_FEDERATION_TOO_LARGE', /content-length \d+/);
  // No content-length: chunked, cut off while reading.
  s.ep.handle((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write(big.slice(0, 5000)); res.end(big.slice(5000)); });
  await refused(t, s, 'ERR_FEDERATION_TOO_LARGE');
});

test('refuses malformed JSON, a document that is no SPIFFE bundle, and one with no authorities (ERR_FEDERATION_BUNDLE_INVALID)', async (t) => {
  const s = await setup(t);
  for (const body of ['{"keys": [', '{"keys": "none"}', '{"keys": [], "spiffe_sequence": 3}', '{"keys":[{"kty":"EC","use":"x509-svid","x5c":["bm90IGEgY2VydA=="]}]}', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
    s.ep.handle(json(body));
    await refused(t, s, 'ERR_FEDERATION_BUNDLE_INVALID');
  }
});

test('refuses an HTTP error and follows a redirect to a valid https URL', async (t) => {
  const s = await setup(t);
  s.ep.handle(json('{}', 500));
  await refused(t, s, 'ERR_FEDERATION_HTTP', /HTTP 500/);
  s.ep.handle((req, res) => {
    if (req.url === '/bundle') { res.writeHead(302, { location: '/moved' }); res.end(); return; }
    json(bundleJson(s.b.ca, { sequence: 9 }))(req, res);
  });
  await s.refresher.refresh();
  t.is(s.refresher.status().bundleSequence, 9);
  s.ep.handle((_req, res) => { res.writeHead(302, { location: 'http://127.0.0.1/plain' }); res.end(); });
  await refused(t, s, 'ERR_FEDERATION_HTTP', /only https URLs/);
});

test('https_web: verifies the server by WebPKI and the host; an untrusted certificate is ERR_FEDERATION_ENDPOINT_UNTRUSTED', async (t) => {
  const web = await webPkiServer();
  const trusted = await setup(t, { profile: 'https_web', tls: web.tls, webPkiCa: web.caPem, bootstrap: false });
  trusted.ep.handle(json(bundleJson(trusted.b.ca, { sequence: 1 })));
  await trusted.refresher.refresh();
  t.is((await trusted.store.getBundle('b.test'))!.x509Authorities.length, 1);

  const untrusted = await setup(t, { profile: 'https_web', tls: web.tls });
  untrusted.ep.handle(json(bundleJson(untrusted.b.ca, { sequence: 1 })));
  await refused(t, untrusted, 'ERR_FEDERATION_ENDPOINT_UNTRUSTED', /WebPKI certificate is not trusted/);
});

test('the loop retries a failing endpoint with backoff and takes the bundle once it answers', async (t) => {
  const s = await setup(t);
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  s.ep.handle(json('nope', 503));
  const loop = s.refresher.run(stop.signal);
  await until(() => s.refresher.status().consecutiveFailures >= 3, 'three failed attempts');
  const c2 = await makeRootCa('b.test');
  s.ep.handle(json(bundleJson(s.b.ca, { sequence: 3, refreshHint: 60, roots: [s.b.ca.root, c2.root] })));
  await until(async () => (await s.store.getBundle('b.test'))?.x509Authorities.length === 2, 'the bundle to be taken');
  t.is(s.refresher.status().consecutiveFailures, 0);
  stop.abort();
  await loop;
});

