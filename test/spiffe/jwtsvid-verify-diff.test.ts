import test from 'ava';
import { randomInt, sign } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import { JwtBundle } from '../../spiffe/bundle/jwtbundle.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import { jwtKey } from '../helpers/pki.ts';

/**
 * verifyJwtSvid checks signatures with node:crypto and applies jose's claim rules
 * itself. Differential: for random claims around the edges (exp/nbf at now, wrong or
 * partial audiences, non-numeric iat/nbf), corrupted signatures and keys of the wrong
 * type or curve, it must accept exactly what jose's jwtVerify accepts with the options
 * it used to pass, and refuse the rest for the same reason.
 */
const td = TrustDomain.parse('example.org');
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const HASH = { ES256: 'sha256', ES384: 'sha384', RS256: 'sha256', PS256: 'sha256' } as const;

function reasonOfJose(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) return e.claim === 'aud' ? 'audience_mismatch' : e.claim === 'nbf' && e.reason === 'check_failed' ? 'not_yet_valid' : 'malformed';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  return 'bad_key';
}

for (const alg of ['ES256', 'ES384', 'RS256', 'PS256'] as const) {
  test(`node:crypto verification agrees with jose's jwtVerify (${alg}, 300 edge cases)`, async (t) => {
    const key = jwtKey(alg, 'k1');
    const other = jwtKey(alg === 'ES256' ? 'ES384' : 'ES256', 'k1');
    const now = Math.floor(Date.now() / 1000);
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      const claims: Record<string, unknown> = {
        sub: 'spiffe://example.org/w', aud: randomInt(2) ? 'svc-a' : ['svc-b', randomInt(2) ? 'svc-a' : 'svc-c'],
        exp: now + randomInt(-2, 3) * (randomInt(2) ? 1 : 600),
      };
      if (randomInt(3) === 0) claims.nbf = randomInt(5) === 0 ? 'soon' : now + randomInt(-2, 3);
      if (randomInt(3) === 0) claims.iat = randomInt(5) === 0 ? '1' : now - randomInt(0, 100);
      const input = `${b64({ alg, kid: 'k1', typ: 'JWT' })}.${b64(claims)}`;
      const opts = alg === 'PS256' ? { key: key.privateKey, padding: 6, saltLength: 32 } : alg.startsWith('ES') ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : { key: key.privateKey };
      let sig = sign(HASH[alg], Buffer.from(input), opts);
      if (randomInt(6) === 0) { sig = Buffer.from(sig); sig[randomInt(sig.length)] ^= 1 << randomInt(8); }
      const token = `${input}.${sig.toString('base64url')}`;
      const bundleKey = randomInt(8) === 0 ? other.publicKey : key.publicKey;
      const bundles = { getJwtBundleForTrustDomain: () => new JwtBundle(td, new Map([['k1', bundleKey]])) };
      const at = new Date(now * 1000);
      let ours: string; let theirs: string;
      try { await verifyJwtSvid(token, bundles, 'svc-a', { now: at }); ours = 'ok'; } catch (e) { ours = (e as { reason: string }).reason; }
      try {
        await jwtVerify(token, bundleKey, { algorithms: [alg], audience: ['svc-a'], currentDate: at, requiredClaims: ['sub', 'aud', 'exp'] });
        theirs = 'ok';
      } catch (e) { theirs = reasonOfJose(e); }
      if (ours === 'ok') accepted++;
      t.is(ours, theirs, `case ${i}: ${JSON.stringify(claims)} key ${bundleKey === key.publicKey ? 'right' : 'wrong type'}`);
    }
    t.true(accepted > 0, 'some tokens were valid');
  });
}
