import { X509Certificate } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import type { Clock } from '../../common/clock.ts';
import { permissionDenied, TesseraError } from '../../common/errors.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import type { AttestedAgent, Datastore } from '../datastore/types.ts';
import type { CaManager, CaSlot } from '../ca/manager.ts';
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
  /** The presented SVID's notAfter (ms): streams opened with it end then. */
  notAfter: number;
  agent: AttestedAgent;
}

type CallWithAuth = { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | null };

/**
 * The TLS socket under a grpc-js server call: the surface call wraps an intercepting
 * call whose chain (`nextCall`) ends at the one holding the HTTP/2 stream. Internal
 * grpc-js layout (1.14), walked defensively: undefined when it is not found.
 */
function tlsSocketOf(call: unknown): TLSSocket | undefined {
  let c = (call as { call?: unknown }).call;
  for (let i = 0; i < 8 && typeof c === 'object' && c !== null; i++) {
    const socket = (c as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

export class AgentAuthenticator {
  /** Per-agent-ID critical sections (see exclusive()). */
  private locks = new Map<string, Promise<unknown>>();
  /** Parsed CA certificates per slot: parsed once, not on every agent RPC. */
  private slotCerts = new WeakMap<CaSlot, X509Certificate>();

  constructor(private readonly o: {
    ca: CaManager; store: Pick<Datastore, 'getAgent'>; clock: Clock;
    /** The agent records as of the last change applied (the entry index): used only while the datastore is unreachable. */
    fallback?: { getAgent(agentId: string): AttestedAgent | undefined };
  }) {}

  /**
   * Runs `fn` after every earlier exclusive() call for this agent ID has settled.
   * Every read-modify-write of an agent record (renewal, attestation, ban, eviction)
   * runs under this lock, so within this process a renewal or attestation that would
   * lose to a ban, eviction or first-use attestation is refused before it signs. It
   * serialises only this process: across servers the store's conditional writes
   * (Datastore.renewAgent, recordAttestedAgent) decide, and the loser drops what it signed.
   */
  async exclusive<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(agentId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.locks.set(agentId, tail);
    void tail.then(() => { if (this.locks.get(agentId) === tail) this.locks.delete(agentId); });
    return run;
  }

  /** The verified peer certificate chain's SPIFFE ID, serial and expiry (no agent record check). */
  verifyPeer(call: CallWithAuth): { id: SpiffeId; serial: string; notAfter: number } {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw) {
      const refused = this.refusedByTls(call);
      if (refused) throw permissionDenied('ERR_AGENT_SVID_INVALID', refused);
      throw permissionDenied('ERR_AGENT_NO_SVID',
        'no agent X.509-SVID presented: this RPC needs a client certificate signed by this server\'s CA (attest first)');
    }
    const leaf = new Uint8Array(raw);
    const ca = this.o.ca;
    const chain: Uint8Array[] = [leaf];
    let x: X509Certificate;
    try { x = new X509Certificate(leaf); } catch {
      throw permissionDenied('ERR_AGENT_SVID_INVALID', 'agent X.509-SVID rejected: the client certificate is not parseable');
    }
    if (ca.upstream) {
      const slot = ca.slots().find((s) => { const c = this.slotCertificate(s); return x.checkIssued(c) && x.verify(c.publicKey); });
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
    return { id, serial: normalizeSerial(x.serialNumber), notAfter: new Date(x.validTo).getTime() };
  }

  /**
   * Why TLS refused a client certificate that was presented, or undefined if none was.
   * grpc-js hides the peer certificate of a connection whose TLS verification failed
   * (getAuthContext() is then empty, exactly as with no certificate), so the socket is
   * read here, only to word the refusal: nothing on it is ever trusted.
   */
  private refusedByTls(call: CallWithAuth): string | undefined {
    const socket = tlsSocketOf(call);
    if (!socket || socket.authorized) return undefined;
    const raw = socket.getPeerCertificate()?.raw;
    if (!raw?.length) return undefined;
    let x: X509Certificate;
    try { x = new X509Certificate(raw); } catch { return 'agent X.509-SVID rejected: the client certificate is not parseable'; }
    const uri = (x.subjectAltName ?? '').split(', ').find((n) => n.startsWith('URI:'))?.slice(4).slice(0, 256);
    const what = uri ? `the client certificate for ${uri}` : `the client certificate "${x.subject.replace(/\n/g, ', ').slice(0, 256)}"`;
    const td = this.o.ca.trustDomain;
    const issuers = [...this.o.ca.slots().map((s) => this.slotCertificate(s)), ...this.o.ca.x509Authorities().map((d) => new X509Certificate(d))];
    const issued = (c: X509Certificate) => { try { return x.checkIssued(c) && x.verify(c.publicKey); } catch { return false; } };
    if (!issuers.some(issued)) {
      return `agent X.509-SVID rejected: ${what} was not issued by this trust domain's CA (spiffe://${td.name}); attest to get an agent SVID from this server`;
    }
    return `agent X.509-SVID rejected: ${what} failed TLS verification (${String(socket.authorizationError ?? 'unknown reason')})`;
  }

  private slotCertificate(s: CaSlot): X509Certificate {
    let c = this.slotCerts.get(s);
    if (!c) { c = new X509Certificate(s.certificate); this.slotCerts.set(s, c); }
    return c;
  }

  /**
   * verifyPeer, and a refusal of an agent the entry index already knows to be banned: a
   * check with no datastore read, made before signing so a banned agent whose SVID is
   * still valid cannot spend the server's signing time. Not authoritative (the index may
   * lag a renewal or an attestation, so only `banned` is taken from it): callers still
   * authenticate() after signing.
   */
  verifyPeerNotBanned(call: CallWithAuth): { id: SpiffeId; serial: string; notAfter: number } {
    const peer = this.verifyPeer(call);
    if (this.o.fallback?.getAgent(peer.id.toString())?.banned) throw permissionDenied('ERR_AGENT_BANNED', `agent ${peer.id} is banned`);
    return peer;
  }

  async authenticate(call: CallWithAuth): Promise<AuthenticatedAgent> {
    const { id, serial, notAfter } = this.verifyPeer(call);
    let agent: AttestedAgent | undefined;
    try {
      agent = await this.o.store.getAgent(id.toString());
    } catch (e) {
      // An outage of the datastore must not stop signing for agents it already knows:
      // the index's record is at most one missed change old (a ban or renewal made
      // through another server during the outage).
      const cached = e instanceof TesseraError && e.kind === 'unavailable' ? this.o.fallback?.getAgent(id.toString()) : undefined;
      if (!cached) throw e;
      agent = cached;
    }
    this.checkRecord(id, serial, agent);
    return { id, serial, notAfter, agent: agent! };
  }

  /**
   * The agent record rules (also re-checked on open streams when the record changes).
   * The SVID before the last renewal is accepted from the record itself (the store
   * keeps it, so it holds across restarts and servers; a fresh attestation clears it).
   */
  checkRecord(id: SpiffeId, serial: string, agent: AttestedAgent | undefined): asserts agent is AttestedAgent {
    if (!agent) throw permissionDenied('ERR_AGENT_NOT_ATTESTED', `agent ${id} is not attested (it was evicted or never attested); attest again`);
    if (agent.banned) throw permissionDenied('ERR_AGENT_BANNED', `agent ${id} is banned`);
    const previous = agent.previousSerial ? normalizeSerial(agent.previousSerial) : '';
    if (normalizeSerial(agent.serial) !== serial && previous !== serial) {
      throw permissionDenied('ERR_AGENT_SVID_SUPERSEDED', `agent SVID serial ${serial} is not the current one for ${id} (it was superseded)`);
    }
  }
}
