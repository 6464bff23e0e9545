import test from 'ava';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { systemClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { TrustedIssuers } from '../../server/oauth/trusted-issuers.ts';
import { sharedScope } from '../helpers/server.ts';
import { ACCESS_TOKEN, headerOf, ID_TOKEN, JWT, payloadOf, startEnv, until, type Env } from './harness.ts';

/**
 * RFC 8693 token exchange against a real in-process server: root exchanges (IdP token
 * + attested actor) and sub-exchanges (a delegated token + a second actor), checked
 * claim by claim against docs/delegation.md.
 */
const scope = sharedScope();
let env: Env;
const TOOLS = 'https://tools.example.org';
const MAIL = 'https://mail.example.org';

test.before(async () => {
  env = await startEnv(scope);
  await env.policy({
    id: 'pol_researcher', actors: ['spiffe://example.org/agents/researcher'], groups: ['eng'],
    audiences: [TOOLS, MAIL], scopes: ['files:read', 'review:post', 'mail:send'], maxTtl: 300, maxDepth: 2,
    mayDelegateTo: ['spiffe://example.org/agents/sub/*'],
  });
  await env.policy({
    id: 'pol_sub', actors: ['spiffe://example.org/agents/sub/*'], groups: ['eng'],
    audiences: [TOOLS], scopes: ['files:read', 'review:post'], maxTtl: 120, maxDepth: 2,
  });
});
test.after.always(() => scope.cleanup());

const researcherClaims = { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic', agent_version: '2025-05', agent_instance_id: 'inst_AAAAAAAAAAAAAAAAAAAAAA' };

test('root exchange with an mTLS actor: delegated token names user and agent, bound to the certificate', async (t) => {
  const researcher = env.svid('/agents/researcher', researcherClaims);
  // The IdP token outlives the policy's max_ttl, so the policy bounds the lifetime.
  const subjectToken = await env.idp.token({ sub: 'alice', groups: ['eng'], exp: Math.floor(Date.now() / 1000) + 3600 });
  const r = await env.exchange({ subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: TOOLS, scope: 'files:read review:post' }, researcher);
  t.is(r.status, 200, r.text);
  t.is(r.headers['cache-control'], 'no-store');
  t.is(r.json.issued_token_type, ACCESS_TOKEN);
  t.is(r.json.token_type, 'Bearer');
  t.is(r.json.scope, 'files:read review:post');
  const token = r.json.access_token as string;
  t.deepEqual(headerOf(token), { alg: 'ES256', typ: 'at+jwt', kid: headerOf(token).kid });
  t.regex(headerOf(token).kid, /^oak_/);

  // Verifies with the published JWKS (and only as an at+jwt).
  const jwks = await env.request('GET', '/oauth2/jwks');
  t.is(jwks.status, 200);
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.json as never), {
    issuer: env.issuer, audience: TOOLS, typ: 'at+jwt',
    clockTolerance: 120, // the server's clock runs ahead once the IdP-rotation test advanced it
  });
  t.is(payload.sub, `${env.idp.issuer}#alice`);
  t.deepEqual(payload.aud, [TOOLS]);
  t.regex(payload.jti!, /^tok_[A-Za-z0-9_-]{22}$/);
  t.regex(payload.grant_id as string, /^grt_[A-Za-z0-9_-]{22}$/);
  t.deepEqual(payload.chain, []);
  t.is(payload.client_id, researcher.id);
  t.deepEqual(payload.subject, { iss: env.idp.issuer, sub: 'alice', groups: ['eng'] });
  t.deepEqual(payload.act, { sub: researcher.id, iss: 'spiffe://example.org', sub_profile: 'ai_agent', ...researcherClaims });
  t.deepEqual(payload.cnf, { 'x5t#S256': researcher.x5t });
  t.is(payload.iat, payload.nbf);
  t.is(payload.exp! - payload.iat!, 300, 'policy max_ttl and token_ttl are both 300 s');
  t.is(r.json.expires_in, 300);

  // Logged and audited.
  const ev = await until('exchange log', () => env.logs.find((l) => l.event === 'oauth.token_exchange' && l.jti === payload.jti));
  t.is(ev.policy, 'pol_researcher');
  t.deepEqual(ev.actor_chain, [researcher.id]);
  const rows = await until('audit row', async () => (await env.server.store.listAudit({ event: 'oauth.token_exchange' }))
    .find((a) => a.data.jti === payload.jti));
  t.is(rows.subject, `${env.idp.issuer}#alice`);
});

test('root exchange with a JWT-SVID actor_token: a bearer token without cnf', async (t) => {
  const actorToken = await env.jwtSvid('/agents/researcher', [env.tokenEndpoint], { agent_model: 'm1' });
  const r = await env.exchange({
    subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }), subject_token_type: ACCESS_TOKEN,
    actor_token: actorToken, actor_token_type: JWT, resource: MAIL, scope: 'mail:send', expires_in: '60',
    requested_token_type: JWT,
  });
  t.is(r.status, 200, r.text);
  const p = payloadOf(r.json.access_token as string);
  t.is(p.cnf, undefined);
  t.deepEqual(p.act, { sub: 'spiffe://example.org/agents/researcher', iss: 'spiffe://example.org', sub_profile: 'ai_agent', agent_model: 'm1' });
  t.is(p.exp - p.iat, 60);
  t.is(r.json.issued_token_type, JWT);
});

test('sub-exchange by a second SVID: nested act, narrower scope, chain and grant inherited', async (t) => {
  const researcher = env.svid('/agents/researcher', researcherClaims);
  const root = await env.exchange({
    subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }), subject_token_type: ID_TOKEN,
    audience: TOOLS, scope: 'files:read review:post',
  }, researcher);
  t.is(root.status, 200, root.text);
  const rootToken = root.json.access_token as string;
  const sub = env.svid('/agents/sub/reviewer', { agent_model: 'claude-haiku' });
  const r = await env.exchange({ subject_token: rootToken, subject_token_type: ACCESS_TOKEN, audience: TOOLS, scope: 'files:read' }, sub);
  t.is(r.status, 200, r.text);
  const p = payloadOf(r.json.access_token as string);
  const rp = payloadOf(rootToken);
  t.is(p.sub, rp.sub);
  t.is(p.grant_id, rp.grant_id);
  t.deepEqual(p.chain, [rp.jti]);
  t.is(p.scope, 'files:read');
  t.is(p.client_id, sub.id);
  t.deepEqual(p.act, {
    sub: sub.id, iss: 'spiffe://example.org', sub_profile: 'ai_agent', agent_model: 'claude-haiku',
    act: { sub: researcher.id, iss: 'spiffe://example.org', sub_profile: 'ai_agent', ...researcherClaims },
  });
  t.deepEqual(p.cnf, { 'x5t#S256': sub.x5t });
  t.true(p.exp - p.iat <= 120, 'pol_sub max_ttl');
  t.true(p.exp <= rp.exp);

  // No scope requested: exactly the intersection of the parent's scope and the policy.
  const r2 = await env.exchange({ subject_token: rootToken, subject_token_type: JWT, audience: TOOLS }, env.svid('/agents/sub/other'));
  t.is(r2.status, 200, r2.text);
  t.is(r2.json.scope, 'files:read review:post');
});

test('metadata (RFC 8414) names the endpoints of this issuer', async (t) => {
  const r = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.is(r.status, 200);
  t.is(r.json.issuer, env.issuer);
  t.is(r.json.token_endpoint, env.tokenEndpoint);
  t.is(r.json.jwks_uri, `${env.issuer}/oauth2/jwks`);
  t.is(r.json.introspection_endpoint, `${env.issuer}/oauth2/introspect`);
  t.is(r.json.revocation_endpoint, `${env.issuer}/oauth2/revoke`);
  t.deepEqual(r.json.grant_types_supported, ['urn:ietf:params:oauth:grant-type:token-exchange', 'client_credentials']);
  t.deepEqual(r.json.token_endpoint_auth_methods_supported, ['tls_client_auth', 'private_key_jwt']);
  t.true(r.json.tls_client_certificate_bound_access_tokens);
});

test('a key the IdP rotated in is fetched on its unknown kid, at most once per 30 s', async (t) => {
  const researcher = env.svid('/agents/researcher');
  const rotated = env.idp.addKey('RS256');
  const subject = () => env.idp.token({ sub: 'alice', groups: ['eng'] }, { key: rotated });
  const fetches = env.idp.jwksFetches();
  // 30 s after the last fetch, a token with the new kid triggers one refetch.
  env.advance(31_000);
  const r = await env.exchange({ subject_token: await subject(), subject_token_type: ID_TOKEN, audience: TOOLS }, researcher);
  t.is(r.status, 200, r.text);
  t.is(env.idp.jwksFetches(), fetches + 1, 'one refetch for the unknown kid');
  const again = await env.exchange({ subject_token: await subject(), subject_token_type: ID_TOKEN, audience: TOOLS }, researcher);
  t.is(again.status, 200);
  t.is(env.idp.jwksFetches(), fetches + 1, 'the known kid needs no fetch');
  t.is(payloadOf(again.json.access_token as string).sub, `${env.idp.issuer}#alice`);
});

// The subject-token verification itself (node:crypto over the issuer's cached JWKS) and the
// short memory of verified tokens, against the local IdP over HTTPS; `now` is passed in.
// Serial (ava runs them before the concurrent tests): their JWKS fetches must not land in
// the middle of the rotation test's fetch count.
function trustedIdp(): TrustedIssuers {
  return new TrustedIssuers([{ issuer: env.idp.issuer, audience: ['tessera'], subject_claim: 'sub', groups_claim: 'groups', jwks_uri: undefined, ca_file: env.idp.caFile }],
    { clock: systemClock, logger: silentLogger });
}
const nowS = () => Math.floor(Date.now() / 1000);

test.serial('IdP tokens verify with every allowed alg (ES256, ES384, RS256, PS256, EdDSA)', async (t) => {
  const keys = (['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const).map((alg) => env.idp.addKey(alg));
  const issuer = trustedIdp().get(env.idp.issuer)!;
  for (const key of keys) {
    const token = await env.idp.token({ sub: `user-${key.alg}`, groups: ['eng'] }, { key });
    const v = await issuer.verify(token, headerOf(token), nowS());
    t.is(v.name, `user-${key.alg}`, key.alg);
    t.deepEqual(v.groups, ['eng']);
    // The same claims under another key of the same alg: forged.
    const forged = await env.idp.token({ sub: `user-${key.alg}` }, { key: env.idp.unpublishedKey(key.alg, key.kid) });
    await t.throwsAsync(issuer.verify(forged, headerOf(forged), nowS()), { message: /signature does not verify/ }, key.alg);
  }
});

test.serial('a verified IdP token is remembered only until its exp (with the leeway) and at most 60 s', async (t) => {
  const trusted = trustedIdp();
  const now = nowS();
  // Expired 30 s ago: still valid within the 60 s leeway, for 30 s more.
  const late = await env.idp.token({ sub: 'carol', groups: ['eng'], iat: now - 400, nbf: now - 400, exp: now - 30 });
  t.is((await trusted.get(env.idp.issuer)!.verify(late, headerOf(late), now)).name, 'carol');
  t.is(trusted.remembered(late, now + 29)?.name, 'carol');
  t.is(trusted.remembered(late, now + 30), undefined, 'past exp + leeway it is forgotten');
  await t.throwsAsync(trusted.get(env.idp.issuer)!.verify(late, headerOf(late), now + 30), { message: /subject_token expired at/ });

  const fresh = await env.idp.token({ sub: 'carol', groups: ['eng'], exp: now + 3600 });
  await trusted.get(env.idp.issuer)!.verify(fresh, headerOf(fresh), now);
  t.is(trusted.remembered(fresh, now + 59)?.name, 'carol');
  t.is(trusted.remembered(fresh, now + 60), undefined, 'verified again after 60 s');
  t.is(trusted.remembered(await env.idp.token({ sub: 'carol', groups: ['eng'] }), now), undefined, 'another token is not remembered');
});

test.serial('a remembered IdP token is verified again once the issuer\'s keys changed (a dropped key fails it)', async (t) => {
  let offset = 0;
  const trusted = new TrustedIssuers([{ issuer: env.idp.issuer, audience: ['tessera'], subject_claim: 'sub', groups_claim: undefined, jwks_uri: undefined, ca_file: env.idp.caFile }],
    { clock: { now: () => Date.now() + offset, sleep: systemClock.sleep }, logger: silentLogger });
  const issuer = trusted.get(env.idp.issuer)!;
  const leaving = env.idp.addKey('ES256');
  const token = await env.idp.token({ sub: 'dave' }, { key: leaving });
  await issuer.verify(token, headerOf(token), nowS());
  t.is(trusted.remembered(token, nowS())?.name, 'dave');
  // The IdP drops the key; a token with a new kid makes the issuer refetch (30 s after the last fetch).
  env.idp.keys.splice(env.idp.keys.indexOf(leaving), 1);
  offset += 31_000;
  const next = await env.idp.token({ sub: 'erin' }, { key: env.idp.addKey('ES256') });
  t.is((await issuer.verify(next, headerOf(next), nowS())).name, 'erin');
  t.is(trusted.remembered(token, nowS()), undefined);
  await t.throwsAsync(issuer.verify(token, headerOf(token), nowS()), { message: /unknown key kid/ });
});
