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
  | 'ERR_DER_INVALID'
  | 'ERR_BUNDLE_NOT_FOUND'
  | 'ERR_AUTHORIZATION'
  | 'ERR_WORKLOADAPI_INVALID_ARGUMENT'
  | 'ERR_WORKLOADAPI_PERMISSION_DENIED'
  | 'ERR_WORKLOADAPI_UNAVAILABLE'
  | 'ERR_WORKLOADAPI'
  | 'ERR_ADDRESS_INVALID'
  | 'ERR_SOURCE_CLOSED'
  | 'ERR_SOURCE_NO_SVID'          // a source holds no SVID (yet, or for the requested hint)
  | 'ERR_PEER_NO_CERTIFICATE'     // a TLS peer presented no certificate
  | 'ERR_JWT_MISSING_TOKEN';      // an HTTP request carried no Bearer token

export class SpiffeError extends Error {
  readonly code: SpiffeErrorCode;
  /**
   * Finer, equally stable detail under `code` (e.g. ERR_X509SVID_INVALID +
   * "leaf_is_ca"), so tests and logs can tell rejections apart while the gRPC
   * mapping keeps branching on the coarse `code`.
   */
  readonly reason?: string;
  constructor(code: SpiffeErrorCode, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options);
    this.code = code;
    if (options?.reason !== undefined) this.reason = options.reason;
    this.name = new.target.name;
  }
}

export class SpiffeIdError extends SpiffeError {}

/** Why an X.509-SVID, CA certificate or CSR was refused. */
export type X509SvidReason =
  | 'malformed'             // not DER / not a certificate / not a CSR
  | 'invalid_parameter'     // a caller asked to issue something outside the profile
  | 'no_uri_san'            // no URI SAN (or no SAN at all)
  | 'multiple_uri_sans'     // more than one URI SAN
  | 'not_spiffe_id'         // URI SAN is not a valid SPIFFE ID
  | 'leaf_id_no_path'       // leaf SPIFFE ID is a trust domain ID
  | 'leaf_is_ca'            // basicConstraints cA=true on a leaf
  | 'leaf_key_cert_sign'    // keyCertSign on a leaf
  | 'leaf_crl_sign'         // cRLSign on a leaf
  | 'no_digital_signature'  // leaf keyUsage lacks digitalSignature
  | 'key_usage_missing'     // keyUsage extension absent
  | 'key_usage_not_critical'
  | 'eku_missing_auth'      // extKeyUsage present without serverAuth+clientAuth
  | 'unsupported_critical_extension'
  | 'bad_signature'         // CSR self-signature does not verify
  | 'unsupported_algorithm'
  | 'private_key_mismatch'
  | 'expired'               // a chain certificate is past notAfter at `now`
  | 'not_yet_valid'         // a chain certificate is before notBefore at `now`
  | 'bundle_not_found'      // no X.509 bundle for the leaf's trust domain
  | 'unauthorized_chain'    // no valid path from the leaf to the TD's bundle
  | 'issuer_not_ca'         // a would-be issuer is not a CA with keyCertSign
  | 'path_length_exceeded'
  | 'ca_id_has_path';       // a signing certificate's SPIFFE ID has a path

export class X509SvidError extends SpiffeError {
  declare readonly reason: X509SvidReason;
  constructor(code: SpiffeErrorCode, reason: X509SvidReason, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, reason });
  }
}

/** Why a JWT-SVID was refused. */
export type JwtSvidReason =
  | 'malformed'
  | 'unsupported_algorithm'
  | 'bad_typ'
  | 'missing_sub'
  | 'bad_sub'
  | 'missing_aud'
  | 'audience_mismatch'
  | 'missing_exp'
  | 'expired'
  | 'not_yet_valid'
  | 'bundle_not_found'
  | 'key_not_found'
  | 'bad_signature'
  | 'bad_key';

export class JwtSvidError extends SpiffeError {
  declare readonly reason: JwtSvidReason;
  constructor(code: SpiffeErrorCode, reason: JwtSvidReason, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, reason });
  }
}
export class BundleError extends SpiffeError {}
export class AuthorizationError extends SpiffeError {
  constructor(message: string) { super('ERR_AUTHORIZATION', message); }
}
