import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { invalidArgument } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { Logger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { witKeyIdForJwtKey } from '../../spiffe/wit/bundle.ts';
import { loadWitProto } from '../../spiffe/wit/proto.ts';
import { USE_WIT_SVID } from '../../spiffe/wit/types.ts';
import type { SpiffeWorkloadAPIHandlers } from '../../proto/gen/spiffe-wit/SpiffeWorkloadAPI.ts';
import type { WITSVIDResponse } from '../../proto/gen/spiffe-wit/WITSVIDResponse.ts';
import type { WITBundlesResponse } from '../../proto/gen/spiffe-wit/WITBundlesResponse.ts';
import type { CallerResolver } from '../workload-api/caller.ts';
import type { IdentityProvider } from '../workload-api/provider.ts';
import type { StreamHub } from '../workload-api/streams.ts';
import type { WitCache } from './cache.ts';

export interface WitServiceDeps {
  cache: WitCache;
  provider: IdentityProvider;
  callers: CallerResolver;
  streams: StreamHub;
  logger: Logger;
  /** Serve WIT bundles to callers without an identity (as FetchJWTBundles). Default false. */
  allowUnauthenticatedVerifiers?: boolean;
}

/**
 * The WIT-SVID Profile (SPIFFE Workload API 7) on the Workload API socket: the same
 * service name and paths as the spec (/SpiffeWorkloadAPI/FetchWITSVID, FetchWITBundles),
 * the same attested caller (the socket's interceptor: security header, SO_PEERCRED,
 * workload attestation) and the same full-state streams as the X.509 profile. An agent
 * built without it answers Unimplemented, as the spec requires. Returns the package
 * definition (for the method table of metrics).
 */
export function addWitService(server: grpc.Server, d: WitServiceDeps): protoLoader.PackageDefinition {
  const proto = loadWitProto();
  server.addService(proto.grpc.SpiffeWorkloadAPI.service, witHandlers(d));
  return proto.packageDefinition;
}

export function witHandlers(d: WitServiceDeps): SpiffeWorkloadAPIHandlers {
  const allowUnauth = d.allowUnauthenticatedVerifiers ?? false;
  return {
    FetchWITSVID(call) {
      const w = d.callers.callerOf(call);
      let wanted: string | undefined;
      if (call.request.spiffe_id) {
        try { wanted = SpiffeId.parse(call.request.spiffe_id).toString(); } catch (e) {
          call.emit('error', toGrpcError(invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT',
            `spiffe_id "${call.request.spiffe_id.slice(0, 256)}" is not a valid SPIFFE ID: ${(e as Error).message.slice(0, 256)}`, e)));
          return;
        }
      }
      void d.streams.serve<WITSVIDResponse>({
        call, workload: w, requireIdentity: true, verifyCaller: d.callers.verifierOf(call),
        watch: (notify) => d.cache.watch(w, notify),
        build: async () => {
          const recs = await d.cache.svidsFor(w, wanted);
          if (recs.length === 0) return undefined;
          return { svids: recs.map((r) => ({ spiffe_id: r.spiffeId, wit_svid: r.token, wit_svid_key: r.privateJwk, hint: r.hint })) };
        },
        digest: (m) => digestOf((m.svids ?? []).flatMap((s) => [s.spiffe_id ?? '', s.hint ?? '', s.wit_svid ?? ''])),
      });
    },

    FetchWITBundles(call) {
      const w = d.callers.callerOf(call);
      void d.streams.serve<WITBundlesResponse>({
        call, workload: w, requireIdentity: !allowUnauth, verifyCaller: d.callers.verifierOf(call),
        build: async () => {
          if (!allowUnauth && !d.provider.hasIdentity(w)) return undefined;
          const bundles: Record<string, string> = {};
          for (const [td, jwks] of d.provider.jwtBundles()) bundles[td] = witJwks(jwks);
          return { bundles };
        },
        digest: (m) => digestOf(Object.keys(m.bundles ?? {}).sort().flatMap((k) => [k, m.bundles![k]!])),
      });
    },
  };
}

/**
 * The WIT bundle of a trust domain from its JWT-SVID JWKS: the server signs WIT-SVIDs
 * with the JWT signing keys (server/wit/issuer.ts), each published here under its WIT
 * key ID with `use: "wit-svid"` (WIT-SVID 6.1); nothing else of the JWKS is kept.
 */
export function witJwks(jwtJwks: Uint8Array): string {
  const doc = JSON.parse(Buffer.from(jwtJwks).toString('utf8')) as { keys?: Record<string, unknown>[] };
  const keys = (doc.keys ?? []).filter((k) => k.use === 'jwt-svid' && typeof k.kid === 'string').map((k) => {
    const { kid, use: _use, alg: _alg, ...material } = k;
    return { ...material, kid: witKeyIdForJwtKey(kid as string), use: USE_WIT_SVID };
  });
  return JSON.stringify({ keys });
}

function digestOf(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(String(Buffer.byteLength(p))).update(':').update(p);
  return h.digest('base64');
}
