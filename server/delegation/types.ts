import type { AgentClaims } from '../../spiffe/agent-claims.ts';

/**
 * The contract between the token endpoint (server/oauth/) and the delegation core
 * (server/delegation/: policies, revocations, their storage and push feed). See
 * docs/delegation.md for the wire and token format. Times are unix seconds.
 */

/** An actor pattern: an exact SPIFFE ID, or an ID ending in `/*` (that path and below). */
export type ActorPattern = string;

export interface DelegationPolicy {
  id: string;
  /** Free text for operators. */
  description: string;
  actors: ActorPattern[];
  subjectIssuer: string;
  /** Exact subject values (the IdP's subject claim); empty = any user of the issuer. */
  subjects: string[];
  /** The user must be in one of these groups; empty = any. */
  groups: string[];
  audiences: string[];
  scopes: string[];
  maxTtl: number;
  maxDepth: number;
  mayDelegateTo: ActorPattern[];
  /** Per-operation use limits (docs/attenuation.md), e.g. {"read:files": 15}; absent or {} = none. */
  budgets?: Record<string, number>;
  /** Scopes a user may grant beyond `scopes` by approving a request (CIBA; docs/attenuation.md "Human approval"). */
  approval?: PolicyApproval;
  /** Conditions on actions richer than scopes, checked by the AuthZEN decision point (docs/authzen.md "Conditions"). */
  conditions?: PolicyCondition[];
  revision: number;
  createdAt: number;
}

/**
 * The approvable part of a policy: `scopes` are not standing authority, an agent gets
 * them only after an approver says yes to one request (single use, bound to that agent).
 * `approvers`: `subject` (the user the token acts for) and/or `group:NAME` (any user of
 * the policy's subject issuer signed in with group NAME).
 */
export interface PolicyApproval {
  scopes: string[];
  approvers: string[];
}

/**
 * A condition on one action of a policy (docs/authzen.md "Conditions"), checked after the
 * scope decision. Values are read from the request by property name: the action's
 * properties, then the resource's, then the context.
 */
export interface PolicyCondition {
  /** The action (scope) it applies to. */
  action: string;
  /** At most `max` permits per fixed window of `window` seconds, per policy, user and agent. */
  rate?: { max: number; window: number };
  /** The number named `property` must be present and ≤ `max`. */
  amount?: { property: string; max: number };
  /**
   * A destination (the value named `property`) the user and agent have not used in a
   * permitted action within `remember` seconds: permitted only up to `maxAmount` of the
   * number named `amountProperty` (0: never without a person).
   */
  firstSeen?: { property: string; amountProperty: string; maxAmount: number; remember: number };
}

export type NewDelegationPolicy = Omit<DelegationPolicy, 'id' | 'revision' | 'createdAt'> & { id?: string };

/** One actor of a chain, current first in `Chain.actors`. */
export interface ChainActor {
  spiffeId: string;
  claims: AgentClaims;
}

/** The user a token acts for. */
export interface DelegationSubject {
  issuer: string;
  /** The IdP's subject claim value. */
  name: string;
  groups: string[];
}

/** What the token endpoint asks the policy engine. */
export interface ExchangeInput {
  subject: DelegationSubject;
  /** The new current actor. */
  actor: ChainActor;
  /** Actors already in the chain (the subject token's, current first); [] for a root exchange. */
  priorActors: ChainActor[];
  /** Scopes the subject token carries; undefined = unbounded by the subject token (IdP tokens). */
  subjectScopes: string[] | undefined;
  /** The parent token's audiences (sub-exchange only). */
  parentAudiences: string[] | undefined;
  /** Subject token expiry. */
  subjectExpiresAt: number;
  requestedScopes: string[] | undefined;
  requestedAudiences: string[];
  /** Requested lifetime (seconds), when the client asked for one. */
  requestedTtl: number | undefined;
  now: number;
  /** The server's ceiling (oauth.token_ttl). */
  serverMaxTtl: number;
  /** The subject token's budgets (sub-exchange); issued budgets are never above them. */
  subjectBudgets?: Record<string, number>;
}

export interface ExchangeDecision {
  policyId: string;
  scopes: string[];
  audiences: string[];
  expiresAt: number;
  /** Sub-exchange only: the policy whose may_delegate_to let the parent actor hand this token on. */
  delegatingPolicyId?: string;
  /** Per-operation budgets of the issued token: the minimum of the policy's and the subject token's; absent = none. */
  budgets?: Record<string, number>;
}

/** Stable OAuth error codes (RFC 6749 §5.2, RFC 8693 §2.2.2). */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client'
  | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_target'
  | 'access_denied' | 'authorization_pending' | 'slow_down' | 'expired_token' | 'server_error' | 'temporarily_unavailable'
  // OpenID CIBA Core §13 (backchannel authentication endpoint).
  | 'expired_login_hint_token' | 'unknown_user_id' | 'invalid_binding_message';

/** `biscuit`: the hex revocation id of a Biscuit block (docs/attenuation.md). */
export type RevocationKind = 'grant' | 'jti' | 'subject' | 'actor' | 'biscuit';

export interface RevocationRecord {
  seq: number;
  kind: RevocationKind;
  value: string;
  at: number;
  expiresAt: number;
  /** Who revoked: "admin uid 0", "rfc7009 spiffe://…", … (audit only; not on the feed). */
  by?: string;
}

/** The claims of a delegated token that revocation matches on. */
export interface RevocableToken {
  jti: string;
  grantId: string;
  chain: string[];
  /** Qualified subject `<issuer>#<name>`. */
  sub: string;
  actors: string[];
  iat: number;
  /** A Biscuit's block revocation ids (hex), authority first. */
  biscuitIds?: string[];
}
