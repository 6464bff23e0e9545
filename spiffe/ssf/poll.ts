import type * as https from 'node:https';
import { Backoff, sleep, type BackoffOptions } from '../lib/backoff.ts';
import { httpsRequest, serverAgent } from '../delegation/https.ts';
import type { ServerTrust } from '../delegation/types.ts';
import type { X509SvidSource } from '../source/types.ts';
import type { SdkLogger } from '../workloadapi/watch.ts';
import { SetRejected, SsfPollError } from './errors.ts';
import type { SsfRevocations } from './revocations.ts';
import { verifySet, type SecurityEvent, type VerifySetOptions } from './set.ts';

export interface PollClientOptions extends VerifySetOptions, ServerTrust {
  /** The stream's poll URL: `delivery.endpoint_url` of its configuration. */
  endpoint: string;
  /** Our X.509-SVID (mTLS): how a workload authenticates to Tessera's transmitter. */
  source?: X509SvidSource;
  /** Or an OAuth access token, sent as `Authorization: Bearer`. */
  accessToken?: () => string | Promise<string>;
  revocations?: SsfRevocations;
  onEvent?: (ev: SecurityEvent) => void | Promise<void>;
  /** Per poll (default 100). */
  maxEvents?: number;
  backoff?: BackoffOptions;
  logger?: SdkLogger;
}

/**
 * RFC 8936 poll delivery: long polls (returnImmediately false) in a loop, each
 * acknowledging the SETs of the previous answer that were verified and processed and
 * reporting the refused ones in setErrs. A SET is acknowledged only after `onEvent`
 * returned, so a crash between the two means it is delivered again, never lost.
 * Transport errors and refusals back off and retry until close().
 */
export class SsfPollClient {
  private readonly abort = new AbortController();
  private readonly agent: https.Agent;
  private readonly backoff: Backoff;
  private readonly done: Promise<void>;

  constructor(private readonly o: PollClientOptions) {
    this.agent = serverAgent({ ...o, client: o.source, keepAlive: true });
    this.backoff = new Backoff(o.backoff);
    this.done = this.run();
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
    this.agent.destroy();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let ack: string[] = [];
    let setErrs: Record<string, { err: string; description: string }> = {};
    while (!signal.aborted) {
      try {
        const sets = await this.poll({ ack, setErrs, maxEvents: this.o.maxEvents ?? 100, returnImmediately: false });
        ack = []; setErrs = {};
        for (const [jti, set] of Object.entries(sets)) {
          try {
            const ev = await verifySet(set, this.o);
            this.o.revocations?.apply(ev);
            await this.o.onEvent?.(ev);
            ack.push(jti);
          } catch (e) {
            if (!(e instanceof SetRejected)) throw e;
            setErrs[jti] = { err: e.err, description: e.message };
          }
        }
        this.backoff.reset();
      } catch (e) {
        if (signal.aborted) return;
        const ms = this.backoff.next();
        this.o.logger?.warn?.('ssf poll failed; retrying', { err: (e as Error).message, retry_in_ms: ms });
        await sleep(ms, signal).catch(() => undefined);
      }
    }
  }

  private async poll(body: Record<string, unknown>): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.o.accessToken) headers.authorization = `Bearer ${await this.o.accessToken()}`;
    const r = await httpsRequest(new URL(this.o.endpoint), {
      agent: this.agent, method: 'POST', headers, body: JSON.stringify(body), timeoutMs: 60_000, signal: this.abort.signal,
    });
    let j: Record<string, unknown> = {};
    try { j = JSON.parse(r.body.toString('utf8')); } catch { /* reported below */ }
    if (r.status !== 200) throw new SsfPollError(`poll ${this.o.endpoint} answered ${r.status}: ${String(j.error_description ?? j.error ?? '')}`, r.status);
    const sets = j.sets;
    if (typeof sets !== 'object' || sets === null || Array.isArray(sets)) throw new SsfPollError(`poll ${this.o.endpoint} answered without a sets object`, r.status);
    return sets as Record<string, string>;
  }
}
