import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isWitAlgorithm, keyFitsAlg, type WitAlgorithm } from './jws.ts';

/** JWK members that only a private (or symmetric) key has: a `cnf.jwk` must carry none. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The public JWK of `key` with `alg`, members in lexicographic order (as WIT-SVID Appendix A). */
export function publicJwk(key: KeyObject, alg: WitAlgorithm): Record<string, string> {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const j = pub.export({ format: 'jwk' }) as Record<string, string>;
  return sorted({ ...pick(j, pub.asymmetricKeyType === 'ec' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n']), alg });
}

/** The private JWK of `key` with `alg` (what wit_svid_key carries on the Workload API). */
export function privateJwk(key: KeyObject, alg: WitAlgorithm): Record<string, string> {
  const j = key.export({ format: 'jwk' }) as Record<string, string>;
  return sorted({ ...j, alg });
}

/** A public key from a JWK; throws (with the reason) when it is private, unusable or does not fit its alg. */
export function publicKeyFromJwk(jwk: unknown): { key: KeyObject; alg: WitAlgorithm } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error('jwk is not an object');
  const j = jwk as Record<string, unknown>;
  if (!isWitAlgorithm(j.alg)) throw new Error(`jwk alg ${JSON.stringify(j.alg)} is not one of the WIT-SVID algorithms`);
  const priv = PRIVATE_MEMBERS.find((m) => m in j);
  if (priv) throw new Error(`jwk carries the private member "${priv}"`);
  const key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
  if (!keyFitsAlg(key, j.alg)) throw new Error(`jwk (${key.asymmetricKeyType}) cannot verify ${j.alg}`);
  return { key, alg: j.alg };
}

/** A private key from a JWK (a WITSVID message's wit_svid_key). */
export function privateKeyFromJwk(jwk: unknown): { key: KeyObject; alg: WitAlgorithm | undefined } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error('jwk is not an object');
  const j = jwk as Record<string, unknown>;
  if (typeof j.d !== 'string') throw new Error('jwk is not a private key (no "d")');
  const key = createPrivateKey({ key: j as JsonWebKey, format: 'jwk' });
  return { key, alg: isWitAlgorithm(j.alg) ? j.alg : undefined };
}

function pick(o: Record<string, string>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function sorted(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
