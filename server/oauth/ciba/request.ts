import type { AgentClaims } from '../../../spiffe/agent-claims.ts';
import type { ApprovalRequestRecord } from '../../datastore/sql-approvals.ts';
import type { DelegationSubject, RevocableToken } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import type { ClientAuthMethod } from '../client-auth.ts';

/**
 * The shape of a pending approval request as server/oauth/ciba writes it into the
 * datastore (`approval_requests.data` and `.decision`), the approver principals, and the
 * approval events of the OAuth audit trail. Shared by the backchannel endpoint, the
 * approval page and the CIBA grant.
 */
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

export interface RequestData {
  /** The user whose authority is extended, as the hint named them. */
  subject: DelegationSubject;
  hint: 'id_token_hint' | 'login_hint_token';
  /** login_hint_token: what the agent already holds (and what revokes it, checked again at issuance). */
  held?: { jti: string; scopes: string[]; revocable: RevocableToken };
  agent: { spiffeId: string; claims: AgentClaims; auth: ClientAuthMethod };
  /** Every scope the token will carry. */
  scopes: string[];
  /** The scopes only an approval grants (the policy's approval.scopes that were asked for). */
  escalated: string[];
  audiences: string[];
  /** The policy that decided at request time. */
  policy: string;
  bindingMessage?: string;
  /** Ping mode: where and how to notify the agent (the raw auth_req_id is needed for the ping body). */
  ping?: { endpoint: string; token: string; authReqId: string };
}

export interface DecisionData {
  approver: DelegationSubject;
  /** Which approver rule let them decide: `subject` or `group:NAME`. */
  as: string;
}

export interface ApprovalRequest extends Omit<ApprovalRequestRecord, 'data' | 'decision'> {
  data: RequestData;
  decision?: DecisionData;
}

export function parseRequest(r: ApprovalRequestRecord): ApprovalRequest {
  return { ...r, data: JSON.parse(r.data) as RequestData, decision: r.decision ? JSON.parse(r.decision) as DecisionData : undefined };
}

export const qualified = (s: Pick<DelegationSubject, 'issuer' | 'name'>): string => `${s.issuer}#${s.name}`;

/** The principals a stored request names: the subject and/or groups of the policy's subject issuer. */
export function approverPrincipals(rules: readonly string[], subject: DelegationSubject, subjectIssuer: string): string[] {
  return [...new Set(rules.map((r) => (r === 'subject' ? `user:${qualified(subject)}` : `group:${subjectIssuer}#${r.slice('group:'.length)}`)))];
}

/** The principals a signed-in person holds. */
export function personPrincipals(u: DelegationSubject): string[] {
  return [`user:${qualified(u)}`, ...u.groups.map((g) => `group:${u.issuer}#${g}`)];
}

/** The approver rule (`subject` or `group:NAME`) that lets `u` decide `r`, or undefined. */
export function approverRule(r: Pick<ApprovalRequest, 'approvers' | 'data'>, u: DelegationSubject): string | undefined {
  // Only the `subject` rule yields a user principal, and it names the request's subject.
  if (r.approvers.includes(`user:${qualified(u)}`)) return 'subject';
  const held = new Set(personPrincipals(u));
  const group = r.approvers.find((p) => p.startsWith('group:') && held.has(p));
  return group ? `group:${group.slice(group.indexOf('#') + 1)}` : undefined;
}

/**
 * Approval events of the OAuth audit trail (a name ending in refused/denied is a deny
 * decision in the transparency log). OAuthAudit.record takes the token events only; this
 * is the one place that widens it.
 */
export type ApprovalEvent = 'oauth.approval_requested' | 'oauth.approval_refused' | 'oauth.approval_approved' | 'oauth.approval_denied';

export function recordApproval(audit: Pick<OAuthAudit, 'record'>, event: ApprovalEvent, subject: string, data: Record<string, unknown>,
  level: 'info' | 'warn' = 'info'): void {
  audit.record(event, subject, data, level);
}
