import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import type { OAuthAudit } from './audit.ts';
import { authorizeRoutes } from './authorize.ts';
import { ClientMetadataFetcher } from './cimd.ts';
import { ClientRegistry } from './clients.ts';
import type { OAuthConfig } from './config.ts';
import { authorizationCodeGrant } from './grants/authorization-code.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { OAuthListener } from './listener.ts';
import { UpstreamLogin } from './login.ts';
import type { MetadataFeatures } from './metadata.ts';
import type { DelegationCore } from './ports.ts';
import { registerRoute } from './register.ts';
import { CookieSealer } from './sealed-cookie.ts';
import type { TokenEndpoint } from './token-endpoint.ts';
import type { TrustDomainBundles } from './trust.ts';

/**
 * Wiring of the MCP authorization flow (docs/mcp.md) onto the one listener and the one
 * token endpoint: the client registry (pre-registered + metadata documents), the
 * authorization/callback/consent routes, the authorization_code grant and, when
 * enabled, RFC 7591 registration. Nothing is mounted without `oauth.login`.
 */
export function mountMcpAuthorization(o: {
  cfg: OAuthConfig; issuer: string; tokenEndpoint: string; listener: OAuthListener; tokens: TokenEndpoint;
  keys: OAuthKeyManager; bundles: TrustDomainBundles; store: Datastore; core: DelegationCore; audit: OAuthAudit;
  clock: Clock; logger: Logger;
}): { features: MetadataFeatures } {
  const { cfg } = o;
  const off: MetadataFeatures = { authorize: false, clientIdMetadataDocuments: false, registration: false, scopes: cfg.scopes_supported };
  if (!cfg.login) return { features: off };
  const logger = o.logger.child({ component: 'mcp-authorization' });
  const cimd = cfg.cimd.enabled ? new ClientMetadataFetcher({
    allowInsecureLoopback: cfg.cimd.allow_insecure_loopback, maxBytes: cfg.cimd.max_bytes, timeoutMs: cfg.cimd.timeout * 1000,
    maxCacheSeconds: cfg.cimd.max_cache, clock: o.clock, logger,
  }) : undefined;
  const clients = new ClientRegistry({ store: o.store, cimd });
  const login = UpstreamLogin.fromConfig(cfg.login, cfg.trusted_issuers, `${o.issuer}/oauth2/callback`, logger);
  const sealer = CookieSealer.fromConfig(cfg.cookie_secret_file);
  for (const r of authorizeRoutes({
    issuer: o.issuer, clients, login, sealer, core: o.core, store: o.store, tokenTtl: cfg.token_ttl, flowTtl: cfg.consent_ttl,
    clock: o.clock, logger,
  })) o.listener.mount(r);
  o.tokens.register(authorizationCodeGrant({
    issuer: o.issuer, tokenEndpoint: o.tokenEndpoint, tokenTtl: cfg.token_ttl, keys: o.keys, clients, bundles: o.bundles,
    store: o.store, core: o.core, audit: o.audit, clock: o.clock, refreshTokenTtl: cfg.refresh_token_ttl,
  }));
  if (cfg.dynamic_registration) o.listener.mount(registerRoute({ store: o.store, issuer: o.issuer, clock: o.clock, logger }));
  logger.info('mcp authorization enabled', {
    login_issuer: cfg.login.issuer, client_id_metadata_documents: cimd !== undefined, dynamic_registration: cfg.dynamic_registration,
  });
  return { features: { authorize: true, clientIdMetadataDocuments: cimd !== undefined, registration: cfg.dynamic_registration, scopes: cfg.scopes_supported } };
}
