import * as grpc from '@grpc/grpc-js';
import type * as tls from 'node:tls';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { grpcError } from '../../common/grpc-status.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { spiffeIdFromCertificate } from '../../spiffe/x509svid/parse.ts';
import { authorizeAny } from '../../spiffe/tls/authorizers.ts';
import { createMtlsServer } from '../../spiffe/tls/server.ts';
import { addReflection } from '../workload-api/reflection.ts';
import { prepareSocketPath } from '../workload-api/socket-path.ts';
import type { IdentityProvider } from '../workload-api/provider.ts';
import type { WorkloadAttestationSource } from '../workload-api/caller.ts';
import { AgentCredentialSource, type AgentCredentials } from './agent-source.ts';
import { BrokerAuthorizationError, toBrokerStatus } from './errors.ts';
import { brokerApiHandlers } from './handlers.ts';
import { PidResolver, type ResolvedWorkload } from './pid-resolver.ts';
import { BrokerPolicy, type BrokerGrant } from './policy.ts';
import { BROKER_API_PREFIX, BROKER_SECURITY_HEADER, BROKER_SECURITY_HEADER_VALUE, loadBrokerApiProto } from './proto.ts';
import type { KubernetesObjectReference } from './reference.ts';
import { refuseKubernetesObjects } from './k8s-resolver.ts';
import { BrokerStreams } from './streams.ts';

export interface BrokerServerOptions {
  socketPath: string;
  /** The allow-only policy: which broker SPIFFE IDs may call, with which reference types. */
  allow: readonly BrokerGrant[];
  provider: IdentityProvider;
  /** The same composer as the Workload API's: a referenced pid is attested like a caller. */
  attestation: WorkloadAttestationSource;
  /** The agent's SVID (presented to brokers) and bundle (verifies them). */
  identity: AgentCredentials;
  agentId: () => string;
  /** Resolves KubernetesObjectReferences; default: refused with InvalidArgument (k8s-resolver.ts). */
  kubernetes?: (ref: KubernetesObjectReference) => Promise<ResolvedWorkload>;
  /** Whether the k8s workload attestor is on (only changes what a refused Kubernetes reference is told). */
  k8sAttestorEnabled?: boolean;
  logger?: Logger;
  clock?: Clock;
  /** Socket file mode. Default 0666: mTLS and the allow list decide who is served. */
  mode?: number;
  updateJitterMs?: number;
  livenessIntervalMs?: number;
  procRoot?: string;
}

/**
 * The SPIFFE Broker Endpoint (Broker Endpoint spec) on its own Unix socket: mutual
 * TLS with X.509-SVIDs (the agent's SVID; brokers' SVIDs verified against the
 * agent's trust bundle at the handshake, so a caller without one never reaches
 * gRPC), then per call the security header (InvalidArgument) and the allow-only
 * policy (PermissionDenied), then the Broker API (handlers.ts).
 */
export class BrokerServer {
  readonly socketPath: string;
  private readonly logger: Logger;
  private readonly grpcServer: grpc.Server;
  private readonly tlsServer: tls.Server;
  private readonly streams: BrokerStreams;
  private readonly sockets = new Set<tls.TLSSocket>();
  private boundId: string | undefined;
  private state: 'new' | 'serving' | 'stopped' = 'new';

  constructor(private readonly o: BrokerServerOptions) {
    this.socketPath = o.socketPath;
    this.logger = (o.logger ?? silentLogger).child({ component: 'broker-api' });
    const clock = o.clock ?? systemClock;
    const policy = new BrokerPolicy(o.allow);
    const proto = loadBrokerApiProto();
    const pids = new PidResolver({ attestation: o.attestation, agentId: o.agentId, logger: this.logger, procRoot: o.procRoot });
    const kubernetes = o.kubernetes ?? refuseKubernetesObjects(o.k8sAttestorEnabled ?? false);
    this.streams = new BrokerStreams({
      provider: o.provider, clock, logger: this.logger, jitterMs: o.updateJitterMs ?? 100, livenessIntervalMs: o.livenessIntervalMs ?? 1000,
    });
    const brokerOf = (call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } }): SpiffeId => {
      const raw = call.getAuthContext().sslPeerCertificate?.raw;
      // Cannot happen: the TLS layer admits verified SVIDs only. Fail closed if it ever does.
      if (!raw) throw new BrokerAuthorizationError('unauthenticated', 'the connection presented no verified X.509-SVID');
      return spiffeIdFromCertificate(raw);
    };
    this.grpcServer = new grpc.Server({
      interceptors: [(method, call) => new grpc.ServerInterceptingCall(call, {
        start: (next) => next({
          onReceiveMetadata: (md, mdNext) => {
            if (!method.path.startsWith(BROKER_API_PREFIX)) return mdNext(md);
            const header = md.get(BROKER_SECURITY_HEADER);
            if (header.length !== 1 || header[0] !== BROKER_SECURITY_HEADER_VALUE) {
              call.sendStatus(grpcError(grpc.status.INVALID_ARGUMENT,
                `security header missing from request: "${BROKER_SECURITY_HEADER}: ${BROKER_SECURITY_HEADER_VALUE}" is required`));
              return;
            }
            try {
              policy.authorizeCaller(brokerOf(call));
            } catch (e) {
              this.logger.warn('broker call denied', { method: method.path, err: e as Error });
              call.sendStatus(toBrokerStatus(e));
              return;
            }
            mdNext(md);
          },
        }),
      })],
      'grpc.max_receive_message_length': 64 * 1024,
    });
    this.grpcServer.addService(proto.service, brokerApiHandlers({
      provider: o.provider, policy, brokerOf, streams: this.streams, logger: this.logger,
      resolve: (ref) => (ref.kind === 'pid' ? pids.resolve(ref.pid) : kubernetes(ref)),
    }));
    addReflection(this.grpcServer, proto.packageDefinition);

    const injector = this.grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const source = new AgentCredentialSource(o.identity);
    this.tlsServer = createMtlsServer({
      source, bundles: source, authorize: authorizeAny(),
      tls: { ALPNProtocols: ['h2'] },
      onReject: (err) => this.logger.warn('refused broker connection: no valid X.509-SVID from this trust domain', { err }),
      onError: (err) => this.logger.error('broker endpoint could not load the agent SVID', { err }),
    }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      injector.injectConnection(socket);
    });
    this.tlsServer.on('tlsClientError', (err) => this.logger.debug('broker TLS handshake failed', { err }));
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`BrokerServer.start() called when ${this.state}`);
    await prepareSocketPath(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.tlsServer.once('error', reject);
      this.tlsServer.listen(this.socketPath, () => { this.tlsServer.off('error', reject); resolve(); });
    });
    chmodSync(this.socketPath, this.o.mode ?? 0o666);
    const st = lstatSync(this.socketPath);
    this.boundId = `${st.dev}:${st.ino}`;
    this.state = 'serving';
    this.logger.info('broker API listening', { socket: this.socketPath, brokers: this.o.allow.map((g) => g.spiffeId) });
  }

  get stats(): { connections: number; streams: number } {
    return { connections: this.sockets.size, streams: this.streams.size };
  }

  /** Ends open streams with Unavailable (brokers reconnect), closes connections, removes the socket. */
  async stop(): Promise<void> {
    if (this.state !== 'serving') { this.state = 'stopped'; return; }
    this.state = 'stopped';
    this.streams.close(grpcError(grpc.status.UNAVAILABLE, 'broker API is shutting down'));
    const closed = new Promise<void>((resolve) => this.tlsServer.close(() => resolve()));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.grpcServer.forceShutdown(); resolve(); }, 5000);
      this.grpcServer.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
    for (const s of this.sockets) s.destroy();
    await closed;
    try {
      const st = lstatSync(this.socketPath);
      if (st.isSocket() && `${st.dev}:${st.ino}` === this.boundId) unlinkSync(this.socketPath);
    } catch { /* already gone */ }
    this.logger.info('broker API stopped');
  }
}
