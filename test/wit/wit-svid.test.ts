import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { WitError } from '../../spiffe/wit/errors.ts';
import { parseWitSvidInsecure } from '../../spiffe/wit/parse.ts';
import { signWitSvid } from '../../spiffe/wit/sign.ts';
import { verifyWitSvid } from '../../spiffe/wit/verify.ts';
import { WitBundle, WitBundleSet } from '../../spiffe/wit/bundle.ts';
import { publicJwk } from '../../spiffe/wit/jwk.ts';
import { bundles, claims, ec, id, issuer, NOW, rawWit, td, wit } from './fixtures.ts';

const at = (s: number) => new Date(NOW.getTime() + s * 1000);

function refused(t: import('ava').ExecutionContext, fn: () => unknown, code: string, reason: string) {
  const e = t.throws(fn, { instanceOf: WitError }) as WitError;
  t.is(e.code as string, code, e.message);
  t.is(e.reason as string, reason, e.message);
}

const decode = (token: string, part: 0 | 1) => JSON.parse(Buffer.from(token.split('.')[part]!, 'base64url').toString()) as Record<string, unknown>;

// ---- 2. JOSE header ----

test('issuer sets exactly alg, kid and typ wit+jwt (2.1, 2.2, 2.3, 2.4, 4)', (t) => {
  const h = decode(wit().token, 0);
  t.deepEqual(h, { alg: 'ES256', kid: issuer.kid, typ: 'wit+jwt' });
});

test('refuses a WIT-SVID without kid (2.1 MUST be present)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({ kid: undefined }, claims()), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'missing_kid');
});

test('signer refuses to mint without a kid (2.1, 4)', (t) => {
  const w = ec();
  refused(t, () => signWitSvid({ id, confirmationKey: w.publicKey, confirmationAlg: 'ES256', expiresAt: at(60), issuedAt: NOW, key: { kid: '', privateKey: issuer.privateKey, alg: 'ES256' } }), 'ERR_WIT_INVALID', 'missing_kid');
});

test('kid is compared case-sensitively (2.1)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({ kid: issuer.kid.toUpperCase() }, claims()), bundles, { now: NOW }), 'ERR_WIT_UNTRUSTED', 'key_not_found');
});

for (const typ of [undefined, 'JWT', 'wpt+jwt', 'WIT+JWT']) {
  test(`refuses typ ${JSON.stringify(typ)} (2.2 MUST be wit+jwt)`, (t) => {
    refused(t, () => verifyWitSvid(rawWit({ typ }, claims()), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'bad_typ');
  });
}

for (const alg of ['none', 'HS256', 'EdDSA', 'ES256K']) {
  test(`refuses alg ${alg} (2.3 validators MUST reject unsupported alg)`, (t) => {
    const token = rawWit({}, claims());
    const [, p, s] = token.split('.');
    const h = Buffer.from(JSON.stringify({ alg, kid: issuer.kid, typ: 'wit+jwt' })).toString('base64url');
    refused(t, () => verifyWitSvid(`${h}.${p}.${s}`, bundles, { now: NOW }), 'ERR_WIT_INVALID', 'unsupported_algorithm');
  });
}

test('accepts each allowed issuer alg family: ES384, RS256, PS256 (2.3)', (t) => {
  const keys = [
    { kid: 'p384', alg: 'ES384' as const, ...generateKeyPairSync('ec', { namedCurve: 'P-384' }) },
    { kid: 'rsa', alg: 'RS256' as const, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) },
    { kid: 'pss', alg: 'PS256' as const, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) },
  ];
  const set = new WitBundleSet([new WitBundle(td, new Map(keys.map((k) => [k.kid, k.publicKey])))]);
  for (const k of keys) {
    const token = signWitSvid({ id, confirmationKey: ec().publicKey, confirmationAlg: 'ES256', issuedAt: NOW, expiresAt: at(60), key: { kid: k.kid, privateKey: k.privateKey, alg: k.alg } });
    t.is(verifyWitSvid(token, set, { now: NOW }).alg, k.alg);
  }
});

test('refuses a crit header it does not understand (2.4)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({ crit: ['exp'] }, claims()), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'crit');
});

test('ignores unknown header parameters and unknown claims (2.4, 3.8)', (t) => {
  const v = verifyWitSvid(rawWit({ x_extra: 1 }, { ...claims(), 'example.com/c': 'x' }), bundles, { now: NOW });
  t.is(v.claims['example.com/c'], 'x');
});

// ---- 3. Claims ----

test('sub is the SPIFFE ID, and agent claims ride along (3.1, 3.8)', (t) => {
  const v = verifyWitSvid(wit({ claims: { agent_model: 'claude-sonnet-4', agent_instance_id: 'inst_aaaaaaaaaaaaaaaaaaaaaa' } }).token, bundles, { now: NOW });
  t.is(v.id.toString(), id.toString());
  t.deepEqual(v.agentClaims, { agent_model: 'claude-sonnet-4', agent_instance_id: 'inst_aaaaaaaaaaaaaaaaaaaaaa' });
});

test('refuses a missing sub, a non-SPIFFE sub and a trust domain ID sub (3.1)', (t) => {
  const { sub: _s, ...noSub } = claims();
  refused(t, () => verifyWitSvid(rawWit({}, noSub), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'missing_sub');
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), sub: 'wimse://example.org/x' }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'bad_sub');
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), sub: 'spiffe://example.org' }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'bad_sub');
});

test('refuses a WIT-SVID without cnf, or with cnf but no jwk (3.2 MUST reject)', (t) => {
  const { cnf: _c, ...noCnf } = claims();
  refused(t, () => verifyWitSvid(rawWit({}, noCnf), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'missing_cnf');
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), cnf: { jkt: 'abc' } }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'missing_cnf');
});

test('refuses cnf.jwk without an allowed alg (3.2)', (t) => {
  const jwk = publicJwk(ec().publicKey, 'ES256');
  for (const alg of [undefined, 'none', 'HS256', 'EdDSA']) {
    refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), cnf: { jwk: { ...jwk, alg } } }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'cnf_alg');
  }
});

test('refuses a cnf.jwk that is a private key or does not fit its alg (3.2, RFC 7800)', (t) => {
  const k = ec();
  const priv = { ...(k.privateKey.export({ format: 'jwk' }) as object), alg: 'ES256' };
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), cnf: { jwk: priv } }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'bad_cnf');
  const p384 = publicJwk(ec('P-384').publicKey, 'ES384');
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), cnf: { jwk: { ...p384, alg: 'ES256' } } }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'bad_cnf');
});

test('issuer sets cnf.jwk.alg to an allowed value and refuses others (3.2, 4)', (t) => {
  t.is((decode(wit().token, 1).cnf as { jwk: { alg: string } }).jwk.alg, 'ES256');
  refused(t, () => signWitSvid({ id, confirmationKey: ec().publicKey, confirmationAlg: 'EdDSA' as 'ES256', issuedAt: NOW, expiresAt: at(60), key: { kid: issuer.kid, privateKey: issuer.privateKey, alg: 'ES256' } }), 'ERR_WIT_INVALID', 'cnf_alg');
});

test('issuer jti values are unique and the token carries jti only for auditing (3.3)', (t) => {
  const a = wit(), b = wit();
  t.truthy(a.jti);
  t.not(a.jti, b.jti);
});

test('refuses a WIT-SVID without exp (3.4 MUST reject)', (t) => {
  const { exp: _e, ...noExp } = claims();
  refused(t, () => verifyWitSvid(rawWit({}, noExp), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'missing_exp');
});

test('refuses an expired WIT-SVID, with leeway of its validator (3.4)', (t) => {
  const w = wit({ ttl: 60 });
  t.truthy(verifyWitSvid(w.token, bundles, { now: at(80), leewaySeconds: 30 }));
  refused(t, () => verifyWitSvid(w.token, bundles, { now: at(91), leewaySeconds: 30 }), 'ERR_WIT_EXPIRED', 'expired');
  refused(t, () => verifyWitSvid(w.token, bundles, { now: at(61), leewaySeconds: 0 }), 'ERR_WIT_EXPIRED', 'expired');
});

test('refuses a WIT-SVID whose nbf is in the future (3.5)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), nbf: Math.floor(NOW.getTime() / 1000) + 120 }), bundles, { now: NOW }), 'ERR_WIT_EXPIRED', 'not_yet_valid');
});

test('may refuse a lifespan over the administrative limit (3.5)', (t) => {
  refused(t, () => verifyWitSvid(wit({ ttl: 7200 }).token, bundles, { now: NOW, maxLifetimeSeconds: 3600 }), 'ERR_WIT_INVALID', 'lifetime');
});

test('iat is never used as the start of validity (3.6)', (t) => {
  const c = { ...claims(), iat: Math.floor(NOW.getTime() / 1000) + 3000 };
  t.truthy(verifyWitSvid(rawWit({}, c), bundles, { now: NOW }));
});

test('issuer sets no iss and no aud (3.7, 3.8)', (t) => {
  const c = decode(wit().token, 1);
  t.false('iss' in c);
  t.false('aud' in c);
});

test('refuses a WIT-SVID with an aud claim (3.8 MUST NOT be included)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), aud: 'spiffe://example.org/x' }), bundles, { now: NOW }), 'ERR_WIT_INVALID', 'has_aud');
});

// ---- 4, 6. Issuance, validation and bundles ----

test('refuses a WIT-SVID signed by a key not in the bundle, or with a bad signature (4)', (t) => {
  const other = ec();
  refused(t, () => verifyWitSvid(rawWit({}, claims(), other.privateKey), bundles, { now: NOW }), 'ERR_WIT_UNTRUSTED', 'bad_signature');
  const token = wit().token;
  const tampered = token.slice(0, token.indexOf('.') + 1) + Buffer.from(JSON.stringify({ ...decode(token, 1), sub: 'spiffe://example.org/admin' })).toString('base64url') + token.slice(token.lastIndexOf('.'));
  refused(t, () => verifyWitSvid(tampered, bundles, { now: NOW }), 'ERR_WIT_UNTRUSTED', 'bad_signature');
});

test('refuses a WIT-SVID of a trust domain without a WIT bundle (6.2)', (t) => {
  refused(t, () => verifyWitSvid(rawWit({}, { ...claims(), sub: 'spiffe://other.org/w' }), bundles, { now: NOW }), 'ERR_WIT_UNTRUSTED', 'bundle_not_found');
});

test('a bundle publishes use wit-svid with a kid per key, and only wit-svid keys are consumed (6.1, 6.2)', (t) => {
  const jwks = bundles.getWitBundleForTrustDomain(td)!.toJwks();
  t.is(jwks.keys.length, 1);
  t.like(jwks.keys[0], { kid: issuer.kid, use: 'wit-svid', kty: 'EC' });
  const mixed = { keys: [{ ...jwks.keys[0], kid: 'jwt-1', use: 'jwt-svid' }, jwks.keys[0]] };
  const b = WitBundle.parse(td, JSON.stringify(mixed));
  t.deepEqual([...b.keys.keys()], [issuer.kid]);
  const e = t.throws(() => WitBundle.parse(td, JSON.stringify({ keys: [{ ...jwks.keys[0], kid: undefined }] })), { instanceOf: WitError }) as WitError;
  t.is(e.reason, 'bad_key');
  t.throws(() => WitBundle.parse(td, JSON.stringify({ keys: [jwks.keys[0], jwks.keys[0]] })), { instanceOf: WitError });
});

test('parses the example WIT-SVID of Appendix A', (t) => {
  const token = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImxRU2kzaFpGbmRhMkQtWEprajF6bDdmb0pvdWl3STRuckF5aHk0alppSmciLCJ0eXAiOiJ3aXQrand0In0.eyJjbmYiOnsiandrIjp7ImFsZyI6IkVTMjU2IiwiY3J2IjoiUC0yNTYiLCJrdHkiOiJFQyIsIngiOiJyelA3bUxDS0FIV21zTTZYMEV3VklTQ19oSTN1amN1OTVmZlVreWVER0dvIiwieSI6InVPcmZEbGp0WDltM2pZLWhzeWhMSllheHRHa3pEdjVlNWttQ2U1OFo5N2cifX0sImV4cCI6MTc2NTQ1NjUwMywiaWF0IjoxNzY1NDUyOTAzLCJqdGkiOiIxeWoxOVY0TWNPQXpNY0ZpN3F2c2dfQWdDeGxyWTVFX3g1MDl3bEtLUXRjIiwic3ViIjoic3BpZmZlOi8vZXhhbXBsZS5jb20vbXktd29ya2xvYWQifQ.sfhEvZNdY_kWrICF08lX0u__rn39YnTavnW-VPBS20zgowDh6-X43v5eOUKZbjZf06yLBQM-Mry5w1g1QFsCkg';
  const s = parseWitSvidInsecure(token);
  t.is(s.id.toString(), 'spiffe://example.com/my-workload');
  t.is(s.keyId, 'lQSi3hZFnda2D-XJkj1zl7foJouiwI4nrAyhy4jZiJg');
  t.is(s.confirmationAlg, 'ES256');
  t.is(s.expiresAt.getTime(), 1765456503 * 1000);
});

test('our tokens have the shape of Appendix A: cnf.jwk members alg, crv, kty, x, y', (t) => {
  t.deepEqual(Object.keys((decode(wit().token, 1).cnf as { jwk: object }).jwk), ['alg', 'crv', 'kty', 'x', 'y']);
});
