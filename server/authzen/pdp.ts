import type { Clock } from '../../common/clock.ts';
import type { Datastore } from '../datastore/types.ts';
import type { ChainActor, ExchangeDecision, ExchangeInput } from '../delegation/types.ts';
import { evaluateEscalation, type Escalation } from '../oauth/ciba/escalation.ts';
import type { DecisionApprovals } from '../oauth/ciba/from-decision.ts';
import { CIBA_GRANT } from '../oauth/ciba/request.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { OAuthKeyManager } from '../oauth/keys.ts';
import type { DelegationCore } from '../oauth/ports.ts';
import type { ConditionChecker } from './conditions.ts';
import { NotPresentable, verifyPresented, type Presented } from './presented.ts';
import type { Decision, Evaluation } from './request.ts';

/**
 * The policy decision point behind the AuthZEN endpoints (docs/authzen.md): one
 * evaluation decided by the delegation policy engine that issues the tokens, so a tool
 * asking "may this agent, for this user, do this here?" gets the answer the token
 * endpoint would give, re-checked against the live policies and revocations:
 *
 * - the action is a scope some policy knows (else deny `unknown_action`, with an error);
 * - the subject's credential (`subject.properties.token`: a delegated access token or a
 *   transaction token) verifies, is not revoked, and names the subject (a user is its
 *   `sub`, an agent its current actor); an agent without a token acts for itself, under
 *   the policies whose subject_issuer is this issuer (as with client credentials);
 * - evaluateExchange admits the action as the scope and the resource's audience, for the
 *   token's user and agent chain, within the token's own scope and audiences;
 * - a scope a policy lets a person approve is `approval_required` (with the approvers); with
 *   human approval mounted and a delegated access token presented, the deny also starts
 *   (or finds the pending) CIBA request and carries its `auth_req_id` for the agent to
 *   poll; the token that approval yields carries the scope, and is then permitted;
 * - the policy's conditions on the action: amount threshold, first-seen destination,
 *   rate over a window (`amount_threshold`, `novel_destination`, `rate_limited`);
 * - a budgeted action spends one use (or action.properties.count) of the grant's budget
 *   on permit (the consume endpoint's atomic counter), `budget_exhausted` when spent.
 * Every deny carries `context.id` (a stable reason) and `reason_admin.en` (what failed).
 */
export interface PdpDeps {
  issuer: string;
  trustDomain: string;
  keys: Pick<OAuthKeyManager, 'findKey'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  store: Pick<Datastore, 'consumeBudget'>;
  clock: Clock;
  /** Rate, amount and first-seen conditions (docs/authzen.md "Conditions"). */
  conditions?: ConditionChecker;
  /** CIBA requests for approval_required decisions; absent without oauth.login. */
  approvals?: DecisionApprovals;
}

/** What the audit trail and the log learn of one decision. */
export interface Decided {
  decision: Decision;
  reason: string;
  /** The acting agent (current actor), when known. */
  actor?: string;
  /** The user (or the workload acting for itself). */
  subject?: string;
  policy?: string;
  jti?: string;
  grantId?: string;
  txn?: string;
}

/** How long a permit without budget may be cached by the SDK (seconds, also bounded by the token's exp). */
const CACHE_TTL_S = 60;
const MAX_COUNT = 1000;
const ENGINE_REASON: Record<string, string> = {
  unauthorized_client: 'no_policy', invalid_scope: 'scope', invalid_target: 'audience', invalid_grant: 'delegation',
};

/** `caller`: the PEP's SPIFFE ID (shown to an approver). */
export async function decide(d: PdpDeps, ev: Evaluation, caller = 'unknown'): Promise<Decided> {
  const now = Math.floor(d.clock.now() / 1000);
  const td = `spiffe://${d.trustDomain}`;
  const name = ev.action.name;
  const policies = d.core.policies();
  if (!policies.some((p) => p.scopes.includes(name) || p.approval?.scopes.includes(name))) {
    return deny('unknown_action', `action ${JSON.stringify(name).slice(0, 200)} is unknown: no delegation policy names it as a scope or an approvable scope`, { status: 400 });
  }
  const count = ev.action.properties?.count ?? 1;
  if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > MAX_COUNT) {
    return deny('bad_request', `action.properties.count ${JSON.stringify(count).slice(0, 40)} must be a whole number from 1 to ${MAX_COUNT}`, { status: 400 });
  }

  const raw = ev.subject.properties?.token;
  let p: Presented | undefined;
  if (raw !== undefined) {
    if (typeof raw !== 'string') return deny('bad_request', 'subject.properties.token must be a string (a delegated access token or a transaction token)', { status: 400 });
    try {
      p = await verifyPresented({ issuer: d.issuer, trustDomainId: td, keys: d.keys, revokedBy: (t) => d.core.revokedBy(t) }, raw, now);
    } catch (e) {
      if (e instanceof NotPresentable) return deny(e.id, e.message);
      throw e;
    }
  }
  const who = subjectCheck(ev, p, d.trustDomain);
  if ('deny' in who) return { ...who.deny, ...(p ? { subject: p.sub, jti: p.jti, grantId: p.grantId } : {}) };
  const known = { actor: who.actor.spiffeId, subject: p?.sub ?? who.actor.spiffeId, ...(p ? { jti: p.jti, grantId: p.grantId } : {}), ...(p?.txn ? { txn: p.txn } : {}) };

  const audience = p?.kind === 'txn_token' ? td : ev.resource.properties?.audience;
  if (typeof audience !== 'string' || !audience) {
    return { ...deny('audience_required', 'resource.properties.audience is required: the identifier of the resource server (the token\'s aud) the action is on', { status: 400 }), ...known };
  }
  const input = engineInput(d, p, who.actor, name, audience, now);
  let decision: ExchangeDecision;
  try {
    decision = d.core.evaluate(input, policies);
  } catch (e) {
    if (!(e instanceof OAuthError) || e.status >= 500) throw e;
    const approved = e.error === 'invalid_scope' ? approvedScope(d, input, name) : undefined;
    if (approved) decision = approved;
    else {
      const esc = e.error === 'invalid_scope' ? approvable(d, input) : undefined;
      if (esc) return { ...await approvalRequired(d, ev, p, who.actor, esc, e.message, caller), ...known };
      return { ...deny(ENGINE_REASON[e.error] ?? 'denied', e.message), ...known };
    }
  }

  // Conditions before the budget: a refused action spends no use (it may take a rate slot).
  const policy = policies.find((x) => x.id === decision.policyId);
  const cond = await d.conditions?.check(policy, decision.policyId, ev, `${known.subject} ${who.actor.spiffeId}`, now);
  if (cond?.failure) {
    const f = cond.failure;
    return { ...deny(f.id, f.description, f.id === 'condition_input' ? { status: 400 } : undefined), ...known, policy: decision.policyId };
  }
  const budget = p ? await spend(d, p, name, count as number) : undefined;
  if (budget && !budget.allowed) {
    return { ...deny('budget_exhausted', `the budget of ${name} for grant ${p!.grantId} is spent (remaining ${budget.remaining})`, undefined,
      { budget: { operation: name, remaining: budget.remaining } }), ...known, policy: decision.policyId };
  }
  await cond?.permitted();
  const ttl = budget || cond?.applies ? 0 : Math.max(0, Math.min(CACHE_TTL_S, (p?.exp ?? now + CACHE_TTL_S) - now));
  return {
    decision: { decision: true, context: { id: 'permit', policy: decision.policyId, ttl, ...(budget ? { budget: { operation: name, remaining: budget.remaining } } : {}) } },
    reason: 'permit', ...known, policy: decision.policyId,
  };
}

function deny(id: string, message: string, error?: { status: number }, extra: Record<string, unknown> = {}): Decided {
  return {
    decision: { decision: false, context: { id, reason_admin: { en: message }, ...extra, ...(error ? { error: { status: error.status, message } } : {}) } },
    reason: id,
  };
}

/**
 * The subject must be who the credential names: a `user` its sub, an `agent` (or
 * `workload`) its current actor, or its sub when a workload acts for itself. Without a
 * credential only a workload of this trust domain acting for itself can be decided.
 */
function subjectCheck(ev: Evaluation, p: Presented | undefined, trustDomain: string): { actor: ChainActor } | { deny: Decided } {
  const { type, id } = ev.subject;
  const agentType = type === 'agent' || type === 'workload';
  if (type !== 'user' && !agentType) return { deny: deny('unknown_subject_type', `subject.type ${JSON.stringify(type).slice(0, 80)} is not user, agent or workload`) };
  if (!p) {
    if (!agentType) return { deny: deny('token_required', `a user subject must present its token (subject.properties.token): ${id.slice(0, 200)} proves nothing by itself`) };
    if (!id.startsWith(`spiffe://${trustDomain}/`)) return { deny: deny('subject_mismatch', `subject.id ${id.slice(0, 200)} is not a workload of trust domain ${trustDomain}`) };
    return { actor: { spiffeId: id, claims: {} } };
  }
  // The acting workload: the token's current agent; for a txn token the latest requester.
  const current = p.kind === 'txn_token' ? { spiffeId: p.requesters![p.requesters!.length - 1]!, claims: {} } : p.actors[0];
  if (!current) return { deny: deny('no_agent', `the token ${p.jti} names no agent (a public client's token): this decision point decides for agents`) };
  const named = type === 'user' ? [p.sub] : [p.actors[0]?.spiffeId, ...(p.sub.startsWith('spiffe://') ? [p.sub] : [])];
  if (!named.includes(id)) {
    return { deny: deny('subject_mismatch', `subject ${type} ${id.slice(0, 200)} is not who the token names (${type === 'user' ? `sub ${p.sub}` : `agent ${named.filter(Boolean).join(' or ') || 'none'}`})`) };
  }
  return { actor: current };
}

function engineInput(d: PdpDeps, p: Presented | undefined, actor: ChainActor, action: string, audience: string, now: number): ExchangeInput {
  const common = { requestedScopes: [action], requestedAudiences: [audience], requestedTtl: undefined, now, serverMaxTtl: 86400 };
  if (!p) {
    return { ...common, subject: { issuer: d.issuer, name: actor.spiffeId, groups: [] }, actor, priorActors: [], subjectScopes: undefined, parentAudiences: undefined, subjectExpiresAt: now + 60 };
  }
  // An access token: its chain re-checked (may_delegate_to, depth) with the action within its scope and aud.
  // A txn token: the requester's policy for the trust domain, as when the token was issued.
  const prior = p.kind === 'access_token' ? p.actors.slice(1) : [];
  return { ...common, subject: p.subject, actor, priorActors: prior, subjectScopes: p.scopes, parentAudiences: p.audiences, subjectExpiresAt: p.exp };
}

/** A scope the token lacks but a policy lets a person grant: the escalation a CIBA request would ask for. */
function approvable(d: PdpDeps, input: ExchangeInput): Escalation | undefined {
  try {
    const e = evaluateEscalation(d.core, { ...input, subjectScopes: undefined });
    return e.escalated.length ? e : undefined;
  } catch (err) {
    if (err instanceof OAuthError) return undefined;
    throw err;
  }
}

/**
 * The token carries the action although no policy grants it standing: only an approval
 * (the CIBA grant) puts an approvable scope into a token, so it is decided as the
 * escalation it came from, re-checked against today's policies.
 */
function approvedScope(d: PdpDeps, input: ExchangeInput, action: string): ExchangeDecision | undefined {
  if (!input.subjectScopes?.includes(action)) return undefined;
  try {
    return evaluateEscalation(d.core, input).decision;
  } catch (err) {
    if (err instanceof OAuthError) return undefined;
    throw err;
  }
}

/**
 * Deny `approval_required`; with human approval mounted and an access token (the agent's
 * authority a person can extend), the CIBA request to wait on: `approval.auth_req_id`.
 */
async function approvalRequired(d: PdpDeps, ev: Evaluation, p: Presented | undefined, actor: ChainActor, esc: Escalation, why: string,
  caller: string): Promise<Decided> {
  const name = ev.action.name;
  const approval: Record<string, unknown> = {
    scopes: esc.escalated, approvers: esc.approvers, backchannel_authentication_endpoint: `${d.issuer}/oauth2/bc-authorize`,
  };
  let message = `action ${name} needs a person's approval (policy ${esc.policy.id}): ${why}`;
  if (!d.approvals) {
    message += '; human approval is not enabled on this server (oauth.login), so no request was started';
  } else if (p?.kind !== 'access_token') {
    message += `; no request was started: ${p ? 'a transaction token' : 'an agent acting for itself'} has no person to ask`;
  } else {
    const r = await d.approvals.request({
      subject: p.subject, agent: actor, held: { jti: p.jti, scopes: p.scopes, revocable: p.revocable }, escalation: esc, action: name,
      resource: { type: ev.resource.type, id: ev.resource.id }, caller,
    });
    if (r.ok) {
      Object.assign(approval, { auth_req_id: r.authReqId, expires_in: r.expiresIn, interval: r.interval, token_endpoint: `${d.issuer}/oauth2/token` });
      message += `; ${r.reused ? 'still waiting on' : 'started'} approval request ${r.id}: the agent polls the token endpoint with auth_req_id (grant ${CIBA_GRANT}) for a token carrying ${name}`;
    } else {
      message += `; no request was started: ${r.reason}`;
    }
  }
  return deny('approval_required', message, undefined, { approval });
}

/**
 * One use of the grant's budget for `op` (the consume endpoint's counter): a delegated
 * token up to its own limit; a txn token up to what its grant has left. Undefined when
 * the action is not metered.
 */
async function spend(d: PdpDeps, p: Presented, op: string, n: number): Promise<{ allowed: boolean; remaining: number } | undefined> {
  const limit = p.kind === 'access_token' ? p.budgets?.[op] : Number.MAX_SAFE_INTEGER;
  if (limit === undefined) return undefined;
  const use = await d.store.consumeBudget(p.grantId, op, n, limit);
  if (!use) return p.kind === 'access_token' ? { allowed: false, remaining: 0 } : undefined;
  return { allowed: use.allowed, remaining: use.remaining };
}
