import test from 'ava';
import { randomInt } from 'node:crypto';
import { compactVerify } from 'jose';
import { SpiffeId } from '../../spiffe/id.ts';
import { signJwtSvid, signJwtSvidSync } from '../../spiffe/jwtsvid/sign.ts';
import { jwtKey } from '../helpers/pki.ts';

/**
 * The minting path writes the JWT-SVID payload by concatenation (spiffe/jwtsvid/sign.ts).
 * For random claims, audiences and issuers it must be byte for byte what JSON.stringify
 * makes of the claims object, and the token must verify with jose.
 */

const CHARS = ['a', 'Z', '0', '"', '\\', '/', 'é', '漢', '🤖', '\u0000', '\n', '\u2028', ' ', '<'];
const text = (min = 0) => Array.from({ length: randomInt(min, 40) }, () => CHARS[randomInt(CHARS.length)]).join('');
const b64json = (seg: string) => Buffer.from(seg, 'base64url').toString('utf8');

for (const alg of ['ES256', 'ES384', 'RS256', 'PS256'] as const) {
  test(`a minted payload is exactly JSON.stringify of the claims object (${alg}, random claims)`, async (t) => {
    const key = jwtKey(alg, `kid-${alg}-"quoted"`);
    for (let i = 0; i < 120; i++) {
      const claims: Record<string, string> = {};
      for (const k of ['agent_model', 'agent_provider', 'agent_version', 'agent_instance_id']) if (randomInt(3)) claims[k] = text();
      const audience = Array.from({ length: randomInt(1, 4) }, () => text(1));
      const issuer = randomInt(2) ? `https://${text(1)}` : undefined;
      const iat = new Date(randomInt(0, 2 ** 40));
      const exp = new Date(iat.getTime() + randomInt(1000, 10 ** 9));
      const id = SpiffeId.parse(`spiffe://example.org/a/${randomInt(10 ** 9)}`);
      const params = { id, audience, expiresAt: exp, issuedAt: iat, claims, key: { kid: key.kid, privateKey: key.privateKey, alg }, issuer };
      const token = i % 2 ? signJwtSvidSync(params) : await signJwtSvid(params);
      const [h, p] = token.split('.');
      const want = {
        ...Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== '')),
        ...(issuer ? { iss: issuer } : {}),
        sub: id.toString(), aud: audience, iat: Math.floor(iat.getTime() / 1000), exp: Math.floor(exp.getTime() / 1000),
      };
      t.is(b64json(p!), JSON.stringify(want), `case ${i}`);
      t.is(b64json(h!), JSON.stringify({ alg, kid: key.kid, typ: 'JWT' }));
      const { payload } = await compactVerify(token, key.publicKey);
      t.deepEqual(JSON.parse(Buffer.from(payload).toString('utf8')), want);
    }
  });
}
