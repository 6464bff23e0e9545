import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { OAuthAudit } from '../audit.ts';
import type { OAuthConfig } from '../config.ts';
import { cibaGrant } from '../grants/ciba.ts';
import type { OAuthKeyManager } from '../keys.ts';
import type { OAuthListener } from '../listener.ts';
import { UpstreamLogin } from '../login.ts';
import type { MetadataFeatures } from '../metadata.ts';
import type { DelegationCore } from '../ports.ts';
import { CookieSealer } from '../sealed-cookie.ts';
import type { TokenEndpoint } from '../token-endpoint.ts';
import type { TrustedIssuers } from '../trusted-issuers.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { approvalRoutes } from './approval-routes.ts';
import { backchannelRoute } from './backchannel.ts';
import { PingNotifier } from './ping.ts';

/**
 * Wiring of human approval (OpenID CIBA, docs/attenuation.md "Human approval") onto
 * the one listener and the one token endpoint: /oauth2/bc-authorize, the approval page
 * and the CIBA grant. Needs `oauth.login` (approvers sign in there); nothing is mounted
 * without it. Register `<issuer>/oauth2/approvals/callback` as a redirect URI at the
 * provider, next to the MCP flow's `/oauth2/callback`.
 */
export function mountCiba(o: {
  cfg: OAuthConfig; issuer: string; tokenEndpoint: string; listener: OAuthListener; tokens: TokenEndpoint;
  keys: OAuthKeyManager; bundles: TrustDomainBundles; trusted: TrustedIssuers; store: Datastore; core: DelegationCore;
  audit: OAuthAudit; clock: Clock; logger: Logger;
}): Pick<MetadataFeatures, 'backchannel'> {
  const { cfg } = o;
  if (!cfg.login) return {};
  const logger = o.logger.child({ component: 'ciba' });
  const login = UpstreamLogin.fromConfig(cfg.login, cfg.trusted_issuers, `${o.issuer}/oauth2/approvals/callback`, logger);
  const pingEndpoints = new Map(cfg.ciba.ping.map((p) => [p.client_id, p.notification_endpoint]));
  const interval = Math.ceil(cfg.ciba.interval);
  o.listener.mount(backchannelRoute({
    issuer: o.issuer, tokenEndpoint: o.tokenEndpoint, loginIssuer: cfg.login.issuer, trusted: o.trusted, keys: o.keys,
    tokenTtl: cfg.token_ttl, requestTtl: Math.ceil(cfg.ciba.request_ttl), interval, limits: cfg.ciba.limits, pingEndpoints,
    bundles: o.bundles, store: o.store, core: o.core, audit: o.audit, clock: o.clock,
  }));
  for (const r of approvalRoutes({
    login, sealer: CookieSealer.fromConfig(cfg.cookie_secret_file), store: o.store, ping: new PingNotifier({ bundles: o.bundles, logger }),
    audit: o.audit, sessionTtl: cfg.consent_ttl, clock: o.clock, logger,
  })) o.listener.mount(r);
  o.tokens.register(cibaGrant({
    issuer: o.issuer, tokenEndpoint: o.tokenEndpoint, tokenTtl: cfg.token_ttl, keys: o.keys, bundles: o.bundles,
    store: o.store, core: o.core, audit: o.audit, clock: o.clock,
  }));
  const deliveryModes = pingEndpoints.size ? ['poll', 'ping'] : ['poll'];
  logger.info('ciba approval enabled', { login_issuer: cfg.login.issuer, delivery_modes: deliveryModes, interval, request_ttl: cfg.ciba.request_ttl });
  return { backchannel: { deliveryModes } };
}
