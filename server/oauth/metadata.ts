import { OAuthError } from './errors.ts';
import { sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';

/** RFC 8414 authorization server metadata, JWKS and the revocation feed routes. */
export function metadataRoute(d: { issuer: string; grantTypes: () => string[]; cacheSeconds: number }): Route {
  return {
    method: 'GET', path: '/.well-known/oauth-authorization-server',
    handler(ctx) {
      const base = d.issuer;
      sendJson(ctx.res, 200, {
        issuer: base,
        token_endpoint: `${base}/oauth2/token`,
        introspection_endpoint: `${base}/oauth2/introspect`,
        revocation_endpoint: `${base}/oauth2/revoke`,
        jwks_uri: `${base}/oauth2/jwks`,
        revocation_feed_endpoint: `${base}/oauth2/revocations`,
        grant_types_supported: d.grantTypes(),
        // No authorization endpoint (yet): RFC 8414 requires the member, so it is empty.
        response_types_supported: [],
        // The actor of a token exchange authenticates with its X.509-SVID (mTLS) or a
        // JWT-SVID actor_token; there are no client secrets.
        token_endpoint_auth_methods_supported: ['tls_client_auth'],
        introspection_endpoint_auth_methods_supported: ['tls_client_auth'],
        revocation_endpoint_auth_methods_supported: ['tls_client_auth', 'none'],
        tls_client_certificate_bound_access_tokens: true,
        token_types_supported: ['urn:ietf:params:oauth:token-type:access_token', 'urn:ietf:params:oauth:token-type:jwt'],
      }, { cache: `public, max-age=${d.cacheSeconds}` });
    },
  };
}

export function jwksRoute(d: { keys: Pick<OAuthKeyManager, 'jwks'>; cacheSeconds: number }): Route {
  return {
    method: 'GET', path: '/oauth2/jwks',
    handler(ctx) { sendJson(ctx.res, 200, d.keys.jwks(), { cache: `public, max-age=${d.cacheSeconds}` }); },
  };
}

/** GET /oauth2/revocations: the core's SSE feed, for callers with an SVID of the trust domain. */
export function revocationFeedRoute(d: { core: Pick<DelegationCore, 'feed'>; trustDomain: string }): Route {
  return {
    method: 'GET', path: '/oauth2/revocations',
    async handler(ctx) {
      if (!ctx.client()) {
        throw new OAuthError('invalid_client', `the revocation feed requires an X.509-SVID of trust domain ${d.trustDomain} as the TLS client certificate`);
      }
      await d.core.feed(ctx.req, ctx.res);
    },
  };
}
