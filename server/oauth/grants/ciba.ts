import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, DelegationSubject, ExchangeInput } from '../../delegation/types.ts';
import { auditedGrant } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import { authenticateClient, type AuthenticatedClient } from '../client-auth.ts';
import { OAuthError } from '../errors.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti, signDelegatedToken, type DelegatedClaims } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { approvalRequestHash } from '../ciba/backchannel.ts';
import { evaluateEscalation } from '../ciba/escalation.ts';
import { CIBA_GRANT, parseRequest, qualified, type ApprovalRequest } from '../ciba/request.ts';

/**
 * grant_type=urn:openid:params:grant-type:ciba (OpenID CIBA §10.1): the agent polls with
 * its auth_req_id, authenticated as at /oauth2/bc-authorize. Answers, in this order (CIBA §11):
 *
 *   unknown, or issued to another client        invalid_grant (the request is not touched)
 *   already redeemed                            invalid_grant (single use)
 *   denied                                      access_denied
 *   past its expiry, decided or not             expired_token
 *   sooner than `interval` after the last poll  slow_down (the interval grows by 5 s)
 *   not decided yet                             authorization_pending
 *   approved                                    the delegated token
 *
 * The token is minted as every delegated token (mint.ts), for the approved scopes, after
 * the policy engine decides again (the policy may have narrowed since): a root token for
 * (user, agent) with a new grant, bound (cnf) to the certificate the agent polls with.
 * The approval is the user's fresh consent, so the hint token's expiry does not bound it
 * (as an authorization code's consent does not).
 */
export interface CibaGrantDeps {
  issuer: string;
  tokenEndpoint: string;
  tokenTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey'>;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'getOAuthClient' | 'getApprovalRequest' | 'pollApprovalRequest' | 'redeemApprovalRequest' | 'putBudgets'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  audit: OAuthAudit;
  clock: Clock;
}

export function cibaGrant(d: CibaGrantDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: CIBA_GRANT,
    who: ['subject', 'client_id'],
    // Waiting is not refusing: pending and slow_down answers are not audited (one per poll).
    quiet: (e) => e.error === 'authorization_pending' || e.error === 'slow_down',
    run: (r, known) => poll(d, r, known),
  });
}

async function poll(d: CibaGrantDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  const authReqId = form.require('auth_req_id');
  const client = await authenticateClient(r, form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: false,
    requiredMethod: async (id) => (await d.store.getOAuthClient(id))?.authMethod,
  });
  const agent = client.spiffeId!.toString();
  known.client_id = agent;
  const hash = approvalRequestHash(authReqId);
  const rec = await d.store.getApprovalRequest({ reqHash: hash });
  if (!rec) throw new OAuthError('invalid_grant', 'auth_req_id is unknown: never issued here, or expired more than an hour ago');
  if (rec.clientId !== agent) throw new OAuthError('invalid_grant', `auth_req_id was issued to another client, not ${agent}`);
  const req = parseRequest(rec);
  known.approval_id = req.id;
  known.subject = req.subject;
  terminal(req, now);

  const p = await d.store.pollApprovalRequest(hash, agent, d.clock.now());
  if (!p) throw new OAuthError('invalid_grant', 'auth_req_id is unknown: never issued here, or expired more than an hour ago');
  if (p.tooFast) throw new OAuthError('slow_down', `polled sooner than the interval after the last poll: poll at most every ${p.interval} s from now on (CIBA §11)`);
  if (req.status === 'pending') {
    throw new OAuthError('authorization_pending', `waiting for ${req.data.subject.name} to approve or deny request ${req.id}; poll again in ${p.interval} s`);
  }
  return issue(d, req, client, now, known);
}

/** The answers that end polling, checked before the poll is counted. */
function terminal(req: ApprovalRequest, now: number): void {
  if (req.status === 'issued') {
    throw new OAuthError('invalid_grant', `auth_req_id was already used: request ${req.id} issued token ${req.issuedJti}; an approval gives one token`);
  }
  if (req.status === 'denied') {
    throw new OAuthError('access_denied', `${req.decidedBy} denied request ${req.id} at ${new Date(req.decidedAt * 1000).toISOString()}`);
  }
  if (req.expiresAt <= now) {
    throw new OAuthError('expired_token', `request ${req.id} expired at ${new Date(req.expiresAt * 1000).toISOString()}`
      + (req.status === 'approved' ? ' (it was approved, but the token was not collected in time)' : ' without a decision'));
  }
}

async function issue(d: CibaGrantDeps, req: ApprovalRequest, client: AuthenticatedClient, now: number,
  known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { data } = req;
  // Revoking what the agent held when it asked (its grant, the user, the agent) also ends the escalation.
  const revoked = data.held ? d.core.revokedBy(data.held.revocable) : undefined;
  if (revoked) {
    throw new OAuthError('invalid_grant', `the token request ${req.id} extends (login_hint_token ${data.held!.jti}) was revoked since (${revoked.kind} ${revoked.value})`);
  }
  // The approver's own sign-in is the fresher word on the subject's groups.
  const subject: DelegationSubject = req.decision?.as === 'subject' ? req.decision.approver : data.subject;
  const actor: ChainActor = { spiffeId: client.spiffeId!.toString(), claims: client.claims };
  const input: ExchangeInput = {
    subject, actor, priorActors: [], subjectScopes: undefined, parentAudiences: undefined,
    subjectExpiresAt: now + d.tokenTtl, requestedScopes: data.scopes, requestedAudiences: data.audiences,
    requestedTtl: undefined, now, serverMaxTtl: d.tokenTtl,
  };
  const { decision } = evaluateEscalation(d.core, input);

  const jti = newJti();
  if (!await d.store.redeemApprovalRequest(req.reqHash, actor.spiffeId, jti, now)) {
    // Another poll (on any server) redeemed it first, or it expired in between.
    const again = await d.store.getApprovalRequest({ reqHash: req.reqHash });
    if (again) terminal(parseRequest(again), now);
    throw new OAuthError('invalid_grant', `auth_req_id of request ${req.id} can no longer be redeemed`);
  }
  const key = d.keys.signingKey();
  const claims: DelegatedClaims & { budgets?: Record<string, number> } = {
    iss: d.issuer,
    sub: qualified(subject),
    aud: decision.audiences,
    scope: decision.scopes.join(' '),
    exp: decision.expiresAt, iat: now, nbf: now,
    jti, client_id: actor.spiffeId, grant_id: newGrantId(), chain: [],
    subject: { iss: subject.issuer, sub: subject.name, groups: subject.groups },
    act: actClaim([actor]),
    ...(client.x5t ? { cnf: { 'x5t#S256': client.x5t } } : {}),
    ...(decision.budgets ? { budgets: decision.budgets } : {}),
  };
  if (decision.budgets) await d.store.putBudgets(claims.grant_id, decision.budgets, claims.exp);
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.token_exchange', claims.sub, {
    grant: CIBA_GRANT, subject: claims.sub, actor_chain: [actor.spiffeId], client_auth: client.method, approval_id: req.id,
    approved_by: req.decidedBy, approved_as: req.decision?.as, escalated: data.escalated, binding_message: data.bindingMessage,
    scopes: decision.scopes, audience: decision.audiences, jti, grant_id: claims.grant_id, policy: decision.policyId,
    exp: claims.exp, bound: client.x5t !== undefined, kid: key.kid, ...known,
  });
  return { access_token: token, token_type: 'Bearer', expires_in: claims.exp - now, scope: claims.scope };
}
