import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { JWT_SVID_ALGORITHMS } from '../jwtsvid/types.ts';

/**
 * Compact JWS with node:crypto for the nine algorithms WIT-SVID 2.3 and 3.2 allow (the
 * same list as JWT-SVID 2.1, hence shared). Both tokens here (WIT and WPT) are small
 * and fixed in form, so signing and checking them directly costs one signature
 * operation and no WebCrypto round trip: the per-request path of the middleware.
 */
export const WIT_ALGORITHMS = JWT_SVID_ALGORITHMS;
export type WitAlgorithm = typeof WIT_ALGORITHMS[number];

export function isWitAlgorithm(alg: unknown): alg is WitAlgorithm {
  return typeof alg === 'string' && (WIT_ALGORITHMS as readonly string[]).includes(alg);
}

const HASH: Record<WitAlgorithm, string> = {
  RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', ES512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512',
};
const CURVE: Partial<Record<WitAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const PSS_SALT: Partial<Record<WitAlgorithm, number>> = { PS256: 32, PS384: 48, PS512: 64 };

/** Whether `key` (public or private) can produce / check signatures of `alg` (RSA: at least 2048 bits, RFC 7518 3.3). */
export function keyFitsAlg(key: KeyObject, alg: WitAlgorithm): boolean {
  const type = key.asymmetricKeyType;
  if (alg.startsWith('ES')) return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE[alg];
  const rsa = type === 'rsa' || (alg.startsWith('PS') && type === 'rsa-pss');
  return rsa && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
}

function options(alg: WitAlgorithm, key: KeyObject) {
  if (alg.startsWith('ES')) return { key, dsaEncoding: 'ieee-p1363' as const };
  if (alg.startsWith('PS')) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT[alg]! };
  return { key };
}

export function b64url(s: string | Uint8Array): string {
  return Buffer.from(s).toString('base64url');
}

/** header.payload.signature; the caller has checked that the key fits alg. */
export function signCompact(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject, alg: WitAlgorithm): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${sign(HASH[alg], Buffer.from(input), options(alg, key)).toString('base64url')}`;
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Splits and decodes a compact JWS; null when it is not one (three base64url parts, JSON objects). */
export function decodeCompact(token: unknown): DecodedJws | null {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(payload)) return null;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch { return null; }
}

export function verifyCompact(jws: DecodedJws, key: KeyObject, alg: WitAlgorithm): boolean {
  try { return verify(HASH[alg], Buffer.from(jws.signingInput), options(alg, key), jws.signature); } catch { return false; }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
