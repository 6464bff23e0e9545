import test from 'ava';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WitError } from '../../spiffe/wit/errors.ts';
import { signCompact } from '../../spiffe/wit/jws.ts';
import { tokenHash } from '../../spiffe/wit/hash.ts';
import { JtiReplayCache } from '../../spiffe/wit/replay.ts';
import { createWorkloadProofToken, workloadProofHeaders } from '../../spiffe/wit/wpt.ts';
import { verifyWorkloadProofToken, type ProofContext } from '../../spiffe/wit/wpt-verify.ts';
import { getWitPeer, witMiddleware, withWit } from '../../spiffe/wit/middleware.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { bundles, ec, NOW, wit } from './fixtures.ts';

const URI = 'https://billing.internal/invoices/42?page=2';
const AUD = 'https://billing.internal/invoices/42';
const ctx = (over: Partial<ProofContext> = {}): ProofContext => ({ method: 'POST', audiences: [AUD], ...over });
const at = (s: number) => new Date(NOW.getTime() + s * 1000);

function refused(t: import('ava').ExecutionContext, fn: () => unknown, code: string, reason: string) {
  const e = t.throws(fn, { instanceOf: WitError }) as WitError;
  t.is(e.code as string, code, e.message);
  t.is(e.reason as string, reason, e.message);
}

test('a proof binds aud (target URI without query), exp, jti, wth, htm and ath', (t) => {
  const w = wit();
  const wpt = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, accessToken: 'at-1', now: NOW });
  const [h, p] = wpt.split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()) as Record<string, unknown>);
  t.deepEqual(h, { alg: 'ES256', typ: 'wpt+jwt' });
  t.like(p, { aud: AUD, htm: 'POST', wth: tokenHash(w.token), ath: tokenHash('at-1'), exp: Math.floor(NOW.getTime() / 1000) + 60 });
  t.regex(p!.jti as string, /^[A-Za-z0-9_-]{22}$/);
  t.truthy(verifyWorkloadProofToken(wpt, w, ctx({ accessToken: 'at-1' }), { now: NOW }));
});

test('refuses a proof signed by another key than the WIT-SVID confirms', (t) => {
  const w = wit();
  const wpt = createWorkloadProofToken({ wit: w.token, privateKey: ec().privateKey, method: 'POST', uri: URI, now: NOW });
  refused(t, () => verifyWorkloadProofToken(wpt, w, ctx(), { now: NOW }), 'ERR_WPT_SIGNATURE', 'bad_signature');
});

test('refuses a proof for another URI, or for another method', (t) => {
  const w = wit();
  const other = createWorkloadProofToken({ wit: w, method: 'POST', uri: 'https://billing.internal/invoices/43', now: NOW });
  refused(t, () => verifyWorkloadProofToken(other, w, ctx(), { now: NOW }), 'ERR_WPT_MISMATCH', 'aud');
  const get = createWorkloadProofToken({ wit: w, method: 'GET', uri: URI, now: NOW });
  refused(t, () => verifyWorkloadProofToken(get, w, ctx(), { now: NOW }), 'ERR_WPT_MISMATCH', 'htm');
});

test('refuses an expired proof, and one expiring unreasonably far ahead', (t) => {
  const w = wit();
  const wpt = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, lifetimeSeconds: 10, now: NOW });
  refused(t, () => verifyWorkloadProofToken(wpt, w, ctx(), { now: at(41), leewaySeconds: 30 }), 'ERR_WPT_EXPIRED', 'expired');
  const long = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, lifetimeSeconds: 86_400, now: NOW });
  refused(t, () => verifyWorkloadProofToken(long, w, ctx(), { now: NOW }), 'ERR_WPT_EXPIRED', 'lifetime');
});

test('refuses a replayed proof (same sender, same jti) while it is valid', (t) => {
  const w = wit();
  const replay = new JtiReplayCache();
  const wpt = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, now: NOW });
  t.truthy(verifyWorkloadProofToken(wpt, w, ctx(), { now: NOW, replay }));
  refused(t, () => verifyWorkloadProofToken(wpt, w, ctx(), { now: at(5), replay }), 'ERR_WPT_REPLAYED', 'replayed');
});

test('a full replay cache refuses new proofs rather than forgetting live ones', (t) => {
  const w = wit();
  const replay = new JtiReplayCache({ maxEntries: 1 });
  t.truthy(verifyWorkloadProofToken(createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, now: NOW }), w, ctx(), { now: NOW, replay }));
  refused(t, () => verifyWorkloadProofToken(createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, now: NOW }), w, ctx(), { now: NOW, replay }), 'ERR_WPT_REPLAYED', 'replay_cache_full');
  // Once the first expired, there is room again.
  t.truthy(verifyWorkloadProofToken(createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, now: at(200) }), w, ctx(), { now: at(200), replay }));
});

test('refuses a proof of another WIT (wth), and a WIT-less replay of a proof under another WIT', (t) => {
  const a = wit(), b = wit({ workload: undefined });
  const wpt = createWorkloadProofToken({ wit: a, method: 'POST', uri: URI, now: NOW });
  // b's key did not sign it: the signature check catches it first.
  refused(t, () => verifyWorkloadProofToken(wpt, b, ctx(), { now: NOW }), 'ERR_WPT_SIGNATURE', 'bad_signature');
  // Same key, two WITs: wth tells them apart.
  const k = ec();
  const w1 = wit({ workload: k }), w2 = wit({ workload: k, ttl: 900 });
  const p1 = createWorkloadProofToken({ wit: w1, method: 'POST', uri: URI, now: NOW });
  refused(t, () => verifyWorkloadProofToken(p1, w2, ctx(), { now: NOW }), 'ERR_WPT_MISMATCH', 'wth');
});

test('refuses wrong typ and an alg other than cnf.jwk.alg', (t) => {
  const w = wit();
  const now = Math.floor(NOW.getTime() / 1000);
  const c = { aud: AUD, exp: now + 60, jti: 'x', wth: tokenHash(w.token) };
  refused(t, () => verifyWorkloadProofToken(signCompact({ alg: 'ES256', typ: 'JWT' }, c, w.privateKey, 'ES256'), w, ctx(), { now: NOW }), 'ERR_WPT_INVALID', 'bad_typ');
  const p384 = ec('P-384');
  refused(t, () => verifyWorkloadProofToken(signCompact({ alg: 'ES384', typ: 'wpt+jwt' }, c, p384.privateKey, 'ES384'), w, ctx(), { now: NOW }), 'ERR_WPT_INVALID', 'alg_mismatch');
  t.truthy(verifyWorkloadProofToken(signCompact({ alg: 'ES256', typ: 'application/wpt+jwt' }, c, w.privateKey, 'ES256'), w, ctx(), { now: NOW }));
  const { jti: _j, ...noJti } = c;
  refused(t, () => verifyWorkloadProofToken(signCompact({ alg: 'ES256', typ: 'wpt+jwt' }, noJti, w.privateKey, 'ES256'), w, ctx(), { now: NOW }), 'ERR_WPT_INVALID', 'missing_claim');
});

test('ath must match the access token sent, and an access token needs an ath', (t) => {
  const w = wit();
  const withAt = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, accessToken: 'at-1', now: NOW });
  refused(t, () => verifyWorkloadProofToken(withAt, w, ctx({ accessToken: 'at-2' }), { now: NOW }), 'ERR_WPT_MISMATCH', 'ath');
  refused(t, () => verifyWorkloadProofToken(withAt, w, ctx(), { now: NOW }), 'ERR_WPT_MISMATCH', 'ath');
  const without = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, now: NOW });
  refused(t, () => verifyWorkloadProofToken(without, w, ctx({ accessToken: 'at-1' }), { now: NOW }), 'ERR_WPT_MISMATCH', 'ath');
});

test('oth hashes must match the named header fields', (t) => {
  const w = wit();
  const wpt = createWorkloadProofToken({ wit: w, method: 'POST', uri: URI, otherTokens: { 'X-Context': ' ctx-1 ' }, now: NOW });
  t.truthy(verifyWorkloadProofToken(wpt, w, ctx({ header: (n) => (n === 'x-context' ? 'ctx-1' : undefined) }), { now: NOW }));
  refused(t, () => verifyWorkloadProofToken(wpt, w, ctx({ header: (n) => (n === 'x-context' ? 'ctx-2' : undefined) }), { now: NOW }), 'ERR_WPT_MISMATCH', 'oth');
  refused(t, () => verifyWorkloadProofToken(wpt, w, ctx(), { now: NOW }), 'ERR_WPT_MISMATCH', 'oth');
});

// ---- over node:http ----

async function serve(t: import('ava').ExecutionContext, mw: ReturnType<typeof witMiddleware>): Promise<string> {
  const server: Server = createServer((req, res) => mw(req, res, () => {
    const p = getWitPeer(req)!;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: p.id.toString(), model: p.claims.agent_model }));
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function call(base: string, path: string, method: string, headers: IncomingHttpHeaders | Record<string, string | string[]>): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers: headers as Record<string, string> }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => { data += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

const ORIGIN = 'https://billing.internal';

test('middleware: accepts a WIT-SVID with its proof, and refuses the WIT alone (WIT-SVID 4, 7.1)', async (t) => {
  const now = Date.now();
  const w = wit({ now: new Date(now), claims: { agent_model: 'claude-sonnet-4' } });
  const base = await serve(t, witMiddleware({ bundles, origins: ORIGIN, authorize: authorizeID(w.id) }));
  const ok = await call(base, '/invoices/42?x=1', 'POST', workloadProofHeaders({ wit: w, method: 'POST', uri: `${ORIGIN}/invoices/42?x=1` }));
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.deepEqual(ok.body, { id: w.id.toString(), model: 'claude-sonnet-4' });
  const bare = await call(base, '/invoices/42', 'POST', { 'Workload-Identity-Token': w.token });
  t.is(bare.status, 400);
  t.like(bare.body, { code: 'ERR_WPT_MISSING', reason: 'missing_header' });
});

test('middleware: refuses replay, another method, another path, and a duplicated proof header', async (t) => {
  const w = wit({ now: new Date() });
  const base = await serve(t, witMiddleware({ bundles, origins: ORIGIN }));
  const h = workloadProofHeaders({ wit: w, method: 'POST', uri: `${ORIGIN}/a` });
  t.is((await call(base, '/a', 'POST', h)).status, 200);
  t.like((await call(base, '/a', 'POST', h)).body, { code: 'ERR_WPT_REPLAYED' });
  t.like((await call(base, '/a', 'PUT', workloadProofHeaders({ wit: w, method: 'POST', uri: `${ORIGIN}/a` }))).body, { code: 'ERR_WPT_MISMATCH', reason: 'htm' });
  t.like((await call(base, '/b', 'POST', workloadProofHeaders({ wit: w, method: 'POST', uri: `${ORIGIN}/a` }))).body, { code: 'ERR_WPT_MISMATCH', reason: 'aud' });
  const h2 = workloadProofHeaders({ wit: w, method: 'POST', uri: `${ORIGIN}/a` });
  const dup = { 'Workload-Identity-Token': h2['Workload-Identity-Token'], 'Workload-Proof-Token': [h2['Workload-Proof-Token'], h2['Workload-Proof-Token']] };
  t.like((await call(base, '/a', 'POST', dup)).body, { code: 'ERR_WPT_MISSING', reason: 'duplicate_header' });
});

test('middleware: refuses a WIT-SVID in the Authorization header (WIT-SVID 5, 7.1), an expired WIT, and an unauthorized caller (403)', async (t) => {
  const w = wit({ now: new Date() });
  const base = await serve(t, witMiddleware({ bundles, origins: ORIGIN, authorize: authorizeID('spiffe://example.org/someone-else') }));
  const h = workloadProofHeaders({ wit: w, method: 'GET', uri: `${ORIGIN}/a` });
  t.like((await call(base, '/a', 'GET', { ...h, authorization: `Bearer ${w.token}` })).body, { code: 'ERR_WIT_INVALID', reason: 'bearer_presentation' });
  const r = await call(base, '/a', 'GET', workloadProofHeaders({ wit: w, method: 'GET', uri: `${ORIGIN}/a` }));
  t.is(r.status, 403);
  const old = wit({ now: new Date(Date.now() - 3_600_000), ttl: 60 });
  const base2 = await serve(t, witMiddleware({ bundles, origins: ORIGIN }));
  t.like((await call(base2, '/a', 'GET', workloadProofHeaders({ wit: old, method: 'GET', uri: `${ORIGIN}/a` }))).body, { code: 'ERR_WIT_EXPIRED' });
});

test('fetch-style handler: withWit authenticates a Request and answers refusals itself', async (t) => {
  const w = wit({ now: new Date() });
  const handler = withWit({ bundles, origins: ORIGIN }, (_req, peer) => new Response(peer.id.toString()));
  const ok = await handler(new Request(`${ORIGIN}/x`, { method: 'DELETE', headers: workloadProofHeaders({ wit: w, method: 'DELETE', uri: `${ORIGIN}/x` }) }));
  t.is(await ok.text(), w.id.toString());
  const bad = await handler(new Request(`${ORIGIN}/x`, { method: 'DELETE', headers: { 'Workload-Identity-Token': w.token } }));
  t.is(bad.status, 400);
  t.like(await bad.json() as object, { code: 'ERR_WPT_MISSING' });
});
