/**
 * Why a receiver refused a SET. `err` is the RFC 8935 §2.3 / RFC 8936 §2.4.4 error
 * code sent back to the transmitter; `code` is stable for callers to branch on.
 */
export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'authentication_failed' | 'access_denied';

export class SetRejected extends Error {
  readonly code = 'ERR_SSF_SET_REJECTED';
  constructor(readonly err: SetErrorCode, message: string) {
    super(message);
    this.name = 'SetRejected';
  }
  /** The RFC 8935 error body. */
  toJSON() { return { err: this.err, description: this.message }; }
}

/** A poll request the transmitter refused, or a transport failure. */
export class SsfPollError extends Error {
  readonly code = 'ERR_SSF_POLL';
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SsfPollError';
  }
}
