import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import type { AgentApiObserver, IssuedSvidType } from '../api/observer.ts';
import { StoreCounts } from './store-counts.ts';

/**
 * The server's Prometheus metrics (docs/metrics.md), in a registry of its own (never
 * prom-client's global one: two servers in one process, as in tests, stay apart).
 * Made once in main.ts and handed to what reports into it; nothing here is on a hot
 * path beyond a counter increment or a histogram observation.
 */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How many datastore change sequences are remembered for the push lag (older pushes are not timed). */
const SEEN_LIMIT = 4096;

export class ServerMetrics implements AgentApiObserver {
  readonly registry = new Registry();
  readonly svidsIssued: Counter<'type' | 'outcome'>;
  readonly signingSeconds: Histogram<'type'>;
  readonly attestations: Counter<'method' | 'outcome'>;
  readonly syncStreams: Gauge;
  readonly pushLagSeconds: Histogram;
  readonly datastoreSeconds: Histogram<'operation' | 'outcome'>;
  readonly oauthTokenRequests: Counter<'grant_type' | 'outcome'>;
  private readonly seen = new Map<number, number>();
  private counts: StoreCounts | undefined;
  private unsubscribe = () => {};

  constructor(private readonly clock: Clock) {
    const registers = [this.registry];
    this.svidsIssued = new Counter({
      name: 'tessera_server_svids_issued_total', help: 'SVIDs requested by agents, by type (x509, jwt, agent) and outcome (ok or the error kind)',
      labelNames: ['type', 'outcome'], registers,
    });
    for (const type of ['x509', 'jwt', 'agent']) this.svidsIssued.inc({ type, outcome: 'ok' }, 0);
    this.signingSeconds = new Histogram({
      name: 'tessera_server_svid_signing_seconds', help: 'Time to sign one SVID with the active CA, by type (x509, jwt)',
      labelNames: ['type'], buckets: FAST_BUCKETS, registers,
    });
    this.attestations = new Counter({
      name: 'tessera_server_node_attestations_total', help: 'Node attestations, by method (a configured one, or "unknown") and outcome (ok or the error kind)',
      labelNames: ['method', 'outcome'], registers,
    });
    this.syncStreams = new Gauge({ name: 'tessera_server_sync_streams', help: 'Entry sync streams agents hold open', registers });
    this.pushLagSeconds = new Histogram({
      name: 'tessera_server_sync_push_lag_seconds', help: 'From a datastore change event reaching this server to the change being written on an agent\'s sync stream',
      buckets: LAG_BUCKETS, registers,
    });
    this.datastoreSeconds = new Histogram({
      name: 'tessera_server_datastore_operation_seconds', help: 'Datastore calls, by operation (method name) and outcome (ok or the error kind)',
      labelNames: ['operation', 'outcome'], buckets: STORE_BUCKETS, registers,
    });
    this.oauthTokenRequests = new Counter({
      name: 'tessera_server_oauth_token_requests_total', help: 'Requests to the OAuth token endpoint, by grant_type (a supported one, "unsupported" or "none") and outcome (ok or the OAuth error code)',
      labelNames: ['grant_type', 'outcome'], registers,
    });
  }

  /**
   * Follows the datastore: remembers when each change event arrived (push lag), and
   * registers the entry and agent gauges, computed when scraped (store-counts.ts).
   */
  attachStore(store: Datastore, logger: Logger): void {
    this.unsubscribe = store.subscribe((ev) => {
      this.seen.set(ev.seq, this.clock.now());
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value!);
    });
    const counts = this.counts = new StoreCounts(store);
    const gauge = (name: string, help: string, pick: (c: { entries: number; agents: number }) => number) => new Gauge({
      name, help, registers: [this.registry],
      async collect() {
        try { this.set(pick(await counts.counts())); } catch (e) { logger.warn('metrics: cannot count entries and agents', { err: e as Error }); }
      },
    });
    gauge('tessera_server_entries', 'Registration entries in the datastore', (c) => c.entries);
    gauge('tessera_server_agents', 'Attested agents in the datastore', (c) => c.agents);
  }

  close(): void {
    this.unsubscribe();
    this.counts?.close();
  }

  // ---- AgentApiObserver ----

  svidIssued(type: IssuedSvidType, outcome: string): void {
    this.svidsIssued.inc({ type, outcome });
  }

  attestation(method: string, outcome: string): void {
    this.attestations.inc({ method, outcome });
  }

  syncStreamOpened(): () => void {
    this.syncStreams.inc();
    let open = true;
    return () => { if (open) { open = false; this.syncStreams.dec(); } };
  }

  pushed(sequence: number): void {
    const at = this.seen.get(sequence);
    if (at !== undefined) this.pushLagSeconds.observe(Math.max(0, this.clock.now() - at) / 1000);
  }

  /** The OAuth token endpoint's report (server/oauth/token-endpoint.ts). */
  tokenRequest(grantType: string, outcome: string): void {
    this.oauthTokenRequests.inc({ grant_type: grantType, outcome });
  }
}
