import { createHash } from 'node:crypto';
import type { InstanceClaim } from '../../attestors/workload/types.ts';

/**
 * agent_instance_id (docs/architecture.md):
 *   "inst_" + base64url(SHA-256(agent SPIFFE ID ‖ "\n" ‖ strongest InstanceClaim.key))[:22]
 * Opaque (no pid or pod name leaks into certificates and logs), stable for the life
 * of the instance, and distinct across agents because the agent ID is hashed in.
 */
export function agentInstanceId(agentSpiffeId: string, claim: InstanceClaim): string {
  const digest = createHash('sha256').update(`${agentSpiffeId}\n${claim.key}`).digest('base64url');
  return `inst_${digest.slice(0, 22)}`;
}

/** The strongest claim; ties go to the first (the unix attestor runs first). */
export function strongestClaim(claims: readonly (InstanceClaim | undefined)[]): InstanceClaim | undefined {
  let best: InstanceClaim | undefined;
  for (const c of claims) if (c && (!best || c.strength > best.strength)) best = c;
  return best;
}
