import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JwtBundleSource } from '../bundle/jwtbundle.ts';
import { JwtSvidError, SpiffeError } from '../errors.ts';
import type { Authorizer } from '../tls/authorizers.ts';
import type { Peer } from '../tls/peer.ts';
import type { JwtSvid } from './types.ts';
import { verifyJwtSvid } from './verify.ts';

/** Validates a token for an audience: offline (bundles) or online (JWTSource.validateJwtSvid). */
export type JwtValidateFn = (token: string, audience: string) => Promise<JwtSvid>;

export interface JwtRequestValidatorOptions {
  /** The audience this service identifies with (e.g. its own SPIFFE ID or name). */
  audience: string;
  /** JWT bundles for offline validation, or a validate function (online: jwtSource.validateJwtSvid). */
  validator: JwtBundleSource | JwtValidateFn;
  /** Who may call, after the token validated. Default: anyone with a valid JWT-SVID. */
  authorize?: Authorizer;
}

const jwtPeers = new WeakMap<IncomingMessage, Peer>();

/** The caller authenticated by jwtMiddleware / authenticateRequest. */
export function getJwtPeer(req: IncomingMessage): Peer | undefined { return jwtPeers.get(req); }

/** The Bearer token of `Authorization` (RFC 6750), or throws ERR_JWT_MISSING_TOKEN. */
export function bearerToken(req: IncomingMessage): string {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(h) : null;
  if (!m) throw new SpiffeError('ERR_JWT_MISSING_TOKEN', 'request has no "Authorization: Bearer <JWT-SVID>" header');
  return m[1]!;
}

/**
 * Validates the request's JWT-SVID (alg allow-list, signature against the bundle of
 * the token's trust domain, aud contains `audience`, exp) and authorizes the caller.
 * Resolves with the caller; rejects with typed errors (codes ERR_JWT*, ERR_AUTHORIZATION).
 */
export function createJwtRequestValidator(o: JwtRequestValidatorOptions): (req: IncomingMessage) => Promise<Peer> {
  const validate: JwtValidateFn = typeof o.validator === 'function'
    ? o.validator
    : (token, audience) => verifyJwtSvid(token, o.validator as JwtBundleSource, audience);
  return async (req) => {
    const svid = await validate(bearerToken(req), o.audience);
    const peer: Peer = { id: svid.id, claims: svid.agentClaims, jwt: svid };
    o.authorize?.(peer);
    jwtPeers.set(req, peer);
    return peer;
  };
}

/**
 * Connect/Express-style middleware: `(req, res, next)`. Valid and authorized → next()
 * with getJwtPeer(req) set; otherwise 401 (missing/invalid token) or 403
 * (unauthorized) with a WWW-Authenticate: Bearer header, and next is not called.
 */
export function jwtMiddleware(o: JwtRequestValidatorOptions): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const check = createJwtRequestValidator(o);
  return (req, res, next) => {
    check(req).then(() => next(), (err: unknown) => {
      const code = err instanceof SpiffeError ? err.code : 'ERR_JWTSVID_INVALID';
      const forbidden = code === 'ERR_AUTHORIZATION';
      const status = forbidden ? 403 : 401;
      const desc = err instanceof JwtSvidError ? `${err.code}:${err.reason}` : code;
      res.writeHead(status, {
        'content-type': 'application/json',
        'www-authenticate': forbidden ? 'Bearer error="insufficient_scope"' : `Bearer error="invalid_token", error_description="${desc}"`,
      });
      res.end(JSON.stringify({ error: code, ...(err instanceof JwtSvidError ? { reason: err.reason } : {}) }));
    });
  };
}
