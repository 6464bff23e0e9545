/**
 * Typed errors of the SPIFFE domain. Callers and tests branch on `code`, never on
 * message text. The transport edge maps them to gRPC status codes.
 */
export type SpiffeErrorCode =
  | 'ERR_SPIFFEID_INVALID'
  | 'ERR_TRUST_DOMAIN_INVALID'
  | 'ERR_SELECTOR_INVALID'
  | 'ERR_X509SVID_INVALID'
  | 'ERR_X509SVID_UNTRUSTED'
  | 'ERR_X509SVID_EXPIRED'
  | 'ERR_JWTSVID_INVALID'
  | 'ERR_JWTSVID_UNTRUSTED'
  | 'ERR_JWTSVID_EXPIRED'
  | 'ERR_JWTSVID_AUDIENCE'
  | 'ERR_BUNDLE_INVALID'
  | 'ERR_BUNDLE_NOT_FOUND'
  | 'ERR_AUTHORIZATION'
  | 'ERR_WORKLOADAPI_INVALID_ARGUMENT'
  | 'ERR_WORKLOADAPI_PERMISSION_DENIED'
  | 'ERR_WORKLOADAPI_UNAVAILABLE'
  | 'ERR_WORKLOADAPI'
  | 'ERR_ADDRESS_INVALID'
  | 'ERR_SOURCE_CLOSED';

export class SpiffeError extends Error {
  readonly code: SpiffeErrorCode;
  constructor(code: SpiffeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class SpiffeIdError extends SpiffeError {}
export class X509SvidError extends SpiffeError {}
export class JwtSvidError extends SpiffeError {}
export class BundleError extends SpiffeError {}
export class AuthorizationError extends SpiffeError {
  constructor(message: string) { super('ERR_AUTHORIZATION', message); }
}
