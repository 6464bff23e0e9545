import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { RevocationFeed } from '../../spiffe/delegation/revocation-feed.ts';
import { verifyDelegatedToken } from '../../spiffe/delegation/verify.ts';
import { getTxnToken, mintTxnToken, TxnTokenError, txnTokenMiddleware, verifyTxnToken } from '../../spiffe/txn/index.ts';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf, until } from '../oauth/harness.ts';
import { AGENT, BATCH, GATEWAY, LEDGER, startTxnEnv, TD, type TxnEnv } from './txn-harness.ts';

/**
 * The SDK side of transaction tokens (spiffe/txn/) against a real server: mint from a
 * workload (mTLS or JWT-SVID), verify with a typed result, revocation through the one
 * feed, and node:http middleware that holds a request to its tctx.
 */
const scope = sharedScope();
let env: TxnEnv;

test.before(async () => { env = await startTxnEnv(scope); });
test.after.always(() => scope.cleanup());

const gateway = () => ({ tokenEndpoint: env.tokenEndpoint, x509Source: env.sourceOf(env.svid('/services/gateway')), bundleSource: env.bundles });
const verifyOpts = async () => ({ issuer: env.issuer, keys: await env.keys(), trustDomain: 'example.org' });

test('mintTxnToken from an access token over mTLS, verifyTxnToken returns who, what, where from and the chain', async (t) => {
  const access = await env.accessToken();
  const m = await mintTxnToken({ ...gateway(), accessToken: access, scope: ['trade:buy'], details: { ticker: 'MSFT', quantity: 100 }, context: { req_ip: '203.0.113.7' } });
  t.deepEqual(m.scope, ['trade:buy']);
  t.is(m.expiresIn, 60);
  const v = await verifyTxnToken(m.txnToken, { ...await verifyOpts(), requiredScopes: ['trade:buy'] });
  t.is(v.subject, payloadOf(access).sub);
  t.is(v.subjectName, 'alice');
  t.is(v.subjectProfile, 'user');
  t.deepEqual(v.scopes, ['trade:buy']);
  t.is(v.trustDomain.name, 'example.org');
  t.deepEqual(v.requestingWorkloads.map(String), [GATEWAY]);
  t.deepEqual(v.actors.map((a) => a.id.toString()), [AGENT]);
  t.is(v.actors[0]!.claims.agent_model, 'claude-sonnet-4');
  t.deepEqual(v.context, { ticker: 'MSFT', quantity: 100 });
  t.deepEqual(v.requesterContext, { req_ip: '203.0.113.7' });
  t.is(v.grantId, payloadOf(access).grant_id);
  t.deepEqual(v.chain, [payloadOf(access).jti]);

  // A replacement by the ledger, from its own SVID.
  const r = await mintTxnToken({ tokenEndpoint: env.tokenEndpoint, x509Source: env.sourceOf(env.svid('/services/ledger')), bundleSource: env.bundles,
    txnToken: m.txnToken, details: { account: 'acc-42' } });
  const rv = await verifyTxnToken(r.txnToken, await verifyOpts());
  t.is(rv.txn, v.txn);
  t.deepEqual(rv.requestingWorkloads.map(String), [GATEWAY, LEDGER]);
  t.deepEqual(rv.context, { ticker: 'MSFT', quantity: 100, account: 'acc-42' });
});

test('self-initiated with JWT-SVIDs only (client assertion + subject token)', async (t) => {
  const m = await mintTxnToken({ tokenEndpoint: env.tokenEndpoint, jwtSource: env.jwtSourceOf('/services/batch'), bundleSource: env.bundles, trustDomain: 'example.org', scope: ['reports:build'] });
  const v = await verifyTxnToken(m.txnToken, await verifyOpts());
  t.is(v.subject, BATCH);
  t.deepEqual(v.requestingWorkloads.map(String), [BATCH]);
});

test('typed refusals: the server\'s OAuth error, wrong trust domain, access token as txn token and back, expired', async (t) => {
  const access = await env.accessToken('trade:read');
  const e = await t.throwsAsync(mintTxnToken({ ...gateway(), accessToken: access, scope: ['trade:buy'] }), { instanceOf: TxnTokenError });
  t.like(e, { code: 'ERR_OAUTH_INVALID_SCOPE', oauthError: 'invalid_scope', status: 400 });
  t.regex(e!.description!, /^scope trade:buy is not allowed: the subject token grants trade:read/);

  const txn = (await mintTxnToken({ ...gateway(), accessToken: access, scope: ['trade:read'] })).txnToken;
  const o = await verifyOpts();
  await t.throwsAsync(verifyTxnToken(txn, { ...o, trustDomain: 'other.org' }), {
    instanceOf: TxnTokenError, code: 'ERR_TXN_AUDIENCE', message: 'transaction token aud "spiffe://example.org" is not this trust domain spiffe://other.org: it is not valid here',
  });
  await t.throwsAsync(verifyTxnToken(access, o), { code: 'ERR_TXN_INVALID', message: /^the token is an access token \(typ at\+jwt\), not a transaction token/ });
  const asAccess = await t.throwsAsync(verifyDelegatedToken(txn, { issuer: env.issuer, keys: o.keys, audience: TD }));
  t.like(asAccess, { code: 'ERR_DELEGATION_INVALID', reason: 'bad_typ' });
  t.regex(asAccess!.message, /typ "txntoken\+jwt" is a transaction token, not an access token/);
  const expired = await t.throwsAsync(verifyTxnToken(txn, { ...o, now: new Date(Date.now() + 61_000) }));
  t.like(expired, { code: 'ERR_TXN_EXPIRED', reason: 'expired' });
  await t.throwsAsync(verifyTxnToken(txn, { ...o, requiredScopes: ['trade:buy'] }), { code: 'ERR_TXN_SCOPE' });
});

test('revocation-aware: revoking the agent\'s access token refuses its txn tokens through the feed', async (t) => {
  const feed = new RevocationFeed({ issuer: env.issuer, source: env.sourceOf(env.svid('/services/ledger')), bundleSource: env.bundles });
  t.teardown(() => feed.close());
  await feed.ready();
  const access = await env.accessToken();
  const txn = (await mintTxnToken({ ...gateway(), accessToken: access, scope: ['trade:buy'] })).txnToken;
  const o = { ...await verifyOpts(), revocations: feed };
  t.is((await verifyTxnToken(txn, o)).txn, payloadOf(txn).txn);
  const r = await env.request('POST', '/oauth2/revoke', { params: { token: access }, as: env.svid('/agents/researcher') });
  t.is(r.status, 200, r.text);
  const err = await until('txn token refused', async () => verifyTxnToken(txn, o).then(() => undefined, (e: TxnTokenError) => e));
  t.like(err, { code: 'ERR_TXN_REVOKED', reason: 'revoked' });
  t.regex(err.message, new RegExp(`revoked \\(jti ${payloadOf(access).jti}`));
});

test('middleware: the Txn-Token header is verified and the request must agree with tctx', async (t) => {
  const o = await verifyOpts();
  const server: Server = createServer((req, res) => txnTokenMiddleware({
    ...o, contextOf: (rq) => {
      const q = new URL(rq.url!, 'http://x').searchParams;
      return { ticker: q.get('ticker') ?? undefined, quantity: q.has('quantity') ? Number(q.get('quantity')) : undefined };
    },
  })(req, res, () => { res.end(JSON.stringify({ txn: getTxnToken(req)!.txn })); }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const call = (path: string, headers: Record<string, string | string[]>) => new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(b) }));
    }).on('error', reject).end();
  });
  const access = await env.accessToken();
  const txn = (await mintTxnToken({ ...gateway(), accessToken: access, scope: ['trade:buy'], details: { ticker: 'MSFT', quantity: 100 } })).txnToken;

  const ok = await call('/buy?ticker=MSFT&quantity=100', { 'txn-token': txn });
  t.is(ok.status, 200);
  t.is(ok.json.txn, payloadOf(txn).txn);
  const more = await call('/buy?ticker=MSFT&quantity=1000', { 'txn-token': txn });
  t.is(more.status, 403);
  t.like(more.json, { error: 'txn_context_mismatch', code: 'ERR_TXN_CONTEXT' });
  t.regex(String(more.json.error_description), /^request contradicts the transaction context of txn \S+ \(quantity: request 1000, tctx 100\)$/);
  const none = await call('/buy?ticker=MSFT&quantity=100', {});
  t.like(none, { status: 401, json: { error: 'invalid_token', error_description: 'request has no Txn-Token header' } });
  const bearer = await call('/buy?ticker=MSFT', { 'txn-token': access });
  t.like(bearer, { status: 401, json: { code: 'ERR_TXN_INVALID' } });
  const two = await call('/buy?ticker=MSFT', { 'txn-token': [txn, txn] });
  t.like(two, { status: 401, json: { error_description: 'request carries more than one Txn-Token; the header must hold exactly one' } });
});
