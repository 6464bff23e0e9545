import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, payloadOf, until, type Workload } from '../oauth/harness.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { startAuthzenEnv, TOOLS, type AuthzenEnv } from '../authzen/authzen-harness.ts';
import { verifyDelegatedToken } from '../../spiffe/delegation/verify.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { createPushReceiver } from '../../spiffe/ssf/push.ts';
import { SsfRevocations } from '../../spiffe/ssf/revocations.ts';
import { SsfPollClient } from '../../spiffe/ssf/poll.ts';
import type { SecurityEvent } from '../../spiffe/ssf/set.ts';
import { httpReceiver, postTo, PUSH, signal, ssfCall, transmitterKeys, within } from './ssf-harness.ts';

/**
 * RFC 8935 push delivery from a real server to real node:http receivers built with the
 * SDK's push handler: retries after a receiver error, a revoked delegated token refused
 * by a validator that hears of revocations only through SSF, an agent ban as CAEP
 * credential-change.
 */
const scope = sharedScope();
let env: AuthzenEnv;
let receiver: Workload;
test.before(async () => { env = await startAuthzenEnv(scope); receiver = env.svid('/receivers/gateway'); });
test.after.always(() => scope.cleanup());

async function tokenFor(agent: Workload): Promise<string> {
  const r = await env.exchange({ subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }), subject_token_type: ID_TOKEN, audience: TOOLS, scope: 'files:read' }, agent);
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

async function pushStream(url: string, events?: string[]): Promise<string> {
  const r = await ssfCall(env, 'POST', '/ssf/stream', { delivery: { method: PUSH, endpoint_url: url }, ...(events ? { events_requested: events } : {}) }, receiver);
  if (r.status !== 201) throw new Error(r.text);
  return r.json.stream_id as string;
}

test('push retries after the receiver answers 500, until it acknowledges with 202', async (t) => {
  const keys = await transmitterKeys(env);
  const got = signal<SecurityEvent>();
  const handler = createPushReceiver({ keys, issuer: env.issuer, audience: receiver.id, onEvent: (ev) => got.resolve(ev), expectState: (s) => s === 'retry-me' });
  const statuses: number[] = [];
  const acknowledged = signal<void>();
  const { url } = await httpReceiver(scope, (req, res) => {
    res.on('finish', () => { statuses.push(res.statusCode); if (res.statusCode === 202) acknowledged.resolve(); });
    if (statuses.length === 0) { req.resume(); res.writeHead(500).end(); return; } // first attempt fails
    handler(req, res);
  });
  const id = await pushStream(url, []); // verification events only: other tests' events stay off this stream
  t.is((await ssfCall(env, 'POST', '/ssf/verify', { stream_id: id, state: 'retry-me' }, receiver)).status, 204);
  const ev = await within(got.promise, 'the verification event');
  t.deepEqual(ev.subject, { format: 'opaque', id });
  await within(acknowledged.promise, 'the 202');
  t.deepEqual(statuses, [500, 202]);
});

test('the SDK push handler refuses a SET for another audience, a replay and a wrong content type with RFC 8935 errors', async (t) => {
  const keys = await transmitterKeys(env);
  const sets: string[] = [];
  const handler = createPushReceiver({ keys, issuer: env.issuer, audience: 'spiffe://example.org/someone-else' });
  const { url } = await httpReceiver(scope, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { sets.push(body); res.writeHead(202).end(); });
  });
  const id = await pushStream(url, []);
  await ssfCall(env, 'POST', '/ssf/verify', { stream_id: id }, receiver);
  const set = await until('a pushed SET', () => sets[0]);
  const refusing = await httpReceiver(scope, handler);
  const wrongAud = await postTo(refusing.url, set);
  t.is(wrongAud.status, 400);
  t.is(wrongAud.json.err, 'invalid_audience');
  t.is((await postTo(refusing.url, set, 'application/json')).json.err, 'invalid_request');
  const tampered = set.slice(0, -4) + (set.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  t.is((await postTo(refusing.url, tampered)).json.err, 'authentication_failed');

  const accepting = await httpReceiver(scope, createPushReceiver({ keys, issuer: env.issuer, audience: receiver.id }));
  t.is((await postTo(accepting.url, set)).status, 202);
  const replay = await postTo(accepting.url, set);
  t.is(replay.status, 400);
  t.is(replay.json.err, 'invalid_request');
  t.regex(String(replay.json.description), /replay/);
});

test('a delegated token revoked at the server is refused by an SDK validator fed only by SSF push', async (t) => {
  const keys = await transmitterKeys(env);
  const revocations = new SsfRevocations();
  const { url } = await httpReceiver(scope, createPushReceiver({ keys, issuer: env.issuer, audience: receiver.id, revocations }));
  await pushStream(url, ['https://schemas.openid.net/secevent/caep/event-type/session-revoked']);
  const agent = env.svid('/agents/researcher', { agent_model: 'claude-sonnet-4' });
  const token = await tokenFor(agent);
  const opts = { issuer: env.issuer, keys, audience: TOOLS, revocations, peerCertificate: agent.chain[0]! };
  t.is((await verifyDelegatedToken(token, opts)).jti, payloadOf(token).jti);

  const grantId = payloadOf(token).grant_id as string;
  const heard = signal<void>();
  revocations.onRevocation((r) => { if (r.value === grantId) heard.resolve(); });
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'grant', value: grantId, at: now, expiresAt: now + 300, by: 'test' });
  await within(heard.promise, 'the session-revoked SET');
  const e = await t.throwsAsync(verifyDelegatedToken(token, opts), { instanceOf: DelegationError });
  t.is(e!.code, 'ERR_DELEGATION_REVOKED');
  t.true(await verifyDelegatedToken(await tokenFor(agent), opts).then(() => true), 'another grant still verifies');
});

test('banning an agent sends CAEP credential-change for its SPIFFE ID', async (t) => {
  const keys = await transmitterKeys(env);
  const agentId = 'spiffe://example.org/tessera/agent/join_token/ssf-ban';
  const got = signal<SecurityEvent>();
  const { url } = await httpReceiver(scope, createPushReceiver({
    keys, issuer: env.issuer, audience: receiver.id,
    onEvent: (ev) => { if (ev.subject.uri === agentId) got.resolve(ev); },
  }));
  await pushStream(url, ['https://schemas.openid.net/secevent/caep/event-type/credential-change']);
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.upsertAgent({ spiffeId: SpiffeId.parse(agentId), attestationType: 'join_token', selectors: [], serial: '01', expiresAt: now + 3600, banned: false, createdAt: now, updatedAt: now });
  await env.server.store.setAgentBanned(agentId, true);
  const ev = await within(got.promise, 'the credential-change SET');
  t.is(ev.type, 'https://schemas.openid.net/secevent/caep/event-type/credential-change');
  t.like(ev.event, { credential_type: 'x509', change_type: 'revoke', initiating_entity: 'admin' });
  t.deepEqual(ev.subject, { format: 'uri', uri: agentId });
  t.regex(ev.txn ?? '', /^chg:\d+$/);
});

test('the SDK poll client long-polls over mTLS, feeds SsfRevocations and acknowledges what it processed', async (t) => {
  const keys = await transmitterKeys(env);
  const poller = env.svid('/receivers/poller');
  const created = await ssfCall(env, 'POST', '/ssf/stream', { events_requested: ['https://schemas.openid.net/secevent/caep/event-type/session-revoked'] }, poller);
  t.is(created.status, 201, created.text);
  const revocations = new SsfRevocations();
  const heard = signal<void>();
  const jti = `tok_ssfpoll${Date.now()}`;
  revocations.onRevocation((r) => { if (r.kind === 'jti' && r.value === jti) heard.resolve(); });
  const client = new SsfPollClient({
    endpoint: (created.json.delivery as { endpoint_url: string }).endpoint_url, source: env.sourceOf(poller), bundleSource: env.bundles,
    keys, issuer: env.issuer, audience: poller.id, revocations,
  });
  t.teardown(() => client.close());
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'jti', value: jti, at: now, expiresAt: now + 300, by: 'test' });
  await within(heard.promise, 'the session-revoked SET by poll');
  const path = `/ssf/poll?stream_id=${created.json.stream_id as string}`;
  // The client acknowledges on its next poll (already waiting): the queue drains.
  await until('the acknowledgement', async () => {
    const r = await ssfCall(env, 'POST', path, { returnImmediately: true, maxEvents: 0 }, poller);
    const left = await env.server.store.ssf.pending(created.json.stream_id as string, 10);
    return r.status === 200 && left.length === 0 ? true : undefined;
  });
  t.pass();
});
