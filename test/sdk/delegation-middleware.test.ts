import test, { type ExecutionContext } from 'ava';
import * as https from 'node:https';
import { authorizeDelegation } from '../../spiffe/delegation/authorize.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { delegationMiddleware, getDelegation, type DelegationMiddlewareOptions } from '../../spiffe/delegation/middleware.ts';
import type { StaticX509Source } from '../../spiffe/source/static.ts';
import { AuthorizationError } from '../../spiffe/errors.ts';
import { authorizeAny, authorizeID } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';
import { createMtlsHttpsServer } from '../../spiffe/tls/server.ts';
import { close, listen, source } from './fixtures.ts';
import { ISSUER, RESEARCHER, RS, mint, pki, signingKey } from './delegation-fixtures.ts';

const key = signingKey('ES256', 'oauth-1');

/** A resource server on mTLS behind delegationMiddleware; answers with the delegation it saw. */
async function resourceServer(t: ExecutionContext, o: Partial<DelegationMiddlewareOptions> = {}) {
  const p = await pki();
  const mw = delegationMiddleware({ issuer: ISSUER, audience: RS, keys: createStaticDelegationKeys([{ kid: key.kid, key: key.publicKey }]), ...o });
  const server = createMtlsHttpsServer({ source: source(p.ca, 'tools', p.bundles), authorize: authorizeAny() }, (req, res) => mw(req, res, () => {
    const d = getDelegation(req)!;
    res.end(JSON.stringify({ subject: d.subject, actors: d.actors.map((a) => a.id.toString()) }));
  }));
  const port = await listen(server);
  t.teardown(() => close(server));
  const actor = source(p.ca, 'agents/researcher', p.bundles);
  const call = (client: StaticX509Source, token?: string) => new Promise<{ status: number; body: Record<string, unknown>; www: string | undefined }>((resolve, reject) => {
    const agent = createMtlsAgent({ source: client, authorize: authorizeID('spiffe://example.org/tools') });
    const req = https.request({ host: '127.0.0.1', port, path: '/', agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => { agent.destroy(); resolve({ status: res.statusCode!, body: JSON.parse(body) as Record<string, unknown>, www: res.headers['www-authenticate'] }); });
    });
    req.on('error', reject);
    req.end();
  });
  return { p, actor, call };
}

test('a bound token presented on the actor\'s own mTLS connection passes; getDelegation(req) is the verified token', async (t) => {
  const rs = await resourceServer(t, { requireBinding: true, requiredScopes: ['files:read'] });
  const token = await mint({ key, certificate: rs.actor.getX509Svid().certificates[0] });
  const r = await rs.call(rs.actor, token);
  t.is(r.status, 200);
  t.deepEqual(r.body, { subject: 'https://idp.example.org#alice', actors: [RESEARCHER] });
});

test('401 invalid_token with a description when the token is bound to another certificate (stolen token)', async (t) => {
  const rs = await resourceServer(t);
  const token = await mint({ key, certificate: rs.actor.getX509Svid().certificates[0] });
  const thief = source(rs.p.ca, 'agents/thief', rs.p.bundles);
  const r = await rs.call(thief, token);
  t.is(r.status, 401);
  t.regex(r.www!, /^Bearer error="invalid_token", error_description="delegated token is bound to certificate /);
  t.is(r.body.code, 'ERR_DELEGATION_BINDING');
});

test('401 with a bare Bearer challenge without a token, and invalid_token for a malformed one', async (t) => {
  const rs = await resourceServer(t);
  const none = await rs.call(rs.actor);
  t.is(none.status, 401);
  t.is(none.www, 'Bearer');
  const bad = await rs.call(rs.actor, 'not.a.jwt');
  t.is(bad.status, 401);
  t.regex(bad.www!, /error="invalid_token"/);
});

test('403 insufficient_scope naming the missing scope; authorize refusals are 403 too', async (t) => {
  const rs = await resourceServer(t, { requiredScopes: ['files:read', 'files:write'] });
  const r = await rs.call(rs.actor, await mint({ key }));
  t.is(r.status, 403);
  t.regex(r.www!, /^Bearer error="insufficient_scope", error_description="[^"]*files:write[^"]*", scope="files:write"$/);

  const rs2 = await resourceServer(t, { authorize: authorizeDelegation({ actor: 'spiffe://example.org/agents/reviewer' }) });
  const r2 = await rs2.call(rs2.actor, await mint({ key }));
  t.is(r2.status, 403);
  t.is(r2.body.code, 'ERR_DELEGATION_UNAUTHORIZED');
  t.regex(String(r2.body.error_description), /actor spiffe:\/\/example.org\/agents\/researcher is not spiffe:\/\/example.org\/agents\/reviewer/);

  const rs3 = await resourceServer(t, { authorize: () => { throw new AuthorizationError('only reviewers'); } });
  const r3 = await rs3.call(rs3.actor, await mint({ key }));
  t.is(r3.status, 403, 'an AuthorizationError from an mTLS-style authorizer is a refusal too');
  t.is(r3.body.error_description, 'only reviewers');
});

test('503 when the revocation feed is stale: fail closed without telling the client its token is bad', async (t) => {
  const rs = await resourceServer(t, { revocations: { revocationOf: () => { throw new DelegationError('ERR_DELEGATION_FEED_STALE', 'silent', { reason: 'stale' }); } } });
  const r = await rs.call(rs.actor, await mint({ key }));
  t.is(r.status, 503);
  t.is(r.body.code, 'ERR_DELEGATION_FEED_STALE');
});
