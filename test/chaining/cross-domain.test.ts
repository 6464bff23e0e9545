import test from 'ava';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { exchangeToken } from '../../spiffe/delegation/exchange.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { verifyDelegatedToken } from '../../spiffe/delegation/verify.ts';
import { ID_JAG_TOKEN_TYPE, redeemCrossDomainGrant, requestCrossDomainGrant } from '../../spiffe/chaining/cross-domain.ts';
import { loginWithCode } from '../helpers/oidc-flow.ts';
import { sharedScope } from '../helpers/server.ts';
import { httpsCall, until } from '../oauth/harness.ts';
import { A_ISSUER, B_ISSUER, FILES, headerOf, ID, payloadOf, startDomains, TICKETS, type Domain, type Domains } from './harness.ts';

/**
 * Identity chaining across trust domains, end to end: alice signs in at the enterprise
 * IdP (oidc-provider, authorization code + PKCE); agents of a.test get a grant from
 * a.test's authorization server addressed to b.test's; a.test's agent presents it at
 * b.test and gets a b.test delegated token whose act chain names the a.test agents,
 * which a b.test resource server verifies with the SDK.
 */
const scope = sharedScope();
let d: Domains;

test.before(async () => {
  d = await startDomains(scope);
  await d.a.policy({
    id: 'pol_a_planner', actors: [ID.planner], groups: ['eng'], audiences: [FILES, B_ISSUER],
    scopes: ['files:read', 'tickets:read', 'tickets:write'], maxDepth: 2, mayDelegateTo: [ID.helper],
  });
  await d.a.policy({ id: 'pol_a_helper', actors: [ID.helper], groups: ['eng'], audiences: [B_ISSUER], scopes: ['tickets:read'], maxDepth: 2 });
  // b.test's own policies admit a.test's agents (the actor patterns name the foreign SPIFFE IDs).
  await d.b.policy({
    id: 'pol_b_planner', actors: [ID.planner], groups: ['eng'], audiences: [TICKETS], scopes: ['tickets:read', 'tickets:write'],
    maxDepth: 2, mayDelegateTo: ['spiffe://a.test/agents/*'],
  });
  await d.b.policy({ id: 'pol_b_helper', actors: [ID.helper], groups: ['eng'], audiences: [TICKETS], scopes: ['tickets:read'], maxDepth: 2 });
});
test.after.always(() => scope.cleanup());

const jwksOf = async (x: Domain) => (await httpsCall(x.address, certificatesToPem(x.server.ca.x509Authorities()), 'GET', '/oauth2/jwks')).json;

test('ID-JAG profile: the user\'s ID token and a.test\'s agent become a grant for b.test, redeemed for a b.test token naming the agent', async (t) => {
  const { idToken } = await loginWithCode(d.op, { user: 'alice' });
  const planner = d.a.workload('/agents/planner', { agent_model: 'planner-1', agent_provider: 'anthropic' });

  const g = await requestCrossDomainGrant({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, audience: B_ISSUER, resource: [TICKETS], scope: ['tickets:read'],
    x509Source: planner.x509,
  });
  t.deepEqual(g.scope, ['tickets:read']);
  t.true(g.expiresIn > 0 && g.expiresIn <= 60);
  t.like(headerOf(g.grant), { typ: 'oauth-id-jag+jwt', alg: 'ES256' });
  const gp = payloadOf(g.grant);
  t.like(gp, {
    iss: A_ISSUER, aud: B_ISSUER, sub: `${d.op.issuer}#alice`, client_id: ID.planner, scope: 'tickets:read', resource: [TICKETS],
    subject: { iss: d.op.issuer, sub: 'alice', groups: ['eng'] },
    act: { sub: ID.planner, iss: 'spiffe://a.test', sub_profile: 'ai_agent', agent_model: 'planner-1' },
  });
  t.regex(gp.jti, /^tok_/);
  t.is(gp.auth_time, payloadOf(idToken).auth_time, 'auth_time carried over from the ID token');

  const tok = await redeemCrossDomainGrant({
    issuer: B_ISSUER, tokenEndpoint: d.b.tokenEndpoint, grant: g.grant, jwtSource: planner.jwt, bundleSource: d.bundles, trustDomain: 'b.test',
  });
  t.deepEqual(tok.scope, ['tickets:read']);
  const bp = payloadOf(tok.accessToken);
  t.like(bp, {
    iss: B_ISSUER, aud: [TICKETS], sub: `${d.op.issuer}#alice`, client_id: ID.planner,
    act: { sub: ID.planner, iss: 'spiffe://a.test', agent_model: 'planner-1' },
    chained: { iss: A_ISSUER, jti: gp.jti, grant_id: gp.grant_id },
  });
  t.is(bp.cnf, undefined, 'a client from another trust domain authenticated by JWT-SVID: a bearer token');

  // A b.test resource server verifies it with the SDK and b.test's keys.
  const v = await verifyDelegatedToken(tok.accessToken, { issuer: B_ISSUER, keys: createStaticDelegationKeys(await jwksOf(d.b) as { keys: unknown[] }), audience: TICKETS, requiredScopes: ['tickets:read'] });
  t.deepEqual(v.actors.map((x) => x.id.toString()), [ID.planner]);

  // Audited on both sides with the new event names; never the grant itself.
  const issued = await until('issued event', () => d.a.logs.find((l) => l.event === 'oauth.chaining_grant_issued' && l.jti === gp.jti));
  t.like(issued, { audience: B_ISSUER, policy: 'pol_a_planner', actor_auth: 'mtls' });
  const redeemed = await until('redeemed event', () => d.b.logs.find((l) => l.event === 'oauth.chaining_grant_redeemed' && l.home_jti === gp.jti));
  t.like(redeemed, { home_issuer: A_ISSUER, policy: 'pol_b_planner', client_auth: 'private_key_jwt', jti: bp.jti });
  const rows = await until('audit row in b', async () => (await d.b.server.store.listAudit({ event: 'oauth.chaining_grant_redeemed' })).find((r) => r.data.home_jti === gp.jti));
  t.is(rows.subject, `${d.op.issuer}#alice`);
  t.false(JSON.stringify(d.a.logs).includes(g.grant));
});

test('a delegated token handed to a sub-agent chains across: b.test\'s token nests both a.test agents in act', async (t) => {
  const { idToken } = await loginWithCode(d.op, { user: 'alice' });
  const planner = d.a.workload('/agents/planner', { agent_model: 'planner-1', agent_provider: 'anthropic' });
  const helper = d.a.workload('/agents/helper', { agent_model: 'helper-1', agent_provider: 'anthropic' });
  const delegated = await exchangeToken({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
    audience: [FILES, B_ISSUER], scope: ['files:read', 'tickets:read'], x509Source: planner.x509, bundleSource: d.bundles,
  });
  // The helper asks for a grant with the planner's token (may_delegate_to lets the planner hand it on).
  const g = await requestCrossDomainGrant({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: delegated.accessToken, audience: B_ISSUER, resource: [TICKETS], x509Source: helper.x509,
  });
  t.deepEqual(g.scope, ['tickets:read'], 'the subject token\'s scope ∩ the helper\'s policy');
  const gp = payloadOf(g.grant);
  t.is(gp.grant_id, payloadOf(delegated.accessToken).grant_id, 'the home grant the chain belongs to');
  t.like(gp.act, { sub: ID.helper, act: { sub: ID.planner } });

  const tok = await redeemCrossDomainGrant({
    issuer: B_ISSUER, tokenEndpoint: d.b.tokenEndpoint, grant: g.grant, jwtSource: helper.jwt, bundleSource: d.bundles, trustDomain: 'b.test',
  });
  const bp = payloadOf(tok.accessToken);
  t.like(bp.act, {
    sub: ID.helper, iss: 'spiffe://a.test', agent_model: 'helper-1',
    act: { sub: ID.planner, iss: 'spiffe://a.test', agent_model: 'planner-1' },
  });
  t.is(bp.client_id, ID.helper);
  const v = await verifyDelegatedToken(tok.accessToken, { issuer: B_ISSUER, keys: createStaticDelegationKeys(await jwksOf(d.b) as { keys: unknown[] }), audience: TICKETS });
  t.deepEqual(v.actors.map((x) => x.id.toString()), [ID.helper, ID.planner]);
});

test('metadata advertises the grants: id-jag issued by a.test, jwt-bearer accepted by b.test', async (t) => {
  const meta = async (x: Domain) => (await httpsCall(x.address, certificatesToPem(x.server.ca.x509Authorities()), 'GET', '/.well-known/oauth-authorization-server')).json;
  const [ma, mb] = await Promise.all([meta(d.a), meta(d.b)]);
  t.true((ma.token_types_supported as string[]).includes(ID_JAG_TOKEN_TYPE));
  t.false((ma.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:jwt-bearer'));
  t.true((mb.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:jwt-bearer'));
});
