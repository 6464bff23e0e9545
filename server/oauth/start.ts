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
import { introspectRoute } from './introspect.ts';
import { OAuthKeyManager } from './keys.ts';
import { OAuthListener } from './listener.ts';
import { jwksRoute, metadataRoute, revocationFeedRoute } from './metadata.ts';
import type { DelegationCore } from './ports.ts';
import { revokeRoute } from './revoke.ts';
import { TokenEndpoint } from './token-endpoint.ts';
import { TrustedIssuers } from './trusted-issuers.ts';
import { TrustDomainBundles } from './trust.ts';
import { mountMcpAuthorization } from './mcp-authorization.ts';

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

  const issuer = cfg.issuer ?? `https://${listener.host}:${listener.port}`;
  const tokenEndpointUrl = `${issuer}/oauth2/token`;
  const audit = new OAuthAudit({ store, logger, clock });
  const td = o.ca.trustDomain.name;

  const tokens = new TokenEndpoint(clock);
  tokens.register(tokenExchangeGrant({
    issuer, tokenEndpoint: tokenEndpointUrl, tokenTtl: cfg.token_ttl, keys, trusted, bundles, store, core, audit, clock,
  }));
  listener.mount(tokens.route());
  listener.mount(introspectRoute({ issuer, keys, core, clock, trustDomain: td }));
  listener.mount(revokeRoute({ issuer, keys, core, audit, clock }));
  listener.mount(jwksRoute({ keys, cacheSeconds: o.refreshHintSeconds }));
  // MCP browser flow and client registration (docs/mcp.md), when oauth.login is configured.
  const mcp = mountMcpAuthorization({ cfg, issuer, tokenEndpoint: tokenEndpointUrl, listener, tokens, keys, bundles, store, core, audit, clock, logger });
  listener.mount(metadataRoute({ issuer, grantTypes: () => tokens.grantTypes(), cacheSeconds: o.refreshHintSeconds, features: mcp.features }));
  if (mcp.features.authorize) {
    listener.mount(metadataRoute({ issuer, grantTypes: () => tokens.grantTypes(), cacheSeconds: o.refreshHintSeconds, features: mcp.features, path: '/.well-known/openid-configuration' }));
  }
  listener.mount(revocationFeedRoute({ core, trustDomain: td }));
  trusted.warm();

  const loops = [keys.run(aborter.signal)];
  logger.info('oauth authorization server started', {
    address: listener.address, issuer, trusted_issuers: trusted.issuers(), signing_kid: keys.signingKey().kid, token_ttl: cfg.token_ttl,
  });
  return {
    address: listener.address, issuer, keys,
    async close() {
      aborter.abort();
      await Promise.allSettled(loops);
      await listener.close();
      keys.close();
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
