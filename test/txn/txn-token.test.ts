import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { headerOf, payloadOf, until } from '../oauth/harness.ts';
import { ACCESS_TOKEN, AGENT, BATCH, GATEWAY, JWT, LEDGER, oauthError, startTxnEnv, TD, TXN, type TxnEnv } from './txn-harness.ts';

/**
 * The Txn-Token service on the one token endpoint (draft-ietf-oauth-transaction-tokens,
 * docs/transaction-tokens.md), against a real in-process server: issuance from an access
 * token and from a workload's own identity, replacement down the call chain, and every
 * refusal with its RFC 6749 error and description.
 */
const scope = sharedScope();
let env: TxnEnv;

test.before(async () => { env = await startTxnEnv(scope); });
test.after.always(() => scope.cleanup());

const fromAccess = async (extra: Record<string, string> = {}) => env.txn({
  subject_token: await env.accessToken(), subject_token_type: ACCESS_TOKEN, audience: TD, scope: 'trade:buy',
  request_context: JSON.stringify({ req_ip: '203.0.113.7', authn: 'urn:ietf:rfc:8705' }),
  request_details: JSON.stringify({ action: 'BUY', ticker: 'MSFT', quantity: '100' }), ...extra,
}, env.svid('/services/gateway'));

test('a gateway exchanges the access token it received for a txn token: narrower, short-lived, act carried over, req_wl = the gateway', async (t) => {
  const access = await env.accessToken();
  const r = await env.txn({
    subject_token: access, subject_token_type: ACCESS_TOKEN, audience: TD, scope: 'trade:buy',
    request_context: JSON.stringify({ req_ip: '203.0.113.7' }), request_details: JSON.stringify({ ticker: 'MSFT', quantity: '100' }),
  }, env.svid('/services/gateway'));
  t.is(r.status, 200, r.text);
  t.like(r.json, { issued_token_type: TXN, token_type: 'N_A', scope: 'trade:buy' });
  t.is(r.json.refresh_token, undefined);
  const token = r.json.access_token as string;
  t.like(headerOf(token), { alg: 'ES256', typ: 'txntoken+jwt' });
  t.regex(headerOf(token).kid, /^oak_/, 'signed by the token-signing key (same JWKS as delegated tokens)');
  const c = payloadOf(token);
  const a = payloadOf(access);
  t.is(c.iss, env.issuer);
  t.is(c.aud, TD);
  t.regex(c.txn, /^[0-9a-f-]{36}$/);
  t.is(c.sub, a.sub);
  t.deepEqual(c.subject, a.subject);
  t.is(c.scope, 'trade:buy', 'narrower than the access token (trade:read trade:buy)');
  t.is(c.req_wl, GATEWAY);
  t.deepEqual(c.act, a.act, 'the agent chain of the access token');
  t.is(c.act.sub, AGENT);
  t.deepEqual(c.rctx, { req_ip: '203.0.113.7' });
  t.deepEqual(c.tctx, { ticker: 'MSFT', quantity: '100' });
  t.is(c.grant_id, a.grant_id);
  t.deepEqual(c.chain, [a.jti]);
  t.not(c.jti, a.jti);
  t.is(c.exp - c.iat, 60, 'oauth.txn_token_ttl default');
  t.is(r.json.expires_in, 60);
  t.is(c.cnf, undefined);
  t.is(c.client_id, undefined);

  const ev = await until('txn audit log', () => env.logs.find((l) => l.event === 'oauth.token_exchange' && l.jti === c.jti));
  t.like(ev, { token_type: 'txn_token', txn: c.txn, requester: GATEWAY, subject_token: 'access_token', policy: 'pol_gateway', correlation_id: c.txn });
  t.false(JSON.stringify(env.logs).includes(token), 'the token itself is never logged');
});

test('self-initiated: a batch job presents its own JWT-SVID; sub and act are the job', async (t) => {
  const job = env.svid('/services/batch');
  const r = await env.txn({ subject_token: await env.jwtSvid('/services/batch', [env.tokenEndpoint]), subject_token_type: JWT, audience: TD, scope: 'reports:build' }, job);
  t.is(r.status, 200, r.text);
  const c = payloadOf(r.json.access_token as string);
  t.is(c.sub, BATCH);
  t.is(c.req_wl, BATCH);
  t.like(c.act, { sub: BATCH });
  t.deepEqual(c.subject, { iss: env.issuer, sub: BATCH, groups: [] });
  t.is(c.exp - c.iat, 30, 'pol_batch max_ttl');
  t.deepEqual(c.chain, []);

  const other = await env.txn({ subject_token: await env.jwtSvid('/services/gateway', [env.tokenEndpoint]), subject_token_type: JWT, audience: TD, scope: 'reports:build' }, job);
  oauthError(t, other, 400, 'invalid_request', /^subject_token is a JWT-SVID of spiffe:\/\/example.org\/services\/gateway, but the requester is spiffe:\/\/example.org\/services\/batch/);
});

test('replacement down the call chain: adds tctx, narrows nothing it may not, keeps txn, sub, aud and act, appends req_wl', async (t) => {
  const first = await fromAccess();
  t.is(first.status, 200, first.text);
  const old = payloadOf(first.json.access_token as string);
  const r = await env.txn({ subject_token: first.json.access_token as string, subject_token_type: TXN, audience: TD,
    request_details: JSON.stringify({ ticker: 'MSFT', account: 'acc-42' }) }, env.svid('/services/ledger'));
  t.is(r.status, 200, r.text);
  const c = payloadOf(r.json.access_token as string);
  for (const k of ['txn', 'sub', 'aud', 'grant_id', 'subject', 'act', 'rctx']) t.deepEqual(c[k], old[k], k);
  t.is(c.scope, 'trade:buy');
  t.deepEqual(c.tctx, { action: 'BUY', ticker: 'MSFT', quantity: '100', account: 'acc-42' });
  t.is(c.req_wl, `${GATEWAY},${LEDGER}`);
  t.deepEqual(c.chain, [...old.chain, old.jti]);
  t.true(c.exp <= old.exp, 'never outlives the token it replaces');
});

test('refusals of the Txn-Token service name what was wrong', async (t) => {
  const access = await env.accessToken();
  const gateway = env.svid('/services/gateway');
  const base = { subject_token: access, subject_token_type: ACCESS_TOKEN, audience: TD, scope: 'trade:buy' };

  oauthError(t, await env.txn({ ...base, audience: 'spiffe://other.org' }, gateway), 400, 'invalid_target',
    /^audience "spiffe:\/\/other.org" is not this trust domain: a transaction token is valid only inside spiffe:\/\/example.org/);
  oauthError(t, await env.txn({ ...base, scope: 'trade:buy files:read' }, gateway), 400, 'invalid_scope',
    /^scope files:read is not allowed: the subject token grants trade:read trade:buy; policy pol_gateway allows trade:read trade:buy/);
  const narrow = await env.accessToken('trade:read');
  oauthError(t, await env.txn({ ...base, subject_token: narrow }, gateway), 400, 'invalid_scope',
    /^scope trade:buy is not allowed: the subject token grants trade:read/);
  oauthError(t, await env.txn(base), 401, 'invalid_client', /^client authentication is required: present an X.509-SVID/);
  oauthError(t, await env.txn(base, env.svid('/services/stranger')), 400, 'unauthorized_client',
    /^no delegation policy lets spiffe:\/\/example.org\/services\/stranger request transaction tokens for https:\/\/.*#alice/);
  oauthError(t, await env.txn({ ...base, scope: undefined } as never, gateway), 400, 'invalid_scope', /^scope is required/);
  oauthError(t, await env.txn({ ...base, request_details: '{"sub":"x"}' }, gateway), 400, 'invalid_request',
    /^request_details may not carry member sub: it is a claim of the transaction token itself/);
  oauthError(t, await env.txn({ ...base, request_details: '[1]' }, gateway), 400, 'invalid_request', /^request_details must be a JSON object/);
  oauthError(t, await env.txn({ ...base, resource: 'https://trading.example.org' }, gateway), 400, 'invalid_target', /^resource is not a transaction-token parameter/);
});

test('replacement refusals: widened scope, changed context, changed sub, another trust domain', async (t) => {
  const first = await fromAccess({ scope: 'trade:buy' });
  const txn = first.json.access_token as string;
  const ledger = env.svid('/services/ledger');
  const rep = (p: Record<string, string>) => env.txn({ subject_token: txn, subject_token_type: TXN, audience: TD, ...p }, ledger);

  oauthError(t, await rep({ scope: 'trade:buy trade:read' }), 400, 'invalid_scope',
    /^scope trade:read is not in the transaction token's scope trade:buy: a replacement may narrow the scope, never widen it/);
  oauthError(t, await rep({ request_details: JSON.stringify({ quantity: '1000' }) }), 400, 'invalid_request',
    /^request_details.quantity would change tctx.quantity from "100" to "1000": a replacement may add to tctx, never change it/);
  oauthError(t, await rep({ request_details: JSON.stringify({ sub: 'https://idp.example#bob' }) }), 400, 'invalid_request',
    /^request_details may not carry member sub: a replacement keeps the sub of the transaction token it replaces \(https:\/\/.*#alice\)/);
  oauthError(t, await rep({ request_context: JSON.stringify({ txn: 'other' }) }), 400, 'invalid_request',
    /^request_context may not carry member txn: a replacement keeps the txn of the transaction token it replaces/);
  oauthError(t, await rep({ audience: 'spiffe://other.org' }), 400, 'invalid_target', /is not this trust domain/);
  // The ledger's own policy is narrower than the gateway's: it bounds the replacement too.
  const wide = await fromAccess({ scope: 'trade:read trade:buy' });
  oauthError(t, await env.txn({ subject_token: wide.json.access_token as string, subject_token_type: TXN, audience: TD }, ledger), 400, 'invalid_scope',
    /^scope trade:read is not allowed: the subject token grants trade:read trade:buy; policy pol_ledger allows trade:buy/);
});

test('a txn token is never an access token, and an access token is never a txn token', async (t) => {
  const txn = (await fromAccess()).json.access_token as string;
  // As the subject of an ordinary exchange (an access token is expected there).
  const ex = await env.exchange({ subject_token: txn, subject_token_type: ACCESS_TOKEN, audience: 'https://trading.example.org' }, env.svid('/agents/researcher'));
  oauthError(t, ex, 400, 'invalid_request', /^subject_token typ "txntoken\+jwt" is not at\+jwt/);
  // At introspection and at the budget endpoint (resource servers' views of access tokens).
  const rs = env.svid('/services/gateway');
  t.deepEqual((await env.request('POST', '/oauth2/introspect', { as: rs, params: { token: txn } })).json, { active: false });
  oauthError(t, await env.request('POST', '/oauth2/consume', { as: rs, params: { token: txn, operation: 'x' } }), 400, 'invalid_grant', /typ "txntoken\+jwt" is not at\+jwt/);
  // An access token presented as the txn token to replace.
  const access = await env.accessToken();
  oauthError(t, await env.txn({ subject_token: access, subject_token_type: TXN, audience: TD }, env.svid('/services/ledger')), 400, 'invalid_request',
    /^subject_token is an access token \(typ at\+jwt\), not a transaction token \(typ txntoken\+jwt\)/);
});

test('revoking the access token kills its txn tokens: no replacement', async (t) => {
  const access = await env.accessToken();
  const first = await env.txn({ subject_token: access, subject_token_type: ACCESS_TOKEN, audience: TD, scope: 'trade:buy' }, env.svid('/services/gateway'));
  t.is(first.status, 200, first.text);
  const revoked = await env.request('POST', '/oauth2/revoke', { params: { token: access }, as: env.svid('/agents/researcher') });
  t.is(revoked.status, 200, revoked.text);
  const again = await env.txn({ subject_token: first.json.access_token as string, subject_token_type: TXN, audience: TD }, env.svid('/services/ledger'));
  oauthError(t, again, 400, 'invalid_request', new RegExp(`^subject_token \\(a transaction token\\) is revoked \\(jti ${payloadOf(access).jti}`));
  oauthError(t, await env.txn({ subject_token: access, subject_token_type: ACCESS_TOKEN, audience: TD, scope: 'trade:buy' }, env.svid('/services/gateway')),
    400, 'invalid_request', /^subject_token tok_\S+ is revoked/);
});

test('metadata lists the txn token type and no new grant type', async (t) => {
  const r = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.true((r.json.token_types_supported as string[]).includes(TXN));
  t.deepEqual(r.json.grant_types_supported, ['urn:ietf:params:oauth:grant-type:token-exchange', 'client_credentials']);
});
