import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { toGrpcError, grpcError, type GrpcError } from '../../common/grpc-status.ts';
import { permissionDenied } from '../../common/errors.ts';
import { rateLimited, type Logger } from '../../common/logger.ts';
import type { Clock } from '../../common/clock.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { AttestedWorkload, IdentityProvider } from '../workload-api/provider.ts';
import type { CallerResolver } from '../workload-api/caller.ts';
import { SECURITY_HEADER, SECURITY_HEADER_VALUE } from '../workload-api/proto.ts';
import { DEFAULT_SDS_OPTIONS, type SdsOptions } from './options.ts';
import { buildSecrets, useSpiffeValidator, type CallerSecrets } from './secrets.ts';
import { SecretStream } from './stream.ts';
import { loadSdsProto, SDS_PREFIX, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from './proto.ts';

export interface SdsServiceDeps {
  provider: IdentityProvider;
  /** The Workload API's resolver: SDS callers are attested by the same kernel credentials. */
  callers: CallerResolver;
  /** The agent's SPIFFE ID; its trust domain is the one ROOTCA names. */
  agentId: () => string;
  logger: Logger;
  clock: Clock;
  options?: Partial<SdsOptions>;
}

/** NACKs, stale nonces and failed updates are logged at most this often per message. */
const NOISY_LOG_INTERVAL_MS = 10_000;

const noIdentity = () => permissionDenied('ERR_SDS_PERMISSION_DENIED', 'caller has no identity: no registration entry matches its selectors');

export interface SdsService {
  /** For reflection and the metrics method table. */
  packageDefinition: protoLoader.PackageDefinition;
  /** Ends every open StreamSecrets (shutdown: Unavailable, so Envoy reconnects with backoff). */
  endAll(status: GrpcError): void;
}

/** Envoy's SDS v3 on the Workload API socket (docs/envoy-sds.md). */
export function addSdsService(server: grpc.Server, d: SdsServiceDeps): SdsService {
  const open = new Set<SecretStream>();
  const proto = loadSdsProto();
  const options: SdsOptions = { ...DEFAULT_SDS_OPTIONS, ...d.options };
  const logger = d.logger.child({ component: 'sds' });
  const noisyLog = rateLimited(logger, NOISY_LOG_INTERVAL_MS, () => d.clock.now());

  const snapshot = async (w: AttestedWorkload): Promise<CallerSecrets | undefined> => {
    if (!d.provider.hasIdentity(w)) return undefined;
    const svids = await d.provider.x509Svids(w);
    if (svids.length === 0) return undefined;
    return { svids, trustDomainId: SpiffeId.parse(d.agentId()).trustDomain.idString, bundles: d.provider.x509Bundles(w) };
  };

  server.addService(proto.service, {
    StreamSecrets(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) {
      const w = d.callers.callerOf(call);
      if (!d.provider.hasIdentity(w)) {
        call.emit('error', toGrpcError(noIdentity()));
        return;
      }
      const stream: SecretStream = new SecretStream({
        call, workload: w, provider: d.provider, snapshot: () => snapshot(w), verifyCaller: d.callers.verifierOf(call),
        options, logger, noisyLog, onFinish: () => open.delete(stream),
      });
      open.add(stream);
      stream.start();
    },

    FetchSecrets(call: grpc.ServerUnaryCall<DiscoveryRequest, DiscoveryResponse>, callback: grpc.sendUnaryData<DiscoveryResponse>) {
      const run = async (): Promise<DiscoveryResponse> => {
        const snap = await snapshot(d.callers.callerOf(call));
        if (!snap) throw noIdentity();
        const resources = buildSecrets(snap, call.request.resource_names ?? [], options, useSpiffeValidator(call.request.node, options));
        // As SPIRE: a one-shot answer has no version or nonce to acknowledge.
        return { version_info: '', resources, type_url: SECRET_TYPE_URL, nonce: '' };
      };
      run().then((r) => callback(null, r), (e) => {
        noisyLog.debug('FetchSecrets failed', { err: e as Error });
        callback(toGrpcError(e));
      });
    },

    DeltaSecrets(call: grpc.ServerDuplexStream<unknown, unknown>) {
      // SPIRE does not serve incremental SDS either; Envoy uses StreamSecrets unless told otherwise.
      call.emit('error', grpcError(grpc.status.UNIMPLEMENTED, 'DeltaSecrets is not implemented: use StreamSecrets (api_type: GRPC)'));
    },
  });
  return { packageDefinition: proto.packageDefinition, endAll: (status) => { for (const s of [...open]) s.fail(status); } };
}

/**
 * Envoy cannot add the Workload API's security header, and SDS does not ask for it
 * (nor does SPIRE): the header guards against requests relayed by a confused
 * HTTP client, which cannot speak gRPC to a Unix socket anyway. This sets it on SDS
 * calls only, ahead of the caller interceptor, which then attests the connection's
 * process by its kernel credentials exactly as for the Workload API.
 */
export const sdsSecurityHeader: grpc.ServerInterceptor = (method, call) => new grpc.ServerInterceptingCall(call, {
  start: (next) => next({
    onReceiveMetadata: (md, mdNext) => {
      if (method.path.startsWith(SDS_PREFIX)) md.set(SECURITY_HEADER, SECURITY_HEADER_VALUE);
      mdNext(md);
    },
  }),
});
