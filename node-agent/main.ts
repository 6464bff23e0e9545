import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { Stoppable } from '../common/lifecycle.ts';
import type { AgentConfig } from './config.ts';
import { bootstrapAgent } from './bootstrap/bootstrap.ts';
import { bundleFromWire } from './bootstrap/bundle.ts';
import { AgentRenewal } from './bootstrap/renewal.ts';
import { EntryCache } from './sync/entry-cache.ts';
import { runEntrySync } from './sync/entry-sync.ts';
import { FederatedBundleCache, withFederatedBundles } from './sync/federated-bundles.ts';
import { SvidCache } from './cache/svid-cache.ts';
import { RetryBackoff } from './cache/retry-gate.ts';
import { WitCache } from './wit/cache.ts';
import { WorkloadApiServer } from './workload-api/server.ts';
import { BrokerServer } from './broker/server.ts';
import { kubernetesResolverFromConfig } from './broker/k8s-resolver.ts';
import { composerFromConfig } from './attestation/from-config.ts';
import type { WorkloadAttestationComposer } from './attestation/composer.ts';
import { join } from 'node:path';
import { ensurePrivateDir } from '../common/private-files.ts';
import { startOpsListener, type OpsListener } from '../common/metrics/ops-listener.ts';
import { METRICS_ADDRESS_FILE } from '../common/metrics/probe.ts';
import { AgentMetrics } from './metrics/agent-metrics.ts';
import { agentReadiness, type AgentReadyState } from './metrics/readiness.ts';

/**
 * Wiring of a running agent: identity (resume or attest) → server channel → entry
 * sync → SVID cache → Workload API endpoint, plus the renewal, sync and rotation
 * loops, all stopped by one AbortSignal.
 *
 * Metrics (docs/metrics.md): one AgentMetrics per agent. With `metrics.listen` the
 * listener starts before attestation, so /live answers at once and /ready turns 200
 * once the agent is attested, its SVID valid and its entries synced.
 */
export interface RunningAgent extends Stoppable {
  spiffeId: string;
  resumed: boolean;
  socketPath: string;
  cache: SvidCache;
  entries: EntryCache;
  metrics: AgentMetrics;
  /** host:port of the metrics and health listener, when configured. */
  metricsAddress?: string;
}

/**
 * The workload attestation composer for this config. Its per-attestor timeout comes
 * from the config (larger than any enabled attestor's own worst case), so a slow
 * attestor fails with its own error, e.g. k8s "pod … is not known", not a generic timeout.
 */
export function workloadComposer(config: AgentConfig, deps: { logger: Logger; clock: Clock }): WorkloadAttestationComposer {
  return composerFromConfig(config.workloadAttestors, { ...deps, timeoutMs: config.workloadAttestorTimeoutMs });
}

export async function startAgent(config: AgentConfig, deps: { logger: Logger; clock: Clock }): Promise<RunningAgent> {
  const { logger, clock } = deps;
  const ac = new AbortController();
  const { signal } = ac;
  const metrics = new AgentMetrics(clock);
  const ready: AgentReadyState = { synced: false };
  let ops: OpsListener | undefined;
  if (config.metrics) {
    ensurePrivateDir(config.dataDir);
    ops = await startOpsListener({
      listen: config.metrics.listen, registry: metrics.registry, checks: agentReadiness(ready, clock), logger,
      addressFile: join(config.dataDir, METRICS_ADDRESS_FILE),
    });
  }
  let boot: Awaited<ReturnType<typeof bootstrapAgent>>;
  try { boot = await bootstrapAgent({ config, logger, clock, signal }); } catch (e) {
    await ops?.close();
    throw e;
  }
  const { identity, api } = boot;
  ready.identity = identity;

  const entries = new EntryCache(logger.child({ component: 'entries' }));
  // Foreign trust domains' bundles for entries that federate with them (docs/federation.md).
  const federated = new FederatedBundleCache(config.trustDomain, logger.child({ component: 'federation' }));
  const mintRetry = new RetryBackoff({ initialMs: 1_000, maxMs: 30_000 });
  const cache = new SvidCache({
    entries, signer: api, bundle: identity.bundle, clock, logger: logger.child({ component: 'svid-cache' }), retryBackoff: mintRetry,
    instanceIdleMs: config.instanceIdleTimeout * 1000,
    onRotation: (rotated, failed) => metrics.rotated(rotated, failed),
  });
  // Banned or evicted: the server will refuse every sync from now on, so the stream is
  // not retried forever; cached SVIDs serve until they expire, nothing new is minted.
  const revoked = new AbortController();
  identity.onBundleChange((b) => cache.setBundle(b));
  identity.onRevoked((reason) => {
    cache.stopIssuing(reason);
    revoked.abort();
    logger.error('agent identity revoked by the server: entry sync stopped, no new SVIDs will be minted', { spiffe_id: identity.spiffeId, reason });
  });

  const renewal = new AgentRenewal({
    identity, api, clock, logger: logger.child({ component: 'renewal' }), signal,
    receivedAt: boot.resumed ? undefined : clock.now(),
  });
  const loops: Promise<void>[] = [];
  loops.push(renewal.run());
  loops.push(runEntrySync({
    api, entries, clock, signal: AbortSignal.any([signal, revoked.signal]), logger: logger.child({ component: 'sync' }),
    onBundle: (b) => {
      try { identity.setBundle(bundleFromWire(b, config.trustDomain)); } catch (e) { logger.error('rejected bundle from server', { err: e as Error }); }
      // Tainted authorities (docs/server.md): replace what they signed now, the agent's own SVID included.
      cache.setTaint(b.tainted_x509_authority_ids ?? [], b.tainted_jwt_key_ids ?? []);
      if (cache.signedByTainted(identity.svid.chain[0]!)) renewal.kick();
    },
    // Refused on the stream: ask the renewal loop to find out whether we were banned.
    onDenied: () => renewal.kick(),
    onFederatedBundles: (bundles) => federated.replace(bundles),
    // The server answers again: SVIDs waiting out an outage (or a refusal) are minted now, not at the next backoff step.
    onConnection: (up) => {
      metrics.serverReachable.set(up ? 1 : 0);
      if (up) { ready.synced = true; cache.serverReachable(); }
    },
    // So does a change pushed on a stream that outlived an outage (the server's datastore
    // was down, mints failed): but only then, not on every change.
    onAnswer: () => { if (mintRetry.failing) cache.serverReachable(); },
  }));
  loops.push(cache.run(signal));
  // WIT-SVIDs (docs/wit-svid.md): minted on first FetchWITSVID, rotated at half-life while served.
  const wit = new WitCache({ entries, minter: api, clock, logger: logger.child({ component: 'wit' }) });
  // Revoked: no WIT-SVID is minted or rotated any more; those held serve until they expire.
  identity.onRevoked((reason) => wit.stopIssuing(reason));
  loops.push(wit.run(signal));

  // One composer for the Workload API and the Broker API: a pid is attested the same way on both.
  const attestation = workloadComposer(config, { logger, clock });
  const endpoint = new WorkloadApiServer({
    provider: withFederatedBundles(cache, entries, federated, () => clock.now()),
    attestation,
    agentId: () => identity.spiffeId,
    socketPath: config.socketPath,
    logger, clock,
    limits: { idleTimeoutMs: config.workloadApi.idleTimeoutMs },
    delegation: { tokenEndpoint: config.delegation.tokenEndpoint },
    audit: { recordAction: (r) => api.recordAction(r) },
    wit,
    observer: metrics,
    sds: config.sds,
  });
  metrics.watch({ cache, endpoint, agentSvidNotAfter: () => identity.lifetime.notAfter });
  try {
    await endpoint.start();
  } catch (e) {
    ac.abort();
    api.close();
    await ops?.close();
    throw e;
  }
  // The SPIFFE Broker Endpoint (docs/broker-api.md): its own socket, same SVID cache and composer.
  const broker = config.broker ? new BrokerServer({
    socketPath: config.broker.socketPath, allow: config.broker.allow,
    provider: withFederatedBundles(cache, entries, federated, () => clock.now()),
    attestation, identity, agentId: () => identity.spiffeId, logger, clock, k8sAttestorEnabled: 'k8s' in config.workloadAttestors,
    kubernetes: kubernetesResolverFromConfig(config.workloadAttestors, { logger, clock, agentId: () => identity.spiffeId }),
  }) : undefined;
  try {
    await broker?.start();
  } catch (e) {
    await endpoint.stop();
    ac.abort();
    api.close();
    await ops?.close();
    throw e;
  }
  logger.info('agent ready', { spiffe_id: identity.spiffeId, socket: endpoint.socketPath, resumed: boot.resumed });

  let stopped: Promise<void> | undefined;
  return {
    spiffeId: identity.spiffeId, resumed: boot.resumed, socketPath: endpoint.socketPath, cache, entries, metrics, metricsAddress: ops?.address,
    stop() {
      stopped ??= (async () => {
        await ops?.close();
        await broker?.stop();
        await endpoint.stop();
        ac.abort();
        await Promise.allSettled(loops);
        api.close();
        logger.info('agent stopped');
      })();
      return stopped;
    },
  };
}
