/**
 * Typed errors of delegated authority (docs/delegation.md "The SDK"). Callers and
 * tests branch on `code` (coarse, stable) and `reason` (finer, equally stable), never
 * on message text. An OAuth error from the token endpoint keeps the server's `error`
 * as `oauthError` and its description; its code is `ERR_OAUTH_<ERROR UPPERCASE>`.
 */
export type DelegationErrorCode =
  | 'ERR_DELEGATION_INVALID'       // malformed, forged, wrong issuer/typ/alg, unknown key, bad act
  | 'ERR_DELEGATION_EXPIRED'       // past exp, or before nbf
  | 'ERR_DELEGATION_AUDIENCE'      // aud does not name this resource server
  | 'ERR_DELEGATION_SCOPE'         // a required scope is missing
  | 'ERR_DELEGATION_BINDING'       // cnf does not match the connection's certificate (or is missing when required)
  | 'ERR_DELEGATION_REVOKED'       // a revocation record matches the token
  | 'ERR_DELEGATION_FEED_STALE'    // the revocation feed is silent for too long: fail closed
  | 'ERR_DELEGATION_UNAUTHORIZED'  // a valid token that authorizeDelegation() refuses
  | `ERR_OAUTH_${Uppercase<string>}`;

export type DelegationReason =
  | 'malformed' | 'bad_typ' | 'unsupported_algorithm' | 'crit_header' | 'missing_kid'
  | 'key_not_found' | 'bad_key' | 'keys_unavailable' | 'bad_signature'
  | 'issuer_mismatch' | 'missing_claim' | 'bad_claim' | 'bad_subject' | 'bad_actor' | 'client_id_mismatch'
  | 'expired' | 'not_yet_valid' | 'audience_mismatch' | 'missing_scope'
  | 'cnf_mismatch' | 'no_peer_certificate' | 'unbound'
  | 'revoked' | 'stale' | 'not_ready' | 'closed'
  | 'issuer' | 'subject_issuer' | 'actor' | 'depth' | 'scope'
  | 'oauth' | 'bad_response';

export class DelegationError extends Error {
  readonly code: DelegationErrorCode;
  readonly reason?: DelegationReason;
  /** ERR_OAUTH_*: the server's `error` value, e.g. "invalid_scope". */
  readonly oauthError?: string;
  /** ERR_OAUTH_*: the server's `error_description` ('' when it sent none). */
  readonly description?: string;
  /** ERR_OAUTH_*: the HTTP status of the error response. */
  readonly status?: number;
  /** ERR_DELEGATION_SCOPE (and scope refusals of authorizeDelegation): the scopes the token lacks. */
  readonly missingScopes?: string[];

  constructor(code: DelegationErrorCode, message: string, options?: {
    cause?: unknown; reason?: DelegationReason; oauthError?: string; description?: string; status?: number; missingScopes?: string[];
  }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = 'DelegationError';
    if (options?.reason !== undefined) this.reason = options.reason;
    if (options?.oauthError !== undefined) this.oauthError = options.oauthError;
    if (options?.description !== undefined) this.description = options.description;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.missingScopes !== undefined) this.missingScopes = options.missingScopes;
  }
}

/** `invalid_scope` → `ERR_OAUTH_INVALID_SCOPE`; anything outside RFC 6749's charset is replaced. */
export function oauthErrorCode(error: string): DelegationErrorCode {
  const norm = error.toUpperCase().replace(/[^A-Z0-9_]/g, '_') || 'UNKNOWN';
  return `ERR_OAUTH_${norm}` as DelegationErrorCode;
}

export const invalid = (reason: DelegationReason, message: string, cause?: unknown) =>
  new DelegationError('ERR_DELEGATION_INVALID', message, { reason, cause });
