import type { ServerResponse } from 'node:http';
import { SpiffeError } from '../errors.ts';
import { DelegationError } from '../delegation/errors.ts';

/**
 * The one place where refusals of an MCP resource server become HTTP: status,
 * `WWW-Authenticate` (RFC 6750 §3, RFC 9728 §5.1, MCP authorization "Scope Challenge
 * Handling") and the JSON body `{error, error_description, code}`.
 *
 *  - no token                    → 401 `Bearer resource_metadata="…", scope="…"`
 *  - bad/expired/revoked/foreign/wrongly bound token
 *                                → 401 `Bearer error="invalid_token", error_description="…", resource_metadata="…", scope="…"`
 *  - scope missing, or refused by the resource server's own `authorize`
 *                                → 403 `Bearer error="insufficient_scope", scope="<all scopes the operation needs>", resource_metadata="…"`
 *  - revocation feed stale, keys unreachable (we fail closed, the token may be fine)
 *                                → 503 with Retry-After, so the client retries rather than re-authorizes
 */
export interface Refusal {
  status: 401 | 403 | 503;
  error: string;
  description: string;
  /** DelegationError code (or ERR_MCP_NO_TOKEN). */
  code: string;
  /** Scopes to name in the challenge. */
  scopes: string[];
  hadToken: boolean;
}

export function refusalOf(err: unknown, hadToken: boolean, scopes: string[]): Refusal | undefined {
  // An `authorize` built from the mTLS authorizers throws AuthorizationError: a refusal, not a fault.
  if (err instanceof SpiffeError && err.code === 'ERR_AUTHORIZATION') {
    return { status: 403, error: 'insufficient_scope', description: err.message, code: 'ERR_DELEGATION_UNAUTHORIZED', scopes, hadToken };
  }
  if (!(err instanceof DelegationError)) return undefined;
  if (err.code === 'ERR_DELEGATION_FEED_STALE' || err.reason === 'keys_unavailable') {
    return { status: 503, error: 'temporarily_unavailable', description: err.message, code: err.code, scopes, hadToken };
  }
  if (err.code === 'ERR_DELEGATION_SCOPE' || err.code === 'ERR_DELEGATION_UNAUTHORIZED') {
    return { status: 403, error: 'insufficient_scope', description: err.message, code: err.code, scopes: union(scopes, err.missingScopes ?? []), hadToken };
  }
  if (!hadToken) return { status: 401, error: 'invalid_request', description: err.message, code: 'ERR_MCP_NO_TOKEN', scopes, hadToken };
  return { status: 401, error: 'invalid_token', description: err.message, code: err.code, scopes, hadToken };
}

/** The `WWW-Authenticate` value for a refusal (none for 503). */
export function challengeHeader(r: Refusal, resourceMetadata: string): string | undefined {
  if (r.status === 503) return undefined;
  const parts: string[] = [];
  // RFC 6750 §3.1: a request without any authentication information gets no error code.
  if (r.status === 403 || r.hadToken) {
    parts.push(`error="${r.error}"`, `error_description="${quote(r.description)}"`);
  }
  parts.push(`resource_metadata="${quote(resourceMetadata)}"`);
  if (r.scopes.length > 0) parts.push(`scope="${quote(r.scopes.join(' '))}"`);
  return `Bearer ${parts.join(', ')}`;
}

export function sendRefusal(res: ServerResponse, r: Refusal, resourceMetadata: string): void {
  const header = challengeHeader(r, resourceMetadata);
  res.writeHead(r.status, {
    'content-type': 'application/json', 'cache-control': 'no-store',
    ...(header ? { 'www-authenticate': header } : {}),
    ...(r.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(JSON.stringify({ error: r.error, error_description: r.description, code: r.code }));
}

export function union(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return [...a];
  return [...new Set([...a, ...b])];
}

/** RFC 6750 §3: auth-param values are %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash). */
export function quote(s: string): string { return s.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "'"); }
