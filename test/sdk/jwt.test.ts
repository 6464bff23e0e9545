import test from 'ava';
import * as http from 'node:http';
import { SignJWT, UnsecuredJWT } from 'jose';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import type { JwtSvid } from '../../spiffe/jwtsvid/types.ts';
import { createJwtTokenCache } from '../../spiffe/jwtsvid/token-cache.ts';
import { getJwtPeer, jwtMiddleware } from '../../spiffe/jwtsvid/http-validator.ts';
import type { JwtSvidParams, JwtSvidSource } from '../../spiffe/source/types.ts';
import { authorizeAgent } from '../../spiffe/tls/authorizers.ts';
import { bundleSetOf, jwtKey } from '../helpers/pki.ts';
import { close, listen } from './fixtures.ts';

const td = TrustDomain.parse('example.org');
const key = jwtKey('ES256');
const bundles = bundleSetOf([], [{ td, key }]);
const me = SpiffeId.parse('spiffe://example.org/planner');
const inFiveMinutes = () => new Date(Date.now() + 300_000);

/** A service behind the JWT middleware that answers with the caller it authenticated. */
async function service(t: import('ava').ExecutionContext) {
  const mw = jwtMiddleware({ audience: 'billing', validator: bundles, authorize: authorizeAgent({ agent_provider: 'anthropic' }) });
  const server = http.createServer((req, res) => mw(req, res, () => {
    const p = getJwtPeer(req)!;
    res.end(JSON.stringify({ id: p.id.toString(), claims: p.claims }));
  }));
  const port = await listen(server);
  t.teardown(() => close(server));
  return async (token?: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: await r.json() as Record<string, unknown>, www: r.headers.get('www-authenticate') };
  };
}

const good = (o: { audience?: string[]; claims?: Record<string, string> } = {}) => signJwtSvid({
  id: me, audience: o.audience ?? ['billing'], expiresAt: inFiveMinutes(), key,
  claims: o.claims ?? { agent_model: 'claude-x', agent_provider: 'anthropic', agent_instance_id: 'inst_1' },
});

test('the HTTP validator accepts a valid Bearer JWT-SVID and exposes the caller\'s ID and agent claims', async (t) => {
  const call = await service(t);
  const r = await call(await good());
  t.is(r.status, 200);
  t.deepEqual(r.body, { id: 'spiffe://example.org/planner', claims: { agent_model: 'claude-x', agent_provider: 'anthropic', agent_instance_id: 'inst_1' } });
});

test('rejects a JWT-SVID with the wrong audience', async (t) => {
  const call = await service(t);
  const r = await call(await good({ audience: ['payroll'] }));
  t.is(r.status, 401);
  t.is(r.body.error, 'ERR_JWTSVID_AUDIENCE');
  t.regex(r.www!, /^Bearer error="invalid_token"/);
});

test('rejects a JWT with alg none', async (t) => {
  const call = await service(t);
  const token = new UnsecuredJWT({ agent_provider: 'anthropic' }).setSubject(me.toString()).setAudience('billing').setExpirationTime('5m').encode();
  const r = await call(token);
  t.is(r.status, 401);
  t.is(r.body.reason, 'unsupported_algorithm');
});

test('rejects a JWT-SVID without exp', async (t) => {
  const call = await service(t);
  const token = await new SignJWT({ agent_provider: 'anthropic' }).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setSubject(me.toString()).setAudience(['billing']).setIssuedAt().sign(key.privateKey);
  const r = await call(token);
  t.is(r.status, 401);
  t.is(r.body.reason, 'missing_exp');
});

test('rejects an expired JWT-SVID and one signed by a key outside the bundle', async (t) => {
  const call = await service(t);
  const expired = await signJwtSvid({ id: me, audience: ['billing'], key, issuedAt: new Date(Date.now() - 600_000), expiresAt: new Date(Date.now() - 300_000), claims: { agent_provider: 'anthropic' } });
  t.is((await call(expired)).body.error, 'ERR_JWTSVID_EXPIRED');
  const stranger = await signJwtSvid({ id: me, audience: ['billing'], key: jwtKey('ES256'), expiresAt: inFiveMinutes(), claims: { agent_provider: 'anthropic' } });
  t.is((await call(stranger)).body.error, 'ERR_JWTSVID_UNTRUSTED');
});

test('a request without a Bearer token gets 401; a valid token of an unauthorized caller gets 403', async (t) => {
  const call = await service(t);
  const none = await call();
  t.is(none.status, 401);
  t.is(none.body.error, 'ERR_JWT_MISSING_TOKEN');
  const other = await call(await good({ claims: { agent_model: 'x', agent_provider: 'acme' } }));
  t.is(other.status, 403);
  t.is(other.body.error, 'ERR_AUTHORIZATION');
});

test('the token cache fetches once per audience and again only after half the token lifetime', async (t) => {
  let clock = Date.now();
  const fetched: string[] = [];
  const fake: JwtSvidSource = {
    async fetchJwtSvid(p: JwtSvidParams): Promise<JwtSvid> {
      const aud = typeof p.audience === 'string' ? [p.audience] : p.audience;
      fetched.push(aud.join(','));
      const token = await signJwtSvid({ id: me, audience: aud, key, issuedAt: new Date(clock), expiresAt: new Date(clock + 100_000) });
      return parseJwtSvidInsecure(token);
    },
  };
  const cache = createJwtTokenCache({ source: fake, now: () => clock });
  const [a, b] = await Promise.all([cache.getToken('billing'), cache.getToken('billing')]);
  t.is(a, b);
  t.deepEqual(fetched, ['billing'], 'concurrent callers share one fetch');
  await cache.getToken('payroll');
  clock += 49_000;
  t.is(await cache.getToken('billing'), a, 'still before half-life');
  clock += 2_000;
  t.not(await cache.getToken('billing'), a, 'past half-life: a fresh token');
  t.deepEqual(fetched, ['billing', 'payroll', 'billing']);
});
