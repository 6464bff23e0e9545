import { createHash } from 'node:crypto';

/** base64url(SHA-256(ASCII value)): wth, ath (RFC 9449 4.1), tth and oth values of a WPT. */
export function tokenHash(value: string): string {
  return createHash('sha256').update(value, 'ascii').digest('base64url');
}

/**
 * The WPT `aud` for a request: its target URI (RFC 9110 7.1) without query or
 * fragment. WHATWG URL normalisation (lowercase scheme and host, default port
 * dropped) is applied the same way by sender and recipient.
 */
export function targetUriAudience(uri: string | URL): string {
  const u = typeof uri === 'string' ? new URL(uri) : uri;
  return `${u.protocol}//${u.host}${u.pathname}`;
}
