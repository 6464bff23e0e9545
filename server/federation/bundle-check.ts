import { X509Certificate } from 'node:crypto';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import type { BundleRecord, JwtAuthority } from '../datastore/types.ts';
import { federationError } from './errors.ts';

/**
 * What a fetched document must be before it replaces the stored bundle of a foreign
 * trust domain (docs/federation.md "What is refused"): UTF-8 JSON, a SPIFFE bundle
 * (SPIFFE_Trust_Domain_and_Bundle 4) with at least one authority, CA certificates that
 * name no other trust domain (the <trust domain, bundle> binding, Federation 7.3), and
 * a spiffe_sequence not below one already accepted (4.2). Any failure throws a
 * FederationError and the caller keeps what it had.
 */
export interface AcceptedBundle {
  /** What to store (the store assigns its own sequence). */
  record: Omit<BundleRecord, 'sequence'>;
  /** spiffe_sequence as published; undefined when the endpoint does not number its bundles. */
  sequence: number | undefined;
  /** spiffe_refresh_hint as published (seconds); undefined when absent. */
  refreshHint: number | undefined;
  /** False when `current` already holds exactly these authorities. */
  changed: boolean;
}

/** When the endpoint publishes no refresh hint (Federation 4.1 recommends five minutes). */
export const DEFAULT_REFRESH_HINT_S = 300;

export function acceptBundle(td: TrustDomain, body: Uint8Array, o: { lastSequence: number; current?: BundleRecord }): AcceptedBundle {
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(body); } catch (e) {
    throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: the document is not UTF-8`, e);
  }
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) {
    throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: not JSON (${(e as Error).message}; starts with ${JSON.stringify(text.slice(0, 40))})`, e);
  }
  let bundle: SpiffeBundle;
  try { bundle = SpiffeBundle.parseJwks(td, text); } catch (e) {
    throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: not a SPIFFE bundle: ${(e as Error).message}`, e);
  }
  if (bundle.x509Authorities.length === 0 && bundle.jwtAuthorities.size === 0) {
    throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: no X.509 authorities and no JWT keys (a bundle that trusts nothing is refused)`);
  }
  bundle.x509Authorities.forEach((der, i) => checkAuthority(td, der, i));

  const published = doc as { spiffe_sequence?: unknown; spiffe_refresh_hint?: unknown };
  const sequence = published.spiffe_sequence === undefined || published.spiffe_sequence === null ? undefined : bundle.sequence;
  if (sequence !== undefined && sequence < o.lastSequence) {
    throw federationError('ERR_FEDERATION_SEQUENCE',
      `bundle for ${td}: spiffe_sequence went backwards (${sequence} < ${o.lastSequence} already accepted); keeping the stored bundle`);
  }
  const refreshHint = published.spiffe_refresh_hint === undefined || published.spiffe_refresh_hint === null ? undefined : bundle.refreshHint;
  const jwtAuthorities: JwtAuthority[] = [...bundle.jwtAuthorities].map(([kid, key]) => ({
    kid, publicKey: new Uint8Array(key.export({ type: 'spki', format: 'der' })), expiresAt: 0,
  }));
  const record = { trustDomain: td, x509Authorities: bundle.x509Authorities, jwtAuthorities, refreshHint: refreshHint || DEFAULT_REFRESH_HINT_S };
  return { record, sequence, refreshHint, changed: !o.current || !sameAuthorities(o.current, record) };
}

/** A bundle's X.509 authorities are CA certificates; one whose SPIFFE ID names another trust domain is refused. */
function checkAuthority(td: TrustDomain, der: Uint8Array, i: number): void {
  let ca: boolean;
  try { ca = new X509Certificate(der).ca; } catch (e) {
    throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: X.509 authority ${i} is not a certificate`, e);
  }
  if (!ca) throw federationError('ERR_FEDERATION_BUNDLE_INVALID', `bundle for ${td}: X.509 authority ${i} is not a CA certificate`);
  for (const uri of readCertificate(der).uris) {
    if (!uri.toLowerCase().startsWith('spiffe://')) continue;
    if (uri.toLowerCase() !== td.idString) {
      throw federationError('ERR_FEDERATION_WRONG_TRUST_DOMAIN',
        `bundle for ${td}: X.509 authority ${i} is the CA of ${uri}, not of ${td.idString}: the endpoint serves another trust domain's bundle`);
    }
  }
}

function sameAuthorities(a: Omit<BundleRecord, 'sequence'>, b: Omit<BundleRecord, 'sequence'>): boolean {
  const x = (l: Uint8Array[]) => l.map((d) => Buffer.from(d).toString('base64')).sort().join(',');
  const j = (l: JwtAuthority[]) => l.map((k) => `${k.kid}:${Buffer.from(k.publicKey).toString('base64')}`).sort().join(',');
  return x(a.x509Authorities) === x(b.x509Authorities) && j(a.jwtAuthorities) === j(b.jwtAuthorities) && a.refreshHint === b.refreshHint;
}
