import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
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
  try {
    return await new SignJWT({ ...cleanAgentClaims(p.claims as Record<string, unknown> | undefined) })
      .setProtectedHeader({ alg: p.key.alg, kid: p.key.kid, typ: 'JWT' })
      .setSubject(p.id.toString())
      .setAudience([...p.audience])
      .setIssuedAt(Math.floor(iat.getTime() / 1000))
      .setExpirationTime(Math.floor(p.expiresAt.getTime() / 1000))
      .sign(p.key.privateKey);
  } catch (err) {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'bad_key', `cannot sign JWT-SVID with key ${p.key.kid} (${p.key.alg}): ${(err as Error).message}`, { cause: err });
  }
}
