import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { startEnv, type Env, type Workload } from '../oauth/harness.ts';
import { verifySet } from '../../spiffe/ssf/set.ts';
import { POLL, PUSH, ssfCall, transmitterKeys } from './ssf-harness.ts';

/**
 * SSF 1.0 transmitter management API on a real in-process server (SQLite): metadata,
 * stream CRUD owned by the receiver that created it, refusals with their status and
 * error JSON, verification events over poll delivery with acknowledgement.
 */
const scope = sharedScope();
let env: Env;
let alice: Workload;
let mallory: Workload;
test.before(async () => {
  env = await startEnv(scope);
  alice = env.svid('/receivers/alice');
  mallory = env.svid('/receivers/mallory');
});
test.after.always(() => scope.cleanup());

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';

test('serves the transmitter metadata at /.well-known/ssf-configuration without authentication', async (t) => {
  const r = await env.request('GET', '/.well-known/ssf-configuration');
  t.is(r.status, 200);
  t.like(r.json, {
    spec_version: '1_0', issuer: env.issuer, jwks_uri: `${env.issuer}/oauth2/jwks`, delivery_methods_supported: [PUSH, POLL],
    configuration_endpoint: `${env.issuer}/ssf/stream`, status_endpoint: `${env.issuer}/ssf/status`, verification_endpoint: `${env.issuer}/ssf/verify`,
    default_subjects: 'ALL',
  });
  t.deepEqual(r.json.authorization_schemes, [{ spec_urn: 'urn:ietf:rfc:8705' }, { spec_urn: 'urn:ietf:rfc:6749' }]);
});

test('a receiver creates, reads, updates, replaces and deletes its stream; another receiver sees none of it', async (t) => {
  const created = await ssfCall(env, 'POST', '/ssf/stream', {
    delivery: { method: PUSH, endpoint_url: 'https://receiver.example.org/events', authorization_header: 'Bearer s3cret' },
    events_requested: [SESSION_REVOKED, 'urn:example:unknown'], description: 'alice push',
  }, alice);
  t.is(created.status, 201, created.text);
  const id = created.json.stream_id as string;
  t.regex(id, /^ssf_[A-Za-z0-9_-]{22}$/);
  t.like(created.json, { iss: env.issuer, aud: alice.id, delivery: { method: PUSH, endpoint_url: 'https://receiver.example.org/events' }, description: 'alice push' });
  t.deepEqual(created.json.events_delivered, [SESSION_REVOKED], 'the intersection of requested and supported');
  t.false(created.text.includes('s3cret'), 'the push Authorization header is never echoed');

  t.is((await ssfCall(env, 'GET', `/ssf/stream?stream_id=${id}`, undefined, alice)).json.stream_id, id);
  const list = await ssfCall(env, 'GET', '/ssf/stream', undefined, alice);
  t.true(Array.isArray(list.json) && (list.json as unknown as { stream_id: string }[]).some((s) => s.stream_id === id));

  // Another receiver: not found, whatever it tries.
  for (const [m, path, body] of [['GET', `/ssf/stream?stream_id=${id}`, undefined], ['PATCH', '/ssf/stream', { stream_id: id, description: 'x' }],
    ['PUT', '/ssf/stream', { stream_id: id }], ['DELETE', `/ssf/stream?stream_id=${id}`, undefined], ['GET', `/ssf/status?stream_id=${id}`, undefined],
    ['POST', '/ssf/status', { stream_id: id, status: 'disabled' }], ['POST', '/ssf/verify', { stream_id: id }]] as const) {
    const r = await ssfCall(env, m, path, body, mallory);
    t.is(r.status, 404, `${m} ${path}`);
    t.is(r.json.error, 'not_found');
  }
  t.deepEqual((await ssfCall(env, 'GET', '/ssf/stream', undefined, mallory)).json, [] as unknown as Record<string, unknown>);

  const patched = await ssfCall(env, 'PATCH', '/ssf/stream', { stream_id: id, description: 'renamed' }, alice);
  t.is(patched.status, 200, patched.text);
  t.like(patched.json, { description: 'renamed', delivery: { method: PUSH, endpoint_url: 'https://receiver.example.org/events' } });
  const replaced = await ssfCall(env, 'PUT', '/ssf/stream', { stream_id: id, events_requested: [CREDENTIAL_CHANGE] }, alice);
  t.is(replaced.status, 200, replaced.text);
  t.like(replaced.json, { delivery: { method: POLL } });
  t.deepEqual(replaced.json.events_delivered, [CREDENTIAL_CHANGE]);
  t.is(replaced.json.description, undefined, 'PUT replaces: what it leaves out is gone');

  t.like((await ssfCall(env, 'POST', '/ssf/status', { stream_id: id, status: 'paused', reason: 'maintenance' }, alice)).json, { stream_id: id, status: 'paused', reason: 'maintenance' });
  t.like((await ssfCall(env, 'GET', `/ssf/status?stream_id=${id}`, undefined, alice)).json, { status: 'paused' });

  t.is((await ssfCall(env, 'DELETE', `/ssf/stream?stream_id=${id}`, undefined, alice)).status, 204);
  t.is((await ssfCall(env, 'GET', `/ssf/stream?stream_id=${id}`, undefined, alice)).status, 404);
});

test('refuses unauthenticated and malformed requests with the SSF status and an error JSON', async (t) => {
  const anon = await ssfCall(env, 'POST', '/ssf/stream', {}, null);
  t.is(anon.status, 401);
  t.is(anon.json.error, 'invalid_token');
  t.regex(String(anon.headers['www-authenticate']), /^Bearer/);
  const bearer = await ssfCall(env, 'GET', '/ssf/stream', undefined, null, { authorization: 'Bearer not.a.token' });
  t.is(bearer.status, 401);
  t.is(bearer.json.error, 'invalid_token');

  const cases: [unknown, RegExp][] = [
    ['{not json', /not valid JSON/],
    [{ delivery: { method: 'urn:example:carrier-pigeon' } }, /delivery.method/],
    [{ delivery: { method: PUSH } }, /endpoint_url is required/],
    [{ delivery: { method: PUSH, endpoint_url: 'http://receiver.example.org/events' } }, /must be https/],
    [{ delivery: { method: PUSH, endpoint_url: 'https://u:p@receiver.example.org/events' } }, /credentials/],
    [{ iss: 'https://elsewhere.example' }, /iss is set by the transmitter/],
    [{ aud: 'spiffe://example.org/someone-else' }, /aud is set by the transmitter/],
    [{ events_requested: 'all' }, /events_requested must be an array/],
    [{ stream_id: 'mine' }, /stream_id is set by the transmitter/],
  ];
  for (const [body, why] of cases) {
    const r = await ssfCall(env, 'POST', '/ssf/stream', body, alice);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.json.error, 'invalid_request');
    t.regex(String(r.json.error_description), why);
  }
  const wrongType = await env.request('POST', '/ssf/stream', { as: alice, body: '{}', contentType: 'text/plain' });
  t.is(wrongType.status, 400);
  t.is((await ssfCall(env, 'PATCH', '/ssf/stream', { description: 'no id' }, alice)).json.error_description, 'stream_id is required');
  const bad = await ssfCall(env, 'POST', '/ssf/status', { stream_id: 'ssf_nope', status: 'enabled' }, alice);
  t.is(bad.status, 404);
  const method = await ssfCall(env, 'PATCH', '/ssf/status', {}, alice);
  t.is(method.status, 405);
  t.is(method.headers.allow, 'GET, POST');
});

test('a verification event reaches a poll stream signed as a SET, and an acknowledged SET is not returned again', async (t) => {
  const created = await ssfCall(env, 'POST', '/ssf/stream', { description: 'poll' }, alice);
  t.is(created.status, 201);
  const id = created.json.stream_id as string;
  const pollUrl = (created.json.delivery as { endpoint_url: string }).endpoint_url;
  t.is(pollUrl, `${env.issuer}/ssf/poll?stream_id=${id}`);
  const path = pollUrl.slice(env.issuer.length);

  t.is((await ssfCall(env, 'POST', '/ssf/verify', { stream_id: id, state: 'st-1' }, alice)).status, 204);
  const polled = await ssfCall(env, 'POST', path, { returnImmediately: false, maxEvents: 10 }, alice);
  t.is(polled.status, 200, polled.text);
  const sets = polled.json.sets as Record<string, string>;
  const [jti, set] = Object.entries(sets)[0]!;
  t.is(Object.keys(sets).length, 1);
  t.false(polled.json.moreAvailable);
  const header = JSON.parse(Buffer.from(set.split('.')[0]!, 'base64url').toString('utf8'));
  t.like(header, { alg: 'ES256', typ: 'secevent+jwt' });
  const ev = await verifySet(set, { keys: await transmitterKeys(env), issuer: env.issuer, audience: alice.id });
  t.is(ev.jti, jti);
  t.is(ev.type, 'https://schemas.openid.net/secevent/ssf/event-type/verification');
  t.deepEqual(ev.event, { state: 'st-1' });
  t.deepEqual(ev.subject, { format: 'opaque', id });

  t.is(Object.keys((await ssfCall(env, 'POST', path, { returnImmediately: true }, alice)).json.sets as object).length, 1, 'not acknowledged: returned again');
  const acked = await ssfCall(env, 'POST', path, { ack: [jti], returnImmediately: true }, alice);
  t.deepEqual(acked.json, { sets: {}, moreAvailable: false });
  t.is((await ssfCall(env, 'POST', path, { returnImmediately: true }, mallory)).status, 404, 'another receiver cannot poll it');
  const forPush = await ssfCall(env, 'POST', '/ssf/stream', { delivery: { method: PUSH, endpoint_url: 'https://127.0.0.1:1/x' } }, alice);
  const wrong = await ssfCall(env, 'POST', `/ssf/poll?stream_id=${forPush.json.stream_id as string}`, {}, alice);
  t.is(wrong.status, 400);
  t.regex(String(wrong.json.error_description), /push delivery/);
});
