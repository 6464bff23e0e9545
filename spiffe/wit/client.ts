import * as grpc from '@grpc/grpc-js';
import { grpcTarget, type WorkloadApiAddress } from '../workloadapi/address.ts';
import { toWorkloadApiError, WorkloadApiError, type Subscription, type Watcher } from '../workloadapi/client.ts';
import { WORKLOAD_HEADER } from '../workloadapi/proto.ts';
import type { SpiffeWorkloadAPIClient } from '../../proto/gen/spiffe-wit/SpiffeWorkloadAPI.ts';
import type { WITSVIDResponse__Output } from '../../proto/gen/spiffe-wit/WITSVIDResponse.ts';
import type { WITBundlesResponse__Output } from '../../proto/gen/spiffe-wit/WITBundlesResponse.ts';
import { WitBundleSet } from './bundle.ts';
import { WitError } from './errors.ts';
import { privateKeyFromJwk } from './jwk.ts';
import { keyFitsAlg } from './jws.ts';
import { parseWitSvidInsecure } from './parse.ts';
import { loadWitProto } from './proto.ts';
import type { WitSvidWithKey } from './types.ts';

/**
 * The WIT-SVID Profile RPCs (SPIFFE Workload API 7) on a Workload API endpoint: the
 * mandatory security header, messages decoded and checked (every WITSVID field but
 * hint is required; the key must be the private half of cnf), statuses turned into
 * typed errors. An endpoint without the profile answers Unimplemented, which the
 * spec says not to retry: it surfaces as WitError ERR_WIT_UNSUPPORTED.
 */
export class WitClient {
  private readonly client: SpiffeWorkloadAPIClient;

  constructor(address: WorkloadApiAddress, channelOptions?: grpc.ChannelOptions) {
    const Ctor = loadWitProto().grpc.SpiffeWorkloadAPI;
    this.client = new Ctor(grpcTarget(address), grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, ...channelOptions });
  }

  /** FetchWITSVID; `spiffeId` narrows to one identity. Default identity first; hints deduplicated (first wins). */
  watchWitSvids(watcher: Watcher<WitSvidWithKey[]> & { onUnsupported(e: WitError): void }, spiffeId?: string): Subscription {
    return this.watch(this.client.FetchWITSVID({ spiffe_id: spiffeId ?? '' }, header()), decodeSvids, watcher);
  }

  watchWitBundles(watcher: Watcher<WitBundleSet> & { onUnsupported(e: WitError): void }): Subscription {
    return this.watch(this.client.FetchWITBundles({}, header()), decodeBundles, watcher);
  }

  close(): void { this.client.close(); }

  private watch<M, T>(stream: grpc.ClientReadableStream<M>, decode: (m: M) => T, watcher: Watcher<T> & { onUnsupported(e: WitError): void }): Subscription {
    let closed = false;
    const stop = () => { closed = true; stream.cancel(); };
    stream.on('data', (m: M) => {
      if (closed) return;
      let v: T;
      try { v = decode(m); } catch (e) {
        stop();
        watcher.onError(new WorkloadApiError('ERR_WORKLOADAPI', grpc.status.INTERNAL, `malformed WIT-SVID profile response: ${(e as Error).message}`, { cause: e }));
        return;
      }
      watcher.onUpdate(v);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (closed) return;
      closed = true;
      if (err.code === grpc.status.UNIMPLEMENTED) {
        watcher.onUnsupported(new WitError('ERR_WIT_UNSUPPORTED', 'unimplemented', `the Workload API does not serve the WIT-SVID profile: ${err.details}`, { cause: err }));
        return;
      }
      watcher.onError(toWorkloadApiError(err));
    });
    stream.on('end', () => {
      if (closed) return;
      closed = true;
      watcher.onError(new WorkloadApiError('ERR_WORKLOADAPI_UNAVAILABLE', grpc.status.UNAVAILABLE, 'the Workload API closed the stream'));
    });
    return { close() { if (!closed) stop(); } };
  }
}

function header(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(WORKLOAD_HEADER.key, WORKLOAD_HEADER.value);
  return md;
}

function decodeSvids(m: WITSVIDResponse__Output): WitSvidWithKey[] {
  if (m.svids.length === 0) throw new Error('WITSVIDResponse has no svids');
  const hints = new Set<string>();
  const out: WitSvidWithKey[] = [];
  for (const s of m.svids) {
    if (!s.spiffe_id || !s.wit_svid || !s.wit_svid_key) throw new Error('WITSVID is missing a required field (spiffe_id, wit_svid, wit_svid_key)');
    if (s.hint) { if (hints.has(s.hint)) continue; hints.add(s.hint); }
    const svid = parseWitSvidInsecure(s.wit_svid);
    if (svid.id.toString() !== s.spiffe_id) throw new Error(`WITSVID spiffe_id ${s.spiffe_id} is not its token's sub ${svid.id}`);
    const { key } = privateKeyFromJwk(JSON.parse(s.wit_svid_key) as unknown);
    const pub = svid.confirmationKey.export({ format: 'jwk' }) as Record<string, unknown>;
    const fromPriv = key.export({ format: 'jwk' }) as Record<string, unknown>;
    if (!keyFitsAlg(key, svid.confirmationAlg) || pub.x !== fromPriv.x || pub.y !== fromPriv.y || pub.n !== fromPriv.n) {
      throw new Error(`wit_svid_key of ${s.spiffe_id} is not the private key of its cnf.jwk`);
    }
    out.push({ ...svid, privateKey: key, hint: s.hint });
  }
  return out;
}

function decodeBundles(m: WITBundlesResponse__Output): WitBundleSet {
  return WitBundleSet.fromMap(m.bundles);
}
