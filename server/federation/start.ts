import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { X509Bundle, type X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { ServerSvidProvider } from '../api/server-credentials.ts';
import type { CaManager } from '../ca/manager.ts';
import type { NewFederationRelationship } from '../datastore/sql-federation.ts';
import type { Datastore } from '../datastore/types.ts';
import { startBundleEndpoint } from './bundle-endpoint.ts';
import { readBundleFile } from './bundle-file.ts';
import type { FederationConfig, OidcDiscoveryConfig } from './config.ts';
import { fetchBundleDocument } from './endpoint-client.ts';
import { ForeignBundles } from './foreign-bundles.ts';
import { FederationManager } from './manager.ts';
import { startOidcDiscovery } from './oidc-discovery.ts';
import { parseRelationship } from './relationship.ts';

/**
 * Wiring of federation (docs/federation.md) and OIDC discovery (docs/oidc-discovery.md):
 * the foreign bundles in memory (always: agents get them on their sync streams), the
 * relationship manager and its fetch loops (always: relationships can be created
 * through the admin API at any time), the bundle endpoint and the OIDC discovery
 * listener when configured. Everything stops when `signal` aborts, then close().
 */
export interface RunningFederation {
  foreign: ForeignBundles;
  manager: FederationManager;
  bundleEndpointAddress?: string;
  oidcDiscoveryAddress?: string;
  /** Resolves when the loops have stopped (after `signal` aborted). */
  done: Promise<void>;
  close(): Promise<void>;
}

const DEFAULTS = { retry_initial: 1, min_refresh: 1, max_refresh: 86_400, max_bundle_bytes: 262_144, fetch_timeout: 10 };

export async function startFederation(o: {
  federation?: FederationConfig; oidcDiscovery?: OidcDiscoveryConfig;
  trustDomain: TrustDomain; store: Datastore; ca: CaManager; svid: ServerSvidProvider;
  clock: Clock; logger: Logger; dataDir: string; signal: AbortSignal;
  /** PEM roots for https_web endpoints instead of the system store (tests). */
  webPkiCa?: string;
}): Promise<RunningFederation> {
  const { trustDomain: own, store, ca, clock } = o;
  const logger = o.logger.child({ component: 'federation' });
  const cfg = { ...DEFAULTS, ...o.federation };
  const configured = (o.federation?.federates_with ?? []).map((f, i) => {
    try { return parseRelationship(f, own, 'config'); } catch (e) { throw new ConfigError(`config: federation.federates_with[${i}].${(e as Error).message}`); }
  });
  await storeBootstrapBundles(o.federation, configured, own, store, logger);

  const cleanups: (() => Promise<void> | void)[] = [];
  const foreign = await ForeignBundles.load({ own, store, logger });
  cleanups.push(() => foreign.close());
  const bundles: X509BundleSource = {
    getX509BundleForTrustDomain: (td) => (td.equals(own) ? new X509Bundle(own, ca.x509Authorities()) : foreign.getX509BundleForTrustDomain(td)),
  };
  try {
    const manager = await FederationManager.open({
      own, store, configured, clock, logger,
      refresher: {
        clock, logger,
        fetch: (t) => fetchBundleDocument(t, {
          bundles, webPkiCa: o.webPkiCa, maxBytes: cfg.max_bundle_bytes, timeoutMs: cfg.fetch_timeout * 1000, now: () => new Date(clock.now()),
        }),
        minRefreshSeconds: cfg.min_refresh, maxRefreshSeconds: cfg.max_refresh, retryInitialMs: cfg.retry_initial * 1000,
      },
    });
    cleanups.push(() => manager.close());
    const done = manager.run(o.signal);
    const endpoint = o.federation?.bundle_endpoint
      ? await startBundleEndpoint({ cfg: o.federation.bundle_endpoint, ca, svid: o.svid, clock, logger, dataDir: o.dataDir, signal: o.signal })
      : undefined;
    if (endpoint) cleanups.push(() => endpoint.close());
    const oidc = o.oidcDiscovery ? await startOidcDiscovery({ cfg: o.oidcDiscovery, ca, clock, logger: o.logger, dataDir: o.dataDir, signal: o.signal }) : undefined;
    if (oidc) cleanups.push(() => oidc.close());
    if (configured.length > 0) logger.info('federation relationships from the config', { trust_domains: configured.map((r) => r.trustDomain.name) });
    return {
      foreign, manager, done, bundleEndpointAddress: endpoint?.address, oidcDiscoveryAddress: oidc?.address,
      async close() { for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => logger.warn('federation cleanup failed', { err: err as Error })); },
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw e;
  }
}

/**
 * bootstrap_bundle_file: the endpoint trust domain's bundle for the first https_spiffe
 * fetch, stored only when none is stored (a later, fetched one must not be replaced by
 * the file at every restart).
 */
async function storeBootstrapBundles(cfg: FederationConfig | undefined, configured: NewFederationRelationship[], own: TrustDomain, store: Datastore, logger: Logger): Promise<void> {
  for (const [i, f] of (cfg?.federates_with ?? []).entries()) {
    if (!f.bootstrap_bundle_file) continue;
    const rel = configured[i]!;
    const td = rel.endpointSpiffeId?.trustDomain ?? rel.trustDomain;
    const field = `federation.federates_with[${i}].bootstrap_bundle_file`;
    if (td.equals(own)) throw new ConfigError(`config: ${field}: the endpoint is in this server's own trust domain, whose bundle the CA manages`);
    let b;
    try { b = readBundleFile(f.bootstrap_bundle_file, td, field); } catch (e) { throw new ConfigError(`config: ${(e as Error).message}`); }
    if (await store.getBundle(td.name)) continue;
    await store.putBundle(b);
    logger.info('bootstrap bundle stored', { trust_domain: td.name, file: f.bootstrap_bundle_file, x509_authorities: b.x509Authorities.length });
  }
}
