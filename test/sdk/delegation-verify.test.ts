import test from 'ava';
import { makeRootCa, makeSvid } from '../helpers/pki.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { createRemoteDelegationKeys } from '../../spiffe/delegation/jwks-remote.ts';
import { verifyDelegatedToken } from '../../spiffe/delegation/verify.ts';
import type { VerifyDelegatedTokenOptions } from '../../spiffe/delegation/types.ts';
import type { DelegationErrorCode, DelegationReason } from '../../spiffe/delegation/errors.ts';
import {
  HELPER, IDP, ISSUER, RESEARCHER, RS, SUB_AGENT, hs256WithPublicKey, jwksOf, jwksServer, mint, nowS, payloadOf, pki, signRaw, signingKey, unsigned, x5t,
} from './delegation-fixtures.ts';

const key = signingKey('ES256', 'oauth-1');
const keys = createStaticDelegationKeys([{ kid: key.kid, key: key.publicKey }]);
const opts = (o: Partial<VerifyDelegatedTokenOptions> = {}): VerifyDelegatedTokenOptions => ({ issuer: ISSUER, audience: RS, keys, ...o });

async function refused(t: import('ava').ExecutionContext, token: string, o: Partial<VerifyDelegatedTokenOptions>, code: DelegationErrorCode, reason?: DelegationReason): Promise<DelegationError> {
  const err = await t.throwsAsync(verifyDelegatedToken(token, opts(o)), { instanceOf: DelegationError });
  t.is(err!.code, code, err!.message);
  if (reason) t.is(err!.reason, reason, err!.message);
  return err as DelegationError;
}

test('verifies a delegated token of the documented shape and exposes its parts', async (t) => {
  const token = await mint({ key });
  const v = await verifyDelegatedToken(token, opts({ requiredScopes: ['files:read'] }));
  const p = payloadOf(token);
  t.is(v.subject, `${IDP}#alice`);
  t.is(v.subjectIssuer, IDP);
  t.is(v.subjectName, 'alice');
  t.is(v.issuer, ISSUER);
  t.deepEqual(v.scopes, ['files:read', 'review:post']);
  t.deepEqual(v.audience, [RS]);
  t.is(v.jti, p.jti as string);
  t.is(v.grantId, p.grant_id as string);
  t.deepEqual(v.chain, []);
  t.is(v.clientId, RESEARCHER);
  t.is(v.actors.length, 1);
  t.is(v.actors[0]!.id.toString(), RESEARCHER);
  t.deepEqual(v.actors[0]!.claims, { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  t.is(v.expiresAt.getTime(), (p.exp as number) * 1000);
  t.is(v.issuedAt.getTime(), (p.iat as number) * 1000);
  t.is(v.certificateThumbprint, undefined);
});

test('accepts every allowed algorithm with a key of the right type', async (t) => {
  for (const alg of ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const) {
    const k = signingKey(alg);
    const v = await verifyDelegatedToken(await mint({ key: k }), opts({ keys: createStaticDelegationKeys(await jwksOf(k)) }));
    t.is(v.clientId, RESEARCHER, alg);
  }
});

test('parses actor chains 1, 2 and 3 deep, current actor first, with per-actor agent claims', async (t) => {
  const one = await verifyDelegatedToken(await mint({ key, actors: [RESEARCHER] }), opts());
  t.deepEqual(one.actors.map((a) => a.id.toString()), [RESEARCHER]);
  t.deepEqual(one.actors[0]!.claims, {});

  const two = await verifyDelegatedToken(await mint({
    key, actors: [{ sub: SUB_AGENT, agent_model: 'claude-haiku', agent_instance_id: 'inst_2' }, { sub: RESEARCHER, agent_model: 'claude-sonnet-4' }],
    claims: { chain: ['tok_root'] },
  }), opts());
  t.deepEqual(two.actors.map((a) => a.id.toString()), [SUB_AGENT, RESEARCHER]);
  t.deepEqual(two.actors[0]!.claims, { agent_model: 'claude-haiku', agent_instance_id: 'inst_2' });
  t.deepEqual(two.actors[1]!.claims, { agent_model: 'claude-sonnet-4' });
  t.is(two.clientId, SUB_AGENT);
  t.deepEqual(two.chain, ['tok_root']);

  const three = await verifyDelegatedToken(await mint({ key, actors: [HELPER, SUB_AGENT, RESEARCHER], claims: { chain: ['tok_root', 'tok_parent'] } }), opts());
  t.deepEqual(three.actors.map((a) => a.id.toString()), [HELPER, SUB_AGENT, RESEARCHER]);
  t.deepEqual(three.chain, ['tok_root', 'tok_parent']);
});

test('refuses a token without typ, or with typ JWT', async (t) => {
  await refused(t, await mint({ key, header: { typ: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'bad_typ');
  await refused(t, await mint({ key, header: { typ: 'JWT' } }), {}, 'ERR_DELEGATION_INVALID', 'bad_typ');
  t.is((await verifyDelegatedToken(await mint({ key, header: { typ: 'application/at+jwt' } }), opts())).clientId, RESEARCHER);
});

test('refuses alg none and HS256 keyed with the public key', async (t) => {
  const good = await mint({ key });
  await refused(t, unsigned(good), {}, 'ERR_DELEGATION_INVALID', 'malformed'); // no signature segment at all
  await refused(t, unsigned(good) + 'c2ln', {}, 'ERR_DELEGATION_INVALID', 'unsupported_algorithm');
  await refused(t, hs256WithPublicKey(good, key), {}, 'ERR_DELEGATION_INVALID', 'unsupported_algorithm');
});

test('refuses an algorithm the key does not fit (an ES384 header on a P-256 key) and one outside a narrowed list', async (t) => {
  const k384 = signingKey('ES384', key.kid); // same kid, other curve: alg confusion attempt
  await refused(t, await mint({ key: k384 }), {}, 'ERR_DELEGATION_INVALID', 'bad_key');
  await refused(t, await mint({ key }), { algorithms: ['EdDSA'] }, 'ERR_DELEGATION_INVALID', 'unsupported_algorithm');
});

test('refuses a forged signature and a crit header', async (t) => {
  const forged = await mint({ key: signingKey('ES256', key.kid) });
  await refused(t, forged, {}, 'ERR_DELEGATION_INVALID', 'bad_signature');
  const good = await mint({ key });
  const [h, p] = good.split('.');
  const tampered = payloadOf(good); tampered.scope = 'files:read files:write';
  await refused(t, `${h}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${good.split('.')[2]}`, {}, 'ERR_DELEGATION_INVALID', 'bad_signature');
  t.truthy(p);
  await refused(t, signRaw({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, crit: ['x-tessera'], 'x-tessera': 1 }, payloadOf(good), key), {}, 'ERR_DELEGATION_INVALID', 'crit_header');
});

test('refuses an unknown kid and a token without kid', async (t) => {
  await refused(t, await mint({ key: signingKey('ES256', 'nobody') }), {}, 'ERR_DELEGATION_INVALID', 'key_not_found');
  await refused(t, await mint({ key, header: { kid: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'missing_kid');
});

test('refuses the wrong issuer and the wrong audience', async (t) => {
  await refused(t, await mint({ key, claims: { iss: 'https://evil.example.org' } }), {}, 'ERR_DELEGATION_INVALID', 'issuer_mismatch');
  const err = await refused(t, await mint({ key, claims: { aud: ['https://other.example.org'] } }), {}, 'ERR_DELEGATION_AUDIENCE', 'audience_mismatch');
  t.regex(err.message, /https:\/\/other\.example\.org.*does not include https:\/\/tools\.example\.org/);
  t.is((await verifyDelegatedToken(await mint({ key, claims: { aud: RS } }), opts())).audience[0], RS); // aud as a string
});

test('refuses an expired token and one not yet valid, within the leeway only', async (t) => {
  const expired = await mint({ key, claims: { iat: nowS() - 600, nbf: nowS() - 600, exp: nowS() - 5 } });
  await refused(t, expired, {}, 'ERR_DELEGATION_EXPIRED', 'expired');
  t.truthy(await verifyDelegatedToken(expired, opts({ leeway: 60 })));
  const future = await mint({ key, claims: { nbf: nowS() + 120 } });
  await refused(t, future, {}, 'ERR_DELEGATION_EXPIRED', 'not_yet_valid');
  await refused(t, future, { leeway: 60 }, 'ERR_DELEGATION_EXPIRED', 'not_yet_valid');
  t.truthy(await verifyDelegatedToken(future, opts({ now: new Date(Date.now() + 130_000) })));
  await refused(t, await mint({ key, claims: { exp: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'missing_claim');
});

test('refuses a token lacking a required scope, naming the missing ones', async (t) => {
  const err = await refused(t, await mint({ key }), { requiredScopes: ['files:read', 'files:write', 'admin'] }, 'ERR_DELEGATION_SCOPE', 'missing_scope');
  t.deepEqual(err.missingScopes, ['files:write', 'admin']);
  t.regex(err.message, /files:write admin/);
});

test('checks cnf binding against the peer certificate; requireBinding refuses bearer tokens', async (t) => {
  const { ca } = await pki();
  const actor = makeSvid(ca, 'agents/researcher');
  const other = makeSvid(ca, 'agents/researcher');
  const bound = await mint({ key, certificate: actor.leaf });
  const v = await verifyDelegatedToken(bound, opts({ peerCertificate: actor.leaf, requireBinding: true }));
  t.is(v.certificateThumbprint, x5t(actor.leaf));
  await refused(t, bound, { peerCertificate: other.leaf }, 'ERR_DELEGATION_BINDING', 'cnf_mismatch');
  await refused(t, bound, {}, 'ERR_DELEGATION_BINDING', 'no_peer_certificate');
  const bearer = await mint({ key });
  await refused(t, bearer, { requireBinding: true, peerCertificate: actor.leaf }, 'ERR_DELEGATION_BINDING', 'unbound');
  t.truthy(await verifyDelegatedToken(bearer, opts({ peerCertificate: actor.leaf })));
});

test('refuses a bad act: missing, non-SPIFFE sub, trust domain ID, not an object, and client_id not the current actor', async (t) => {
  await refused(t, await mint({ key, claims: { act: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, actors: ['https://agents.example.org/researcher'] }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, actors: [RESEARCHER, 'alice@example.org'] }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, actors: ['spiffe://example.org'] }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, claims: { act: { sub: RESEARCHER, act: 'spiffe://example.org/x' } } }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, claims: { act: [RESEARCHER] } }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
  await refused(t, await mint({ key, actors: [SUB_AGENT, RESEARCHER], claims: { client_id: RESEARCHER } }), {}, 'ERR_DELEGATION_INVALID', 'client_id_mismatch');
});

test('refuses a sub that is not <issuer>#<subject> or disagrees with the subject claim', async (t) => {
  await refused(t, await mint({ key, claims: { sub: 'alice', subject: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'bad_subject');
  await refused(t, await mint({ key, claims: { sub: `${IDP}#mallory` } }), {}, 'ERR_DELEGATION_INVALID', 'bad_subject');
  for (const c of ['jti', 'grant_id', 'client_id']) await refused(t, await mint({ key, claims: { [c]: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'missing_claim');
  await refused(t, await mint({ key, claims: { chain: 'tok_x' } }), {}, 'ERR_DELEGATION_INVALID', 'bad_claim');
});

test('refuses a revoked token, naming the record, and fails closed when the checker is stale', async (t) => {
  const token = await mint({ key });
  const rec = { seq: 7, kind: 'grant' as const, value: payloadOf(token).grant_id as string, at: nowS(), expiresAt: nowS() + 600 };
  const err = await refused(t, token, { revocations: { revocationOf: () => rec } }, 'ERR_DELEGATION_REVOKED', 'revoked');
  t.regex(err.message, /grant grt_.* seq 7/);
  const stale = { revocationOf: () => { throw new DelegationError('ERR_DELEGATION_FEED_STALE', 'silent', { reason: 'stale' }); } };
  await refused(t, token, { revocations: stale }, 'ERR_DELEGATION_FEED_STALE');
});

test('remote JWKS over HTTPS: the issuer is verified as the server SVID; an unknown kid refetches once per cooldown', async (t) => {
  const { bundles, server } = await pki();
  const k1 = signingKey('ES256', 'k1');
  const k2 = signingKey('ES256', 'k2');
  const issuer = await jwksServer(t, server, await jwksOf(k1));
  let clock = 1_000_000;
  const remote = createRemoteDelegationKeys({ issuer: issuer.issuer, bundleSource: bundles, trustDomain: 'example.org', now: () => clock });
  t.teardown(() => remote.close());
  const o = (token: string) => verifyDelegatedToken(token, { issuer: issuer.issuer, audience: RS, keys: remote });
  const tok1 = await mint({ key: k1, claims: { iss: issuer.issuer } });
  t.is((await o(tok1)).clientId, RESEARCHER);
  t.is(issuer.hits(), 1);
  await o(tok1);
  t.is(issuer.hits(), 1, 'a known kid is answered from the cache');

  issuer.setJwks(await jwksOf(k1, k2)); // a new key appears (another server, a rotation)
  const tok2 = await mint({ key: k2, claims: { iss: issuer.issuer } });
  const e = await t.throwsAsync(o(tok2), { instanceOf: DelegationError });
  t.is(e!.reason, 'key_not_found', 'within the cooldown an unknown kid does not refetch');
  t.is(issuer.hits(), 1);
  clock += 30_000;
  t.is((await o(tok2)).clientId, RESEARCHER, 'after the cooldown the unknown kid refetches once');
  t.is(issuer.hits(), 2);
  const bogus = await mint({ key: signingKey('ES256', 'k-none'), claims: { iss: issuer.issuer } });
  await t.throwsAsync(o(bogus), { instanceOf: DelegationError });
  await t.throwsAsync(o(bogus), { instanceOf: DelegationError });
  t.is(issuer.hits(), 2, 'made-up kids cost the issuer nothing within the cooldown');
});

test('remote JWKS refuses an issuer whose certificate is not the server SVID, and accepts a plain CA PEM when configured', async (t) => {
  const { ca, bundles } = await pki();
  const impostor = makeSvid(ca, 'agents/impostor');
  const k = signingKey('ES256', 'k1');
  const issuer = await jwksServer(t, impostor, await jwksOf(k));
  const remote = createRemoteDelegationKeys({ issuer: issuer.issuer, bundleSource: bundles, trustDomain: 'example.org' });
  t.teardown(() => remote.close());
  const token = await mint({ key: k, claims: { iss: issuer.issuer } });
  const err = await t.throwsAsync(verifyDelegatedToken(token, { issuer: issuer.issuer, audience: RS, keys: remote }), { instanceOf: DelegationError });
  t.is(err!.reason, 'keys_unavailable');
  t.regex(err!.message, /impostor/);
  t.is(issuer.hits(), 0, 'nothing was requested from an unverified server');

  const foreignCa = await makeRootCa('other.org');
  const remoteWrongCa = createRemoteDelegationKeys({ issuer: issuer.issuer, caPem: certificatesToPem([foreignCa.root]) });
  t.teardown(() => remoteWrongCa.close());
  await t.throwsAsync(verifyDelegatedToken(token, { issuer: issuer.issuer, audience: RS, keys: remoteWrongCa }), { instanceOf: DelegationError });

  // caPem: ordinary verification by host name, so the issuer's certificate names "localhost".
  const pemCa = await makeRootCa('example.org');
  const withIp = makeSvid(pemCa, 'tessera/server', { dnsNames: ['localhost'] });
  const local = await jwksServer(t, withIp, await jwksOf(k));
  const localIssuer = local.issuer.replace('127.0.0.1', 'localhost');
  const remotePem = createRemoteDelegationKeys({ issuer: localIssuer, caPem: certificatesToPem([pemCa.root]) });
  t.teardown(() => remotePem.close());
  const tokenPem = await mint({ key: k, claims: { iss: localIssuer } });
  t.is((await verifyDelegatedToken(tokenPem, { issuer: localIssuer, audience: RS, keys: remotePem })).clientId, RESEARCHER);
});

test('an agent acting for itself (client credentials): sub is its SPIFFE ID and it is the current actor', async (t) => {
  const token = await mint({ key, claims: { sub: RESEARCHER, subject: { iss: ISSUER, sub: RESEARCHER, groups: [] }, sub_profile: 'ai_agent' } });
  const v = await verifyDelegatedToken(token, opts());
  t.is(v.subject, RESEARCHER);
  t.is(v.subjectIssuer, ISSUER);
  t.is(v.actors[0]!.id.toString(), RESEARCHER);
  // A workload sub that is not the current actor is someone claiming another agent's identity.
  await refused(t, await mint({ key, claims: { sub: HELPER, subject: { iss: ISSUER, sub: HELPER, groups: [] } } }), {}, 'ERR_DELEGATION_INVALID', 'bad_subject');
});

test('a public client (metadata-document URL, no SVID) gets no act; a SPIFFE client_id without act is refused', async (t) => {
  const client = 'https://app.example.com/oauth/client.json';
  const v = await verifyDelegatedToken(await mint({ key, claims: { act: undefined, client_id: client } }), opts());
  t.deepEqual(v.actors, []);
  t.is(v.clientId, client);
  await refused(t, await mint({ key, claims: { act: undefined } }), {}, 'ERR_DELEGATION_INVALID', 'bad_actor');
});
