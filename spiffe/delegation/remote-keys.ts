import type * as https from 'node:https';
import type { SdkLogger } from '../workloadapi/watch.ts';
import { DelegationError, invalid } from './errors.ts';
import { httpsRequest, serverAgent } from './https.ts';
import type { ServerTrust } from './types.ts';

/**
 * A key document on the authorization server (token-signing JWKS, Biscuit root keys),
 * fetched over HTTPS with the server's SVID verified, one fetch at a time. Callers
 * share the in-flight fetch; `fetchedAt` counts from the attempt, so a failing issuer
 * is not hammered by the cooldown logic built on it.
 */
export class RemoteKeyDocument<K> {
  keys: K[] = [];
  fetchedAt = Number.NEGATIVE_INFINITY;
  inflight: Promise<void> | undefined;
  private readonly agent: https.Agent;

  constructor(private readonly o: ServerTrust & {
    url: URL;
    /** Names the document in errors: 'the token-signing keys'. */
    what: string;
    /** Parses the document; onSkip reports an entry it could not use. */
    parse: (doc: unknown, onSkip: (kid: string, why: string) => void) => K[];
    now: () => number;
    timeoutMs?: number;
    logger?: SdkLogger;
  }) {
    this.agent = serverAgent({ ...o, keepAlive: true });
  }

  get url(): URL { return this.o.url; }

  /** Fetches now unless a fetch is already running; rejects with ERR_DELEGATION_INVALID / keys_unavailable. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.fetchedAt = this.o.now();
    this.inflight = this.fetch().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  close(): void { this.agent.destroy(); }

  private async fetch(): Promise<void> {
    const { url, what, logger } = this.o;
    let doc: unknown;
    try {
      const r = await httpsRequest(url, { agent: this.agent, headers: { accept: 'application/json' }, timeoutMs: this.o.timeoutMs ?? 10_000 });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      doc = JSON.parse(r.body.toString('utf8'));
    } catch (err) {
      logger?.warn?.('key document fetch failed', { url: url.href, error: (err as Error).message });
      throw invalid('keys_unavailable', `cannot fetch ${what} from ${url.href}: ${(err as Error).message}`, err);
    }
    const keys = this.o.parse(doc, (kid, why) => logger?.warn?.('key skipped', { url: url.href, kid, why }));
    if (keys.length === 0) throw new DelegationError('ERR_DELEGATION_INVALID', `no usable key in ${what} at ${url.href}`, { reason: 'keys_unavailable' });
    this.keys = keys;
    logger?.debug?.('key document fetched', { url: url.href, count: keys.length });
  }
}
