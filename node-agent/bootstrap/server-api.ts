import * as grpc from '@grpc/grpc-js';
import type { KeyObject } from 'node:crypto';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { Logger } from '../../common/logger.ts';
import { loadAgentProto } from '../../common/proto.ts';
import type { AgentServiceClient } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { AttestRequest } from '../../proto/gen/tessera-api/tessera/v1/AttestRequest.ts';
import type { AttestResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestResponse.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import type { X509SVIDResult__Output } from '../../proto/gen/tessera-api/tessera/v1/X509SVIDResult.ts';
import type { RenewAgentResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/RenewAgentResponse.ts';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import type { MintJWTSVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/MintJWTSVIDResponse.ts';
import type { MintWITSVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/MintWITSVIDResponse.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { AgentRecordActionRequest } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionRequest.ts';
import type { AgentRecordActionResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionResponse.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { serverIdentityCheck } from './server-identity.ts';
import { ServerChannel } from './server-channel.ts';
import { fromGrpcError } from './grpc-errors.ts';
import type { TrustBundle } from './bundle.ts';

/**
 * The agent's side of tessera.v1.AgentService: one channel to the server, TLS
 * validated against the current bundle and the server's SPIFFE ID, authenticated by
 * the current agent SVID (mTLS) once the agent has one. A renewed SVID or a changed
 * bundle swaps in a new channel; listeners (the sync loop) reconnect on it.
 *
 * Several servers (HA on one store): calls go to one address at a time and move to the
 * next when a connection attempt fails (server-channel.ts); the agent SVID is the same,
 * so nothing is re-attested. Keepalive pings find a connection that went silent (a
 * partition), which a TCP connection alone never does.
 */
export interface AgentSvid {
  key: KeyObject;
  /** DER, leaf first. */
  chain: Uint8Array[];
}

export interface SignParams { entryId: string; csr: Uint8Array; instanceId: string }

const UNARY_DEADLINE_MS = 15_000;
/** A silent connection is declared dead after KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS (the server permits pings every 10 s). */
const KEEPALIVE_MS = 15_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;

export interface ServerApiOptions {
  /** The server's agent API, host:port; with `addresses`, the first one tried. */
  address: string;
  /** More servers of the same trust domain and store to fail over to, in order. */
  addresses?: readonly string[];
  trustDomain: TrustDomain;
  bundle: TrustBundle;
  svid?: AgentSvid;
  logger: Logger;
}

export class ServerApi {
  private readonly channel: ServerChannel<AgentServiceClient>;
  private bundle: TrustBundle;
  private svid: AgentSvid | undefined;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: ServerApiOptions) {
    this.bundle = opts.bundle;
    this.svid = opts.svid;
    this.channel = new ServerChannel({ addresses: [opts.address, ...(opts.addresses ?? [])], make: (a) => this.makeClient(a), logger: opts.logger });
  }

  get hasSvid(): boolean { return this.svid !== undefined; }
  /** The server address calls currently go to. */
  get address(): string { return this.channel.address; }
  private get client(): AgentServiceClient { return this.channel.client; }

  /** New trust material: new channel for every later call; the old one is closed once its calls end. */
  update(p: { bundle?: TrustBundle; svid?: AgentSvid }): void {
    if (this.closed) return;
    if (p.bundle) this.bundle = p.bundle;
    if (p.svid) this.svid = p.svid;
    this.channel.replace();
    for (const l of this.listeners) l();
  }

  /** Fires after the channel was replaced because of a new SVID or bundle (not on failover). */
  onCredentialsChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Fires when the connection to the server is lost (false) and as soon as one is up again (true). */
  onConnectionChange(l: (up: boolean) => void): () => void {
    return this.channel.onConnectionChange(l);
  }

  attest(): grpc.ClientDuplexStream<AttestRequest, AttestResponse__Output> {
    return this.client.Attest();
  }

  renewAgent(csr: Uint8Array): Promise<Uint8Array[]> {
    return this.unary<RenewAgentResponse__Output>('RenewAgent', (cb) => this.client.RenewAgent({ csr }, deadline(), cb))
      .then((r) => r.svid_chain.map((d) => new Uint8Array(d)));
  }

  syncEntries(): grpc.ClientReadableStream<SyncEntriesResponse__Output> {
    return this.client.SyncEntries({});
  }

  batchSignX509Svids(params: SignParams[]): Promise<X509SVIDResult__Output[]> {
    return this.unary<BatchSignX509SVIDResponse__Output>('BatchSignX509SVID', (cb) => this.client.BatchSignX509SVID({
      params: params.map((p) => ({ entry_id: p.entryId, csr: p.csr, instance_id: p.instanceId })),
    }, deadline(), cb)).then((r) => r.results);
  }

  mintJwtSvid(p: { entryId: string; audience: string[]; instanceId: string }): Promise<{ token: string; expiresAt: number }> {
    return this.unary<MintJWTSVIDResponse__Output>('MintJWTSVID', (cb) => this.client.MintJWTSVID({ entry_id: p.entryId, audience: p.audience, instance_id: p.instanceId }, deadline(), cb))
      .then((r) => ({ token: r.token, expiresAt: r.expires_at }));
  }

  /** A WIT-SVID for the workload key `publicKey` (SPKI DER), whose proofs use `alg` (docs/wit-svid.md). */
  mintWitSvid(p: { entryId: string; instanceId: string; publicKey: Uint8Array; alg: string }): Promise<{ token: string; expiresAt: number }> {
    return this.unary<MintWITSVIDResponse__Output>('MintWITSVID', (cb) => this.client.MintWITSVID({ entry_id: p.entryId, instance_id: p.instanceId, public_key: Buffer.from(p.publicKey), alg: p.alg }, deadline(), cb))
      .then((r) => ({ token: r.token, expiresAt: r.expires_at }));
  }

  /** A workload's action receipt (node-agent/audit); a `wait` may take up to its wait_timeout_ms. */
  recordAction(req: AgentRecordActionRequest): Promise<AgentRecordActionResponse__Output> {
    const ms = UNARY_DEADLINE_MS + (req.wait ? Math.min(req.wait_timeout_ms || 30_000, 120_000) : 0);
    return this.unary<AgentRecordActionResponse__Output>('RecordAction', (cb) => this.client.RecordAction(req, { deadline: Date.now() + ms }, cb));
  }

  getBundle(): Promise<Bundle__Output> {
    return this.unary<Bundle__Output>('GetBundle', (cb) => this.client.GetBundle({}, deadline(), cb));
  }

  close(): void {
    this.closed = true;
    this.channel.close();
    this.listeners.clear();
  }

  private unary<R>(what: string, call: (cb: grpc.requestCallback<R>) => unknown): Promise<R> {
    return new Promise((resolve, reject) => {
      call((err, res) => (err || res === undefined ? reject(fromGrpcError(err ?? new Error('empty response'), what)) : resolve(res)));
    });
  }

  private makeClient(address: string): AgentServiceClient {
    const roots = Buffer.from(certificatesToPem(this.bundle.x509Authorities));
    const verify = { checkServerIdentity: serverIdentityCheck(this.opts.trustDomain) };
    const creds = this.svid
      ? grpc.credentials.createSsl(roots,
        Buffer.from(this.svid.key.export({ type: 'pkcs8', format: 'pem' }) as string),
        Buffer.from(certificatesToPem(this.svid.chain)), verify)
      : grpc.credentials.createSsl(roots, null, null, verify);
    const Ctor = loadAgentProto().tessera.v1.AgentService;
    return new Ctor(address, creds, {
      // Full entry snapshots for large agents exceed grpc-js's 4 MiB default.
      'grpc.max_receive_message_length': -1,
      // Reconnect quickly after a server restart (default backoff grows to 120 s).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5_000,
      // A partition (no RST, no FIN) otherwise leaves the sync stream waiting forever.
      'grpc.keepalive_time_ms': KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
      // The server is verified by SPIFFE ID, not name; a fixed SNI avoids sending an IP as ServerName.
      'grpc.ssl_target_name_override': 'tessera-server',
    });
  }
}

function deadline(): grpc.CallOptions { return { deadline: Date.now() + UNARY_DEADLINE_MS }; }
