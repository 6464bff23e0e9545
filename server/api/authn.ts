import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { permissionDenied } from '../../common/errors.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import type { AttestedAgent, Datastore } from '../datastore/types.ts';
import type { CaManager } from '../ca/manager.ts';
import { normalizeSerial } from '../ca/signer.ts';

/**
 * Authenticates the caller of an agent API RPC by its agent X.509-SVID: the TLS
 * client certificate is verified against the current bundle (also per call, since a
 * connection can outlive the certificate), must carry an agent ID, and must belong to
 * an attested agent that is not banned and whose current SVID it is.
 */
export interface AuthenticatedAgent {
  id: SpiffeId;
  serial: string;
  agent: AttestedAgent;
}

type CallWithAuth = { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | null };

export class AgentAuthenticator {
  /**
   * The serial an agent held before its last renewal. A gRPC channel keeps the TLS
   * session (and so the old certificate) it opened with, so an agent that just renewed
   * may still present the previous SVID until it reconnects.
   */
  private previousSerial = new Map<string, string>();

  constructor(private readonly o: { ca: CaManager; store: Pick<Datastore, 'getAgent'>; clock: Clock }) {}

  noteRenewal(agentId: string, oldSerial: string): void { this.previousSerial.set(agentId, oldSerial); }
  forget(agentId: string): void { this.previousSerial.delete(agentId); }

  /** The verified peer certificate chain's SPIFFE ID and serial (no agent record check). */
  verifyPeer(call: CallWithAuth): { id: SpiffeId; serial: string } {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw) {
      throw permissionDenied('ERR_AGENT_NO_SVID',
        'no agent X.509-SVID presented: this RPC needs a client certificate signed by this server\'s CA (attest first)');
    }
    const leaf = new Uint8Array(raw);
    const ca = this.o.ca;
    const chain: Uint8Array[] = [leaf];
    if (ca.upstream) {
      const x = new X509Certificate(leaf);
      const slot = ca.slots().find((s) => { const c = new X509Certificate(s.certificate); return x.checkIssued(c) && x.verify(c.publicKey); });
      if (slot) chain.push(slot.certificate, ...slot.upstreamChain);
    }
    const bundle = new X509Bundle(ca.trustDomain, ca.x509Authorities());
    let id: SpiffeId;
    try {
      ({ id } = verifyX509Svid(chain, { getX509BundleForTrustDomain: (td) => (td.equals(ca.trustDomain) ? bundle : undefined) },
        { now: new Date(this.o.clock.now()) }));
    } catch (e) {
      throw permissionDenied('ERR_AGENT_SVID_INVALID', `agent X.509-SVID rejected: ${(e as Error).message}`);
    }
    if (!id.path.startsWith('/tessera/agent/')) {
      throw permissionDenied('ERR_AGENT_SVID_NOT_AGENT', `${id} is not an agent ID (spiffe://${ca.trustDomain}/tessera/agent/...)`);
    }
    return { id, serial: normalizeSerial(new X509Certificate(leaf).serialNumber) };
  }

  async authenticate(call: CallWithAuth): Promise<AuthenticatedAgent> {
    const { id, serial } = this.verifyPeer(call);
    const agent = await this.o.store.getAgent(id.toString());
    this.checkRecord(id, serial, agent);
    return { id, serial, agent: agent! };
  }

  /** The agent record rules (also re-checked on open streams when the record changes). */
  checkRecord(id: SpiffeId, serial: string, agent: AttestedAgent | undefined): void {
    if (!agent) throw permissionDenied('ERR_AGENT_NOT_ATTESTED', `agent ${id} is not attested (it was evicted or never attested); attest again`);
    if (agent.banned) throw permissionDenied('ERR_AGENT_BANNED', `agent ${id} is banned`);
    if (normalizeSerial(agent.serial) !== serial && this.previousSerial.get(id.toString()) !== serial) {
      throw permissionDenied('ERR_AGENT_SVID_SUPERSEDED', `agent SVID serial ${serial} is not the current one for ${id} (it was superseded)`);
    }
  }
}
