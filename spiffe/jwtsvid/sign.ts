import { constants, sign, type KeyObject } from 'node:crypto';
import { cleanAgentClaims, type AgentClaims } from '../agent-claims.ts';
import { JwtSvidError } from '../errors.ts';
import type { SpiffeId } from '../id.ts';
import { isJwtSvidAlgorithm } from './types.ts';

export interface JwtSigningKey {
  kid: string;
  privateKey: KeyObject;
  alg: 'ES256' | 'ES384' | 'RS256' | 'PS256';
}

export interface JwtSvidSignParams {
  id: SpiffeId;
  audience: string[];
  expiresAt: Date;
  issuedAt?: Date;
  claims?: AgentClaims;
  key: JwtSigningKey;
}

/**
 * Mints a JWT-SVID: header {alg, kid, typ: JWT} only (JWT-SVID 2 forbids others),
 * claims sub, aud (always an array), exp, iat and the agent claims.
 */
export async function signJwtSvid(p: JwtSvidSignParams): Promise<string> {
  if (!isJwtSvidAlgorithm(p.key.alg)) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'unsupported_algorithm', `alg ${p.key.alg} is not allowed for JWT-SVIDs`);
  if (p.audience.length === 0 || p.audience.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'missing_aud', 'a JWT-SVID needs at least one non-empty audience');
  }
  if (p.key.kid.length === 0) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'key_not_found', 'signing key has an empty kid');
  const iat = p.issuedAt ?? new Date();
  if (!(p.expiresAt.getTime() > iat.getTime())) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'expired', 'expiresAt must be after issuedAt');
  assertKeyMatchesAlg(p.key);
  const header = { alg: p.key.alg, kid: p.key.kid, typ: 'JWT' };
  const payload = {
    ...cleanAgentClaims(p.claims as Record<string, unknown> | undefined),
    sub: p.id.toString(),
    aud: [...p.audience],
    iat: Math.floor(iat.getTime() / 1000),
    exp: Math.floor(p.expiresAt.getTime() / 1000),
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  try {
    // Signed with node:crypto directly: the JWS compact form is fixed and small, and
    // jose's async WebCrypto round trip costs more than the ECDSA signature itself.
    // Verification (verify.ts) stays with jose.
    const sig = sign(HASH[p.key.alg], Buffer.from(signingInput), signOptions(p.key));
    return `${signingInput}.${sig.toString('base64url')}`;
  } catch (err) {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'bad_key', `cannot sign JWT-SVID with key ${p.key.kid} (${p.key.alg}): ${(err as Error).message}`, { cause: err });
  }
}

const HASH: Record<JwtSigningKey['alg'], string> = { ES256: 'sha256', ES384: 'sha384', RS256: 'sha256', PS256: 'sha256' };

function signOptions(key: JwtSigningKey): Parameters<typeof sign>[2] {
  switch (key.alg) {
    case 'ES256':
    case 'ES384': return { key: key.privateKey, dsaEncoding: 'ieee-p1363' };
    case 'PS256': return { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    case 'RS256': return key.privateKey;
  }
}

const CURVE: Partial<Record<JwtSigningKey['alg'], string>> = { ES256: 'prime256v1', ES384: 'secp384r1' };

/** A key that does not fit its alg would produce a token no verifier accepts; refuse it here. */
const checkedKeys = new WeakMap<KeyObject, string>();

function assertKeyMatchesAlg(key: JwtSigningKey): void {
  if (checkedKeys.get(key.privateKey) === key.alg) return;
  const type = key.privateKey.asymmetricKeyType;
  const curve = key.privateKey.asymmetricKeyDetails?.namedCurve;
  const ok = key.alg.startsWith('ES') ? type === 'ec' && curve === CURVE[key.alg]
    : type === 'rsa' || (key.alg === 'PS256' && type === 'rsa-pss');
  if (!ok || key.privateKey.type !== 'private') {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'bad_key',
      `key ${key.kid} (${type ?? key.privateKey.type}${curve ? ' ' + curve : ''}) cannot sign ${key.alg}`);
  }
  checkedKeys.set(key.privateKey, key.alg);
}

function b64url(s: string): string { return Buffer.from(s).toString('base64url'); }
