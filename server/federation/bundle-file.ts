import { readFileSync } from 'node:fs';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import { pemToDer } from '../../spiffe/pem.ts';
import type { BundleRecord } from '../datastore/types.ts';
import { federationError } from './errors.ts';

/**
 * A bundle file an operator provides (bootstrap bundle of an https_spiffe relationship):
 * PEM CA certificates, or a SPIFFE bundle (JWKS, detected by its leading "{"), the
 * same two forms `tessera-server bundle show` prints.
 */
export function parseBundleText(text: string, td: TrustDomain, source: string): Omit<BundleRecord, 'sequence'> {
  if (text.trimStart().startsWith('{')) {
    let b: SpiffeBundle;
    try { b = SpiffeBundle.parseJwks(td, text); } catch (e) { throw federationError('ERR_FEDERATION_INVALID', `${source}: ${(e as Error).message}`, e); }
    if (b.x509Authorities.length === 0) throw federationError('ERR_FEDERATION_INVALID', `${source}: the SPIFFE bundle has no X.509 authorities (needed to authenticate the endpoint)`);
    return {
      trustDomain: td, x509Authorities: b.x509Authorities, refreshHint: b.refreshHint || 300,
      jwtAuthorities: [...b.jwtAuthorities].map(([kid, key]) => ({ kid, publicKey: new Uint8Array(key.export({ type: 'spki', format: 'der' })), expiresAt: 0 })),
    };
  }
  const ders = pemToDer(text);
  if (ders.length === 0) throw federationError('ERR_FEDERATION_INVALID', `${source}: no PEM certificate and not a SPIFFE bundle`);
  return { trustDomain: td, x509Authorities: ders, jwtAuthorities: [], refreshHint: 300 };
}

export function readBundleFile(path: string, td: TrustDomain, field: string): Omit<BundleRecord, 'sequence'> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw federationError('ERR_FEDERATION_INVALID', `${field}: cannot read ${path}: ${(e as Error).message}`, e); }
  return parseBundleText(text, td, `${field} (${path})`);
}
