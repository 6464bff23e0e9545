import type { SdkLogger } from '../workloadapi/watch.ts';
import { issuerUrl } from './https.ts';
import { importJwks } from './keys.ts';
import { RemoteKeyDocument } from './remote-keys.ts';
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
  private byKid = new Map<string, DelegationKey>();
  private readonly doc: RemoteKeyDocument<DelegationKey>;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;

  constructor(o: RemoteDelegationKeysOptions) {
    const now = o.now ?? Date.now;
    this.doc = new RemoteKeyDocument({
      ...o, now, url: o.jwksUri ? new URL(o.jwksUri) : issuerUrl(o.issuer, '/oauth2/jwks'), what: 'the token-signing keys', parse: importJwks,
    });
    this.now = now;
    this.cooldownMs = o.cooldownMs ?? 30_000;
    this.maxAgeMs = o.maxAgeMs ?? 300_000;
  }

  private readonly now: () => number;

  getKey(kid: string): DelegationKey | undefined | Promise<DelegationKey | undefined> {
    const hit = this.byKid.get(kid);
    const age = this.now() - this.doc.fetchedAt;
    if (hit) {
      if (age >= this.maxAgeMs && !this.doc.inflight) this.refresh().catch(() => { /* logged; cached keys keep answering */ });
      return hit;
    }
    if (this.doc.inflight) return this.doc.inflight.then(() => this.byKid.get(kid));
    if (age < this.cooldownMs) return undefined;
    return this.refresh().then(() => this.byKid.get(kid));
  }

  /** Fetches the JWKS now (also the first fetch, e.g. at startup); rejects with ERR_DELEGATION_INVALID / keys_unavailable. */
  async refresh(): Promise<void> {
    await this.doc.refresh();
    this.byKid = new Map(this.doc.keys.map((k) => [k.kid, k]));
  }

  /** Kids currently cached. */
  get kids(): string[] { return [...this.byKid.keys()]; }

  close(): void { this.doc.close(); }
}

export function createRemoteDelegationKeys(o: RemoteDelegationKeysOptions): RemoteDelegationKeys {
  return new RemoteDelegationKeys(o);
}
