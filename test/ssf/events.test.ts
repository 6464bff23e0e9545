import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { revocationEvent, signSet, taintEvent, agentEvent } from '../../server/ssf/events.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { SsfRevocations } from '../../spiffe/ssf/revocations.ts';
import { verifySet } from '../../spiffe/ssf/set.ts';
import { SetRejected } from '../../spiffe/ssf/errors.ts';
import type { RevocationKind } from '../../server/delegation/types.ts';

/**
 * The contract between the transmitter's SETs (server/ssf/events.ts) and the SDK's
 * SsfRevocations: every revocation kind comes back as the same kind and value.
 */
const ISS = 'https://tessera.example.org';
const AUD = 'spiffe://example.org/gateway';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { kid: 'oak_test', privateKey };
const keys = createStaticDelegationKeys([{ kid: 'oak_test', key: publicKey, alg: 'ES256' }]);

const cases: [RevocationKind, string, Record<string, unknown>, RevocationKind[]][] = [
  ['grant', 'grt_abc', { format: 'opaque', id: 'grt_abc' }, ['grant', 'biscuit']],
  ['jti', 'tok_abc', { format: 'jwt_id', iss: ISS, jti: 'tok_abc' }, ['jti']],
  ['subject', 'https://idp.example.org#alice', { format: 'iss_sub', iss: 'https://idp.example.org', sub: 'alice' }, ['subject']],
  ['actor', 'spiffe://example.org/agents/a', { format: 'uri', uri: 'spiffe://example.org/agents/a' }, ['actor']],
  ['biscuit', 'ab12', { format: 'opaque', id: 'ab12' }, ['grant', 'biscuit']],
];

for (const [kind, value, subject, back] of cases) {
  test(`a ${kind} revocation travels as session-revoked and comes back as ${back.join('/')} ${value}`, async (t) => {
    const ev = revocationEvent({ seq: 7, kind, value, at: 1_800_000_000, expiresAt: 1_800_000_300, by: 'admin uid 0' }, ISS);
    t.deepEqual(ev.subject, subject);
    t.is(ev.src, 'rev:7');
    const { set } = signSet(ev, { issuer: ISS, aud: AUD, key, nowSec: 1_800_000_001 });
    const got = await verifySet(set, { keys, issuer: ISS, audience: AUD });
    t.like(got.event, { event_timestamp: 1_800_000_000, initiating_entity: 'admin' });
    const recs = new SsfRevocations({ now: () => 1_800_000_010_000 }).apply(got);
    t.deepEqual(recs.map((r) => [r.kind, r.value, r.at]), back.map((k) => [k, value, 1_800_000_000]));
  });
}

test('an agent ban revokes tokens it acts in; a tainted authority is not mistaken for an agent', async (t) => {
  const sdk = new SsfRevocations();
  const ban = await verifySet(signSet(agentEvent(40, 'spiffe://example.org/tessera/agent/x', 'revoke', 1_800_000_000), { issuer: ISS, aud: AUD, key, nowSec: 1 }).set, { keys, issuer: ISS, audience: AUD });
  t.deepEqual(sdk.apply(ban).map((r) => [r.kind, r.value]), [['actor', 'spiffe://example.org/tessera/agent/x']]);
  const taint = taintEvent('example.org', 'jwt', 'kid1', undefined, 1_800_000_000);
  t.like(taint.payload, { credential_type: 'spiffe-jwt-authority', change_type: 'revoke' });
  const tainted = await verifySet(signSet(taint, { issuer: ISS, aud: AUD, key, nowSec: 1 }).set, { keys, issuer: ISS, audience: AUD });
  t.deepEqual(sdk.apply(tainted), []);
});

test('verifySet refuses a SET of another issuer, without typ, with exp or with two events', async (t) => {
  const good = signSet(revocationEvent({ seq: 1, kind: 'grant', value: 'g', at: 1, expiresAt: 2 }, ISS), { issuer: ISS, aud: AUD, key, nowSec: 1 }).set;
  const e1 = await t.throwsAsync(verifySet(good, { keys, issuer: 'https://other.example', audience: AUD }), { instanceOf: SetRejected });
  t.is(e1!.err, 'invalid_issuer');
  const { sign } = await import('node:crypto');
  const forge = (header: object, claims: object) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const claims = { iss: ISS, aud: AUD, jti: 'j', iat: 1, sub_id: { format: 'opaque', id: 'x' }, events: { 'urn:x': {} } };
  const refused = async (header: object, c: object, re: RegExp) => {
    const e = await t.throwsAsync(verifySet(forge(header, c), { keys, issuer: ISS, audience: AUD }), { instanceOf: SetRejected });
    t.regex(e!.message, re);
  };
  await refused({ alg: 'ES256', kid: 'oak_test', typ: 'at+jwt' }, claims, /typ/);
  await refused({ alg: 'ES256', kid: 'oak_test', typ: 'secevent+jwt' }, { ...claims, exp: 2 }, /exp/);
  await refused({ alg: 'ES256', kid: 'oak_test', typ: 'secevent+jwt' }, { ...claims, sub: 'x' }, /sub/);
  await refused({ alg: 'ES256', kid: 'oak_test', typ: 'secevent+jwt' }, { ...claims, events: { 'urn:a': {}, 'urn:b': {} } }, /exactly one event/);
});
