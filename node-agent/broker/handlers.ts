import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { invalidArgument, permissionDenied } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { concatDer } from '../../spiffe/der.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { MAX_AUDIENCE_BYTES, MAX_AUDIENCES } from '../workload-api/handlers.ts';
import type { IdentityProvider } from '../workload-api/provider.ts';
import { toBrokerStatus, workloadNotEntitled } from './errors.ts';
import type { BrokerPolicy } from './policy.ts';
import { describeReference, parseReference, type WorkloadReference } from './reference.ts';
import type { ResolvedWorkload } from './pid-resolver.ts';
import type { BrokerStreams } from './streams.ts';
import type {
  BrokerApiHandlers, ReferenceRequest, SubscribeToJWTBundlesResponseMsg, SubscribeToX509BundlesResponseMsg, SubscribeToX509SVIDResponseMsg,
} from './proto.ts';

export interface BrokerHandlerDeps {
  provider: IdentityProvider;
  policy: BrokerPolicy;
  /** The broker's SPIFFE ID, from the verified client certificate of the call's connection. */
  brokerOf(call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } }): SpiffeId;
  /** Turns a validated reference into a pinned, attested workload (pid / Kubernetes object). */
  resolve(ref: WorkloadReference): Promise<ResolvedWorkload>;
  streams: BrokerStreams;
  logger: Logger;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The four Broker API RPCs. Each request: reference parsed (InvalidArgument), the
 * broker's grant checked for its type (PermissionDenied), the workload resolved and
 * attested (NotFound when it does not exist), its entitlement checked (PermissionDenied),
 * then served from the same IdentityProvider (SVID cache) as the Workload API, as if
 * the workload had asked itself. Every answer concerns that one workload only.
 */
export function brokerApiHandlers(d: BrokerHandlerDeps): BrokerApiHandlers {
  const { provider } = d;
  const encoded = new WeakMap<readonly Uint8Array[], Uint8Array>();
  const bundleDer = (certs: readonly Uint8Array[]) => {
    let der = encoded.get(certs);
    if (!der) encoded.set(certs, der = concatDer(certs));
    return der;
  };

  const target = async (call: grpc.ServerUnaryCall<ReferenceRequest, unknown> | grpc.ServerWritableStream<ReferenceRequest, unknown>): Promise<ResolvedWorkload> => {
    const ref = parseReference(call.request);
    const broker = d.brokerOf(call);
    d.policy.authorizeReference(broker, ref.kind);
    const resolved = await d.resolve(ref);
    if (!provider.hasIdentity(resolved.workload)) {
      resolved.release();
      throw workloadNotEntitled(`${describeReference(ref)} is not entitled to any SVID: no registration entry matches it`,
        ref.kind === 'pid' ? { pid: String(ref.pid) } : {});
    }
    d.logger.debug('broker request', { method: call.getPath(), broker: broker.toString(), reference: describeReference(ref) });
    return resolved;
  };

  const stream = <T>(call: grpc.ServerWritableStream<ReferenceRequest, T>, spec: (t: ResolvedWorkload) => {
    build(): Promise<T | undefined>; digest(m: T): string; watch?(n: () => void): () => void;
  }) => {
    target(call).then((t) => {
      // The broker may have gone while the workload was attested: nothing to serve or hold.
      if (call.cancelled) { t.release(); return; }
      return d.streams.serve<T>({ call, target: t, ...spec(t) });
    }, (e) => {
      d.logger.info('broker request refused', { method: call.getPath(), err: e as Error });
      call.emit('error', toBrokerStatus(e));
    });
  };

  return {
    SubscribeToX509SVID(call) {
      stream<SubscribeToX509SVIDResponseMsg>(call, ({ workload: w }) => ({
        watch: provider.watchX509Svids ? (n) => provider.watchX509Svids!(w, n) : undefined,
        build: async () => {
          const svids = await provider.x509Svids(w);
          if (svids.length === 0) return undefined;
          const own = new Set(svids.map((s) => SpiffeId.parse(s.spiffeId).trustDomain.idString));
          const federated = provider.x509FederatedBundles?.(w) ?? new Map<string, readonly Uint8Array[]>();
          return {
            svids: svids.map((s) => ({
              spiffe_id: s.spiffeId, x509_svid: concatDer(s.certChain), x509_svid_key: Buffer.from(s.privateKey), bundle: bundleDer(s.bundle), hint: s.hint,
            })),
            crl: [],
            federated_bundles: Object.fromEntries([...federated].filter(([td]) => !own.has(td)).map(([td, c]) => [td, bundleDer(c)])),
          };
        },
        digest: (m) => digestOf([...m.svids.flatMap((s) => [s.spiffe_id, s.hint, s.x509_svid, s.bundle]), ...sorted(m.federated_bundles)]),
      }));
    },

    SubscribeToX509Bundles(call) {
      stream<SubscribeToX509BundlesResponseMsg>(call, ({ workload: w }) => ({
        build: async () => {
          if (!provider.hasIdentity(w)) return undefined;
          return { crl: [], bundles: Object.fromEntries([...provider.x509Bundles(w)].map(([td, c]) => [td, bundleDer(c)])) };
        },
        digest: (m) => digestOf(sorted(m.bundles)),
      }));
    },

    SubscribeToJWTBundles(call) {
      stream<SubscribeToJWTBundlesResponseMsg>(call, ({ workload: w }) => ({
        build: async () => {
          if (!provider.hasIdentity(w)) return undefined;
          return { bundles: Object.fromEntries([...provider.jwtBundles(w)].map(([td, jwks]) => [td, Buffer.from(jwks)])) };
        },
        digest: (m) => digestOf(sorted(m.bundles)),
      }));
    },

    FetchJWTSVID(call, callback) {
      const run = async () => {
        const audience = call.request.audience ?? [];
        if (audience.length === 0) throw invalidArgument('ERR_BROKER_INVALID_ARGUMENT', 'audience must be specified');
        if (audience.length > MAX_AUDIENCES) throw invalidArgument('ERR_BROKER_INVALID_ARGUMENT', `audience: at most ${MAX_AUDIENCES} audiences, got ${audience.length}`);
        if (audience.some((a) => a.length === 0 || Buffer.byteLength(a) > MAX_AUDIENCE_BYTES || CONTROL.test(a))) {
          throw invalidArgument('ERR_BROKER_INVALID_ARGUMENT', `audience: values must be non-empty, at most ${MAX_AUDIENCE_BYTES} bytes, without control characters`);
        }
        let wanted: string | undefined;
        if (call.request.spiffe_id) {
          try { wanted = SpiffeId.parse(call.request.spiffe_id).toString(); } catch (e) {
            throw invalidArgument('ERR_BROKER_INVALID_ARGUMENT', `spiffe_id "${call.request.spiffe_id.slice(0, 256)}" is not a valid SPIFFE ID: ${(e as Error).message.slice(0, 256)}`, e);
          }
        }
        const t = await target(call);
        try {
          const svids = (await provider.jwtSvids(t.workload, audience, wanted)).filter((s) => wanted === undefined || s.spiffeId === wanted);
          t.verify();
          if (svids.length === 0) {
            throw wanted ? permissionDenied('ERR_BROKER_WORKLOAD_NOT_ENTITLED', `the workload is not entitled to ${wanted}`)
              : workloadNotEntitled('the workload is not entitled to any JWT-SVID');
          }
          return { svids: svids.map((s) => ({ spiffe_id: s.spiffeId, svid: s.token, hint: s.hint })) };
        } finally {
          t.release();
        }
      };
      run().then((r) => callback(null, r), (e) => {
        d.logger.info('broker request refused', { method: call.getPath(), err: e as Error });
        callback(toBrokerStatus(e));
      });
    },
  };
}

function sorted(m: Record<string, unknown>): unknown[] {
  return Object.keys(m).sort().flatMap((k) => [k, m[k]]);
}

/** A digest over what a message shows, for "did anything change" only. */
function digestOf(parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p) : p instanceof Uint8Array ? p : Buffer.from(String(p ?? ''));
    h.update(String(b.length)).update(':').update(b);
  }
  return h.digest('base64');
}
