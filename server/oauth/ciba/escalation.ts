import type { DelegationPolicy, ExchangeDecision, ExchangeInput } from '../../delegation/types.ts';
import { OAuthError } from '../errors.ts';
import type { DelegationCore } from '../ports.ts';

/**
 * The policy decision of an escalation, by the one policy engine: a request for scopes
 * a policy lists under `approval.scopes` fits when those scopes count as allowed, and
 * the scopes outside the policy's standing `scopes` are what a person must approve.
 *
 * The standing policies are tried first, so a scope some policy grants outright never
 * needs an approval because another policy (earlier by id) only lists it as approvable.
 * No policy is ever widened beyond `scopes ∪ approval.scopes`, and everything else
 * (actor, user, groups, audiences, lifetime, budgets) is decided exactly as for a token
 * exchange.
 */
export interface Escalation {
  decision: ExchangeDecision;
  policy: DelegationPolicy;
  /** The decided scopes that only an approval grants ([] when the standing policy allows them all). */
  escalated: string[];
  /** The policy's approver rules (`subject`, `group:NAME`); `subject` when nothing is escalated. */
  approvers: string[];
}

export function evaluateEscalation(core: Pick<DelegationCore, 'policies' | 'evaluate'>, input: ExchangeInput): Escalation {
  const policies = core.policies();
  const standing = tryEvaluate(core, input, policies);
  if ('decision' in standing) return { decision: standing.decision, policy: byId(policies, standing.decision.policyId), escalated: [], approvers: ['subject'] };
  if (standing.error.error !== 'invalid_scope') throw standing.error;

  const widened = policies.map((p) => (p.approval ? { ...p, scopes: [...p.scopes, ...p.approval.scopes] } : p));
  const approvable = tryEvaluate(core, input, widened);
  if ('error' in approvable) {
    const e = approvable.error;
    if (e.error !== 'invalid_scope') throw e;
    throw new OAuthError('invalid_scope', `${e.message} (counting the scopes policies let an approver grant)`);
  }
  const policy = byId(policies, approvable.decision.policyId);
  return {
    decision: approvable.decision, policy,
    escalated: approvable.decision.scopes.filter((s) => !policy.scopes.includes(s)),
    approvers: policy.approval?.approvers.length ? [...policy.approval.approvers] : ['subject'],
  };
}

function tryEvaluate(core: Pick<DelegationCore, 'evaluate'>, input: ExchangeInput, policies: readonly DelegationPolicy[]):
  { decision: ExchangeDecision } | { error: OAuthError } {
  try {
    return { decision: core.evaluate(input, policies) };
  } catch (e) {
    if (e instanceof OAuthError) return { error: e };
    throw e;
  }
}

function byId(policies: readonly DelegationPolicy[], id: string): DelegationPolicy {
  const p = policies.find((x) => x.id === id);
  if (!p) throw new Error(`policy ${id} decided but is not in the list it was decided from`);
  return p;
}
