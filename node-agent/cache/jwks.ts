import { createPublicKey, type KeyObject } from 'node:crypto';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import type { TrustBundle } from '../bootstrap/bundle.ts';

/**
 * The JWT half of the agent's bundle as a spiffe/ SpiffeBundle, which owns the SPIFFE
 * JWKS encoding; the Workload API needs it as a JwtBundle (ValidateJWTSVID) and as
 * JWKS bytes (FetchJWTBundles).
 *
 * Only the jwt-svid keys go in: bundles from FetchJWTBundles are for JWT validation
 * only (SPIFFE Workload API), so the X.509 authorities are left out on purpose.
 */
export function jwtSpiffeBundle(b: TrustBundle): SpiffeBundle {
  const keys = new Map<string, KeyObject>();
  for (const k of b.jwtAuthorities) keys.set(k.kid, createPublicKey({ key: Buffer.from(k.publicKey), format: 'der', type: 'spki' }));
  return new SpiffeBundle(b.trustDomain, { jwtAuthorities: keys, sequence: b.sequence, refreshHint: b.refreshHint });
}

/** SPIFFE JWKS bytes of the bundle's JWT keys, with spiffe_sequence and spiffe_refresh_hint when set. */
export function jwtBundleJwks(bundle: SpiffeBundle): Uint8Array {
  const doc = bundle.toJwks();
  // A sequence of 0 means the server never numbered this bundle; the agent has always
  // left the member out then rather than publish a number that could go backwards.
  if (!bundle.sequence) delete doc.spiffe_sequence;
  return new TextEncoder().encode(JSON.stringify(doc));
}
