import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { WorkloadApiObserver } from '../workload-api/metrics-interceptor.ts';

/**
 * The agent's Prometheus metrics (docs/metrics.md), in a registry of its own. Made
 * once in main.ts; the Workload API reports requests through WorkloadApiObserver,
 * main.ts sets server reachability, and the gauges of things that already keep
 * counts (the SVID cache, the entry cache, the endpoint, the agent's own SVID) are
 * read when scraped, from the sources `watch` is given.
 */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface AgentMetricSources {
  cache: { readonly stats: { x509: number; jwt: number; entries: number } };
  endpoint: { readonly stats: { connections: number; streams: number } };
  /** ms since the epoch. */
  agentSvidNotAfter(): number;
}

export class AgentMetrics implements WorkloadApiObserver {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'status'>;
  readonly requestSeconds: Histogram<'method'>;
  readonly rotations: Counter;
  readonly rotationFailures: Counter;
  readonly serverReachable: Gauge;
  private sources: AgentMetricSources | undefined;

  constructor(private readonly clock: Clock) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tessera_agent_workload_api_requests_total', help: 'Workload API requests answered, by method and gRPC status (a stream counts once, at its first response)',
      labelNames: ['method', 'status'], registers,
    });
    this.requestSeconds = new Histogram({
      name: 'tessera_agent_workload_api_request_seconds', help: 'Workload API latency by method: to the status of a unary call, to the first response of a stream',
      labelNames: ['method'], buckets: RPC_BUCKETS, registers,
    });
    this.rotations = new Counter({ name: 'tessera_agent_svid_rotations_total', help: 'X.509-SVIDs re-minted by rotation (half-life, taint, or after an outage)', registers });
    this.rotationFailures = new Counter({ name: 'tessera_agent_svid_rotation_failures_total', help: 'X.509-SVID rotations that failed (retried)', registers });
    this.serverReachable = new Gauge({ name: 'tessera_agent_server_reachable', help: '1 while the entry sync stream to the server is connected, else 0', registers });
    const self = this;
    const read = (name: string, help: string, value: (s: AgentMetricSources) => number) => new Gauge({
      name, help, registers,
      collect() { if (self.sources) this.set(value(self.sources)); },
    });
    new Gauge({
      name: 'tessera_agent_cached_svids', help: 'SVIDs the agent holds, by type (x509: shared and per-instance, jwt)', labelNames: ['type'], registers,
      collect() {
        if (!self.sources) return;
        const s = self.sources.cache.stats;
        this.set({ type: 'x509' }, s.x509);
        this.set({ type: 'jwt' }, s.jwt);
      },
    });
    read('tessera_agent_synced_entries', 'Registration entries the agent holds from the server', (s) => s.cache.stats.entries);
    read('tessera_agent_workload_api_connections', 'Open Workload API connections', (s) => s.endpoint.stats.connections);
    read('tessera_agent_workload_api_streams', 'Open Workload API streams', (s) => s.endpoint.stats.streams);
    read('tessera_agent_svid_expiry_seconds', 'Seconds until the agent\'s own X.509-SVID expires (negative once expired)',
      (s) => (s.agentSvidNotAfter() - this.clock.now()) / 1000);
  }

  watch(sources: AgentMetricSources): void {
    this.sources = sources;
  }

  request(method: string, status: string, seconds: number): void {
    this.requests.inc({ method, status });
    this.requestSeconds.observe({ method }, seconds);
  }

  rotated(ok: number, failed: number): void {
    if (ok > 0) this.rotations.inc(ok);
    if (failed > 0) this.rotationFailures.inc(failed);
  }
}
