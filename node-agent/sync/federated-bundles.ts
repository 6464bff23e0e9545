import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Logger } from '../../common/logger.ts';
import { JwtBundle } from '../../spiffe/bundle/jwtbundle.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { AttestedWorkload, IdentityProvider } from '../workload-api/provider.ts';
import type { EntryCache } from './entry-cache.ts';

/**
 * Foreign trust domains' bundles on the agent (docs/federation.md "Reaching workloads").
 * The server sends, on the sync stream, the complete set for the trust domains this
 * agent's entries federate with; each workload then gets only those its own matching
 * entries name in federates_with: in X509SVIDResponse.federated_bundles, and next to
 * its own trust domain's bundle in FetchX509Bundles and FetchJWTBundles. Bundles are
 * never merged: each stays keyed by its trust domain.
 */
export interface ForeignBundle {
  trustDomain: TrustDomain;
  x509Authorities: Uint8Array[];
  /** SPIFFE JWKS bytes of the jwt-svid keys only (FetchJWTBundles is for JWT validation). */
  jwks: Uint8Array;
  jwt: JwtBundle;
  /** The server's sequence of this stored bundle: a new one means new content. */
  sequence: number;
}

export class FederatedBundleCache {
  private byName = new Map<string, ForeignBundle>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly own: TrustDomain, private readonly logger: Logger) {}

  get size(): number { return this.byName.size; }
  get(trustDomain: string): ForeignBundle | undefined { return this.byName.get(trustDomain); }

  /** Replaces the whole set (one sync message); a bundle that does not parse is left out and logged. */
  replace(bundles: readonly Bundle__Output[]): void {
    const next = new Map<string, ForeignBundle>();
    for (const b of bundles) {
      try {
        const td = TrustDomain.parse(b.trust_domain);
        if (td.equals(this.own)) throw new Error('it is the agent\'s own trust domain');
        const keys = new Map<string, KeyObject>();
        for (const k of b.jwt_authorities) keys.set(k.key_id, createPublicKey({ key: Buffer.from(k.public_key), format: 'der', type: 'spki' }));
        const doc = new SpiffeBundle(td, { jwtAuthorities: keys, sequence: b.sequence, refreshHint: b.refresh_hint }).toJwks();
        next.set(td.name, {
          trustDomain: td, x509Authorities: b.x509_authorities.map((d) => new Uint8Array(d)),
          jwks: new TextEncoder().encode(JSON.stringify(doc)), jwt: new JwtBundle(td, keys), sequence: b.sequence,
        });
      } catch (e) {
        this.logger.warn('ignoring a federated bundle from the server', { trust_domain: b.trust_domain, err: e as Error });
      }
    }
    const digest = (m: Map<string, ForeignBundle>) => [...m.values()].map((b) => `${b.trustDomain.name}@${b.sequence}`).sort().join(',');
    if (digest(next) === digest(this.byName)) return;
    this.byName = next;
    this.logger.info('federated bundles updated', { trust_domains: [...next.keys()] });
    for (const l of this.listeners) l();
  }

  onChange(l: () => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }
}

/**
 * The Workload API provider with federation: `inner` (the SVID cache) for identities
 * and the agent's own bundle; the foreign bundles each caller's entries federate with
 * from `federated`. ValidateJWTSVID accepts a foreign JWT-SVID when the agent holds
 * that trust domain's bundle.
 */
export function withFederatedBundles(inner: IdentityProvider, entries: EntryCache, federated: FederatedBundleCache, now: () => number): IdentityProvider {
  const foreignFor = (w: AttestedWorkload): ForeignBundle[] => {
    const names = new Set<string>();
    for (const e of entries.match(w.selectors, now())) for (const td of e.federatesWith) names.add(td);
    return [...names].sort().flatMap((td) => federated.get(td) ?? []);
  };
  return {
    x509Svids: (w) => inner.x509Svids(w),
    jwtSvids: (w, audience, spiffeId) => inner.jwtSvids(w, audience, spiffeId),
    hasIdentity: (w) => inner.hasIdentity(w),
    watchX509Svids: inner.watchX509Svids ? (w, notify) => inner.watchX509Svids!(w, notify) : undefined,
    x509FederatedBundles(w) {
      return new Map(foreignFor(w).filter((b) => b.x509Authorities.length > 0).map((b) => [b.trustDomain.idString, b.x509Authorities]));
    },
    x509Bundles(w?: AttestedWorkload) {
      const out = new Map(inner.x509Bundles());
      if (w) for (const b of foreignFor(w)) if (b.x509Authorities.length > 0) out.set(b.trustDomain.idString, b.x509Authorities);
      return out;
    },
    jwtBundles(w?: AttestedWorkload) {
      const out = new Map(inner.jwtBundles());
      if (w) for (const b of foreignFor(w)) out.set(b.trustDomain.idString, b.jwks);
      return out;
    },
    async validateJwtSvid(token, audience) {
      const td = foreignTrustDomainOf(token);
      const b = td ? federated.get(td) : undefined;
      if (!b) return inner.validateJwtSvid(token, audience);
      const svid = await verifyJwtSvid(token, { getJwtBundleForTrustDomain: (t) => (t.equals(b.trustDomain) ? b.jwt : undefined) }, audience, { now: new Date(now()) });
      return { spiffeId: svid.id.toString(), claims: svid.claims };
    },
    onChange(listener) {
      const a = inner.onChange(listener);
      const b = federated.onChange(listener);
      return () => { a(); b(); };
    },
  };
}

/** The trust domain a token claims to be from (unverified: only to pick the bundle to verify it with). */
function foreignTrustDomainOf(token: string): string | undefined {
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === 'string' ? SpiffeId.parse(sub).trustDomain.name : undefined;
  } catch { return undefined; }
}
