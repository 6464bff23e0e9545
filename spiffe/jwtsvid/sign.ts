import { constants, sign, type KeyObject } from 'node:crypto';
import { AGENT_CLAIM_KEYS, type AgentClaims } from '../agent-claims.ts';
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
  /** `iss`, for relying parties that find the keys by OIDC discovery (absent: no iss claim). */
  issuer?: string;
}

/**
 * Mints a JWT-SVID: header {alg, kid, typ: JWT} only (JWT-SVID 2 forbids others),
 * claims sub, aud (always an array), exp, iat and the agent claims.
 */
export async function signJwtSvid(p: JwtSvidSignParams): Promise<string> {
  return signJwtSvidSync(p);
}

/** signJwtSvid on the calling thread, without the promise (the server's minting path). */
export function signJwtSvidSync(p: JwtSvidSignParams): string {
  if (!isJwtSvidAlgorithm(p.key.alg)) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'unsupported_algorithm', `alg ${p.key.alg} is not allowed for JWT-SVIDs`);
  if (p.audience.length === 0 || p.audience.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'missing_aud', 'a JWT-SVID needs at least one non-empty audience');
  }
  if (p.key.kid.length === 0) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'key_not_found', 'signing key has an empty kid');
  const iat = p.issuedAt ?? new Date();
  if (!(p.expiresAt.getTime() > iat.getTime())) throw new JwtSvidError('ERR_JWTSVID_INVALID', 'expired', 'expiresAt must be after issuedAt');
  const k = keyState(p.key);
  const payload = b64url(payloadJson(p, iat));
  try {
    // Signed with node:crypto directly: the JWS compact form is fixed and small, and
    // jose's async WebCrypto round trip costs more than the ECDSA signature itself.
    // Verification (verify.ts) stays with jose.
    const sig = sign(k.hash, signingInput(k.header, payload), k.options);
    return `${k.header}.${payload}.${sig.toString('base64url')}`;
  } catch (err) {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'bad_key', `cannot sign JWT-SVID with key ${p.key.kid} (${p.key.alg}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The claims as JSON.stringify would write { ...agentClaims, iss?, sub, aud, iat, exp }:
 * string values go through JSON.stringify (escaping), the frame is concatenated, which
 * saves building and walking an object per token on the minting path.
 */
function payloadJson(p: JwtSvidSignParams, iat: Date): string {
  let json = '{';
  if (p.claims) {
    for (const k of AGENT_CLAIM_KEYS) {
      const v = (p.claims as Record<string, unknown>)[k];
      if (typeof v === 'string' && v.length > 0) json += `"${k}":${JSON.stringify(v)},`;
    }
  }
  if (p.issuer) json += `"iss":${JSON.stringify(p.issuer)},`;
  json += `"sub":${JSON.stringify(p.id.toString())},"aud":${JSON.stringify(p.audience)}`;
  return `${json},"iat":${Math.floor(iat.getTime() / 1000)},"exp":${Math.floor(p.expiresAt.getTime() / 1000)}}`;
}

/**
 * What a signing key needs per token, checked and built once per key, alg and kid: the
 * header segment (the same for every token), the digest and the node:crypto options.
 */
interface KeyState { alg: string; kid: string; header: string; hash: string; options: SignKey }
const keyStates = new WeakMap<KeyObject, KeyState>();

function keyState(key: JwtSigningKey): KeyState {
  const s = keyStates.get(key.privateKey);
  if (s && s.alg === key.alg && s.kid === key.kid) return s;
  assertKeyMatchesAlg(key);
  const n: KeyState = {
    alg: key.alg, kid: key.kid, hash: HASH[key.alg], options: buildSignOptions(key),
    header: b64url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'JWT' })),
  };
  keyStates.set(key.privateKey, n);
  return n;
}

const HASH: Record<JwtSigningKey['alg'], string> = { ES256: 'sha256', ES384: 'sha384', RS256: 'sha256', PS256: 'sha256' };

type SignKey = Parameters<typeof sign>[2];

/** ES*: raw r||s as JWS requires, not DER. */
function buildSignOptions(key: JwtSigningKey): SignKey {
  switch (key.alg) {
    case 'ES256':
    case 'ES384': return { key: key.privateKey, dsaEncoding: 'ieee-p1363' };
    case 'PS256': return { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    case 'RS256': return key.privateKey;
  }
}

const CURVE: Partial<Record<JwtSigningKey['alg'], string>> = { ES256: 'prime256v1', ES384: 'secp384r1' };

/** A key that does not fit its alg would produce a token no verifier accepts; refuse it here. */
function assertKeyMatchesAlg(key: JwtSigningKey): void {
  const type = key.privateKey.asymmetricKeyType;
  const curve = key.privateKey.asymmetricKeyDetails?.namedCurve;
  const ok = key.alg.startsWith('ES') ? type === 'ec' && curve === CURVE[key.alg]
    : type === 'rsa' || (key.alg === 'PS256' && type === 'rsa-pss');
  if (!ok || key.privateKey.type !== 'private') {
    throw new JwtSvidError('ERR_JWTSVID_INVALID', 'bad_key',
      `key ${key.kid} (${type ?? key.privateKey.type}${curve ? ' ' + curve : ''}) cannot sign ${key.alg}`);
  }
}

/**
 * One scratch buffer for the per-token encodings: minting is synchronous, so it is never
 * shared between two tokens, and it saves two allocations (and their GC) per token.
 */
let scratch = Buffer.allocUnsafeSlow(4096);

function room(n: number): Buffer {
  if (n > scratch.length) scratch = Buffer.allocUnsafeSlow(2 * n);
  return scratch;
}

function b64url(s: string): string {
  const buf = room(3 * s.length); // a UTF-16 code unit is at most 3 UTF-8 bytes
  return buf.toString('base64url', 0, buf.write(s, 0, 'utf8'));
}

/** ASCII `header.payload` as bytes, in the scratch buffer (valid until the next token). */
function signingInput(header: string, payload: string): Buffer {
  const n = header.length + 1 + payload.length;
  const buf = room(n);
  buf.write(header, 0, 'latin1');
  buf[header.length] = 0x2e;
  buf.write(payload, header.length + 1, 'latin1');
  return buf.subarray(0, n);
}
