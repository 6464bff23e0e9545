import { createPublicKey, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { BundleRecord } from '../datastore/types.ts';
import type { Status } from '../../proto/gen/tessera-api/tessera/v1/Status.ts';

/** Per-item batch status and SPIFFE JWKS for the API adapters (entry/agent/bundle messages: server/entries/wire.ts). */
export const OK_STATUS: Status = { code: grpc.status.OK, message: 'OK' };

/** A typed error as a per-item batch status (same mapping as whole-call errors). */
export function errorToStatus(e: unknown): Status {
  const g = toGrpcError(e);
  return { code: g.code, message: g.details };
}

/** SPIFFE JWKS (spec: x509-svid keys with x5c and no kid; jwt-svid keys with kid). */
export function bundleToJwks(b: BundleRecord): object {
  const keys: object[] = [];
  for (const der of b.x509Authorities) {
    const jwk = new X509Certificate(der).publicKey.export({ format: 'jwk' });
    keys.push({ use: 'x509-svid', ...jwk, x5c: [Buffer.from(der).toString('base64')] });
  }
  for (const k of b.jwtAuthorities) {
    const jwk = createPublicKey({ key: Buffer.from(k.publicKey), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    keys.push({ use: 'jwt-svid', kid: k.kid, ...jwk });
  }
  return { keys, spiffe_sequence: b.sequence, spiffe_refresh_hint: b.refreshHint };
}

