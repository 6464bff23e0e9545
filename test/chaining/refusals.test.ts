import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { readPrivateKey } from '../../server/ca/keyfiles.ts';
import { signChainingGrant, type ChainingGrantClaims } from '../../server/oauth/chaining/grant.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { exchangeToken } from '../../spiffe/delegation/exchange.ts';
import { requestCrossDomainGrant } from '../../spiffe/chaining/cross-domain.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { loginWithCode } from '../helpers/oidc-flow.ts';
import { sharedScope } from '../helpers/server.ts';
import { httpsCall, type HttpResult } from '../oauth/harness.ts';
import { B_ISSUER, FILES, headerOf, ID, payloadOf, startDomains, TICKETS, type Domains, type Workload } from './harness.ts';

/**
 * What each side refuses, with the RFC 6749 §5.2 JSON a client gets: the home side a
 * grant for a server it is not configured for or wider than the subject token; the
 * foreign side (RFC 7523 §3.1: invalid_grant) a grant for another audience, from an
 * untrusted issuer, replayed, expired, forged, of another type or presented by
 * another client, and a redemption wider than the grant.
 */
const scope = sharedScope();
let d: Domains;
let idToken: string;
let planner: Workload;
let helper: Workload;

test.before(async () => {
  d = await startDomains(scope);
  await d.a.policy({ id: 'pol_a_planner', actors: [ID.planner], groups: ['eng'], audiences: [FILES, B_ISSUER], scopes: ['files:read', 'tickets:read', 'tickets:write'], maxDepth: 2 });
  await d.a.policy({ id: 'pol_a_rogue', actors: [ID.rogue], groups: ['eng'], audiences: [B_ISSUER], scopes: ['tickets:read'] });
  await d.b.policy({ id: 'pol_b_planner', actors: [ID.planner], groups: ['eng'], audiences: [TICKETS], scopes: ['tickets:read', 'tickets:write'] });
  idToken = (await loginWithCode(d.op, { user: 'alice' })).idToken;
  planner = d.a.workload('/agents/planner');
  helper = d.a.workload('/agents/helper');
});
test.after.always(() => scope.cleanup());

const grantFor = async (o: { scope?: string[]; who?: Workload } = {}) => (await requestCrossDomainGrant({
  tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, audience: B_ISSUER, resource: [TICKETS], scope: o.scope ?? ['tickets:read'], x509Source: (o.who ?? planner).x509,
})).grant;

/** POST to b.test's token endpoint as `who` (JWT-SVID client_assertion), the raw HTTP answer. */
async function redeemRaw(grant: string, who: Workload = planner, extra: Record<string, string> = {}): Promise<HttpResult> {
  const assertion = (await who.jwt.fetchJwtSvid({ audience: B_ISSUER })).token;
  return httpsCall(d.b.address, certificatesToPem(d.b.server.ca.x509Authorities()), 'POST', '/oauth2/token', {
    params: {
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe', client_assertion: assertion, ...extra,
    },
  });
}
// The assertion parameter above is replaced by `grant`: kept apart so the client assertion is always fresh.
const redeem = (grant: string, who: Workload = planner, extra: Record<string, string> = {}) => redeemRaw(grant, who, { assertion: grant, ...extra });

function refused(t: { is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp): void }, r: HttpResult, error: string, description: RegExp): void {
  t.is(r.status, error === 'invalid_client' ? 401 : 400, r.text);
  t.is(r.headers['content-type'], 'application/json');
  t.is(r.json.error, error, r.text);
  t.regex(String(r.json.error_description), description);
}

/** A grant with these claims changed, signed with a.test's real current key (what a compromised or buggy home server could send). */
async function craft(change: (c: ChainingGrantClaims) => ChainingGrantClaims, key?: { kid: string; privateKey: ReturnType<typeof readPrivateKey> }): Promise<string> {
  const real = await grantFor();
  const kid = headerOf(real).kid as string;
  const k = key ?? { kid, privateKey: readPrivateKey(join(d.a.dataDir, 'oauth', 'keys', `${kid}.key`)) };
  return signChainingGrant(change({ ...payloadOf(real) as ChainingGrantClaims, jti: `tok_crafted${Math.random().toString(36).slice(2)}` }), k);
}

test('home: a grant for a foreign server not in oauth.chaining.audiences is refused (invalid_target)', async (t) => {
  const e = await t.throwsAsync(requestCrossDomainGrant({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, audience: 'https://as.c.test', x509Source: planner.x509,
  }), { instanceOf: DelegationError });
  t.is(e!.oauthError, 'invalid_target');
  t.is(e!.status, 400);
  t.regex(e!.description!, /audience "https:\/\/as\.c\.test" is not a foreign authorization server this server issues grants for \(oauth\.chaining\.audiences: https:\/\/as\.b\.test\)/);
});

test('home: a grant wider than the subject token is refused (invalid_scope)', async (t) => {
  const delegated = await exchangeToken({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
    audience: [FILES, B_ISSUER], scope: ['tickets:read'], x509Source: planner.x509, bundleSource: d.bundles,
  });
  const e = await t.throwsAsync(requestCrossDomainGrant({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: delegated.accessToken, audience: B_ISSUER, scope: ['tickets:read', 'tickets:write'], x509Source: planner.x509,
  }), { instanceOf: DelegationError });
  t.is(e!.oauthError, 'invalid_scope');
  t.regex(e!.description!, /scope tickets:write is not allowed: the subject token grants tickets:read/);
});

test('foreign: a grant is single use (replay → invalid_grant)', async (t) => {
  const grant = await grantFor();
  const first = await redeem(grant);
  t.is(first.status, 200, first.text);
  refused(t, await redeem(grant), 'invalid_grant', /^assertion tok_[\w-]+ of https:\/\/as\.a\.test was already redeemed: grants are single use/);
});

test('foreign: a redemption wider than the grant is refused (invalid_scope)', async (t) => {
  refused(t, await redeem(await grantFor(), planner, { scope: 'tickets:read tickets:write' }), 'invalid_scope',
    /scope tickets:write is not allowed: the subject token grants tickets:read; policy pol_b_planner allows tickets:read tickets:write/);
});

test('foreign: a grant addressed to another authorization server is refused (invalid_grant)', async (t) => {
  refused(t, await redeem(await craft((c) => ({ ...c, aud: 'https://as.c.test' }))), 'invalid_grant',
    /^assertion aud "https:\/\/as\.c\.test" does not name this authorization server \(https:\/\/as\.b\.test\)/);
});

test('foreign: a grant from an issuer that is not a trusted domain is refused (invalid_grant)', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  refused(t, await redeem(await craft((c) => ({ ...c, iss: 'https://as.evil.test' }), { kid: 'evil', privateKey })), 'invalid_grant',
    /^assertion issuer "https:\/\/as\.evil\.test" is not a trusted domain \(oauth\.chaining\.trusted_domains: https:\/\/as\.a\.test\)/);
});

test('foreign: an expired grant is refused (invalid_grant), beyond the leeway', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  refused(t, await redeem(await craft((c) => ({ ...c, iat: now - 200, nbf: now - 200, exp: now - 100 }))), 'invalid_grant',
    /^assertion expired at \d{4}-[\d-]+T[\d:.]+Z \(now [^,]+, leeway 30s\)/);
});

test('foreign: a grant whose signature does not verify is refused (invalid_grant)', async (t) => {
  const [h, , s] = (await grantFor()).split('.');
  const altered = Buffer.from(JSON.stringify({ ...payloadOf(await grantFor()), scope: 'tickets:read tickets:write' })).toString('base64url');
  refused(t, await redeem(`${h}.${altered}.${s}`), 'invalid_grant', /^assertion signature does not verify with key \S+ of https:\/\/as\.a\.test \(forged or altered\)/);
  // Signed by a key a.test never published, under its kid: the same refusal.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = headerOf(await grantFor()).kid as string;
  refused(t, await redeem(await craft((c) => c, { kid, privateKey })), 'invalid_grant', /signature does not verify/);
});

test('foreign: a token of another type is not a grant (typ), and a grant is redeemed only by the client it names', async (t) => {
  const delegated = await exchangeToken({
    tokenEndpoint: d.a.tokenEndpoint, subjectToken: idToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
    audience: [B_ISSUER], scope: ['tickets:read'], x509Source: planner.x509, bundleSource: d.bundles,
  });
  refused(t, await redeem(delegated.accessToken), 'invalid_grant', /^assertion typ "at\+jwt" is not oauth-id-jag\+jwt/);
  refused(t, await redeem(await grantFor(), helper), 'invalid_grant',
    /^assertion was issued to client spiffe:\/\/a\.test\/agents\/planner, but spiffe:\/\/a\.test\/agents\/helper presented it/);
});

test('foreign: an agent b.test has no policy for is refused (unauthorized_client), and a client without credentials (invalid_client)', async (t) => {
  const rogue = d.a.workload('/agents/rogue');
  refused(t, await redeem(await grantFor({ who: rogue }), rogue), 'unauthorized_client',
    /^no delegation policy of https:\/\/as\.b\.test admits this cross-domain grant from https:\/\/as\.a\.test: no delegation policy lets spiffe:\/\/a\.test\/agents\/rogue act for/);
  const r = await httpsCall(d.b.address, certificatesToPem(d.b.server.ca.x509Authorities()), 'POST', '/oauth2/token', {
    params: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await grantFor() },
  });
  refused(t, r, 'invalid_client', /client authentication is required/);
  // Every refusal above is audited on b.test under the new event name.
  const refusals = d.b.logs.filter((l) => l.event === 'oauth.chaining_grant_refused');
  t.true(refusals.some((l) => l.error === 'unauthorized_client' && l.side === 'foreign'));
});
