import type * as https from 'node:https';
import type { SdkLogger } from '../workloadapi/watch.ts';
import { DelegationError, invalid } from './errors.ts';
import { httpsRequest, issuerUrl, serverAgent } from './https.ts';
import { importJwks } from './keys.ts';
import type { DelegationKey, DelegationKeySource, ServerTrust } from './types.ts';

export interface RemoteDelegationKeysOptions extends ServerTrust {
  /** The authorization server; keys come from `<issuer>/oauth2/jwks`. */
  issuer: string;
  /** Override the JWKS URL. */
  jwksUri?: string;
  /** An unknown kid refetches at most once per this many ms (default 30 000). */
  cooldownMs?: number;
  /** Known keys are refreshed in the background after this many ms (default 300 000), so a withdrawn key stops verifying. */
  maxAgeMs?: number;
  timeoutMs?: number;
  logger?: SdkLogger;
  /** Test seam, ms. */
  now?: () => number;
}

/**
 * The authorization server's token-signing keys, fetched over HTTPS and cached by kid.
 * A known kid answers synchronously. An unknown kid (a key added since the last
 * fetch: another server sharing the store, a rotation) triggers one refetch, at most
 * once per `cooldownMs`, shared by concurrent callers, so a flood of tokens with
 * made-up kids costs the issuer nothing. Past `maxAgeMs` the set is refreshed in
 * the background while the cached keys keep answering.
 */
export class RemoteDelegationKeys implements DelegationKeySource {
  private keys = new Map<string, DelegationKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly url: URL;
  private readonly agent: https.Agent;
  private readonly now: () => number;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;

  constructor(private readonly o: RemoteDelegationKeysOptions) {
    this.url = o.jwksUri ? new URL(o.jwksUri) : issuerUrl(o.issuer, '/oauth2/jwks');
    this.agent = serverAgent({ ...o, keepAlive: true });
    this.now = o.now ?? Date.now;
    this.cooldownMs = o.cooldownMs ?? 30_000;
    this.maxAgeMs = o.maxAgeMs ?? 300_000;
  }

  getKey(kid: string): DelegationKey | undefined | Promise<DelegationKey | undefined> {
    const hit = this.keys.get(kid);
    const age = this.now() - this.fetchedAt;
    if (hit) {
      if (age >= this.maxAgeMs && !this.inflight) this.refresh().catch(() => { /* logged; cached keys keep answering */ });
      return hit;
    }
    if (this.inflight) return this.inflight.then(() => this.keys.get(kid));
    if (age < this.cooldownMs) return undefined;
    return this.refresh().then(() => this.keys.get(kid));
  }

  /** Fetches the JWKS now (also the first fetch, e.g. at startup); rejects with ERR_DELEGATION_INVALID / keys_unavailable. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    // The cooldown counts from the attempt, so a failing issuer is not hammered either.
    this.fetchedAt = this.now();
    this.inflight = this.fetch().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** Kids currently cached. */
  get kids(): string[] { return [...this.keys.keys()]; }

  close(): void { this.agent.destroy(); }

  private async fetch(): Promise<void> {
    let doc: unknown;
    try {
      const r = await httpsRequest(this.url, { agent: this.agent, headers: { accept: 'application/json' }, timeoutMs: this.o.timeoutMs ?? 10_000 });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      doc = JSON.parse(r.body.toString('utf8'));
    } catch (err) {
      this.o.logger?.warn?.('delegation JWKS fetch failed', { url: this.url.href, error: (err as Error).message });
      throw invalid('keys_unavailable', `cannot fetch the token-signing keys from ${this.url.href}: ${(err as Error).message}`, err);
    }
    const keys = importJwks(doc, (kid, why) => this.o.logger?.warn?.('delegation JWKS key skipped', { url: this.url.href, kid, why }));
    if (keys.length === 0) throw new DelegationError('ERR_DELEGATION_INVALID', `JWKS at ${this.url.href} has no usable key`, { reason: 'keys_unavailable' });
    this.keys = new Map(keys.map((k) => [k.kid, k]));
    this.o.logger?.debug?.('delegation JWKS fetched', { url: this.url.href, kids: keys.map((k) => k.kid) });
  }
}

export function createRemoteDelegationKeys(o: RemoteDelegationKeysOptions): RemoteDelegationKeys {
  return new RemoteDelegationKeys(o);
}
