import test from 'ava';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as client from 'openid-client';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';
import { adminCall, startServer } from '../helpers/server.ts';
import { trustingFetch } from '../helpers/oidc-flow.ts';
import { tempDir } from '../helpers/tmp.ts';
import { webPkiServer } from './fixtures.ts';

/**
 * OIDC discovery for JWT-SVIDs with a real tessera-server: a standard relying party
 * (openid-client discovery, jose's remote JWKS) validates real JWT-SVIDs with no
 * Tessera code, across a JWT key rotation driven through the local authority admin
 * API; the next key is in the JWKS before it signs anything, and the old one stays
 * while tokens it signed are still valid.
 */
interface AuthorityState { authority_id: string; state: string }

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

test('a relying party discovers the issuer and validates JWT-SVIDs across a JWT key rotation', async (t) => {
  const web = await webPkiServer();
  const dir = tempDir(t, 'toidc-');
  writeFileSync(join(dir, 'oidc.crt'), web.tls.cert);
  writeFileSync(join(dir, 'oidc.key'), web.tls.key, { mode: 0o600 });
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const srv = await startServer(t, {
    trustDomain: 'a.test',
    config: { oidc_discovery: { issuer, listen: `127.0.0.1:${port}`, tls: { cert_file: join(dir, 'oidc.crt'), key_file: join(dir, 'oidc.key') } } },
  });

  // Every fetch the relying party makes, counted: a cached key set must not need one more.
  let fetches = 0;
  const trusting = trustingFetch(web.caPem);
  const counted: typeof trusting = (input, init) => { fetches++; return trusting(input, init); };

  const rp = await client.discovery(new URL(issuer), 'aws-sts', undefined, client.None(), { [client.customFetch]: counted });
  const meta = rp.serverMetadata();
  t.is(meta.issuer, issuer);
  t.is(meta.jwks_uri, `${issuer}/keys`);
  t.deepEqual(meta.id_token_signing_alg_values_supported?.includes('ES256'), true);
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!), { [customFetch]: counted, cooldownDuration: 0, cacheMaxAge: 3_600_000 });

  const mint = async (audience: string) => (await adminCall<{ token: string }>(srv.admin().svid, 'MintJWTSVID', {
    spiffe_id: 'spiffe://a.test/agents/researcher', audience: [audience], ttl: 300,
  })).token;
  const verify = (token: string, audience = 'sts.amazonaws.com') => jwtVerify(token, jwks, { issuer, audience, algorithms: ['ES256'] });

  const jwtAuthorities = async () => (await adminCall<{ authorities: AuthorityState[] }>(srv.admin().localAuthority, 'GetAuthorityState', { kind: 'jwt' })).authorities;
  const [active] = await jwtAuthorities();
  const first = await mint('sts.amazonaws.com');
  t.is(decodeProtectedHeader(first).kid, active!.authority_id);
  const v1 = await verify(first);
  t.is(v1.payload.sub, 'spiffe://a.test/agents/researcher');
  t.is(v1.payload.iss, issuer, 'JWT-SVIDs carry the discovery issuer as iss');
  await t.throwsAsync(verify(first, 'vault'), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });

  // Only the JWT-SVID signing keys: one per live JWT authority, no X.509 authorities.
  const keysDoc = async () => (await (await trusting(meta.jwks_uri!)).json()) as { keys: { kid: string; alg: string; use: string; x5c?: unknown }[] };
  const before = await keysDoc();
  t.deepEqual(before.keys.map((k) => k.kid), [active!.authority_id]);
  t.true(before.keys.every((k) => k.alg === 'ES256' && k.use === 'sig' && k.x5c === undefined));

  // Rotation step 1: the next key is prepared, published, and not yet used.
  const prepared = await adminCall<AuthorityState>(srv.admin().localAuthority, 'PrepareAuthority', { kind: 'jwt' });
  t.not(prepared.authority_id, active!.authority_id);
  t.deepEqual(new Set((await keysDoc()).keys.map((k) => k.kid)), new Set([active!.authority_id, prepared.authority_id]), 'published before first use');
  t.is(decodeProtectedHeader(await mint('sts.amazonaws.com')).kid, active!.authority_id, 'the active key still signs');
  await jwks.reload();
  const fetchesAfterReload = fetches;

  // Step 2: activation. New tokens carry the new kid, and a relying party that refreshed its
  // key set at any point after the prepare verifies them without fetching again.
  await adminCall(srv.admin().localAuthority, 'ActivateAuthority', { kind: 'jwt', authority_id: prepared.authority_id });
  const second = await mint('sts.amazonaws.com');
  t.is(decodeProtectedHeader(second).kid, prepared.authority_id);
  t.is((await verify(second)).payload.sub, 'spiffe://a.test/agents/researcher');
  t.is(fetches, fetchesAfterReload, 'no key-set fetch was needed for the new key');

  // The old key stays published while tokens it signed are valid.
  t.true((await keysDoc()).keys.some((k) => k.kid === active!.authority_id));
  t.is((await verify(first)).payload.sub, 'spiffe://a.test/agents/researcher');

  // A fresh relying party (no cache at all) gets both keys from discovery alone.
  const fresh = createRemoteJWKSet(new URL(meta.jwks_uri!), { [customFetch]: trusting });
  for (const token of [first, second]) t.truthy((await jwtVerify(token, fresh, { issuer, audience: 'sts.amazonaws.com' })).payload.exp);
});
