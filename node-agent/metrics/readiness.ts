import type { Clock } from '../../common/clock.ts';
import type { ReadinessCheck } from '../../common/metrics/ops-listener.ts';

/** What main.ts has brought up so far; the listener starts before attestation. */
export interface AgentReadyState {
  identity?: { readonly lifetime: { notAfter: number }; readonly revoked: string | undefined };
  /** The first full entry set arrived from the server. */
  synced: boolean;
}

/**
 * Agent readiness (/ready, `tessera-agent healthcheck`): attested (or resumed), its
 * own SVID unexpired and not revoked, and entries synced from the server once. A
 * later server outage does not make the agent unready: it keeps serving the SVIDs it
 * holds (tessera_agent_server_reachable shows the outage).
 */
export function agentReadiness(s: AgentReadyState, clock: Clock): Record<string, ReadinessCheck> {
  return {
    attested: () => (s.identity ? undefined : 'attesting to the server'),
    svid: () => {
      if (!s.identity) return 'no agent SVID yet';
      if (s.identity.revoked) return `the server revoked this agent: ${s.identity.revoked}`;
      const notAfter = s.identity.lifetime.notAfter;
      return notAfter > clock.now() ? undefined : `the agent SVID expired at ${new Date(notAfter).toISOString()}`;
    },
    synced: () => (s.synced ? undefined : 'waiting for the first entry sync from the server'),
  };
}
