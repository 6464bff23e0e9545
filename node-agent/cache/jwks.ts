import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JwtAuthorityKey, TrustBundle } from '../bootstrap/bundle.ts';

/**
 * JWT authorities of the agent's bundle in the two forms the Workload API needs:
 * KeyObjects by kid (ValidateJWTSVID) and SPIFFE JWKS bytes (FetchJWTBundles, jwt-svid
 * keys only, `kid` required).
 */
export function jwtKeys(b: TrustBundle): Map<string, KeyObject> {
  return new Map(b.jwtAuthorities.map((k) => [k.kid, publicKeyOf(k)]));
}

export function jwtBundleJwks(b: TrustBundle): Uint8Array {
  const keys = b.jwtAuthorities.map((k) => ({ ...(publicKeyOf(k).export({ format: 'jwk' }) as Record<string, unknown>), use: 'jwt-svid', kid: k.kid }));
  const doc: Record<string, unknown> = { keys };
  if (b.sequence) doc.spiffe_sequence = b.sequence;
  if (b.refreshHint) doc.spiffe_refresh_hint = b.refreshHint;
  return new TextEncoder().encode(JSON.stringify(doc));
}

function publicKeyOf(k: JwtAuthorityKey): KeyObject {
  return createPublicKey({ key: Buffer.from(k.publicKey), format: 'der', type: 'spki' });
}
