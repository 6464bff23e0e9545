import type { KeyObject } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { JwtBundleSource } from '../bundle/jwtbundle.ts';
import { JwtSvidError } from '../errors.ts';
import { checkHeader, decodePayload, svidFromPayload } from './parse.ts';
import type { JwtSvid } from './types.ts';

/**
 * JWT-SVID validation (JWT-SVID 2-4): allowed alg, typ, sub is a SPIFFE ID, aud
 * contains one of `audience`, exp present and not past; the signature is checked
 * against the JWT bundle of the sub's trust domain, by kid. Bundle keys are
 * KeyObjects, so jose never sees the SPIFFE `use: "jwt-svid"` it would refuse.
 */
export async function verifyJwtSvid(token: string, bundles: JwtBundleSource, audience: string | string[], opts: { now?: Date } = {}): Promise<JwtSvid> {
  const expected = typeof audience === 'string' ? [audience] : [...audience];
  if (expected.length === 0 || expected.some((a) => a.length === 0)) {
    throw new JwtSvidError('ERR_JWTSVID_AUDIENCE', 'audience_mismatch', 'the validator must name the audience it identifies with');
  }
  const header = checkHeader(token);
  const svid = svidFromPayload(token, decodePayload(token));
  const td = svid.id.trustDomain;
  const bundle = bundles.getJwtBundleForTrustDomain(td);
  if (!bundle || !bundle.trustDomain.equals(td)) {
    throw new JwtSvidError('ERR_BUNDLE_NOT_FOUND', 'bundle_not_found', `no JWT bundle for trust domain ${td}`);
  }
  let candidates: KeyObject[];
  if (typeof header.kid === 'string') {
    const key = bundle.findKey(header.kid);
    if (!key) throw new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'key_not_found', `no key "${header.kid}" in the JWT bundle of ${td}`);
    candidates = [key];
  } else {
    // kid is optional in JWT-SVID 2.2: try every key of the trust domain.
    candidates = [...bundle.keys.values()];
    if (candidates.length === 0) throw new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'key_not_found', `the JWT bundle of ${td} has no keys`);
  }

  let last: unknown;
  for (const key of candidates) {
    try {
      await jwtVerify(token, key, {
        algorithms: [header.alg as string],
        audience: expected,
        currentDate: opts.now ?? new Date(),
        requiredClaims: ['sub', 'aud', 'exp'],
      });
      return svid;
    } catch (err) {
      last = err;
      // A wrong key or key type for this alg: another candidate may still match.
      if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof TypeError || err instanceof errors.JOSENotSupported) continue;
      throw mapJoseError(err);
    }
  }
  throw mapJoseError(last);
}

function mapJoseError(err: unknown): JwtSvidError {
  if (err instanceof errors.JWTExpired) return new JwtSvidError('ERR_JWTSVID_EXPIRED', 'expired', 'JWT-SVID has expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new JwtSvidError('ERR_JWTSVID_AUDIENCE', 'audience_mismatch', 'JWT-SVID audience does not include the expected value', { cause: err });
    if (err.claim === 'nbf' || err.claim === 'iat') return new JwtSvidError('ERR_JWTSVID_EXPIRED', 'not_yet_valid', `JWT-SVID is not yet valid (${err.claim})`, { cause: err });
    return new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', `JWT-SVID claim ${err.claim} is invalid: ${err.reason}`, { cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'bad_signature', 'JWT-SVID signature does not verify', { cause: err });
  if (err instanceof TypeError || err instanceof errors.JOSENotSupported || err instanceof errors.JOSEAlgNotAllowed) {
    return new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'bad_key', `bundle key cannot verify this JWT-SVID: ${(err as Error).message}`, { cause: err });
  }
  if (err instanceof errors.JOSEError) return new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', `JWT-SVID is invalid: ${err.message}`, { cause: err });
  return new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', 'JWT-SVID verification failed', { cause: err });
}
