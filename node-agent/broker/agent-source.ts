import { X509Bundle, type X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { X509SvidSource } from '../../spiffe/source/types.ts';
import { parseX509Svid, type X509Svid } from '../../spiffe/x509svid/parse.ts';
import type { AgentSvid } from '../bootstrap/server-api.ts';
import type { TrustBundle } from '../bootstrap/bundle.ts';

/** What the Broker Endpoint needs of the agent's identity (AgentIdentity has it). */
export interface AgentCredentials {
  readonly svid: AgentSvid;
  readonly bundle: TrustBundle;
}

/**
 * The agent's own SVID and trust bundle as SDK sources, for the Broker Endpoint's
 * mTLS: the endpoint presents the agent SVID (brokers authenticate the agent by its
 * SPIFFE ID, Broker Endpoint §5) and verifies brokers against the agent's bundle,
 * our own trust domain only. Read at each handshake, so a renewed agent SVID or a
 * new bundle is used by the next connection.
 */
export class AgentCredentialSource implements X509SvidSource, X509BundleSource {
  private svidCache: { from: AgentSvid; svid: X509Svid } | undefined;
  private bundleCache: { from: TrustBundle; bundle: X509Bundle } | undefined;

  constructor(private readonly identity: AgentCredentials) {}

  getX509Svid(): X509Svid {
    const from = this.identity.svid;
    if (this.svidCache?.from !== from) {
      // The same object until the SVID changes, so the TLS server keeps its context until then.
      const svid = parseX509Svid(from.chain);
      svid.privateKey = from.key;
      this.svidCache = { from, svid };
    }
    return this.svidCache.svid;
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    const from = this.identity.bundle;
    if (!td.equals(from.trustDomain)) return undefined;
    if (this.bundleCache?.from !== from) this.bundleCache = { from, bundle: new X509Bundle(from.trustDomain, from.x509Authorities) };
    return this.bundleCache.bundle;
  }
}
