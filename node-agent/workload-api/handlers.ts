import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { toGrpcError, grpcError } from '../../common/grpc-status.ts';
import { invalidArgument, permissionDenied } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { concatDer } from '../../spiffe/der.ts';
import type { Logger } from '../../common/logger.ts';
import type { SpiffeWorkloadAPIHandlers } from '../../proto/gen/spiffe/SpiffeWorkloadAPI.ts';
import type { X509SVIDResponse } from '../../proto/gen/spiffe/X509SVIDResponse.ts';
import type { X509BundlesResponse } from '../../proto/gen/spiffe/X509BundlesResponse.ts';
import type { JWTBundlesResponse } from '../../proto/gen/spiffe/JWTBundlesResponse.ts';
import type { AttestedWorkload, IdentityProvider } from './provider.ts';
import type { CallerResolver } from './caller.ts';
import type { StreamHub } from './streams.ts';
import { toStruct } from './struct.ts';

export interface HandlerDeps {
  provider: IdentityProvider;
  callers: CallerResolver;
  streams: StreamHub;
  logger: Logger;
  /** Serve bundles and ValidateJWTSVID to callers without an identity (SPIRE's allow_unauthenticated_verifiers). */
  allowUnauthenticatedVerifiers: boolean;
}

/**
 * FetchJWTSVID request bounds. Each distinct audience set is a server round trip and a
 * cache entry, and audiences are signed into the token: keep them to what real
 * callers use. Control characters are refused (they have no place in an audience and
 * would make distinct audience sets look alike in logs and cache keys).
 */
export const MAX_AUDIENCES = 64;
export const MAX_AUDIENCE_BYTES = 2048;
const CONTROL = /[\u0000-\u001f\u007f]/;

const noIdentity = () => permissionDenied('ERR_WORKLOADAPI_PERMISSION_DENIED', 'caller has no identity: no registration entry matches its selectors');

/**
 * The five Workload API RPCs over the IdentityProvider seam. The caller is already
 * attested by the interceptor; these only shape requests and responses, and map
 * typed errors to statuses (the transport edge).
 */
export function workloadApiHandlers(d: HandlerDeps): SpiffeWorkloadAPIHandlers {
  const { provider, callers, streams } = d;
  const verifierAllowed = (w: AttestedWorkload) => d.allowUnauthenticatedVerifiers || provider.hasIdentity(w);
  // Bundles are the same few arrays for every SVID of every stream message until the
  // provider swaps them (a bundle change): encode each once, not per SVID per message.
  const encodedBundles = new WeakMap<readonly Uint8Array[], Uint8Array>();
  const bundleDer = (certs: readonly Uint8Array[]): Uint8Array => {
    let der = encodedBundles.get(certs);
    if (!der) encodedBundles.set(certs, der = concatDer(certs));
    return der;
  };

  return {
    FetchX509SVID(call) {
      const w = callers.callerOf(call);
      void streams.serve<X509SVIDResponse>({
        call, workload: w, requireIdentity: true, verifyCaller: callers.verifierOf(call),
        watch: provider.watchX509Svids ? (notify) => provider.watchX509Svids!(w, notify) : undefined,
        build: async () => {
          const svids = await provider.x509Svids(w);
          if (svids.length === 0) return undefined;
          const own = new Set(svids.map((s) => trustDomainIdOf(s.spiffeId)));
          const federated = provider.x509FederatedBundles?.(w) ?? new Map<string, Uint8Array[]>();
          return {
            svids: svids.map((s) => ({
              spiffe_id: s.spiffeId,
              x509_svid: chainDer(s.certChain),
              // Encoded synchronously by write(): the cache's own bytes, not a copy per SVID per message.
              x509_svid_key: s.privateKey,
              bundle: bundleDer(s.bundle),
              hint: s.hint,
            })),
            crl: [],
            federated_bundles: Object.fromEntries([...federated].filter(([td]) => !own.has(td)).map(([td, certs]) => [td, bundleDer(certs)])),
          };
        },
        digest: (m) => digestOf([
          ...(m.svids ?? []).flatMap((s) => [s.spiffe_id, s.hint, s.x509_svid, s.bundle]),
          ...sortedEntries(m.federated_bundles),
        ]),
      });
    },

    FetchX509Bundles(call) {
      const w = callers.callerOf(call);
      void streams.serve<X509BundlesResponse>({
        call, workload: w, requireIdentity: !d.allowUnauthenticatedVerifiers, verifyCaller: callers.verifierOf(call),
        build: async () => {
          if (!verifierAllowed(w)) return undefined;
          const bundles: Record<string, Uint8Array> = {};
          for (const [td, certs] of provider.x509Bundles(w)) bundles[td] = bundleDer(certs);
          return { crl: [], bundles };
        },
        digest: (m) => digestOf(sortedEntries(m.bundles)),
      });
    },

    FetchJWTBundles(call) {
      const w = callers.callerOf(call);
      void streams.serve<JWTBundlesResponse>({
        call, workload: w, requireIdentity: !d.allowUnauthenticatedVerifiers, verifyCaller: callers.verifierOf(call),
        build: async () => {
          if (!verifierAllowed(w)) return undefined;
          const bundles: Record<string, Buffer> = {};
          for (const [td, jwks] of provider.jwtBundles(w)) bundles[td] = Buffer.from(jwks);
          return { bundles };
        },
        digest: (m) => digestOf(sortedEntries(m.bundles)),
      });
    },

    FetchJWTSVID(call, callback) {
      const run = async () => {
        const w = callers.callerOf(call);
        const audience = call.request.audience ?? [];
        if (audience.length === 0) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', 'audience must be specified');
        if (audience.length > MAX_AUDIENCES) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', `audience: at most ${MAX_AUDIENCES} audiences, got ${audience.length}`);
        if (audience.some((a) => a.length === 0)) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', 'audience must not contain an empty value');
        if (audience.some((a) => Buffer.byteLength(a) > MAX_AUDIENCE_BYTES)) {
          throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', `audience: a value is longer than ${MAX_AUDIENCE_BYTES} bytes`);
        }
        if (audience.some((a) => CONTROL.test(a))) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', 'audience: values must not contain control characters');
        let wanted: string | undefined;
        if (call.request.spiffe_id) {
          try { wanted = SpiffeId.parse(call.request.spiffe_id).toString(); } catch (e) {
            // Echo at most a prefix: the value is the caller's and can be up to the message size.
            throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', `spiffe_id "${call.request.spiffe_id.slice(0, 256)}" is not a valid SPIFFE ID: ${(e as Error).message.slice(0, 256)}`, e);
          }
        }
        if (!provider.hasIdentity(w)) throw noIdentity();
        const svids = (await provider.jwtSvids(w, audience, wanted)).filter((s) => wanted === undefined || s.spiffeId === wanted);
        if (svids.length === 0) {
          throw wanted ? permissionDenied('ERR_WORKLOADAPI_PERMISSION_DENIED', `no identity issued for ${wanted}`) : noIdentity();
        }
        return { svids: svids.map((s) => ({ spiffe_id: s.spiffeId, svid: s.token, hint: s.hint })) };
      };
      run().then((r) => callback(null, r), (e) => callback(toGrpcError(e)));
    },

    ValidateJWTSVID(call, callback) {
      const run = async () => {
        const w = callers.callerOf(call);
        if (!call.request.audience) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', 'audience must be specified');
        if (!call.request.svid) throw invalidArgument('ERR_WORKLOADAPI_INVALID_ARGUMENT', 'svid must be specified');
        if (!verifierAllowed(w)) throw noIdentity();
        const v = await provider.validateJwtSvid(call.request.svid, call.request.audience);
        return { spiffe_id: v.spiffeId, claims: toStruct(v.claims) };
      };
      run().then((r) => callback(null, r), (e) => {
        d.logger.debug('JWT-SVID validation failed', { pid: safePid(callers, call), err: e as Error });
        callback(toGrpcError(e));
      });
    },
  };
}

function safePid(callers: CallerResolver, call: { metadata: grpc.Metadata }): number | undefined {
  try { return callers.callerOf(call).pid; } catch { return undefined; }
}

/**
 * The chain as one DER run. The SVID cache keeps each SVID's certificates back to back
 * in one buffer (packSvid), so this is a view, not a copy: a stream message with 10,000
 * SVIDs no longer allocates 10,000 chains (and keys) only to encode them once.
 */
export function chainDer(certs: readonly Uint8Array[]): Uint8Array {
  const first = certs[0];
  if (!first) return new Uint8Array(0);
  let end = first.byteOffset + first.length;
  for (let i = 1; i < certs.length; i++) {
    const c = certs[i]!;
    if (c.buffer !== first.buffer || c.byteOffset !== end) return concatDer(certs);
    end += c.length;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}

function trustDomainIdOf(spiffeId: string): string {
  return SpiffeId.parse(spiffeId).trustDomain.idString;
}

function sortedEntries(m: Record<string, unknown> | undefined): unknown[] {
  return Object.keys(m ?? {}).sort().flatMap((k) => [k, m![k]]);
}

/** A digest over a message's visible contents, for "did anything change" only. */
function digestOf(parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = p === undefined || p === null ? Buffer.alloc(0)
      : typeof p === 'string' ? Buffer.from(p) : Buffer.isBuffer(p) || p instanceof Uint8Array ? p : Buffer.from(String(p));
    h.update(String(b.length)).update(':').update(b);
  }
  return h.digest('base64');
}
