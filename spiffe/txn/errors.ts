/**
 * Typed errors of transaction tokens (docs/transaction-tokens.md). Callers branch on
 * `code` (coarse) and `reason` (finer), never on message text. A refusal by the
 * Txn-Token service keeps the server's `error` as `oauthError`, its description and
 * the HTTP status; its code is `ERR_OAUTH_<ERROR>` as for delegated tokens.
 */
export type TxnTokenErrorCode =
  | 'ERR_TXN_INVALID'      // malformed, forged, wrong typ/alg/issuer, unknown key, bad claims, an access token
  | 'ERR_TXN_EXPIRED'      // past exp, or issued in the future
  | 'ERR_TXN_AUDIENCE'     // aud is not this trust domain
  | 'ERR_TXN_REVOKED'      // a revocation record of the feed matches it (its grant, an ancestor, the user, an agent)
  | 'ERR_TXN_SCOPE'        // a required scope is missing
  | 'ERR_TXN_CONTEXT'      // the request contradicts the token's tctx
  | 'ERR_TXN_UNAVAILABLE'  // keys cannot be fetched or the revocation feed is stale: fail closed, retry later
  | `ERR_OAUTH_${Uppercase<string>}`;

export type TxnTokenReason =
  | 'malformed' | 'bad_typ' | 'access_token' | 'unsupported_algorithm' | 'missing_kid' | 'key_not_found' | 'bad_key' | 'bad_signature'
  | 'issuer_mismatch' | 'missing_claim' | 'bad_claim' | 'bad_actor' | 'expired' | 'not_yet_valid' | 'audience_mismatch'
  | 'revoked' | 'missing_scope' | 'no_header' | 'several_headers' | 'context_mismatch' | 'context_missing' | 'stale' | 'keys_unavailable'
  | 'oauth' | 'bad_response';

export class TxnTokenError extends Error {
  readonly code: TxnTokenErrorCode;
  readonly reason?: TxnTokenReason;
  /** ERR_OAUTH_*: the server's `error`, its `error_description` and the HTTP status. */
  readonly oauthError?: string;
  readonly description?: string;
  readonly status?: number;
  /** ERR_TXN_CONTEXT: the tctx members the request contradicts (or lacks). */
  readonly fields?: string[];

  constructor(code: TxnTokenErrorCode, message: string, options?: {
    cause?: unknown; reason?: TxnTokenReason; oauthError?: string; description?: string; status?: number; fields?: string[];
  }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'TxnTokenError';
    this.code = code;
    if (options?.reason !== undefined) this.reason = options.reason;
    if (options?.oauthError !== undefined) this.oauthError = options.oauthError;
    if (options?.description !== undefined) this.description = options.description;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.fields !== undefined) this.fields = options.fields;
  }
}

export const invalidTxn = (reason: TxnTokenReason, message: string, cause?: unknown) =>
  new TxnTokenError('ERR_TXN_INVALID', message, { reason, cause });
