/**
 * Typed refusals of WIT-SVIDs (SPIFFE WIT-SVID) and Workload Proof Tokens (WIMSE
 * draft-ietf-wimse-wpt). Callers, tests and the HTTP edge branch on `code` (coarse,
 * one HTTP status each) and `reason` (which rule failed), never on message text.
 */
export type WitErrorCode =
  | 'ERR_WIT_INVALID'      // malformed, or breaks a MUST of the WIT-SVID text
  | 'ERR_WIT_UNTRUSTED'    // no bundle / key for it, or its signature does not verify
  | 'ERR_WIT_EXPIRED'      // exp passed or nbf ahead
  | 'ERR_WIT_MISSING'      // a request without exactly one Workload-Identity-Token
  | 'ERR_WPT_MISSING'      // a request without exactly one Workload-Proof-Token
  | 'ERR_WPT_INVALID'      // malformed WPT, wrong typ / alg, missing claim
  | 'ERR_WPT_SIGNATURE'    // not signed by the key the WIT confirms
  | 'ERR_WPT_MISMATCH'     // bound to another request: aud, htm, wth, ath, tth, oth
  | 'ERR_WPT_EXPIRED'      // exp passed, or too far ahead
  | 'ERR_WPT_REPLAYED'     // its jti was seen before within its lifetime
  | 'ERR_WIT_UNSUPPORTED'; // the Workload API does not serve the WIT-SVID profile (Unimplemented)

export type WitReason =
  | 'malformed' | 'bad_typ' | 'missing_kid' | 'unsupported_algorithm' | 'crit'
  | 'missing_sub' | 'bad_sub' | 'missing_exp' | 'has_aud' | 'missing_cnf' | 'bad_cnf' | 'cnf_alg'
  | 'expired' | 'not_yet_valid' | 'lifetime' | 'bundle_not_found' | 'key_not_found' | 'bad_signature' | 'bad_key'
  | 'missing_header' | 'duplicate_header' | 'bearer_presentation'
  | 'alg_mismatch' | 'missing_claim' | 'aud' | 'htm' | 'wth' | 'ath' | 'tth' | 'oth'
  | 'replayed' | 'replay_cache_full' | 'unimplemented';

export class WitError extends Error {
  readonly code: WitErrorCode;
  readonly reason: WitReason;
  constructor(code: WitErrorCode, reason: WitReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.reason = reason;
    this.name = 'WitError';
  }
}
