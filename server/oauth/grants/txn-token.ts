import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ExchangeDecision, ExchangeInput } from '../../delegation/types.ts';
import { auditedGrant, decideOrExplain } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import { parseScopeParam } from '../authz-params.ts';
import { authenticateClient, type AuthenticatedClient } from '../client-auth.ts';
import { OAuthError } from '../errors.ts';
import { clip, type Form } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { newGrantId, newJti } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { addOnly, checkMemberNames, parseContextParam } from '../txn/context.ts';
import { resolveSubject, SUBJECT_TOKEN_TYPES, type TxnSubject } from '../txn/subject.ts';
import { signTxnToken, TXN_TOKEN_TYPE, type TxnClaims } from '../txn/token.ts';

/**
 * The Txn-Token service (draft-ietf-oauth-transaction-tokens §"Requesting Txn-Tokens",
 * docs/transaction-tokens.md): RFC 8693 token exchange with
 * requested_token_type=urn:ietf:params:oauth:token-type:txn_token, on the one token
 * endpoint, signed by the one set of keys, decided by the one policy engine.
 *
 * The requester is a workload of this trust domain authenticated as the client
 * (X.509-SVID over mTLS, or a JWT-SVID client_assertion), never named by a parameter.
 * It may request txn tokens for a subject when a delegation policy lets it act for that
 * subject with the trust domain (spiffe://<td>) among the policy's audiences; the txn
 * scope is then ⊆ the subject token's scope ∩ the policy's, its lifetime ≤ the subject
 * token's, oauth.txn_token_ttl and the policy's max_ttl. A replacement (subject_token =
 * a txn token) keeps txn, sub, aud, act and grant, may narrow scope and add context,
 * and appends its requester to req_wl.
 */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** How many times a txn token may be replaced in one transaction. */
const MAX_REPLACEMENTS = 16;

export interface TxnTokenDeps {
  issuer: string;
  tokenEndpoint: string;
  /** The trust domain name (example.org); txn tokens say aud spiffe://<td>. */
  trustDomain: string;
  /** oauth.txn_token_ttl (seconds). */
  txnTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey' | 'findKey'>;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  audit: OAuthAudit;
  clock: Clock;
}

export function txnTokenGrant(d: TxnTokenDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: TOKEN_EXCHANGE,
    requestedTokenType: TXN_TOKEN_TYPE,
    refusal: { token_type: 'txn_token' },
    who: ['subject', 'requester'],
    run: (r, known) => issue(d, r, known),
  });
}

interface TxnParams {
  subjectToken: string; subjectTokenType: string; scopes?: string[]; ttl?: number;
  rctx?: Record<string, unknown>; tctx?: Record<string, unknown>;
}

async function issue(d: TxnTokenDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { now } = r;
  const td = `spiffe://${d.trustDomain}`;
  const p = parseParams(r.form, td);
  const requester = await authenticateClient(r, r.form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: false,
  });
  const reqWl = requester.spiffeId!.toString();
  known.requester = reqWl;

  const s = await resolveSubject({ issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, trustDomainId: td, keys: d.keys, bundles: d.bundles,
    revokedBy: (t) => d.core.revokedBy(t) }, p.subjectToken, p.subjectTokenType, requester, now);
  known.subject = s.sub;
  if (s.replaced) { known.txn = s.replaced.txn; known.replaces = s.replaced.jti; }
  if (!p.scopes && !s.replaced) {
    throw new OAuthError('invalid_scope', 'scope is required: name the purpose of this transaction, as narrowly as possible (draft-ietf-oauth-transaction-tokens)');
  }
  checkMemberNames(p.tctx, 'request_details', s.replaced);
  checkMemberNames(p.rctx, 'request_context', s.replaced);
  if (s.replaced) checkReplacement(s, p);

  const decision = decide(d, s, requester, p, td, now);
  const replaced = s.replaced;
  const claims: TxnClaims = {
    iss: d.issuer, iat: now, exp: decision.expiresAt, aud: td,
    txn: replaced?.txn ?? randomUUID(),
    sub: s.sub, scope: decision.scopes.join(' '),
    req_wl: replaced ? `${replaced.req_wl},${reqWl}` : reqWl,
    jti: newJti(), grant_id: s.grantId ?? newGrantId(), chain: s.chain,
    subject: { iss: s.subject.issuer, sub: s.subject.name, groups: s.subject.groups },
    sub_profile: s.subProfile,
    ...(s.act ? { act: s.act } : {}),
  };
  const tctx = addOnly(replaced?.tctx, p.tctx, 'request_details', 'tctx');
  const rctx = addOnly(replaced?.rctx, p.rctx, 'request_context', 'rctx');
  if (tctx) claims.tctx = tctx;
  if (rctx) claims.rctx = rctx;
  const key = d.keys.signingKey();
  const token = signTxnToken(claims, key);
  // Never the token itself in the log (draft "Logging"): its claims identify it.
  d.audit.record('oauth.token_exchange', claims.sub, {
    grant: TOKEN_EXCHANGE, token_type: 'txn_token', subject: claims.sub, requester: reqWl, client_auth: requester.method,
    subject_token: s.kind, txn: claims.txn, jti: claims.jti, grant_id: claims.grant_id, replaces: replaced?.jti,
    req_wl: claims.req_wl, actor_chain: s.actors.map((a) => a.spiffeId), scopes: decision.scopes, policy: decision.policyId,
    exp: claims.exp, kid: key.kid, correlation_id: claims.txn,
  });
  return { access_token: token, issued_token_type: TXN_TOKEN_TYPE, token_type: 'N_A', expires_in: claims.exp - now, scope: claims.scope };
}

function parseParams(form: Form, td: string): TxnParams {
  const subjectToken = form.require('subject_token');
  const subjectTokenType = form.require('subject_token_type');
  if (!SUBJECT_TOKEN_TYPES.includes(subjectTokenType)) {
    throw new OAuthError('invalid_request', `subject_token_type ${clip(subjectTokenType, 100)} is not supported for transaction tokens; use one of ${SUBJECT_TOKEN_TYPES.join(', ')}`);
  }
  const audience = form.require('audience');
  if (audience !== td) {
    throw new OAuthError('invalid_target', `audience ${clip(JSON.stringify(audience), 200)} is not this trust domain: a transaction token is valid only inside ${td} (send audience=${td})`);
  }
  if (form.get('resource') !== undefined) {
    throw new OAuthError('invalid_target', `resource is not a transaction-token parameter: a transaction token is for the whole trust domain ${td}, never for one resource server`);
  }
  if (form.get('actor_token') !== undefined) {
    throw new OAuthError('invalid_request', 'actor_token is not accepted here: the requesting workload authenticates as the client (X.509-SVID over mTLS, or a JWT-SVID client_assertion)');
  }
  const scope = parseScopeParam(form.get('scope'));
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);
  const expiresIn = form.get('expires_in');
  if (expiresIn !== undefined && !/^[1-9]\d{0,8}$/.test(expiresIn)) {
    throw new OAuthError('invalid_request', `expires_in ${clip(JSON.stringify(expiresIn), 40)} must be a positive whole number of seconds`);
  }
  const tctx = parseContextParam(form.get('request_details'), 'request_details');
  const rctx = parseContextParam(form.get('request_context'), 'request_context');
  return {
    subjectToken, subjectTokenType,
    ...(scope.value?.length ? { scopes: scope.value } : {}),
    ...(expiresIn !== undefined ? { ttl: Number(expiresIn) } : {}),
    ...(tctx ? { tctx } : {}), ...(rctx ? { rctx } : {}),
  };
}

/** The draft's rules for a replacement that parameters could break; sub, txn and aud come from the replaced token only. */
function checkReplacement(s: TxnSubject, p: TxnParams): void {
  const old = s.replaced!;
  // req_wl names the first requester, then one workload per replacement.
  const replacements = old.req_wl.split(',').length - 1;
  if (replacements >= MAX_REPLACEMENTS) {
    throw new OAuthError('invalid_grant', `transaction ${old.txn} was already replaced ${replacements} times; at most ${MAX_REPLACEMENTS}`);
  }
  const wide = (p.scopes ?? []).filter((x) => !s.scopes!.includes(x));
  if (wide.length) {
    throw new OAuthError('invalid_scope', `${wide.length > 1 ? 'scopes' : 'scope'} ${wide.join(' ')} ${wide.length > 1 ? 'are' : 'is'} not in the `
      + `transaction token's scope ${old.scope}: a replacement may narrow the scope, never widen it`);
  }
}

/**
 * The delegation policy decision for the requester acting for the subject within the
 * trust domain: scope ⊆ subject scope ∩ policy, aud spiffe://<td> ∈ policy audiences,
 * lifetime bounded by the subject token, the policy and oauth.txn_token_ttl.
 */
function decide(d: TxnTokenDeps, s: TxnSubject, requester: AuthenticatedClient, p: TxnParams, td: string, now: number): ExchangeDecision {
  const reqWl = requester.spiffeId!.toString();
  const input: ExchangeInput = {
    subject: s.subject, actor: { spiffeId: reqWl, claims: requester.claims }, priorActors: [],
    subjectScopes: s.scopes, parentAudiences: undefined, subjectExpiresAt: s.exp,
    requestedScopes: p.scopes ?? s.scopes, requestedAudiences: [td], requestedTtl: p.ttl, now, serverMaxTtl: d.txnTtl,
  };
  return decideOrExplain(d.core, input, (why) => `no delegation policy lets ${reqWl} request transaction tokens for ${s.sub}: that needs a policy `
    + `whose actors match ${reqWl}, which covers this subject and lists ${td} among its audiences (${why})`);
}
