/**
 * A transport-level refusal by the PDP (AuthZEN "Error Responses": 400 malformed, 401
 * the PEP did not authenticate, 413, 5xx) or an answer that is not AuthZEN. A deny is
 * never an error: it is a decision with `decision: false`.
 */
export type AuthzenErrorCode = 'ERR_AUTHZEN_BAD_REQUEST' | 'ERR_AUTHZEN_UNAUTHENTICATED' | 'ERR_AUTHZEN_UNAVAILABLE' | 'ERR_AUTHZEN_BAD_RESPONSE';

export class AuthzenError extends Error {
  readonly code: AuthzenErrorCode;
  readonly status?: number;
  constructor(code: AuthzenErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AuthzenError';
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
  }
}
