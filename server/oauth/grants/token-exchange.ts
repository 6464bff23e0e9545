import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, DelegationSubject, ExchangeDecision, ExchangeInput } from '../../delegation/types.ts';
import { authenticateActor, JWT_TOKEN_TYPE, type AuthenticatedActor } from '../actor.ts';
import { auditedGrant } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import type { VerifiedDelegatedToken } from '../delegated-token.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti, signDelegatedToken, type DelegatedClaims } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import { verifyOwnSubjectToken, verifyTrustedOrOwn } from '../subject-token.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustedIssuers } from '../trusted-issuers.ts';
import type { TrustDomainBundles } from '../trust.ts';
import type { BiscuitKeyManager } from '../biscuit-keys.ts';
import { BISCUIT_TOKEN_TYPE, issueBiscuit } from './biscuit.ts';
import { parseTokenBudgets } from '../consume.ts';

/**
 * RFC 8693 token exchange (docs/delegation.md): a user's token (an IdP token, or a
 * delegated token of ours for a sub-agent) plus the actor's attested identity become
 * a delegated token naming both, within what a policy allows, only ever narrowing.
 *
 * Order of checks: parameters, actor (who is asking), subject token, policy. Each
 * refusal is logged and audited with what is known by then.
 */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const SUBJECT_TOKEN_TYPES = [ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, JWT_TOKEN_TYPE];
const REQUESTED_TOKEN_TYPES = [ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, BISCUIT_TOKEN_TYPE];
/** RFC 6749 §3.3 scope-token: NQCHAR. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_AUDIENCES = 16;
const MAX_SCOPES = 64;

export interface TokenExchangeDeps {
  issuer: string;
  tokenEndpoint: string;
  /** oauth.token_ttl (seconds). */
  tokenTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey' | 'findKey'>;
  trusted: TrustedIssuers;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'putBudgets'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  audit: OAuthAudit;
  clock: Clock;
  /** Biscuit root keys (docs/attenuation.md): requested_token_type biscuit is refused without them. */
  biscuitKeys?: Pick<BiscuitKeyManager, 'signingKey'>;
}

interface Subject {
  subject: DelegationSubject;
  exp: number;
  /** Set for a sub-exchange: the parent delegated token. */
  parent?: VerifiedDelegatedToken;
}

export function tokenExchangeGrant(d: TokenExchangeDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: TOKEN_EXCHANGE,
    repeatable: ['audience', 'resource'],
    who: ['subject', 'actor'],
    run: (r, known) => exchange(d, r, known),
  });
}

async function exchange(d: TokenExchangeDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  // Parameters.
  const subjectToken = form.require('subject_token');
  const subjectTokenType = form.require('subject_token_type');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    throw new OAuthError('invalid_request', `subject_token_type ${clip(subjectTokenType, 100)} is not supported; use one of ${SUBJECT_TOKEN_TYPES.join(', ')}`);
  }
  const requestedType = form.get('requested_token_type') ?? ACCESS_TOKEN_TYPE;
  if (!REQUESTED_TOKEN_TYPES.includes(requestedType)) {
    throw new OAuthError('invalid_request', `requested_token_type ${clip(requestedType, 100)} is not supported; this server issues ${REQUESTED_TOKEN_TYPES.join(' or ')}`);
  }
  const requestedScopes = parseScope(form.get('scope'));
  const audiences = parseAudiences(form.all('audience'), form.all('resource'));
  const requestedTtl = parseExpiresIn(form.get('expires_in'));

  // Actor: who the new token is issued to.
  const actor = await authenticateActor({
    client: r.client(), actorToken: form.get('actor_token'), actorTokenType: form.get('actor_token_type'),
    tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now,
  });
  known.actor = actor.id.toString();

  // Subject: the user, and the parent token for a sub-exchange.
  const s = await verifySubject(d, subjectToken, subjectTokenType, actor, now);
  const qualified = `${s.subject.issuer}#${s.subject.name}`;
  known.subject = qualified;
  const prior = s.parent?.actors ?? [];
  const current: ChainActor = { spiffeId: actor.id.toString(), claims: actor.claims };
  known.actor_chain = [current, ...prior].map((a) => a.spiffeId);
  if (s.parent) { known.parent_jti = s.parent.claims.jti; known.grant_id = s.parent.claims.grant_id; }

  // Policy.
  const input: ExchangeInput = {
    subject: s.subject, actor: current, priorActors: prior,
    subjectScopes: s.parent ? splitScope(s.parent.claims.scope) : undefined,
    parentAudiences: s.parent?.claims.aud,
    subjectExpiresAt: s.exp,
    requestedScopes, requestedAudiences: audiences, requestedTtl, now, serverMaxTtl: d.tokenTtl,
    subjectBudgets: s.parent ? parseTokenBudgets(s.parent.claims) : undefined,
  };
  const decision: ExchangeDecision = d.core.evaluate(input, d.core.policies());

  // Mint.
  const key = d.keys.signingKey();
  const claims: DelegatedClaims & { budgets?: Record<string, number> } = {
    iss: d.issuer,
    sub: qualified,
    aud: decision.audiences,
    scope: decision.scopes.join(' '),
    exp: decision.expiresAt, iat: now, nbf: now,
    jti: newJti(),
    client_id: current.spiffeId,
    grant_id: s.parent?.claims.grant_id ?? newGrantId(),
    chain: s.parent ? [...s.parent.claims.chain, s.parent.claims.jti] : [],
    subject: { iss: s.subject.issuer, sub: s.subject.name, groups: s.subject.groups },
    act: actClaim([current, ...prior]),
    ...(actor.x5t ? { cnf: { 'x5t#S256': actor.x5t } } : {}),
    ...(decision.budgets ? { budgets: decision.budgets } : {}),
  };
  // Budgets are counted per grant: the rows exist before any token that draws on them.
  if (decision.budgets) await d.store.putBudgets(claims.grant_id, decision.budgets, claims.exp);
  if (requestedType === BISCUIT_TOKEN_TYPE) return biscuitResponse(d, claims, [current, ...prior], decision, actor, known, now);
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.token_exchange', qualified, {
    grant: TOKEN_EXCHANGE, subject: qualified, actor_chain: known.actor_chain, actor_auth: actor.via,
    scopes: decision.scopes, audience: decision.audiences, jti: claims.jti, grant_id: claims.grant_id,
    parent_jti: s.parent?.claims.jti, depth: prior.length + 1, policy: decision.policyId, exp: claims.exp,
    bound: actor.x5t !== undefined, kid: key.kid,
  });
  return {
    access_token: token,
    issued_token_type: requestedType,
    token_type: 'Bearer',
    expires_in: claims.exp - now,
    scope: claims.scope,
  };
}

async function biscuitResponse(d: TokenExchangeDeps, claims: DelegatedClaims & { budgets?: Record<string, number> }, actors: ChainActor[],
  decision: ExchangeDecision, actor: AuthenticatedActor, known: Record<string, unknown>, now: number): Promise<Record<string, unknown>> {
  if (!d.biscuitKeys) throw new OAuthError('invalid_request', `requested_token_type ${BISCUIT_TOKEN_TYPE} is not available on this server`);
  const policy = d.core.policies().find((p) => p.id === decision.policyId);
  const b = await issueBiscuit({ keys: d.biscuitKeys }, { claims, actors, decision, policy, bound: actor.x5t !== undefined });
  d.audit.record('oauth.token_exchange', claims.sub, {
    grant: TOKEN_EXCHANGE, token_type: 'biscuit', subject: claims.sub, actor_chain: known.actor_chain, actor_auth: actor.via,
    scopes: decision.scopes, audience: decision.audiences, jti: claims.jti, grant_id: claims.grant_id, policy: decision.policyId,
    exp: claims.exp, budgets: decision.budgets, root_key: b.kid, revocation_id: b.revocationIds[0],
  });
  return {
    access_token: b.token, issued_token_type: BISCUIT_TOKEN_TYPE, token_type: 'N_A',
    expires_in: claims.exp - now, scope: decision.scopes.join(' '),
  };
}

async function verifySubject(d: TokenExchangeDeps, token: string, type: string, actor: AuthenticatedActor, now: number): Promise<Subject> {
  const who = await verifyTrustedOrOwn(token, d, now);
  if (who.kind === 'idp') return { subject: who.subject, exp: who.exp };

  // (b) our own delegated token: a sub-agent extends the chain.
  if (type === ID_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', `subject_token is a delegated access token of ${d.issuer}; subject_token_type must be ${ACCESS_TOKEN_TYPE} or ${JWT_TOKEN_TYPE}, not an id_token`);
  }
  const parent = await verifyOwnSubjectToken(token, d, now);
  const rec = d.core.revokedBy(parent.revocable);
  if (rec) {
    throw new OAuthError('invalid_request', `subject_token ${parent.claims.jti} is revoked (${rec.kind} ${rec.value} revoked at ${new Date(rec.at * 1000).toISOString()})`);
  }
  // A bound token handed to another agent is that agent's to exchange (the hand-over is
  // the holder's act, may_delegate_to authorizes it). But re-issuing it to the *same*
  // SPIFFE ID must come from the certificate it is bound to: otherwise a thief holding
  // another instance's SVID (same ID, other key) could rebind a stolen token to itself,
  // or turn it into a bearer token.
  const cnf = parent.claims.cnf?.['x5t#S256'];
  if (cnf !== undefined && parent.claims.client_id === actor.id.toString() && actor.x5t !== cnf) {
    throw new OAuthError('invalid_request',
      `subject_token is bound to another certificate (cnf x5t#S256 ${cnf}${actor.x5t ? `, presented ${actor.x5t}` : ', no client certificate presented'}): `
      + `only the holder of that certificate may exchange it for ${actor.id}`);
  }
  const s = parent.claims.subject;
  return { subject: { issuer: s.iss, name: s.sub, groups: Array.isArray(s.groups) ? s.groups : [] }, exp: parent.claims.exp, parent };
}

function parseScope(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = splitScope(v);
  for (const s of list) if (!SCOPE_TOKEN.test(s)) throw new OAuthError('invalid_scope', `scope ${clip(JSON.stringify(s), 80)} contains characters RFC 6749 §3.3 does not allow`);
  if (list.length > MAX_SCOPES) throw new OAuthError('invalid_scope', `scope lists ${list.length} values; at most ${MAX_SCOPES}`);
  return [...new Set(list)];
}

const splitScope = (s: string): string[] => s.split(' ').filter((x) => x.length > 0);

function parseAudiences(audience: string[], resource: string[]): string[] {
  for (const r of resource) {
    let u: URL | undefined;
    try { u = new URL(r); } catch { /* below */ }
    if (!u || r.includes('#')) throw new OAuthError('invalid_target', `resource ${clip(JSON.stringify(r), 200)} must be an absolute URI without a fragment (RFC 8707)`);
  }
  const all = [...new Set([...audience, ...resource])];
  if (all.length === 0) throw new OAuthError('invalid_target', 'audience or resource is required: name the service the token is for');
  if (all.length > MAX_AUDIENCES) throw new OAuthError('invalid_target', `${all.length} audiences/resources requested; at most ${MAX_AUDIENCES}`);
  return all;
}

function parseExpiresIn(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new OAuthError('invalid_request', `expires_in ${clip(JSON.stringify(v), 40)} must be a positive whole number of seconds`);
  return Number(v);
}
