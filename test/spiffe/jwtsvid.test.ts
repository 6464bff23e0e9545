import test from 'ava';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { JwtBundle } from '../../spiffe/bundle/jwtbundle.ts';
import { JwtSvidError } from '../../spiffe/errors.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import { jwtKey } from '../helpers/pki.ts';

const td = TrustDomain.parse('example.org');
const id = SpiffeId.parse('spiffe://example.org/agent/a');
const AUD = 'spiffe://example.org/api';

function source(...keys: { kid: string; publicKey: KeyObject }[]) {
  const bundle = new JwtBundle(td, new Map(keys.map((k) => [k.kid, k.publicKey])));
  return { getJwtBundleForTrustDomain: (t: TrustDomain) => (t.equals(td) ? bundle : undefined) };
}

async function rejects(t: import('ava').ExecutionContext, p: Promise<unknown>, code: string, reason: string) {
  const err = await t.throwsAsync(p, { instanceOf: JwtSvidError }) as JwtSvidError;
  t.is(err.code as string, code, err.message);
  t.is(err.reason as string, reason, err.message);
}

/** Signs arbitrary header/claims with jose directly, for tokens our signer would refuse to make. */
function raw(key: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header }).sign(key);
}

const inFiveMin = () => new Date(Date.now() + 300_000);

for (const alg of ['ES256', 'ES384', 'RS256', 'PS256'] as const) {
  test(`signs and verifies a JWT-SVID with ${alg}`, async (t) => {
    const key = jwtKey(alg);
    const token = await signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key, claims: { agent_model: 'm1', agent_instance_id: 'inst_1' } });
    const svid = await verifyJwtSvid(token, source(key), AUD);
    t.is(svid.id.toString(), id.toString());
    t.deepEqual(svid.audience, [AUD]);
    t.deepEqual(svid.agentClaims, { agent_model: 'm1', agent_instance_id: 'inst_1' });
    t.is(svid.claims.sub, id.toString());
  });
}

test('the header carries only alg, kid and typ JWT', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key });
  t.deepEqual(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()), { alg: 'ES256', kid: key.kid, typ: 'JWT' });
});

test('rejects alg none and HS256', async (t) => {
  const key = jwtKey();
  const none = new UnsecuredJWT({ sub: id.toString(), aud: [AUD], exp: Math.floor(Date.now() / 1000) + 60 }).encode();
  await rejects(t, verifyJwtSvid(none, source(key), AUD), 'ERR_JWTSVID_INVALID', 'unsupported_algorithm');
  const hs = await new SignJWT({ sub: id.toString(), aud: [AUD] }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).setExpirationTime('5m').sign(new Uint8Array(32));
  await rejects(t, verifyJwtSvid(hs, source(key), AUD), 'ERR_JWTSVID_INVALID', 'unsupported_algorithm');
});

test('rejects EdDSA, which JWT-SVID does not allow', async (t) => {
  const k = generateKeyPairSync('ed25519');
  const token = await new SignJWT({ sub: id.toString(), aud: [AUD] }).setProtectedHeader({ alg: 'EdDSA', kid: 'e' }).setExpirationTime('5m').sign(k.privateKey);
  await rejects(t, verifyJwtSvid(token, source({ kid: 'e', publicKey: k.publicKey }), AUD), 'ERR_JWTSVID_INVALID', 'unsupported_algorithm');
});

test('rejects a JWT-SVID without exp', async (t) => {
  const key = jwtKey();
  const token = await raw(key.privateKey, { kid: key.kid }, { sub: id.toString(), aud: [AUD] });
  await rejects(t, verifyJwtSvid(token, source(key), AUD), 'ERR_JWTSVID_INVALID', 'missing_exp');
});

test('rejects a JWT-SVID without aud', async (t) => {
  const key = jwtKey();
  const token = await raw(key.privateKey, { kid: key.kid }, { sub: id.toString(), exp: Math.floor(Date.now() / 1000) + 60 });
  await rejects(t, verifyJwtSvid(token, source(key), AUD), 'ERR_JWTSVID_INVALID', 'missing_aud');
});

test('rejects a JWT-SVID whose aud does not include the validator audience', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id, audience: ['other'], expiresAt: inFiveMin(), key });
  await rejects(t, verifyJwtSvid(token, source(key), AUD), 'ERR_JWTSVID_AUDIENCE', 'audience_mismatch');
  t.truthy(await verifyJwtSvid(token, source(key), ['x', 'other']));
});

test('rejects an expired JWT-SVID', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id, audience: [AUD], issuedAt: new Date(Date.now() - 600_000), expiresAt: new Date(Date.now() - 300_000), key });
  await rejects(t, verifyJwtSvid(token, source(key), AUD), 'ERR_JWTSVID_EXPIRED', 'expired');
  t.truthy(await verifyJwtSvid(token, source(key), AUD, { now: new Date(Date.now() - 400_000) }));
});

test('rejects a sub that is missing or not a SPIFFE ID', async (t) => {
  const key = jwtKey();
  const exp = Math.floor(Date.now() / 1000) + 60;
  await rejects(t, verifyJwtSvid(await raw(key.privateKey, { kid: key.kid }, { aud: [AUD], exp }), source(key), AUD), 'ERR_JWTSVID_INVALID', 'missing_sub');
  await rejects(t, verifyJwtSvid(await raw(key.privateKey, { kid: key.kid }, { sub: 'https://x/y', aud: [AUD], exp }), source(key), AUD), 'ERR_JWTSVID_INVALID', 'bad_sub');
});

test('accepts typ JWT or JOSE and rejects any other typ', async (t) => {
  const key = jwtKey();
  const claims = { sub: id.toString(), aud: [AUD], exp: Math.floor(Date.now() / 1000) + 60 };
  t.truthy(await verifyJwtSvid(await raw(key.privateKey, { kid: key.kid, typ: 'JOSE' }, claims), source(key), AUD));
  t.truthy(await verifyJwtSvid(await raw(key.privateKey, { kid: key.kid }, claims), source(key), AUD));
  await rejects(t, verifyJwtSvid(await raw(key.privateKey, { kid: key.kid, typ: 'at+jwt' }, claims), source(key), AUD), 'ERR_JWTSVID_INVALID', 'bad_typ');
});

test('picks the key by kid from the bundle of the sub trust domain', async (t) => {
  const a = jwtKey('ES256', 'a');
  const b = jwtKey('ES256', 'b');
  const token = await signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key: b });
  t.truthy(await verifyJwtSvid(token, source(a, b), AUD));
  await rejects(t, verifyJwtSvid(token, source(a), AUD), 'ERR_JWTSVID_UNTRUSTED', 'key_not_found');
  // Same kid, different key: the signature check fails.
  await rejects(t, verifyJwtSvid(token, source({ kid: 'b', publicKey: a.publicKey }), AUD), 'ERR_JWTSVID_UNTRUSTED', 'bad_signature');
});

test('rejects a sub from a trust domain without a JWT bundle', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id: SpiffeId.parse('spiffe://other.org/x'), audience: [AUD], expiresAt: inFiveMin(), key });
  await rejects(t, verifyJwtSvid(token, source(key), AUD), 'ERR_BUNDLE_NOT_FOUND', 'bundle_not_found');
});

test('verifies a token without kid by trying every key of the trust domain', async (t) => {
  const a = jwtKey('ES256', 'a');
  const b = jwtKey('ES256', 'b');
  const token = await raw(b.privateKey, {}, { sub: id.toString(), aud: AUD, exp: Math.floor(Date.now() / 1000) + 60 });
  const svid = await verifyJwtSvid(token, source(a, b), AUD);
  t.deepEqual(svid.audience, [AUD], 'a string aud is read as a one-element list');
});

test('rejects a JWS JSON serialization or garbage', async (t) => {
  const key = jwtKey();
  await rejects(t, verifyJwtSvid('{"payload":"x"}', source(key), AUD), 'ERR_JWTSVID_INVALID', 'malformed');
  await rejects(t, verifyJwtSvid('a.b.c', source(key), AUD), 'ERR_JWTSVID_INVALID', 'malformed');
});

test('the signer refuses an empty audience', async (t) => {
  await rejects(t, signJwtSvid({ id, audience: [], expiresAt: inFiveMin(), key: jwtKey() }), 'ERR_JWTSVID_INVALID', 'missing_aud');
});

test('parseJwtSvidInsecure reads claims without a signature check and checks the audience when asked', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key, claims: { agent_provider: 'p' } });
  const svid = parseJwtSvidInsecure(token);
  t.is(svid.id.toString(), id.toString());
  t.deepEqual(svid.agentClaims, { agent_provider: 'p' });
  t.throws(() => parseJwtSvidInsecure(token, ['nope']), { instanceOf: JwtSvidError });
});

test('refuses to sign with a key that does not fit the alg', async (t) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await rejects(t, signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key: { kid: 'k', alg: 'ES256', privateKey } }), 'ERR_JWTSVID_INVALID', 'bad_key');
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  await rejects(t, signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key: { kid: 'k', alg: 'ES256', privateKey: p384 } }), 'ERR_JWTSVID_INVALID', 'bad_key');
});

test('a minted JWT-SVID is a compact JWS whose header is exactly alg, kid and typ JWT', async (t) => {
  const key = jwtKey();
  const token = await signJwtSvid({ id, audience: [AUD], expiresAt: inFiveMin(), key });
  const [h, p, s] = token.split('.');
  t.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: key.alg, kid: key.kid, typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  t.is(claims.sub, id.toString());
  t.deepEqual(claims.aud, [AUD]);
  t.is(Buffer.from(s!, 'base64url').length, 64); // ES256 signature in IEEE P1363 form (r || s)
});
