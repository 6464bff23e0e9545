import type { KeyObject } from 'node:crypto';
import type { JwtBundleSource } from '../bundle/jwtbundle.ts';
import { JwtSvidError } from '../errors.ts';
import { checkHeader, decodePayload, svidFromPayload } from './parse.ts';
import type { JwtSvid } from './types.ts';
import { decodeCompact, keyFitsAlg, verifyCompact, type WitAlgorithm } from '../wit/jws.ts';

/**
 * JWT-SVID validation (JWT-SVID 2-4): allowed alg, typ, sub is a SPIFFE ID, aud
 * contains one of `audience`, exp present and not past; the signature is checked
 * against the JWT bundle of the sub's trust domain, by kid. Bundle keys are
 * KeyObjects, checked with node:crypto.
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

  // node:crypto directly (spiffe/wit/jws.ts): one signature check, no WebCrypto round
  // trip and no key import per call; the claim rules below are jose's, kept exactly.
  const alg = header.alg as WitAlgorithm;
  const jws = decodeCompact(token);
  if (!jws) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', 'JWT-SVID is not three base64url JSON segments');
  const fitting = candidates.filter((k) => keyFitsAlg(k, alg));
  if (fitting.length === 0) {
    throw new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'bad_key', `bundle key cannot verify this JWT-SVID: no key of ${td}${typeof header.kid === 'string' ? ` with kid "${header.kid}"` : ''} fits alg ${alg}`);
  }
  if (!fitting.some((k) => verifyCompact(jws, k, alg))) throw new JwtSvidError('ERR_JWTSVID_UNTRUSTED', 'bad_signature', 'JWT-SVID signature does not verify');
  checkClaims(jws.payload, expected, Math.floor((opts.now ?? new Date()).getTime() / 1000));
  return svid;
}

/** jose's jwtVerify claim rules for these options, in its order: aud ∩ expected, numeric iat/nbf, nbf <= now, exp > now. */
function checkClaims(p: Record<string, unknown>, expected: string[], now: number): void {
  const aud = typeof p.aud === 'string' ? [p.aud] : p.aud as string[];
  if (!aud.some((a) => expected.includes(a))) throw new JwtSvidError('ERR_JWTSVID_AUDIENCE', 'audience_mismatch', 'JWT-SVID audience does not include the expected value');
  for (const c of ['iat', 'nbf'] as const) {
    if (p[c] !== undefined && typeof p[c] !== 'number') throw new JwtSvidError('ERR_JWTSVID_INVALID', 'malformed', `JWT-SVID claim ${c} is invalid: must be a number`);
  }
  if (typeof p.nbf === 'number' && p.nbf > now) throw new JwtSvidError('ERR_JWTSVID_EXPIRED', 'not_yet_valid', 'JWT-SVID is not yet valid (nbf)');
  if ((p.exp as number) <= now) throw new JwtSvidError('ERR_JWTSVID_EXPIRED', 'expired', 'JWT-SVID has expired');
}
