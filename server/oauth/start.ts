import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { ServerSvidProvider } from '../api/server-credentials.ts';
import type { CaManager } from '../ca/manager.ts';
import type { Datastore } from '../datastore/types.ts';
import { OAuthAudit } from './audit.ts';
import type { OAuthConfig } from './config.ts';
import { tokenExchangeGrant } from './grants/token-exchange.ts';
import { clientCredentialsGrant } from './grants/client-credentials.ts';
import { refreshTokenGrant } from './grants/refresh-token.ts';
import { txnTokenGrant } from './grants/txn-token.ts';
import { introspectRoute } from './introspect.ts';
import { BiscuitKeyManager, biscuitKeysRoute } from './biscuit-keys.ts';
import { consumeRoute } from './consume.ts';
import { loadBiscuit } from '../../spiffe/biscuit/wasm.ts';
import { OAuthKeyManager } from './keys.ts';
import { OAuthListener, type Route } from './listener.ts';
import { jwksRoute, metadataRoute, revocationFeedRoute } from './metadata.ts';
import type { DelegationCore } from './ports.ts';
import { revokeRoute } from './revoke.ts';
import { TokenEndpoint } from './token-endpoint.ts';
import { TrustedIssuers } from './trusted-issuers.ts';
import { TrustDomainBundles } from './trust.ts';
import { mountMcpAuthorization } from './mcp-authorization.ts';
import { mountCiba } from './ciba/mount.ts';
import { decisionApprovals } from './ciba/from-decision.ts';
import { mountChaining } from './chaining/mount.ts';
import { authzenRoutes } from '../authzen/routes.ts';
import { attachedConditions, ConditionChecker } from '../authzen/conditions.ts';

/**
 * Wiring of the authorization server (config section `oauth`): the HTTPS listener,
 * the signing keys and their rotation loop, the trusted issuers, the token endpoint
 * with its grants, introspection, revocation, JWKS, metadata and the revocation feed.
 */
export interface RunningOAuthServer {
  /** host:port the listener is bound to. */
  address: string;
  issuer: string;
  keys: OAuthKeyManager;
  /** Biscuit root keys (docs/attenuation.md). */
  biscuitKeys: BiscuitKeyManager;
  /** Stops the loops, closes the listener (event streams included), writes pending audit rows. */
  close(): Promise<void>;
}

export async function startOAuthServer(o: {
  cfg: OAuthConfig;
  dataDir: string;
  ca: CaManager;
  svid: ServerSvidProvider;
  store: Datastore;
  core: DelegationCore;
  /** Relying parties' JWKS refresh interval: how long before signing a new key is published. */
  refreshHintSeconds: number;
  clock: Clock;
  logger: Logger;
  /** More public routes on the listener (the transparency log's /audit/key and /audit/checkpoint). */
  routes?: Route[];
}): Promise<RunningOAuthServer> {
  const { cfg, clock, store, core } = o;
  const logger = o.logger.child({ component: 'oauth' });
  const aborter = new AbortController();
  const bundles = new TrustDomainBundles(o.ca);
  const trusted = new TrustedIssuers(cfg.trusted_issuers, { clock, logger });
  const listener = await OAuthListener.start({ listen: cfg.listen, svid: o.svid, bundles, clock, logger, dataDir: o.dataDir, tls: readTls(cfg) })
    .catch((e) => { bundles.close(); throw e; });
  let keys: OAuthKeyManager;
  try {
    keys = await OAuthKeyManager.open({
      dir: join(o.dataDir, 'oauth', 'keys'), store, clock, logger,
      rotationSeconds: cfg.key_rotation, publishLeadSeconds: o.refreshHintSeconds, maxTokenTtlSeconds: cfg.token_ttl,
    });
  } catch (e) { await listener.close(); bundles.close(); throw e; }
  let biscuitKeys: BiscuitKeyManager;
  try {
    // Same schedule as the token-signing keys (docs/attenuation.md "Root keys").
    biscuitKeys = await BiscuitKeyManager.open({
      dir: join(o.dataDir, 'oauth', 'biscuit-keys'), store, clock, logger,
      rotationSeconds: cfg.key_rotation, publishLeadSeconds: o.refreshHintSeconds, maxTokenTtlSeconds: cfg.token_ttl,
    });
  } catch (e) { keys.close(); await listener.close(); bundles.close(); throw e; }

  const issuer = cfg.issuer ?? `https://${listener.host}:${listener.port}`;
  const tokenEndpointUrl = `${issuer}/oauth2/token`;
  const audit = new OAuthAudit({ store, logger, clock });
  const td = o.ca.trustDomain.name;

  const tokens = new TokenEndpoint(clock);
  tokens.register(tokenExchangeGrant({
    issuer, tokenEndpoint: tokenEndpointUrl, tokenTtl: cfg.token_ttl, keys, trusted, bundles, store, core, audit, clock, biscuitKeys,
  }));
  tokens.register(clientCredentialsGrant({
    issuer, tokenEndpoint: tokenEndpointUrl, tokenTtl: cfg.token_ttl, keys, bundles, store, core, audit, clock,
  }));
  // Transaction tokens (docs/transaction-tokens.md): token exchange with requested_token_type txn_token.
  tokens.register(txnTokenGrant({
    issuer, tokenEndpoint: tokenEndpointUrl, trustDomain: td,
    // Never beyond token_ttl: a revocation record lives that long, and must outlive every token it can match.
    txnTtl: Math.min(cfg.txn_token_ttl, cfg.token_ttl), keys, bundles, store, core, audit, clock,
  }));
  // Identity chaining across trust domains (docs/identity-chaining.md): ID-JAG out, jwt-bearer in.
  const chaining = await mountChaining({
    cfg: cfg.chaining, issuer, tokenEndpoint: tokenEndpointUrl, tokenTtl: cfg.token_ttl, tokens, keys, ca: o.ca, bundles, trusted, store, core, audit, clock, logger,
  }).catch(async (e: unknown) => { keys.close(); biscuitKeys.close(); await listener.close(); bundles.close(); throw e; });
  listener.mount(tokens.route());
  listener.mount(introspectRoute({ issuer, keys, core, clock, trustDomain: td, store, biscuitKeys }));
  listener.mount(revokeRoute({ issuer, keys, core, audit, clock }));
  listener.mount(jwksRoute({ keys, cacheSeconds: o.refreshHintSeconds }));
  listener.mount(biscuitKeysRoute({ keys: biscuitKeys, cacheSeconds: o.refreshHintSeconds }));
  listener.mount(consumeRoute({ issuer, keys, biscuitKeys, core, store, audit, clock, trustDomain: td }));
  // MCP browser flow and client registration (docs/mcp.md), when oauth.login is configured.
  const mcp = mountMcpAuthorization({ cfg, issuer, tokenEndpoint: tokenEndpointUrl, listener, tokens, keys, bundles, store, core, audit, clock, logger });
  // Refresh tokens come only from authorization codes (docs/mcp.md "Refresh tokens").
  if (mcp.features.authorize) {
    tokens.register(refreshTokenGrant({
      issuer, tokenEndpoint: tokenEndpointUrl, tokenTtl: cfg.token_ttl, keys, bundles, store, core, audit, clock,
    }));
  }
  // Human approval of escalations (OpenID CIBA, docs/attenuation.md), with oauth.login.
  const ciba = mountCiba({ cfg, issuer, tokenEndpoint: tokenEndpointUrl, listener, tokens, keys, bundles, trusted, store, core, audit, clock, logger });
  const features = { ...mcp.features, ...ciba, idJag: cfg.chaining.audiences.length > 0 };
  listener.mount(metadataRoute({ issuer, grantTypes: () => tokens.grantTypes(), cacheSeconds: o.refreshHintSeconds, features }));
  if (mcp.features.authorize) {
    listener.mount(metadataRoute({ issuer, grantTypes: () => tokens.grantTypes(), cacheSeconds: o.refreshHintSeconds, features, path: '/.well-known/openid-configuration' }));
  }
  listener.mount(revocationFeedRoute({ core, trustDomain: td }));
  // OpenID AuthZEN decisions for tools and gateways (docs/authzen.md): the same policies, budgets and revocations.
  const conditions = new ConditionChecker({ store, attached: attachedConditions(cfg.authzen_conditions) });
  for (const r of authzenRoutes({ issuer, trustDomain: td, keys, core, store, clock, conditions, approvals: decisionApprovals(cfg, { store, audit, clock }), audit, logger: logger.child({ component: 'authzen' }), cacheSeconds: o.refreshHintSeconds })) {
    listener.mount(r);
  }
  for (const r of o.routes ?? []) listener.mount(r);
  trusted.warm();

  const loops = [keys.run(aborter.signal), biscuitKeys.run(aborter.signal)];
  // The Biscuit library compiles on first use (about a second): not on a request's time.
  void loadBiscuit().catch((err: unknown) => logger.warn('biscuit library failed to load; Biscuit tokens are unavailable', { err }));
  logger.info('oauth authorization server started', {
    address: listener.address, issuer, trusted_issuers: trusted.issuers(), signing_kid: keys.signingKey().kid, token_ttl: cfg.token_ttl,
  });
  return {
    address: listener.address, issuer, keys, biscuitKeys,
    async close() {
      aborter.abort();
      await Promise.allSettled(loops);
      await listener.close();
      chaining.close();
      keys.close();
      biscuitKeys.close();
      bundles.close();
      await audit.flush();
    },
  };
}

/** oauth.tls: the WebPKI certificate and key browsers see (PEM files). */
function readTls(cfg: OAuthConfig): { certificate: Buffer; privateKey: Buffer } | undefined {
  if (!cfg.tls) return undefined;
  const read = (field: string, path: string) => {
    try { return readFileSync(path); } catch (e) { throw new ConfigError(`config: oauth.tls.${field}: cannot read ${path}: ${(e as Error).message}`); }
  };
  return { certificate: read('cert_file', cfg.tls.cert_file), privateKey: read('key_file', cfg.tls.key_file) };
}
