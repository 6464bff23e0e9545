import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SpiffeError } from '../errors.ts';
import { DelegationError, invalid } from './errors.ts';
import type { DelegatedToken, VerifyDelegatedTokenOptions } from './types.ts';
import { verifyDelegatedToken } from './verify.ts';

export interface DelegationMiddlewareOptions extends Omit<VerifyDelegatedTokenOptions, 'peerCertificate' | 'now'> {
  /** Runs after verification, e.g. authorizeDelegation({...}); throw to refuse (403). */
  authorize?: (t: DelegatedToken) => void;
}

const delegations = new WeakMap<IncomingMessage, DelegatedToken>();

/** The delegated token delegationMiddleware verified for this request. */
export function getDelegation(req: IncomingMessage): DelegatedToken | undefined { return delegations.get(req); }

// One connection, one certificate: read it once per socket (TLS 1.3 has no renegotiation).
const peerCerts = new WeakMap<object, Uint8Array | null>();

/** DER of the TLS peer's leaf certificate of the request's connection, if any. */
export function peerCertificateOf(req: IncomingMessage): Uint8Array | undefined {
  const sock = req.socket as Partial<TLSSocket> | undefined;
  if (!sock || typeof sock.getPeerCertificate !== 'function') return undefined;
  let der = peerCerts.get(sock);
  if (der === undefined) {
    const raw = sock.getPeerCertificate().raw as Buffer | undefined;
    der = raw && raw.length > 0 ? raw : null;
    peerCerts.set(sock, der);
  }
  return der ?? undefined;
}

/** RFC 6750 §2.1 `Authorization: Bearer <token>`. */
function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(h);
  return m?.[1];
}

/**
 * Verifies the request's delegated token (Bearer; cnf compared with the connection's
 * client certificate), then runs `authorize`. Resolves with the token, also kept
 * for getDelegation(req).
 */
export function createDelegationValidator(o: DelegationMiddlewareOptions): (req: IncomingMessage) => Promise<DelegatedToken> {
  const { authorize, ...verify } = o;
  return async (req) => {
    const token = bearer(req);
    if (!token) throw invalid('malformed', 'request has no "Authorization: Bearer <token>" header');
    const peerCertificate = peerCertificateOf(req);
    const t = await verifyDelegatedToken(token, peerCertificate ? { ...verify, peerCertificate } : verify);
    authorize?.(t);
    delegations.set(req, t);
    return t;
  };
}

/**
 * Connect/Express-style middleware for resource servers. Valid → next() with
 * getDelegation(req) set. Otherwise no next(), and RFC 6750 §3 answers:
 *  - 401 `Bearer error="invalid_token", error_description="…"` (bad, expired, revoked,
 *    wrongly bound; `Bearer` alone when there was no token at all);
 *  - 403 `Bearer error="insufficient_scope", scope="…"` for missing scopes and
 *    refusals by `authorize`;
 *  - 503 with Retry-After when the revocation feed is stale or the keys cannot be
 *    fetched: we fail closed, but the token may well be fine, so the client should
 *    retry rather than throw it away.
 * The body is `{"error": …, "error_description": …, "code": DelegationError code}`.
 */
export function delegationMiddleware(o: DelegationMiddlewareOptions): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const check = createDelegationValidator(o);
  return (req, res, next) => {
    check(req).then(() => next(), (err: unknown) => {
      // An `authorize` built from the mTLS authorizers throws AuthorizationError: a refusal, not a fault.
      if (err instanceof SpiffeError && err.code === 'ERR_AUTHORIZATION') err = new DelegationError('ERR_DELEGATION_UNAUTHORIZED', err.message, { reason: 'actor', cause: err });
      if (!(err instanceof DelegationError)) { next(err); return; }
      const { status, header, error } = challenge(err, bearer(req) !== undefined);
      res.writeHead(status, {
        'content-type': 'application/json', 'cache-control': 'no-store',
        ...(header ? { 'www-authenticate': header } : {}),
        ...(status === 503 ? { 'retry-after': '1' } : {}),
      });
      res.end(JSON.stringify({ error, error_description: err.message, code: err.code }));
    });
  };
}

function challenge(err: DelegationError, hadToken: boolean): { status: number; header?: string; error: string } {
  const desc = quote(err.message);
  if (err.code === 'ERR_DELEGATION_FEED_STALE' || err.reason === 'keys_unavailable') return { status: 503, error: 'temporarily_unavailable' };
  if (err.code === 'ERR_DELEGATION_SCOPE' || err.code === 'ERR_DELEGATION_UNAUTHORIZED') {
    const scope = err.missingScopes?.length ? `, scope="${quote(err.missingScopes.join(' '))}"` : '';
    return { status: 403, header: `Bearer error="insufficient_scope", error_description="${desc}"${scope}`, error: 'insufficient_scope' };
  }
  if (!hadToken) return { status: 401, header: 'Bearer', error: 'invalid_request' };
  return { status: 401, header: `Bearer error="invalid_token", error_description="${desc}"`, error: 'invalid_token' };
}

/** RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash). */
function quote(s: string): string { return s.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "'"); }
