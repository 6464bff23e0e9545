import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcError, toGrpcError } from '../../common/grpc-status.ts';
import type { Logger } from '../../common/logger.ts';
import type { AttestedWorkload, IdentityProvider } from '../workload-api/provider.ts';
import type { SdsOptions } from './options.ts';
import { buildSecrets, digestOfSecrets, useSpiffeValidator, type CallerSecrets } from './secrets.ts';
import { SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse, type EnvoyNode } from './proto.ts';

export interface SecretStreamDeps {
  call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  workload: AttestedWorkload;
  provider: IdentityProvider;
  /** The caller's current secrets; undefined = no identity. */
  snapshot(): Promise<CallerSecrets | undefined>;
  /** Throws when the connection's process is gone or changed (see StreamSpec.verifyCaller). */
  verifyCaller(): void;
  options: SdsOptions;
  logger: Logger;
  /** Shared across streams: NACKs and stale nonces are the caller's to produce at will. */
  noisyLog: Logger;
  /** Called once when the stream is over, however it ended. */
  onFinish?: () => void;
}

const NO_IDENTITY = 'caller has no identity: no registration entry matches its selectors';

/**
 * One StreamSecrets call, state-of-the-world xDS as SPIRE's handler serves it.
 *
 * - A response goes out when the subscribed names change (the first request included)
 *   or when what those names resolve to changes; each response has a new version_info
 *   and a new random nonce.
 * - A request whose response_nonce is not the last one sent is stale and ignored.
 * - A request with the current nonce and the same names is an ACK, or with
 *   error_detail a NACK (logged, rate-limited); neither is answered: the rejected
 *   version is not sent again, only a later change is.
 */
export class SecretStream {
  private readonly d: SecretStreamDeps;
  private names: string[] | undefined;
  private node: EnvoyNode | null | undefined;
  private version = 0;
  private lastNonce = '';
  private lastDigest = '';
  private done = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly cleanups: (() => void)[] = [];

  constructor(d: SecretStreamDeps) {
    this.d = d;
  }

  start(): void {
    const { call, provider, workload } = this.d;
    const end = () => this.finish();
    call.once('cancelled', end);
    call.once('close', end);
    call.once('error', end);
    call.on('end', () => { call.end(); end(); });
    call.on('data', (req: DiscoveryRequest) => this.enqueue(() => this.onRequest(req)));
    // Subscribed before the first request is read, so a change in between is not lost.
    this.cleanups.push(provider.onChange(() => this.changed()));
    if (provider.watchX509Svids) this.cleanups.push(provider.watchX509Svids(workload, () => this.changed()));
  }

  private changed(): void {
    if (this.done || this.names === undefined) return;
    if (!this.d.provider.hasIdentity(this.d.workload)) return this.fail(grpcError(grpc.status.PERMISSION_DENIED, NO_IDENTITY));
    this.enqueue(async () => {
      try { this.d.verifyCaller(); } catch (e) {
        this.d.logger.info('ending SDS stream: caller process gone or changed', { pid: this.d.workload.pid, err: e as Error });
        return this.fail(toGrpcError(e));
      }
      await this.respond(false);
    });
  }

  private async onRequest(req: DiscoveryRequest): Promise<void> {
    const names = req.resource_names ?? [];
    const fields = { pid: this.d.workload.pid, resource_names: names.slice(0, 16), version_info: req.version_info, nonce: req.response_nonce };
    if (req.error_detail) {
      this.d.noisyLog.warn('Envoy rejected secrets (NACK)', { ...fields, error: req.error_detail.message?.slice(0, 1024) });
    }
    if (req.type_url && req.type_url !== SECRET_TYPE_URL) {
      return this.fail(grpcError(grpc.status.INVALID_ARGUMENT, `type_url must be ${SECRET_TYPE_URL}, got "${req.type_url.slice(0, 256)}"`));
    }
    if (this.lastNonce !== '' && req.response_nonce !== this.lastNonce) {
      this.d.noisyLog.debug('ignoring SDS request with a stale nonce', { ...fields, expected: this.lastNonce });
      return;
    }
    if (req.node) this.node = req.node;
    const changed = this.names === undefined || !sameSet(this.names, names);
    this.names = names;
    this.d.logger.debug('SDS request', { ...fields, ack: !changed && !req.error_detail, nack: !!req.error_detail });
    if (changed) await this.respond(true);
  }

  /** Sends what the names resolve to now: always when asked (`force`), else only if it changed. */
  private async respond(force: boolean): Promise<void> {
    if (this.done || this.names === undefined) return;
    let resources;
    try {
      const snap = await this.d.snapshot();
      if (!snap) return this.fail(grpcError(grpc.status.PERMISSION_DENIED, NO_IDENTITY));
      resources = buildSecrets(snap, this.names, this.d.options, useSpiffeValidator(this.node, this.d.options));
    } catch (e) {
      this.d.noisyLog.warn('SDS stream update failed', { pid: this.d.workload.pid, err: e as Error });
      return this.fail(toGrpcError(e));
    }
    if (this.done) return;
    const digest = digestOfSecrets(resources);
    if (!force && digest === this.lastDigest) return;
    this.lastDigest = digest;
    this.version++;
    this.lastNonce = randomBytes(8).toString('hex');
    this.d.call.write({ version_info: String(this.version), resources, type_url: SECRET_TYPE_URL, nonce: this.lastNonce });
    this.d.logger.debug('SDS response sent', { pid: this.d.workload.pid, version_info: String(this.version), nonce: this.lastNonce, count: resources.length });
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step, step);
  }

  /** Ends the stream with `status` (e.g. Unavailable at shutdown). */
  fail(status: ReturnType<typeof grpcError>): void {
    if (this.done) return;
    this.finish();
    this.d.call.emit('error', status);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const c of this.cleanups.splice(0)) c();
    this.d.onFinish?.();
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((n) => s.has(n));
}
