import type { OAuthErrorCode } from '../delegation/types.ts';

/**
 * An OAuth protocol error (RFC 6749 §5.2): the `error` code and a description that says
 * exactly what failed. Thrown anywhere below the HTTPS edge; the listener maps it to the
 * JSON response once. `status` is 400 unless the RFC says otherwise (401 for
 * invalid_client, 413 for an oversized body, 503 when the datastore is unreachable).
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  constructor(error: OAuthErrorCode, description: string, opts?: { status?: number; cause?: unknown }) {
    super(description, { cause: opts?.cause });
    this.name = 'OAuthError';
    this.error = error;
    this.status = opts?.status ?? (error === 'invalid_client' ? 401 : error === 'server_error' ? 500 : error === 'temporarily_unavailable' ? 503 : 400);
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}

export const oauthError = (error: OAuthErrorCode, description: string, opts?: { status?: number; cause?: unknown }) =>
  new OAuthError(error, description, opts);
