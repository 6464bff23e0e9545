import type { KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, errors, type JWTPayload } from 'jose';
import { AttestationError } from '../../../common/errors.ts';

/**
 * Verifies a cloud identity token (GCP IIT, Azure MSI) with jose, RS256 only, and
 * turns every failure into an AttestationError with a stable code under the method's
 * prefix (ERR_GCP_IIT_EXPIRED, ERR_AZURE_MSI_AUDIENCE_MISMATCH, ...) and a message
 * that carries the offending value.
 */
export interface JwtRules {
  codePrefix: string;
  audience: string;
  issuer: string;
  /** Seconds of clock skew tolerated on exp/nbf/iat. */
  leewaySec: number;
  /** Reject tokens whose iat is older than this (seconds). */
  maxAgeSec?: number;
  nowMs: number;
  key(kid: string): Promise<KeyObject>;
}

const MAX_TOKEN_CHARS = 16 * 1024;

export async function verifyCloudJwt(token: string, r: JwtRules): Promise<JWTPayload> {
  const p = r.codePrefix;
  const malformed = (msg: string, cause?: unknown) => new AttestationError('invalid_argument', `${p}_TOKEN_MALFORMED`, msg, { cause });
  const denied = (code: string, msg: string, cause?: unknown) => new AttestationError('permission_denied', `${p}_${code}`, msg, { cause });
  if (token.length > MAX_TOKEN_CHARS) throw malformed(`token is longer than ${MAX_TOKEN_CHARS} characters`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch (e) {
    throw malformed(`token is not a JWT: ${(e as Error).message}`, e);
  }
  // Checked before any key lookup: "none", HS256 (key confusion) and others never reach jose.
  if (header.alg !== 'RS256') throw denied('ALG_NOT_ALLOWED', `token alg "${String(header.alg)}" is not allowed; only RS256`);
  if (typeof header.kid !== 'string' || header.kid === '') throw malformed('token header has no kid');
  const kid = header.kid;
  const now = new Date(r.nowMs);
  try {
    const { payload } = await jwtVerify(token, async () => r.key(kid), {
      algorithms: ['RS256'],
      audience: r.audience,
      issuer: r.issuer,
      clockTolerance: r.leewaySec,
      currentDate: now,
      maxTokenAge: r.maxAgeSec,
      requiredClaims: ['exp', 'iat'],
    });
    return payload;
  } catch (e) {
    if (e instanceof AttestationError) throw e;
    const iso = (s: unknown) => typeof s === 'number' ? new Date(s * 1000).toISOString() : String(s);
    if (e instanceof errors.JWTExpired) {
      if (e.claim === 'iat') throw denied('TOO_OLD', `token was issued at ${iso(unverified.iat)}, more than ${r.maxAgeSec}s before now (${now.toISOString()})`, e);
      throw denied('EXPIRED', `token expired at ${iso(unverified.exp)} (now ${now.toISOString()}, leeway ${r.leewaySec}s)`, e);
    }
    if (e instanceof errors.JWTClaimValidationFailed) {
      switch (e.claim) {
        case 'aud': throw denied('AUDIENCE_MISMATCH', `token aud ${JSON.stringify(unverified.aud)} is not the configured audience "${r.audience}"`, e);
        case 'iss': throw denied('ISSUER_MISMATCH', `token iss ${JSON.stringify(unverified.iss)} is not the expected issuer "${r.issuer}"`, e);
        case 'nbf': throw denied('NOT_YET_VALID', `token is not valid before ${iso(unverified.nbf)} (now ${now.toISOString()})`, e);
        case 'iat':
          if (e.reason === 'check_failed') throw denied('NOT_YET_VALID', `token iat ${iso(unverified.iat)} is in the future (now ${now.toISOString()})`, e);
          throw malformed(`token iat claim is ${e.reason}`, e);
        default: throw malformed(`token claim "${e.claim}" is ${e.reason}: ${e.message}`, e);
      }
    }
    if (e instanceof errors.JWSSignatureVerificationFailed) {
      throw denied('SIGNATURE_INVALID', `token signature does not verify with trusted key "${kid}" (forged or altered)`, e);
    }
    if (e instanceof errors.JOSEAlgNotAllowed) throw denied('ALG_NOT_ALLOWED', `token alg is not allowed: ${e.message}`, e);
    throw malformed(`token rejected: ${(e as Error).message}`, e);
  }
}
