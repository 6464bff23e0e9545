import type { TrustDomain } from '../../spiffe/id.ts';
import type { Logger } from '../../common/logger.ts';
import type { AgentStore } from './store.ts';
import type { AgentSvid, ServerApi } from './server-api.ts';
import type { TrustBundle } from './bundle.ts';
import { certInfo, type CertInfo } from './cert-info.ts';

/**
 * The agent's own identity while it runs: the current agent SVID and bundle. Every
 * change is persisted to the data dir and handed to the server channel (mTLS), and
 * listeners (the SVID cache) hear about bundle changes.
 */
export class AgentIdentity {
  private svidValue: AgentSvid;
  /** The current leaf's ID and lifetime, read once per SVID: `spiffeId` is asked on every Workload API call. */
  private leaf: CertInfo;
  private bundleValue: TrustBundle;
  private revokedReason: string | undefined;
  private readonly bundleListeners = new Set<(b: TrustBundle) => void>();
  private readonly revokeListeners = new Set<(reason: string) => void>();

  constructor(private readonly deps: { store: AgentStore; api: ServerApi; trustDomain: TrustDomain; logger: Logger }, state: { svid: AgentSvid; bundle: TrustBundle }) {
    this.svidValue = state.svid;
    this.leaf = certInfo(state.svid.chain[0]!);
    this.bundleValue = state.bundle;
  }

  get svid(): AgentSvid { return this.svidValue; }
  get bundle(): TrustBundle { return this.bundleValue; }
  get trustDomain(): TrustDomain { return this.deps.trustDomain; }
  get spiffeId(): string { return this.leaf.spiffeId ?? ''; }
  /** ms since the epoch. */
  get lifetime(): { notBefore: number; notAfter: number } {
    return { notBefore: this.leaf.notBefore, notAfter: this.leaf.notAfter };
  }
  get revoked(): string | undefined { return this.revokedReason; }

  setSvid(svid: AgentSvid): void {
    const leaf = certInfo(svid.chain[0]!);
    this.deps.store.saveSvid(svid);
    this.svidValue = svid;
    this.leaf = leaf;
    this.deps.api.update({ svid });
  }

  /** Applies a bundle from the server; a no-op when nothing changed. */
  setBundle(b: TrustBundle): void {
    if (sameBundle(b, this.bundleValue)) return;
    this.deps.store.saveBundle(b);
    this.bundleValue = b;
    this.deps.api.update({ bundle: b });
    this.deps.logger.info('trust bundle updated', { sequence: b.sequence, x509_authorities: b.x509Authorities.length, jwt_authorities: b.jwtAuthorities.length });
    for (const l of this.bundleListeners) l(b);
  }

  /** Banned or evicted: forget the SVID on disk (a restart must attest again) and tell listeners. */
  revoke(reason: string): void {
    if (this.revokedReason) return;
    this.revokedReason = reason;
    this.deps.store.clearSvid();
    for (const l of this.revokeListeners) l(reason);
  }

  onBundleChange(l: (b: TrustBundle) => void): () => void { this.bundleListeners.add(l); return () => this.bundleListeners.delete(l); }
  onRevoked(l: (reason: string) => void): () => void { this.revokeListeners.add(l); return () => this.revokeListeners.delete(l); }
}

function sameBundle(a: TrustBundle, b: TrustBundle): boolean {
  const key = (x: TrustBundle) => JSON.stringify([x.trustDomain.name, x.sequence, x.refreshHint,
    x.x509Authorities.map((d) => Buffer.from(d).toString('base64')),
    x.jwtAuthorities.map((k) => [k.kid, Buffer.from(k.publicKey).toString('base64'), k.expiresAt])]);
  return key(a) === key(b);
}
