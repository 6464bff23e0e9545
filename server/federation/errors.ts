import { TesseraError, type ErrorKind } from '../../common/errors.ts';

/**
 * Why a federation relationship could not be used or a foreign bundle was refused
 * (docs/federation.md "Errors"). Every refusal keeps the last good bundle; the code
 * is what `federation show` and the refresh RPC report, and tests branch on.
 */
export const FEDERATION_ERRORS = {
  /** The relationship's parameters are wrong (admin API, config). */
  ERR_FEDERATION_INVALID: 'invalid_argument',
  ERR_FEDERATION_NOT_FOUND: 'not_found',
  ERR_FEDERATION_EXISTS: 'already_exists',
  /** Defined in the config file: change it there, not through the admin API. */
  ERR_FEDERATION_FROM_CONFIG: 'failed_precondition',
  /** Connection refused, DNS, timeout, TLS handshake failure. */
  ERR_FEDERATION_UNREACHABLE: 'unavailable',
  /** https_web: the server certificate does not verify against WebPKI roots or the host. */
  ERR_FEDERATION_ENDPOINT_UNTRUSTED: 'permission_denied',
  /** https_spiffe: the endpoint's X.509-SVID names another SPIFFE ID than configured. */
  ERR_FEDERATION_ENDPOINT_ID: 'permission_denied',
  /** https_spiffe: no bundle yet for the endpoint's trust domain (bootstrap bundle missing). */
  ERR_FEDERATION_NO_BUNDLE: 'failed_precondition',
  /** Not a 200, or a redirect that is not allowed. */
  ERR_FEDERATION_HTTP: 'unavailable',
  ERR_FEDERATION_TOO_LARGE: 'resource_exhausted',
  /** Not UTF-8 JSON, not a SPIFFE bundle, or no authorities. */
  ERR_FEDERATION_BUNDLE_INVALID: 'invalid_argument',
  /** A CA certificate in the bundle names another trust domain. */
  ERR_FEDERATION_WRONG_TRUST_DOMAIN: 'invalid_argument',
  /** spiffe_sequence lower than one already accepted. */
  ERR_FEDERATION_SEQUENCE: 'failed_precondition',
} as const satisfies Record<string, ErrorKind>;

export type FederationErrorCode = keyof typeof FEDERATION_ERRORS;

export class FederationError extends TesseraError {
  declare readonly code: FederationErrorCode;
  constructor(code: FederationErrorCode, message: string, options?: { cause?: unknown }) {
    super(FEDERATION_ERRORS[code], code, message, options);
  }
}

export const federationError = (code: FederationErrorCode, message: string, cause?: unknown) => new FederationError(code, message, { cause });
