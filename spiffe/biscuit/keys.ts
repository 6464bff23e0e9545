import { invalid } from '../delegation/errors.ts';
import { issuerUrl } from '../delegation/https.ts';
import { RemoteKeyDocument } from '../delegation/remote-keys.ts';
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
  private readonly doc: RemoteKeyDocument<BiscuitRootKey>;
  private readonly now: () => number;

  constructor(private readonly o: RemoteBiscuitKeysOptions) {
    this.now = o.now ?? Date.now;
    this.doc = new RemoteKeyDocument({ ...o, now: this.now, url: issuerUrl(o.issuer, '/oauth2/biscuit-keys'), what: 'the Biscuit root keys', parse: importBiscuitKeys });
  }

  rootKey(id: number | undefined): BiscuitRootKey | undefined { return id === undefined ? undefined : this.byId.get(id); }

  async refresh(): Promise<void> {
    if (!this.doc.inflight && this.byId.size > 0 && this.now() - this.doc.fetchedAt < (this.o.cooldownMs ?? 30_000)) return;
    await this.doc.refresh();
    this.byId = new Map(this.doc.keys.map((k) => [k.id, k]));
  }

  close(): void { this.doc.close(); }
}
