import { OAuthError } from './errors.ts';
import { sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';

/**
 * RFC 8414 authorization server metadata. With the MCP browser flow configured
 * (docs/mcp.md) it also names the authorization endpoint, PKCE S256 only, RFC 9207
 * `iss` in every authorization response, Client ID Metadata Documents and (when
 * enabled) RFC 7591 registration. The same document is served as OpenID-style
 * discovery, because MCP clients try both paths.
 */
export interface MetadataFeatures {
  /** The authorization code flow is configured (oauth.login). */
  authorize: boolean;
  /** Client ID Metadata Documents are fetched. */
  clientIdMetadataDocuments: boolean;
  /** RFC 7591 dynamic registration is enabled. */
  registration: boolean;
  scopes: string[];
  /** OpenID CIBA is mounted (docs/attenuation.md "Human approval"): its token delivery modes. */
  backchannel?: { deliveryModes: string[] };
  /** ID-JAG grants are issued (oauth.chaining.audiences). */
  idJag?: boolean;
}

export function metadataDocument(issuer: string, grantTypes: string[], f: MetadataFeatures = { authorize: false, clientIdMetadataDocuments: false, registration: false, scopes: [] }): Record<string, unknown> {
  const base = issuer;
  return {
    issuer: base,
    ...(f.authorize ? { authorization_endpoint: `${base}/oauth2/authorize` } : {}),
    token_endpoint: `${base}/oauth2/token`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    jwks_uri: `${base}/oauth2/jwks`,
    revocation_feed_endpoint: `${base}/oauth2/revocations`,
    // Biscuit root keys and the budget endpoint (docs/attenuation.md).
    biscuit_keys_uri: `${base}/oauth2/biscuit-keys`,
    consume_endpoint: `${base}/oauth2/consume`,
    ...(f.registration ? { registration_endpoint: `${base}/oauth2/register` } : {}),
    ...(f.backchannel ? {
      backchannel_authentication_endpoint: `${base}/oauth2/bc-authorize`,
      backchannel_token_delivery_modes_supported: f.backchannel.deliveryModes,
      backchannel_user_code_parameter_supported: false,
    } : {}),
    grant_types_supported: grantTypes,
    // RFC 8414 requires the member; without an authorization endpoint it is empty.
    response_types_supported: f.authorize ? ['code'] : [],
    ...(f.authorize ? {
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    } : {}),
    ...(f.clientIdMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    ...(f.scopes.length ? { scopes_supported: f.scopes } : {}),
    // Workloads authenticate with their X.509-SVID (mTLS) or a JWT-SVID assertion
    // (private_key_jwt, assertion type jwt-spiffe); public clients with PKCE alone. No secrets.
    // Without the browser flow there are no public clients: client_credentials takes an SVID either way.
    token_endpoint_auth_methods_supported: f.authorize ? ['tls_client_auth', 'private_key_jwt', 'none'] : ['tls_client_auth', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'RS256', 'PS256'],
    introspection_endpoint_auth_methods_supported: ['tls_client_auth'],
    revocation_endpoint_auth_methods_supported: ['tls_client_auth', 'none'],
    tls_client_certificate_bound_access_tokens: true,
    token_types_supported: ['urn:ietf:params:oauth:token-type:access_token', 'urn:ietf:params:oauth:token-type:jwt', 'urn:tessera:params:oauth:token-type:biscuit',
      // Transaction tokens (docs/transaction-tokens.md), requested with token exchange.
      'urn:ietf:params:oauth:token-type:txn_token',
      // Cross-domain grants (docs/identity-chaining.md), when oauth.chaining.audiences is set; redeemed with grant jwt-bearer.
      ...(grantTypes.includes('urn:ietf:params:oauth:grant-type:jwt-bearer') || f.idJag ? ['urn:ietf:params:oauth:token-type:id-jag'] : [])],
    resource_indicators_supported: true,
  };
}

export function metadataRoute(d: { issuer: string; grantTypes: () => string[]; cacheSeconds: number; features?: MetadataFeatures;
  path?: string }): Route {
  return {
    method: 'GET', path: d.path ?? '/.well-known/oauth-authorization-server',
    handler(ctx) {
      sendJson(ctx.res, 200, metadataDocument(d.issuer, d.grantTypes(), d.features), { cache: `public, max-age=${d.cacheSeconds}` });
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
