import type * as https from 'node:https';
import { DelegationError, invalid } from '../delegation/errors.ts';
import { httpsRequest, issuerUrl, serverAgent } from '../delegation/https.ts';
import type { ServerTrust } from '../delegation/types.ts';
import type { SdkLogger } from '../workloadapi/watch.ts';

/**
 * The trust domain's Biscuit root public keys (Ed25519), as published at
 * `GET /oauth2/biscuit-keys` (docs/attenuation.md):
 *   {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "<base64url 32 bytes>",
 *              "kid": "bsk_<root_key_id>", "root_key_id": 123, "alg": "Ed25519", "exp": <unix s>}]}
 * A token names its key by `root_key_id` (Biscuit's own field); verification looks it
 * up here, synchronously.
 */
export interface BiscuitRootKey {
  /** Biscuit root_key_id (u32). */
  id: number;
  /** Raw Ed25519 public key (32 bytes). */
  publicKey: Uint8Array;
}

export interface BiscuitRootKeySource {
  /** The key a token's root_key_id names, or undefined. */
  rootKey(id: number | undefined): BiscuitRootKey | undefined;
  /** Refetches (remote sources); verification calls it once on an unknown id. */
  refresh?(): Promise<void>;
}

/** Keys from a `/oauth2/biscuit-keys` document; malformed entries are skipped (onSkip says why). */
export function importBiscuitKeys(doc: unknown, onSkip?: (kid: string, why: string) => void): BiscuitRootKey[] {
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw invalid('malformed', 'Biscuit key document has no "keys" array');
  const out: BiscuitRootKey[] = [];
  for (const k of list as Record<string, unknown>[]) {
    const kid = typeof k?.kid === 'string' ? k.kid : '?';
    if (k?.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string') { onSkip?.(kid, 'not an OKP Ed25519 key'); continue; }
    const id = k.root_key_id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) { onSkip?.(kid, 'root_key_id is not a u32'); continue; }
    const raw = Buffer.from(k.x, 'base64url');
    if (raw.length !== 32) { onSkip?.(kid, 'x is not 32 bytes'); continue; }
    out.push({ id, publicKey: new Uint8Array(raw) });
  }
  return out;
}

/** A fixed set of root keys (tests, offline verifiers configured by file). */
export function createStaticBiscuitKeys(keys: BiscuitRootKey[] | { keys: unknown[] }): BiscuitRootKeySource {
  const list = Array.isArray(keys) ? keys : importBiscuitKeys(keys);
  const byId = new Map(list.map((k) => [k.id, k]));
  return { rootKey: (id) => (id === undefined ? undefined : byId.get(id)) };
}

export interface RemoteBiscuitKeysOptions extends ServerTrust {
  /** The authorization server; keys come from `<issuer>/oauth2/biscuit-keys`. */
  issuer: string;
  /** An unknown root_key_id refetches at most once per this many ms (default 30 000). */
  cooldownMs?: number;
  timeoutMs?: number;
  logger?: SdkLogger;
  now?: () => number;
}

/**
 * Root keys fetched over HTTPS (the server's SVID verified like every SDK call), cached
 * by id. Call `refresh()` once at startup; afterwards an unknown id refetches at most
 * once per cooldown, so tokens naming made-up ids cost the issuer nothing.
 */
export class RemoteBiscuitKeys implements BiscuitRootKeySource {
  private byId = new Map<number, BiscuitRootKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly url: URL;
  private readonly agent: https.Agent;
  private readonly now: () => number;

  constructor(private readonly o: RemoteBiscuitKeysOptions) {
    this.url = issuerUrl(o.issuer, '/oauth2/biscuit-keys');
    this.agent = serverAgent({ ...o, keepAlive: true });
    this.now = o.now ?? Date.now;
  }

  rootKey(id: number | undefined): BiscuitRootKey | undefined { return id === undefined ? undefined : this.byId.get(id); }

  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.byId.size > 0 && this.now() - this.fetchedAt < (this.o.cooldownMs ?? 30_000)) return Promise.resolve();
    this.fetchedAt = this.now();
    this.inflight = this.fetch().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  close(): void { this.agent.destroy(); }

  private async fetch(): Promise<void> {
    let doc: unknown;
    try {
      const r = await httpsRequest(this.url, { agent: this.agent, headers: { accept: 'application/json' }, timeoutMs: this.o.timeoutMs ?? 10_000 });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      doc = JSON.parse(r.body.toString('utf8'));
    } catch (err) {
      throw invalid('keys_unavailable', `cannot fetch the Biscuit root keys from ${this.url.href}: ${(err as Error).message}`, err);
    }
    const keys = importBiscuitKeys(doc, (kid, why) => this.o.logger?.warn?.('biscuit root key skipped', { url: this.url.href, kid, why }));
    if (keys.length === 0) throw new DelegationError('ERR_DELEGATION_INVALID', `${this.url.href} lists no usable Biscuit root key`, { reason: 'keys_unavailable' });
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }
}
