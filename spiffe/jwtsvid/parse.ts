import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { cleanAgentClaims } from '../agent-claims.ts';
import { JwtSvidError, SpiffeIdError } from '../errors.ts';
import { SpiffeId } from '../id.ts';
import { isJwtSvidAlgorithm, type JwtSvid } from './types.ts';

const invalid = (reason: ConstructorParameters<typeof JwtSvidError>[1], message: string, cause?: unknown) =>
  new JwtSvidError('ERR_JWTSVID_INVALID', reason, message, { cause });

/** Header checks of JWT-SVID 2 and 5.1: compact JWS, allowed alg, typ JWT/JOSE when present. */
export function checkHeader(token: string): ProtectedHeaderParameters {
  if (typeof token !== 'string' || token.split('.').length !== 3) throw invalid('malformed', 'JWT-SVID must be a JWS in compact serialization');
  let header: ProtectedHeaderParameters;
  try { header = decodeProtectedHeader(token); } catch (err) { throw invalid('malformed', 'JWT-SVID header is not decodable', err); }
  if (!isJwtSvidAlgorithm(header.alg)) throw invalid('unsupported_algorithm', `JWT-SVID alg ${String(header.alg)} is not allowed`);
  if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') throw invalid('bad_typ', `JWT-SVID typ "${String(header.typ)}" must be JWT or JOSE`);
  if (header.crit !== undefined) throw invalid('malformed', 'JWT-SVID must not carry crit headers');
  return header;
}

/** Claim checks of JWT-SVID 3 that do not depend on time or the validator's audience. */
export function svidFromPayload(token: string, payload: JWTPayload): JwtSvid {
  if (payload.sub === undefined) throw invalid('missing_sub', 'JWT-SVID has no sub claim');
  let id: SpiffeId;
  try { id = SpiffeId.parse(String(payload.sub)); } catch (err) {
    if (err instanceof SpiffeIdError) throw invalid('bad_sub', `JWT-SVID sub is not a SPIFFE ID: ${err.message}`, err);
    throw err;
  }
  if (typeof payload.sub !== 'string') throw invalid('bad_sub', 'JWT-SVID sub must be a string');
  const aud = payload.aud;
  const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string')) throw invalid('missing_aud', 'JWT-SVID has no aud claim');
  if (payload.exp === undefined) throw invalid('missing_exp', 'JWT-SVID has no exp claim');
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw invalid('malformed', 'JWT-SVID exp is not a number');
  return jwtSvidOf(id, token, audience, payload.exp, payload);
}

/** A JwtSvid from claims already checked: `exp` in seconds; issuedAt when the claims have a numeric iat. */
export function jwtSvidOf(id: SpiffeId, token: string, audience: string[], exp: number, claims: Record<string, unknown>): JwtSvid {
  const svid: JwtSvid = {
    id,
    token,
    audience,
    expiresAt: new Date(exp * 1000),
    claims: { ...claims },
    agentClaims: cleanAgentClaims(claims),
  };
  if (typeof claims.iat === 'number') svid.issuedAt = new Date(claims.iat * 1000);
  return svid;
}

export function decodePayload(token: string): JWTPayload {
  try { return decodeJwt(token); } catch (err) { throw invalid('malformed', 'JWT-SVID payload is not decodable', err); }
}

/**
 * Parses a JWT-SVID without checking its signature or expiry: for a workload that
 * just received it from its own Workload API. When `audience` is given, at least
 * one of its values must be in aud. Never use this to authenticate a peer.
 */
export function parseJwtSvidInsecure(token: string, audience?: string[]): JwtSvid {
  checkHeader(token);
  const svid = svidFromPayload(token, decodePayload(token));
  if (audience && audience.length > 0 && !audience.some((a) => svid.audience.includes(a))) {
    throw new JwtSvidError('ERR_JWTSVID_AUDIENCE', 'audience_mismatch', `JWT-SVID audience ${JSON.stringify(svid.audience)} does not include any of ${JSON.stringify(audience)}`);
  }
  return svid;
}
