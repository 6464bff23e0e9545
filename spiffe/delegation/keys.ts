import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { invalid } from './errors.ts';
import type { DelegationKey, DelegationKeySource } from './types.ts';

/** The only `alg` values a delegated token may carry (never none, never HS*). */
export const DELEGATION_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'] as const;
export type DelegationAlgorithm = typeof DELEGATION_ALGORITHMS[number];

export function isDelegationAlgorithm(alg: unknown): alg is DelegationAlgorithm {
  return typeof alg === 'string' && (DELEGATION_ALGORITHMS as readonly string[]).includes(alg);
}

/**
 * JWKS (RFC 7517) → keys: each needs a `kid`, `use` absent or "sig", and must import
 * as a public key Node can verify with; keys that do not are skipped and reported
 * through `onSkip`, so one odd key never hides the others. Throws on a document that
 * is not a JWKS at all.
 */
export function importJwks(doc: unknown, onSkip?: (kid: string, why: string) => void): DelegationKey[] {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(keys)) throw invalid('keys_unavailable', 'JWKS document has no "keys" array');
  const out: DelegationKey[] = [];
  for (const raw of keys as unknown[]) {
    const jwk = raw as JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown };
    const kid = typeof jwk?.kid === 'string' ? jwk.kid : '';
    if (!kid) { onSkip?.('(none)', 'no kid'); continue; }
    if (jwk.use !== undefined && jwk.use !== 'sig') { onSkip?.(kid, `use is ${String(jwk.use)}`); continue; }
    if (jwk.alg !== undefined && !isDelegationAlgorithm(jwk.alg)) { onSkip?.(kid, `alg ${String(jwk.alg)} is not allowed`); continue; }
    if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') { onSkip?.(kid, `kty ${String(jwk.kty)} is not a signature key type`); continue; }
    try {
      // Only the public members: a JWKS that leaks "d" must not make us hold a private key.
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
      const key = createPublicKey({ key: pub, format: 'jwk' });
      out.push({ kid, key, ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}) });
    } catch (err) {
      onSkip?.(kid, `not importable: ${(err as Error).message}`);
    }
  }
  return out;
}

const CURVES: Partial<Record<DelegationAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1' };
const fits = new WeakMap<KeyObject, Set<string>>();

/**
 * Whether `key` can verify `alg` (no alg confusion: an RSA key never verifies ES256,
 * a P-384 key never ES256, RSA under 2048 bits never). Cached per key object.
 */
export function keyFitsAlgorithm(key: KeyObject, alg: DelegationAlgorithm): boolean {
  let set = fits.get(key);
  if (set?.has(alg)) return true;
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails;
  let ok: boolean;
  switch (alg) {
    case 'ES256': case 'ES384': ok = type === 'ec' && d?.namedCurve === CURVES[alg]; break;
    case 'RS256': ok = type === 'rsa' && (d?.modulusLength ?? 0) >= 2048; break;
    case 'PS256': ok = (type === 'rsa' || type === 'rsa-pss') && (d?.modulusLength ?? 0) >= 2048; break;
    case 'EdDSA': ok = type === 'ed25519' || type === 'ed448'; break;
  }
  if (ok && key.type === 'public') {
    if (!set) { set = new Set(); fits.set(key, set); }
    set.add(alg);
    return true;
  }
  return false;
}

/** A fixed key set (tests, or keys distributed out of band): a JWKS object or keys by kid. */
export function createStaticDelegationKeys(keys: DelegationKey[] | Map<string, KeyObject> | { keys: unknown[] }): DelegationKeySource {
  const list: DelegationKey[] = keys instanceof Map
    ? [...keys].map(([kid, key]) => ({ kid, key: key.type === 'private' ? createPublicKey(key) : key }))
    : Array.isArray(keys) ? keys.map((k) => (k.key.type === 'private' ? { ...k, key: createPublicKey(k.key) } : k)) : importJwks(keys);
  const byKid = new Map(list.map((k) => [k.kid, k]));
  return { getKey: (kid) => byKid.get(kid) };
}
