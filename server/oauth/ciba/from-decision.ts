import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, DelegationSubject, RevocableToken } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import type { OAuthConfig } from '../config.ts';
import { approvalRequestHash } from './backchannel.ts';
import type { Escalation } from './escalation.ts';
import { approverPrincipals, parseRequest, qualified, recordApproval, type RequestData } from './request.ts';

/**
 * A CIBA request started by a decision instead of by the agent (docs/authzen.md
 * "Approval"): when the AuthZEN decision point finds that an action needs a person, it
 * stores the same pending request /oauth2/bc-authorize would (same approvers, same page,
 * same CIBA grant), as if the agent had sent the token it presented as login_hint_token
 * and asked for that one action on that one audience. The agent then polls the token
 * endpoint with the auth_req_id the decision returned.
 *
 * One request per (user, agent, action, resource): a repeated decision while the request
 * is pending, or approved but not yet collected, returns the same auth_req_id instead of
 * asking the person again. That is why, unlike bc-authorize, the raw auth_req_id is kept
 * in the request's data (as it is for ping clients): only the agent it was issued to can
 * redeem it, with its own credential.
 */
export interface DecisionApprovalDeps {
  store: Pick<Datastore, 'putApprovalRequest' | 'listApprovalRequests'>;
  audit: Pick<OAuthAudit, 'record'>;
  clock: Clock;
  /** oauth.login.issuer: only its users can sign in to approve. */
  loginIssuer: string;
  /** oauth.ciba.request_ttl and interval (seconds). */
  requestTtl: number;
  interval: number;
}

export interface DecisionApprovalInput {
  subject: DelegationSubject;
  /** The acting agent: the CIBA client that will poll. */
  agent: ChainActor;
  /** The token the agent presented (what revoking also ends the request). */
  held: { jti: string; scopes: string[]; revocable: RevocableToken };
  /** The engine's decision for exactly the action and the resource's audience, approvable scopes counted. */
  escalation: Escalation;
  action: string;
  resource: { type: string; id: string };
  /** The PEP that asked (shown to the approver). */
  caller: string;
}

export type DecisionApproval =
  | { ok: true; id: string; authReqId: string; expiresIn: number; interval: number; reused: boolean }
  | { ok: false; reason: string };

/** What a decision-started request adds to RequestData: the dedup key and the handle to hand out again. */
interface DecisionData extends RequestData { decision: { key: string; authReqId: string; caller: string; resource: { type: string; id: string } } }

/** Requests read per lookup (the approvers' own, oldest first; finished ones leave the store an hour after expiry). */
const LOOKUP_LIMIT = 1000;
const MAX_BINDING_MESSAGE = 200;

export class DecisionApprovals {
  /** Per key: the request being created, so concurrent decisions on this server share it. */
  private readonly inflight = new Map<string, Promise<DecisionApproval>>();

  constructor(private readonly d: DecisionApprovalDeps) {}

  async request(i: DecisionApprovalInput): Promise<DecisionApproval> {
    if (i.subject.issuer !== this.d.loginIssuer) {
      return { ok: false, reason: `${qualified(i.subject)} cannot approve here: approvers sign in at ${this.d.loginIssuer}` };
    }
    const key = createHash('sha256').update(JSON.stringify([qualified(i.subject), i.agent.spiffeId, i.action, i.resource.type, i.resource.id,
      i.escalation.decision.audiences])).digest('base64url');
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.findOrCreate(i, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async findOrCreate(i: DecisionApprovalInput, key: string): Promise<DecisionApproval> {
    const now = Math.floor(this.d.clock.now() / 1000);
    const esc = i.escalation;
    const approvers = approverPrincipals(esc.approvers, i.subject, esc.policy.subjectIssuer);
    for (const rec of await this.d.store.listApprovalRequests({ principals: approvers, limit: LOOKUP_LIMIT })) {
      if (rec.clientId !== i.agent.spiffeId || rec.expiresAt <= now || (rec.status !== 'pending' && rec.status !== 'approved')) continue;
      const data = parseRequest(rec).data as Partial<DecisionData>;
      if (data.decision?.key !== key) continue;
      return { ok: true, id: rec.id, authReqId: data.decision.authReqId, expiresIn: rec.expiresAt - now, interval: rec.interval, reused: true };
    }

    const authReqId = randomBytes(24).toString('base64url');
    const id = `apr_${randomBytes(16).toString('base64url')}`;
    const data: DecisionData = {
      subject: i.subject, hint: 'login_hint_token', held: i.held,
      agent: { spiffeId: i.agent.spiffeId, claims: i.agent.claims, auth: 'tls_client_auth' },
      scopes: esc.decision.scopes, escalated: esc.escalated, audiences: esc.decision.audiences, policy: esc.policy.id,
      bindingMessage: bindingMessage(i),
      decision: { key, authReqId, caller: i.caller, resource: i.resource },
    };
    await this.d.store.putApprovalRequest({
      id, reqHash: approvalRequestHash(authReqId), clientId: i.agent.spiffeId, subject: qualified(i.subject), approvers,
      data: JSON.stringify(data), createdAt: now, expiresAt: now + this.d.requestTtl, interval: this.d.interval,
    });
    recordApproval(this.d.audit, 'oauth.approval_requested', qualified(i.subject), {
      approval_id: id, subject: qualified(i.subject), actor: i.agent.spiffeId, hint: 'authzen_decision', held_jti: i.held.jti,
      scopes: data.scopes, escalated: data.escalated, audience: data.audiences, policy: data.policy, approvers: esc.approvers,
      binding_message: data.bindingMessage, mode: 'poll', expires_at: now + this.d.requestTtl, caller: i.caller,
      resource: `${i.resource.type}:${i.resource.id}`,
    });
    return { ok: true, id, authReqId, expiresIn: this.d.requestTtl, interval: this.d.interval, reused: false };
  }
}

/** What the approver reads: the action, the resource and who asked, as plain bounded text. */
function bindingMessage(i: DecisionApprovalInput): string {
  const text = `${i.action} on ${i.resource.type} ${i.resource.id} (asked at ${i.caller})`.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ');
  const chars = [...text];
  return chars.length > MAX_BINDING_MESSAGE ? `${chars.slice(0, MAX_BINDING_MESSAGE - 1).join('')}…` : text;
}

/** From the OAuth config: undefined when human approval is not mounted (no oauth.login). */
export function decisionApprovals(cfg: Pick<OAuthConfig, 'login' | 'ciba'>, d: Omit<DecisionApprovalDeps, 'loginIssuer' | 'requestTtl' | 'interval'>): DecisionApprovals | undefined {
  if (!cfg.login) return undefined;
  return new DecisionApprovals({ ...d, loginIssuer: cfg.login.issuer, requestTtl: Math.ceil(cfg.ciba.request_ttl), interval: Math.ceil(cfg.ciba.interval) });
}
