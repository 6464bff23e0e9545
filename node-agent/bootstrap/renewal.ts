import { createCsr } from '../../spiffe/x509svid/csr.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { TesseraError } from '../../common/errors.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { isAgentRevoked } from './grpc-errors.ts';
import { checkAgentSvid, newKeyPair } from './attest.ts';
import { halfLifeTime } from '../cache/rotation.ts';
import type { AgentIdentity } from './identity.ts';
import type { ServerApi } from './server-api.ts';

/**
 * Renews the agent SVID (RenewAgent over mTLS, new key each time) at half its
 * lifetime; retries with backoff and jitter while the server is unreachable. A
 * PermissionDenied answer means the agent was banned or evicted: the identity is
 * revoked (logged, SVID forgotten) and the loop ends.
 */
export class AgentRenewal {
  private wake: AbortController | undefined;

  /**
   * When the current SVID arrived (ms), if known. The server backdates notBefore (10 s)
   * to absorb clock skew, so with a short agent TTL "half-life from notBefore" is
   * already past on receipt and the loop would renew back to back; half-life counts
   * from receipt instead, as for workload SVIDs. Unknown for an identity resumed from
   * the data dir: then notBefore is used (at worst a little early).
   */
  private receivedAt: number | undefined;

  constructor(private readonly p: { identity: AgentIdentity; api: ServerApi; clock: Clock; logger: Logger; signal: AbortSignal; backoff?: Backoff; receivedAt?: number }) {
    this.receivedAt = p.receivedAt;
  }

  /** Renew now (e.g. the server refused the current SVID elsewhere). */
  kick(): void { this.wake?.abort(); }

  async run(): Promise<void> {
    const { identity, api, clock, logger, signal } = this.p;
    const backoff = this.p.backoff ?? new Backoff({ initialMs: 1_000, maxMs: 60_000 });
    /** When a failed renewal is tried again; undefined while none failed. */
    let due: number | undefined;
    // A renewal waiting out an outage goes as soon as a server answers again, not at the
    // next backoff step (up to a minute later, possibly past the SVID's expiry).
    const unsubscribe = api.onConnectionChange((up) => { if (up && due !== undefined) this.kick(); });
    try {
      while (!signal.aborted) {
        const { notBefore, notAfter } = identity.lifetime;
        const at = due ?? halfLifeTime(notBefore, notAfter, this.receivedAt);
        if (!(await this.sleepUntil(at))) continue;
        if (signal.aborted) return;
        try {
          const { privateKey, publicKey } = await newKeyPair();
          const chain = await api.renewAgent(await createCsr(privateKey, publicKey));
          checkAgentSvid(chain, privateKey, identity.bundle, identity.trustDomain, identity.spiffeId);
          identity.setSvid({ key: privateKey, chain });
          this.receivedAt = clock.now();
          backoff.reset();
          due = undefined;
          logger.info('agent SVID renewed', { spiffe_id: identity.spiffeId, expires_at: new Date(identity.lifetime.notAfter).toISOString(), server: api.address });
        } catch (e) {
          if (signal.aborted) return;
          const err = e instanceof TesseraError ? e : undefined;
          if (err && isAgentRevoked(err)) {
            logger.error(`server refused to renew the agent SVID: ${revocationReason(err)}; this agent stops issuing SVIDs and has deleted its SVID from the data dir (restart it with new attestation material, e.g. a new join token, to rejoin)`,
              { spiffe_id: identity.spiffeId, reason: revocationReason(err), err: err });
            identity.revoke(err.message);
            return;
          }
          const wait = backoff.next();
          due = clock.now() + wait;
          const expired = clock.now() >= notAfter;
          if (expired) logger.error('agent SVID expired and cannot be renewed; retrying', { err: e as Error, retry_in_ms: wait });
          else logger.warn('agent SVID renewal failed; retrying', { err: e as Error, retry_in_ms: wait });
        }
      }
    } finally {
      unsubscribe();
    }
  }

  /** False when woken early by kick() (the caller re-plans). */
  private async sleepUntil(at: number): Promise<boolean> {
    const ms = at - this.p.clock.now();
    if (ms <= 0) return true;
    this.wake = new AbortController();
    const both = AbortSignal.any([this.wake.signal, this.p.signal]);
    try { await this.p.clock.sleep(ms, both); return true; } catch {
      if (this.p.signal.aborted) return false;
      return true; // kicked: renew now
    } finally { this.wake = undefined; }
  }
}

/** Operator-facing wording for the server's refusal codes (server/api/authn.ts). */
export function revocationReason(err: TesseraError): string {
  switch (err.code) {
    case 'ERR_AGENT_BANNED': return 'this agent is banned';
    case 'ERR_AGENT_NOT_ATTESTED': return 'this agent was evicted (or never attested)';
    case 'ERR_AGENT_SVID_SUPERSEDED': return 'this agent SVID was superseded by a newer one';
    case 'ERR_AGENT_SVID_INVALID': return 'the server no longer accepts this agent SVID (expired or from an unknown CA)';
    default: return 'this agent was banned or evicted';
  }
}
