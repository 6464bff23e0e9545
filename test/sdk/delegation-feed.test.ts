import test, { type ExecutionContext } from 'ava';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpiffeId } from '../../spiffe/id.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { RevocationFeed, type RevocationFeedOptions } from '../../spiffe/delegation/revocation-feed.ts';
import type { DelegatedToken, RevocationRecord } from '../../spiffe/delegation/types.ts';
import { authorizeMemberOf } from '../../spiffe/tls/authorizers.ts';
import { getPeer } from '../../spiffe/tls/peer.ts';
import { createMtlsHttpsServer } from '../../spiffe/tls/server.ts';
import { makeSvid } from '../helpers/pki.ts';
import { close, listen, source } from './fixtures.ts';
import { IDP, RESEARCHER, SUB_AGENT, nowS, pki, until } from './delegation-fixtures.ts';

interface Conn { url: string; peer: string | undefined; res: ServerResponse }

/** A local authorization server's revocation feed: mTLS on the server SVID; the test writes the events. */
async function feedServer(t: ExecutionContext, o: { serverPath?: string; onConnect?: (c: Conn) => void } = {}) {
  const p = await pki();
  const conns: Conn[] = [];
  const serverSource = source(p.ca, o.serverPath ?? 'tessera/server', p.bundles);
  const server = createMtlsHttpsServer({ source: serverSource, authorize: authorizeMemberOf('example.org') }, (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const c: Conn = { url: req.url ?? '', peer: getPeer(req)?.id.toString(), res };
    conns.push(c);
    o.onConnect?.(c);
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  const last = () => conns[conns.length - 1]!;
  return {
    ...p, conns, issuer: `https://127.0.0.1:${port}`,
    send: (event: string, data: unknown, c = last()) => { c.res.write(`event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`); },
    end: (c = last()) => { c.res.end(); },
  };
}

type Server = Awaited<ReturnType<typeof feedServer>>;

function feed(t: ExecutionContext, s: Server, o: Partial<RevocationFeedOptions> = {}): RevocationFeed {
  const f = new RevocationFeed({
    issuer: s.issuer, source: source(s.ca, 'agents/resource-server', s.bundles),
    backoff: { initialMs: 10, maxMs: 50 }, ...o,
  });
  t.teardown(() => f.close());
  return f;
}

const wire = (r: RevocationRecord) => ({ seq: r.seq, kind: r.kind, value: r.value, at: r.at, expires_at: r.expiresAt });
const rec = (seq: number, kind: RevocationRecord['kind'], value: string, at = nowS(), ttl = 600): RevocationRecord => ({ seq, kind, value, at, expiresAt: at + ttl });

/** A verified token as verifyDelegatedToken returns it (only the fields revocation matches on matter). */
function token(o: { jti?: string; grantId?: string; chain?: string[]; subject?: string; actors?: string[]; iat?: number } = {}): DelegatedToken {
  const subject = o.subject ?? `${IDP}#alice`;
  const actors = (o.actors ?? [RESEARCHER]).map((a) => ({ id: SpiffeId.parse(a), claims: {} }));
  return {
    token: 'x.y.z', issuer: 'https://tessera', subject, subjectIssuer: IDP, subjectName: 'alice', scopes: [], audience: ['rs'],
    expiresAt: new Date(Date.now() + 300_000), issuedAt: new Date((o.iat ?? nowS() - 10) * 1000),
    jti: o.jti ?? 'tok_a', grantId: o.grantId ?? 'grt_a', chain: o.chain ?? [], actors, clientId: actors[0]!.id.toString(), claims: {},
  };
}

test('ready() resolves on the first snapshot, over mTLS presenting our SVID; every revocation kind matches per the rules', async (t) => {
  const s = await feedServer(t);
  const f = feed(t, s);
  await until(() => s.conns.length >= 1, 'the feed to connect');
  t.is(s.conns[0]!.url, '/oauth2/revocations');
  t.is(s.conns[0]!.peer, 'spiffe://example.org/agents/resource-server');
  const at = nowS();
  s.send('snapshot', { seq: 4, revocations: [rec(1, 'grant', 'grt_g'), rec(2, 'jti', 'tok_j'), rec(3, 'subject', `${IDP}#bob`, at), rec(4, 'actor', SUB_AGENT, at)].map(wire) });
  await f.ready();
  t.is(f.seq, 4);
  t.is(f.size, 4);

  t.false(f.isRevoked(token()));
  t.is(f.revocationOf(token({ grantId: 'grt_g' }))?.seq, 1, 'grant: grant_id == value');
  t.is(f.revocationOf(token({ jti: 'tok_j' }))?.seq, 2, 'jti: the token itself');
  t.is(f.revocationOf(token({ chain: ['tok_root', 'tok_j'] }))?.seq, 2, 'jti: anything derived from it');
  t.is(f.revocationOf(token({ subject: `${IDP}#bob`, iat: at - 5 }))?.seq, 3, 'subject: issued before the revocation');
  t.is(f.revocationOf(token({ subject: `${IDP}#bob`, iat: at }))?.seq, 3, 'subject: iat == at is revoked');
  t.false(f.isRevoked(token({ subject: `${IDP}#bob`, iat: at + 1 })), 'subject: issued after the revocation');
  t.is(f.revocationOf(token({ actors: [SUB_AGENT, RESEARCHER], iat: at - 5 }))?.seq, 4, 'actor: current actor');
  t.is(f.revocationOf(token({ actors: ['spiffe://example.org/agents/third', SUB_AGENT, RESEARCHER], iat: at - 5 }))?.seq, 4, 'actor: anywhere in the chain');
  t.false(f.isRevoked(token({ actors: [SUB_AGENT], iat: at + 1 })), 'actor: issued after the revocation');
});

test('pushed revocations apply at once and are announced once each', async (t) => {
  const s = await feedServer(t);
  const f = feed(t, s);
  const seen: number[] = [];
  f.onRevocation((r) => seen.push(r.seq));
  await until(() => s.conns.length >= 1);
  s.send('snapshot', { seq: 10, revocations: [wire(rec(10, 'jti', 'tok_old'))] });
  await f.ready();
  t.false(f.isRevoked(token({ jti: 'tok_new' })));
  s.send('revocation', wire(rec(11, 'jti', 'tok_new')));
  await until(() => f.isRevoked(token({ jti: 'tok_new' })), 'the pushed revocation');
  s.send('revocation', wire(rec(11, 'jti', 'tok_new'))); // a duplicate is not announced twice
  s.send('heartbeat', { seq: 11, time: nowS() });
  s.send('revocation', wire(rec(12, 'grant', 'grt_x')));
  await until(() => seen.length === 3);
  t.deepEqual(seen, [10, 11, 12]);
  t.is(f.seq, 12);
});

test('reconnects with ?since=<last seq> after the stream ends, keeping what it knew', async (t) => {
  const s = await feedServer(t);
  const f = feed(t, s);
  await until(() => s.conns.length >= 1);
  s.send('snapshot', { seq: 3, revocations: [wire(rec(3, 'grant', 'grt_a'))] });
  s.send('revocation', wire(rec(5, 'jti', 'tok_b')));
  await until(() => f.seq === 5);
  s.end();
  await until(() => s.conns.length >= 2, 'the reconnect');
  t.is(s.conns[1]!.url, '/oauth2/revocations?since=5');
  s.send('revocation', wire(rec(6, 'actor', SUB_AGENT)));
  await until(() => f.seq === 6);
  t.true(f.isRevoked(token({ grantId: 'grt_a' })));
  t.true(f.isRevoked(token({ jti: 'tok_b' })));
  t.true(f.isRevoked(token({ actors: [SUB_AGENT] })));
  // A fresh snapshot (the server no longer had those records) replaces the state.
  s.send('snapshot', { seq: 9, revocations: [wire(rec(9, 'grant', 'grt_z'))] });
  await until(() => f.seq === 9);
  t.false(f.isRevoked(token({ grantId: 'grt_a' })));
  t.true(f.isRevoked(token({ grantId: 'grt_z' })));
});

test('fails closed when no event arrived within maxStaleness, and recovers on the next event', async (t) => {
  const s = await feedServer(t);
  let clock = Date.now();
  const f = feed(t, s, { now: () => clock, maxStaleness: 30_000 });
  t.is((t.throws(() => f.isRevoked(token())) as DelegationError).reason, 'not_ready');
  await until(() => s.conns.length >= 1);
  s.send('snapshot', { seq: 1, revocations: [] });
  await f.ready();
  t.false(f.isRevoked(token()));
  clock += 30_001;
  const err = t.throws(() => f.isRevoked(token()), { instanceOf: DelegationError });
  t.is(err!.code, 'ERR_DELEGATION_FEED_STALE');
  t.regex(err!.message, /silent for 30001 ms \(limit 30000 ms\)/);
  s.send('heartbeat', { seq: 1, time: nowS() });
  await until(() => { try { return !f.isRevoked(token()); } catch { return false; } }, 'the heartbeat to revive the feed');
  t.pass();
});

test('drops a silent connection after maxStaleness and reconnects', async (t) => {
  // The server answers a fresh subscription with a snapshot, then stays silent.
  const s = await feedServer(t, { onConnect: (c) => { if (!c.url.includes('since')) c.res.write(`event: snapshot\ndata: ${JSON.stringify({ seq: 2, revocations: [] })}\n\n`); } });
  const f = feed(t, s, { maxStaleness: 1000 });
  await f.ready();
  await until(() => s.conns.some((c) => c.url === '/oauth2/revocations?since=2'), 'the watchdog to reconnect with since');
  await until(() => { try { f.isRevoked(token()); return false; } catch (err) { return (err as DelegationError).reason === 'stale'; } }, 'the feed to report stale');
  t.pass();
});

test('records leave at expires_at', async (t) => {
  const s = await feedServer(t);
  let clock = Date.now();
  const f = feed(t, s, { now: () => clock, maxStaleness: 10_000_000 });
  await until(() => s.conns.length >= 1);
  const at = nowS();
  s.send('snapshot', { seq: 2, revocations: [wire(rec(1, 'grant', 'grt_short', at, 60)), wire(rec(2, 'grant', 'grt_long', at, 600))] });
  await f.ready();
  t.true(f.isRevoked(token({ grantId: 'grt_short' })));
  clock = (at + 60) * 1000;
  t.false(f.isRevoked(token({ grantId: 'grt_short' })));
  t.true(f.isRevoked(token({ grantId: 'grt_long' })));
  t.is(f.size, 1);
});

test('a record it cannot parse drops the connection (never skipped silently)', async (t) => {
  const s = await feedServer(t);
  const f = feed(t, s);
  await until(() => s.conns.length >= 1);
  s.send('snapshot', { seq: 1, revocations: [] });
  await f.ready();
  s.send('revocation', { seq: 2, kind: 'everything', value: 'x', at: 1, expires_at: 2 });
  await until(() => s.conns.length >= 2, 'the reconnect after a bad record');
  t.is(s.conns[1]!.url, '/oauth2/revocations?since=1');
});

test('refuses a feed server that is not the server SVID; close() rejects ready() and fails checks', async (t) => {
  const s = await feedServer(t, { serverPath: 'agents/impostor' });
  const warnings: string[] = [];
  const f = feed(t, s, { logger: { warn: (_m, fields) => warnings.push(String(fields?.error)) } });
  await until(() => warnings.length >= 1, 'a refused connection');
  t.regex(warnings[0]!, /impostor/);
  t.is(s.conns.length, 0, 'no request reached the impostor');
  f.close();
  const err = await t.throwsAsync(f.ready(), { instanceOf: DelegationError });
  t.is(err!.reason, 'closed');
  t.is((t.throws(() => f.isRevoked(token())) as DelegationError).reason, 'closed');
});

test('presents the SVID current at each connect (rotation)', async (t) => {
  const s = await feedServer(t);
  const mine = source(s.ca, 'agents/resource-server', s.bundles);
  const f = new RevocationFeed({ issuer: s.issuer, source: mine, backoff: { initialMs: 10, maxMs: 50 } });
  t.teardown(() => f.close());
  await until(() => s.conns.length >= 1);
  s.send('snapshot', { seq: 1, revocations: [] });
  await f.ready();
  const { parseX509Svid } = await import('../../spiffe/x509svid/parse.ts');
  const next = makeSvid(s.ca, 'agents/resource-server-v2');
  mine.set({ svid: parseX509Svid(next.certificates, next.pkcs8) });
  s.end();
  await until(() => s.conns.length >= 2);
  t.is(s.conns[1]!.peer, 'spiffe://example.org/agents/resource-server-v2');
});
