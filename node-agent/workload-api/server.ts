import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { grpcError } from '../../common/grpc-status.ts';
import { PeerCredentialListener } from '../peercred/peer-listener.ts';
import type { PeerCredentialSource } from '../../common/peercred/peer-credentials.ts';
import type { IdentityProvider } from './provider.ts';
import { CallerResolver, type WorkloadAttestationSource } from './caller.ts';
import { StreamHub } from './streams.ts';
import { workloadApiHandlers } from './handlers.ts';
import { loadWorkloadApiProto } from './proto.ts';
import { addReflection } from './reflection.ts';
import { defaultSocketPath, prepareSocketPath } from './socket-path.ts';
import { addDelegationService, DELEGATION_PREFIX, type DelegationOptions } from '../delegation/exchange-service.ts';
import { addAuditService, AUDIT_PREFIX, type AuditForwarder } from '../audit/record-service.ts';
import { addWitService } from '../wit/service.ts';
import type { WitCache } from '../wit/cache.ts';
import { addSdsService, sdsSecurityHeader, type SdsService } from '../sds/service.ts';
import { SDS_PREFIX } from '../sds/proto.ts';
import type { SdsOptions } from '../sds/options.ts';
import { knownMethods, metricsInterceptor, type KnownMethods, type WorkloadApiObserver } from './metrics-interceptor.ts';

export interface WorkloadApiServerOptions {
  provider: IdentityProvider;
  /** Turns a caller's process into selectors + instance claim (WorkloadAttestationComposer). */
  attestation: WorkloadAttestationSource;
  /** The agent's SPIFFE ID, hashed into every agent_instance_id. */
  agentId: () => string;
  /** Default: defaultSocketPath() (/run/tessera/agent.sock as root, else /tmp/tessera/agent.sock). */
  socketPath?: string;
  logger?: Logger;
  clock?: Clock;
  /** Max random delay before a pushed stream update. Default 100 ms. */
  updateJitterMs?: number;
  /** How long stop() waits for in-flight calls before forcing. Default 5 s. */
  drainTimeoutMs?: number;
  /** Serve bundles / ValidateJWTSVID to callers without an identity. Default false. */
  allowUnauthenticatedVerifiers?: boolean;
  /** Bounds on what one local user (or all) can hold open; see WorkloadApiLimits. */
  limits?: WorkloadApiLimits;
  /** Token exchange on this socket (node-agent/delegation); without a token endpoint it answers FailedPrecondition. */
  delegation?: DelegationOptions;
  /** Action receipts on this socket (node-agent/audit), forwarded to the server's transparency log. */
  audit?: AuditForwarder;
  /** The WIT-SVID Profile (node-agent/wit, docs/wit-svid.md); absent: its RPCs answer Unimplemented. */
  wit?: WitCache;
  /** Envoy SDS v3 on this socket (node-agent/sds, docs/envoy-sds.md): resource names and validator choice. */
  sds?: Partial<SdsOptions>;
  /** Metrics (node-agent/metrics): every request's method, status and latency. */
  observer?: WorkloadApiObserver;
  /** Test seams. */
  peerCredentials?: PeerCredentialSource;
  procRoot?: string;
}

/**
 * Resource bounds of the endpoint. Any local user can connect, so everything a caller
 * can make the agent hold is capped, with a clear status (RESOURCE_EXHAUSTED) or a
 * closed connection rather than unbounded memory or file descriptors.
 */
export interface WorkloadApiLimits {
  /** Default 4096. */
  maxConnections?: number;
  /** Default 1024. */
  maxConnectionsPerUid?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (others are refused by the transport). Default 100. */
  maxConcurrentStreamsPerConnection?: number;
  /** Open full-state streams per caller uid. Default 2048. */
  maxStreamsPerUid?: number;
  /** Largest request message (bytes). Workload API requests are small; default 64 KiB. */
  maxReceiveMessageBytes?: number;
  /**
   * A connection with no call in progress for this long is closed by the agent (ms):
   * one that never sends a request, or whose last call ended. A connection with an
   * open stream is never idle. gRPC clients reconnect transparently. Default 30 s.
   */
  idleTimeoutMs?: number;
}

export const DEFAULT_LIMITS: Required<WorkloadApiLimits> = {
  maxConnections: 4096,
  maxConnectionsPerUid: 1024,
  maxConcurrentStreamsPerConnection: 100,
  maxStreamsPerUid: 2048,
  maxReceiveMessageBytes: 64 * 1024,
  idleTimeoutMs: 30_000,
};

/**
 * The SPIFFE Workload API endpoint: grpc-js on our own Unix-socket listener, with
 * every caller identified by the kernel (SO_PEERCRED + pidfd), attested, and served
 * only what the IdentityProvider says it may have. Also serves gRPC reflection.
 */
export class WorkloadApiServer {
  readonly socketPath: string;
  private readonly opts: WorkloadApiServerOptions;
  private readonly logger: Logger;
  private readonly grpcServer: grpc.Server;
  private readonly listener: PeerCredentialListener;
  private readonly streams: StreamHub;
  private readonly sds: SdsService;
  private state: 'new' | 'serving' | 'stopping' | 'stopped' = 'new';

  constructor(opts: WorkloadApiServerOptions) {
    this.opts = opts;
    this.socketPath = opts.socketPath ?? defaultSocketPath();
    this.logger = (opts.logger ?? silentLogger).child({ component: 'workload-api' });
    const clock = opts.clock ?? systemClock;
    const proto = loadWorkloadApiProto();
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };

    let listener!: PeerCredentialListener;
    const callers = new CallerResolver({
      peers: { lookup: (addr) => listener.lookup(addr) },
      attestation: opts.attestation,
      agentId: opts.agentId,
      logger: this.logger,
      attestedPrefixes: [DELEGATION_PREFIX, AUDIT_PREFIX, SDS_PREFIX],
    });
    this.streams = new StreamHub({
      provider: opts.provider, clock, logger: this.logger, jitterMs: opts.updateJitterMs ?? 100, maxStreamsPerUid: limits.maxStreamsPerUid,
    });
    // Filled once the services are added; the interceptor reads it per call.
    const methods: KnownMethods = new Map();
    this.grpcServer = new grpc.Server({
      interceptors: [...(opts.observer ? [metricsInterceptor(opts.observer, methods)] : []), sdsSecurityHeader, callers.interceptor],
      'grpc.max_receive_message_length': limits.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': limits.maxConcurrentStreamsPerConnection,
      // grpc-js counts calls per HTTP/2 session and closes the session (GOAWAY, then the
      // socket) once none has been in progress for this long. Connections that never
      // send a byte do not get this far: the listener closes them (firstByteTimeoutMs).
      'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    });
    this.grpcServer.addService(proto.service, workloadApiHandlers({
      provider: opts.provider, callers, streams: this.streams, logger: this.logger,
      allowUnauthenticatedVerifiers: opts.allowUnauthenticatedVerifiers ?? false,
    }));
    const delegation = addDelegationService(this.grpcServer, {
      provider: opts.provider, callers, logger: this.logger, clock, options: opts.delegation,
    });
    const audit = addAuditService(this.grpcServer, { provider: opts.provider, callers, logger: this.logger, forwarder: opts.audit });
    const wit = opts.wit ? addWitService(this.grpcServer, {
      cache: opts.wit, provider: opts.provider, callers, streams: this.streams, logger: this.logger, allowUnauthenticatedVerifiers: opts.allowUnauthenticatedVerifiers,
    }) : undefined;
    this.sds = addSdsService(this.grpcServer, { provider: opts.provider, callers, agentId: opts.agentId, logger: this.logger, clock, options: opts.sds });
    const served = { ...proto.packageDefinition, ...delegation, ...audit, ...this.sds.packageDefinition };
    addReflection(this.grpcServer, served);
    for (const [path, m] of knownMethods(served)) methods.set(path, m);
    // Metrics only, not reflection: its file defines SpiffeWorkloadAPI too, and reflection indexes services by name.
    if (wit) for (const [path, m] of knownMethods(wit)) methods.set(path, m);

    listener = new PeerCredentialListener({
      socketPath: this.socketPath,
      sink: this.grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
      logger: this.logger,
      source: opts.peerCredentials,
      procRoot: opts.procRoot,
      maxConnections: limits.maxConnections,
      maxConnectionsPerUid: limits.maxConnectionsPerUid,
      firstByteTimeoutMs: limits.idleTimeoutMs,
    });
    this.listener = listener;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`WorkloadApiServer.start() called when ${this.state}`);
    await prepareSocketPath(this.socketPath);
    await this.listener.listen();
    this.state = 'serving';
    this.logger.info('workload API listening', { socket: this.socketPath });
  }

  /** Live counts, for health and tests. */
  get stats(): { connections: number; streams: number; droppedConnections: number; refusedConnections: number; idleClosedConnections: number } {
    return {
      connections: this.listener.connections, streams: this.streams.size,
      droppedConnections: this.listener.droppedConnections, refusedConnections: this.listener.refusedConnections,
      idleClosedConnections: this.listener.silentConnectionsClosed,
    };
  }

  /**
   * Stops accepting, ends open streams with Unavailable (clients reconnect with
   * backoff), lets in-flight unary calls finish for up to drainTimeoutMs, then
   * forces the rest closed and removes the socket file.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasServing = this.state === 'serving';
    this.state = 'stopping';
    const listenerClosed = this.listener.close();
    this.streams.endAll(grpcError(grpc.status.UNAVAILABLE, 'workload API is shutting down'));
    this.sds.endAll(grpcError(grpc.status.UNAVAILABLE, 'workload API is shutting down'));
    this.streams.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.grpcServer.forceShutdown(); resolve(); }, this.opts.drainTimeoutMs ?? 5000);
      this.grpcServer.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
    this.listener.destroyAll();
    await listenerClosed;
    if (wasServing) this.listener.unlinkSocket();
    this.state = 'stopped';
    this.logger.info('workload API stopped');
  }
}
