import type { Selector } from '../../spiffe/selector.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';

/**
 * The seam between the Workload API endpoint (transport) and the agent's SVID cache
 * (synced entries + minted SVIDs). The endpoint attests the caller, then asks the
 * provider for what that caller may have; it never decides identity itself.
 */
export interface AttestedWorkload {
  selectors: Selector[];
  /** Stable opaque id of this workload instance (agent_instance_id). */
  instanceId: string;
  pid: number;
  uid: number;
  gid: number;
}

export interface WorkloadX509Svid {
  spiffeId: string;
  /** DER certificates, leaf first. */
  certChain: Uint8Array[];
  /** PKCS#8 DER, unencrypted. */
  privateKey: Uint8Array;
  /**
   * DER CA certificates of the SVID's own trust domain. Never changed in place once
   * handed out (a new bundle is a new array): the endpoint encodes each array once.
   */
  bundle: readonly Uint8Array[];
  hint: string;
  expiresAt: number;
  claims: AgentClaims;
}

export interface WorkloadJwtSvid {
  spiffeId: string;
  token: string;
  hint: string;
  expiresAt: number;
}

export interface IdentityProvider {
  /** The caller's X.509-SVIDs, default identity first; [] = no identity. */
  x509Svids(w: AttestedWorkload): Promise<WorkloadX509Svid[]>;
  /** JWT-SVIDs for the audience: one per matching entry, or just `spiffeId` when given. */
  jwtSvids(w: AttestedWorkload, audience: string[], spiffeId?: string): Promise<WorkloadJwtSvid[]>;
  /** Whether any entry matches the caller (without minting anything). */
  hasIdentity(w: AttestedWorkload): boolean;
  /**
   * Trust domain ID ("spiffe://td") -> DER CA certs (arrays as for `bundle`): our own,
   * plus, given the caller, the foreign ones its entries federate with (docs/federation.md).
   */
  x509Bundles(w?: AttestedWorkload): Map<string, readonly Uint8Array[]>;
  /**
   * Optional: bundles of the foreign trust domains the caller's entries federate
   * with (X509SVIDResponse.federated_bundles). Absent = none are sent, never all.
   */
  x509FederatedBundles?(w: AttestedWorkload): Map<string, readonly Uint8Array[]>;
  /** Trust domain ID -> SPIFFE JWKS JSON bytes (jwt-svid keys only); foreign ones as for x509Bundles. */
  jwtBundles(w?: AttestedWorkload): Map<string, Uint8Array>;
  /** Validates a JWT-SVID against the JWT bundles; throws a typed SpiffeError. */
  validateJwtSvid(token: string, audience: string): Promise<{ spiffeId: string; claims: Record<string, unknown> }>;
  /**
   * Fires after anything a stream shows may have changed: entries, bundles, and SVIDs
   * unless the provider has watchX509Svids (then new SVIDs reach only their watchers).
   */
  onChange(listener: () => void): () => void;
  /**
   * Optional: calls `notify` whenever one of the X.509-SVIDs `w` is served (or waits
   * for) is replaced, however it was minted (on demand for another caller, rotation,
   * re-mint after an outage), until the returned function is called. The SVIDs
   * followed track `w`'s matching entries.
   */
  watchX509Svids?(w: AttestedWorkload, notify: () => void): () => void;
}
