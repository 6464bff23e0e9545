import * as grpc from '@grpc/grpc-js';
import { SpiffeError, type SpiffeErrorCode } from '../errors.ts';
import { splitDerCertificates } from '../der.ts';
import { addressFromEnv, grpcTarget, parseWorkloadApiAddress, type WorkloadApiAddress } from './address.ts';
import { loadWorkloadProto, WORKLOAD_HEADER } from './proto.ts';
import type { SpiffeWorkloadAPIClient } from '../../proto/gen/spiffe/SpiffeWorkloadAPI.ts';
import type { X509SVIDResponse__Output } from '../../proto/gen/spiffe/X509SVIDResponse.ts';
import type { X509BundlesResponse__Output } from '../../proto/gen/spiffe/X509BundlesResponse.ts';
import type { JWTBundlesResponse__Output } from '../../proto/gen/spiffe/JWTBundlesResponse.ts';
import type { Struct__Output } from '../../proto/gen/spiffe/google/protobuf/Struct.ts';
import type { Value__Output } from '../../proto/gen/spiffe/google/protobuf/Value.ts';

/**
 * A small, low-level SPIFFE Workload API client: one method per RPC, the mandatory
 * `workload.spiffe.io: true` header on every call, wire messages decoded into plain
 * values (DER split into certificates), gRPC statuses turned into typed errors.
 * It does not retry: sources built on it (X509Source, JWTSource) decide that, using
 * `WorkloadApiError.retryable`.
 */

export interface X509SvidMessage {
  spiffeId: string;
  /** DER certificates, leaf first. */
  certificates: Uint8Array[];
  /** PKCS#8 DER. */
  privateKey: Uint8Array;
  /** DER CA certificates of the SVID's own trust domain. */
  bundle: Uint8Array[];
  hint: string;
}

export interface X509SvidUpdate {
  /** Default identity first. */
  svids: X509SvidMessage[];
  /** Trust domain ID ("spiffe://td") -> DER CA certificates. */
  federatedBundles: Map<string, Uint8Array[]>;
  crl: Uint8Array[];
}

export interface X509BundlesUpdate {
  bundles: Map<string, Uint8Array[]>;
  crl: Uint8Array[];
}

/** Trust domain ID -> SPIFFE JWKS JSON bytes. */
export type JwtBundlesUpdate = Map<string, Uint8Array>;

export interface JwtSvidMessage { spiffeId: string; token: string; hint: string }

export interface ValidatedJwt { spiffeId: string; claims: Record<string, unknown> }

export interface Watcher<T> {
  onUpdate(update: T): void;
  /** The stream ended with an error (or the server closed it: ERR_WORKLOADAPI_UNAVAILABLE). Not called after close(). */
  onError(err: WorkloadApiError): void;
}

export interface Subscription { close(): void }

/** A failed Workload API call; `retryable` follows the spec (Unavailable / PermissionDenied: back off and retry). */
export class WorkloadApiError extends SpiffeError {
  readonly grpcCode: number;
  constructor(code: SpiffeErrorCode, grpcCode: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.grpcCode = grpcCode;
  }
  get retryable(): boolean {
    return this.grpcCode === grpc.status.UNAVAILABLE || this.grpcCode === grpc.status.PERMISSION_DENIED;
  }
}

export interface WorkloadApiClientOptions {
  /** `unix:///path`, `tcp://ip:port` or a parsed address; default SPIFFE_ENDPOINT_SOCKET. */
  address?: string | WorkloadApiAddress;
  /** Extra grpc-js channel options, over the defaults of workloadChannelOptions(). */
  channelOptions?: grpc.ChannelOptions;
}

/**
 * The channel options a client uses: `extra` over Tessera's defaults. Many SVIDs for
 * one caller can exceed grpc-js's 4 MiB default message size (the agent is local and
 * trusted). grpc-js reconnects a lost channel on a 1 s → 120 s backoff, made for
 * remote servers; the agent is a local socket that is back seconds after a restart,
 * and every call fails fast until the channel reconnects, so it retries at least
 * once a second (100 ms → 1 s).
 */
export function workloadChannelOptions(extra: grpc.ChannelOptions = {}): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': -1,
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1_000,
    ...extra,
  };
}

export class WorkloadApiClient {
  readonly address: WorkloadApiAddress;
  private readonly client: SpiffeWorkloadAPIClient;

  constructor(opts: WorkloadApiClientOptions = {}) {
    this.address = typeof opts.address === 'string' ? parseWorkloadApiAddress(opts.address) : opts.address ?? addressFromEnv();
    const Ctor = loadWorkloadProto().SpiffeWorkloadAPI;
    // Many SVIDs for one caller can exceed grpc-js's 4 MiB default; the agent is local and trusted.
    this.client = new Ctor(grpcTarget(this.address), grpc.credentials.createInsecure(), workloadChannelOptions(opts.channelOptions));
  }

  watchX509Svids(watcher: Watcher<X509SvidUpdate>): Subscription {
    return this.watch(this.client.FetchX509SVID({}, header()), decodeX509Svids, watcher);
  }

  /** The first X509SVIDResponse: the caller's current SVIDs. */
  fetchX509Svids(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<X509SvidUpdate> {
    return this.first((w) => this.watchX509Svids(w), opts);
  }

  watchX509Bundles(watcher: Watcher<X509BundlesUpdate>): Subscription {
    return this.watch(this.client.FetchX509Bundles({}, header()), decodeX509Bundles, watcher);
  }

  fetchX509Bundles(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<X509BundlesUpdate> {
    return this.first((w) => this.watchX509Bundles(w), opts);
  }

  watchJwtBundles(watcher: Watcher<JwtBundlesUpdate>): Subscription {
    return this.watch(this.client.FetchJWTBundles({}, header()), decodeJwtBundles, watcher);
  }

  fetchJwtBundles(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<JwtBundlesUpdate> {
    return this.first((w) => this.watchJwtBundles(w), opts);
  }

  /** JWT-SVIDs for `audience` (at least one); `spiffeId` narrows to one identity. */
  fetchJwtSvids(p: { audience: string[]; spiffeId?: string; timeoutMs?: number }): Promise<JwtSvidMessage[]> {
    return new Promise((resolve, reject) => {
      this.client.FetchJWTSVID({ audience: p.audience, spiffe_id: p.spiffeId ?? '' }, header(), callOptions(p.timeoutMs),
        (err, res) => {
          if (err || !res) return reject(toWorkloadApiError(err));
          resolve(res.svids.map((s) => ({ spiffeId: s.spiffe_id, token: s.svid, hint: s.hint })));
        });
    });
  }

  validateJwtSvid(p: { token: string; audience: string; timeoutMs?: number }): Promise<ValidatedJwt> {
    return new Promise((resolve, reject) => {
      this.client.ValidateJWTSVID({ svid: p.token, audience: p.audience }, header(), callOptions(p.timeoutMs),
        (err, res) => {
          if (err || !res) return reject(toWorkloadApiError(err));
          resolve({ spiffeId: res.spiffe_id, claims: res.claims ? structToObject(res.claims) : {} });
        });
    });
  }

  close(): void { this.client.close(); }

  private watch<M, T>(stream: grpc.ClientReadableStream<M>, decode: (m: M) => T, watcher: Watcher<T>): Subscription {
    let closed = false;
    stream.on('data', (m: M) => {
      if (closed) return;
      let v: T;
      try { v = decode(m); } catch (e) {
        closed = true; stream.cancel();
        watcher.onError(new WorkloadApiError('ERR_WORKLOADAPI', grpc.status.INTERNAL, `malformed response: ${(e as Error).message}`, { cause: e }));
        return;
      }
      watcher.onUpdate(v);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (closed) return;
      closed = true;
      watcher.onError(toWorkloadApiError(err));
    });
    stream.on('end', () => {
      if (closed) return;
      closed = true;
      watcher.onError(new WorkloadApiError('ERR_WORKLOADAPI_UNAVAILABLE', grpc.status.UNAVAILABLE, 'the Workload API closed the stream'));
    });
    return { close() { if (!closed) { closed = true; stream.cancel(); } } };
  }

  private first<T>(start: (w: Watcher<T>) => Subscription, opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<T> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => { sub.close(); if (timer) clearTimeout(timer); opts.signal?.removeEventListener('abort', onAbort); };
      const onAbort = () => { finish(); reject(opts.signal!.reason ?? new Error('aborted')); };
      const sub = start({
        onUpdate(v) { finish(); resolve(v); },
        onError(e) { finish(); reject(e); },
      });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => { finish(); reject(new WorkloadApiError('ERR_WORKLOADAPI_UNAVAILABLE', grpc.status.DEADLINE_EXCEEDED, `no response within ${opts.timeoutMs} ms`)); }, opts.timeoutMs);
      }
      if (opts.signal?.aborted) onAbort(); else opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function header(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(WORKLOAD_HEADER.key, WORKLOAD_HEADER.value);
  return md;
}

function callOptions(timeoutMs?: number): grpc.CallOptions {
  return timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
}

export function toWorkloadApiError(err: grpc.ServiceError | null | undefined): WorkloadApiError {
  if (!err) return new WorkloadApiError('ERR_WORKLOADAPI', grpc.status.INTERNAL, 'empty response');
  const code: SpiffeErrorCode = err.code === grpc.status.INVALID_ARGUMENT ? 'ERR_WORKLOADAPI_INVALID_ARGUMENT'
    : err.code === grpc.status.PERMISSION_DENIED ? 'ERR_WORKLOADAPI_PERMISSION_DENIED'
      : err.code === grpc.status.UNAVAILABLE ? 'ERR_WORKLOADAPI_UNAVAILABLE'
        : 'ERR_WORKLOADAPI';
  const name = grpc.status[err.code] ?? String(err.code);
  return new WorkloadApiError(code, err.code, `${name}: ${err.details || err.message}`, { cause: err });
}

function decodeX509Svids(m: X509SVIDResponse__Output): X509SvidUpdate {
  return {
    svids: m.svids.map((s) => ({
      spiffeId: s.spiffe_id,
      certificates: splitDerCertificates(s.x509_svid),
      privateKey: new Uint8Array(s.x509_svid_key),
      bundle: splitDerCertificates(s.bundle),
      hint: s.hint,
    })),
    federatedBundles: new Map(Object.entries(m.federated_bundles).map(([td, b]) => [td, splitDerCertificates(b)])),
    crl: m.crl.map((c) => new Uint8Array(c)),
  };
}

function decodeX509Bundles(m: X509BundlesResponse__Output): X509BundlesUpdate {
  return {
    bundles: new Map(Object.entries(m.bundles).map(([td, b]) => [td, splitDerCertificates(b)])),
    crl: m.crl.map((c) => new Uint8Array(c)),
  };
}

function decodeJwtBundles(m: JWTBundlesResponse__Output): JwtBundlesUpdate {
  return new Map(Object.entries(m.bundles).map(([td, b]) => [td, new Uint8Array(b)]));
}

/** google.protobuf.Struct (as decoded by proto-loader with oneofs) -> plain JSON value. */
export function structToObject(s: Struct__Output): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.fields ?? {})) out[k] = valueToJs(v);
  return out;
}

function valueToJs(v: Value__Output): unknown {
  switch (v.kind) {
    case 'stringValue': return v.stringValue;
    case 'numberValue': return v.numberValue;
    case 'boolValue': return v.boolValue;
    case 'structValue': return v.structValue ? structToObject(v.structValue) : {};
    case 'listValue': return (v.listValue?.values ?? []).map(valueToJs);
    default: return null;
  }
}
