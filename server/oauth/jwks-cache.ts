import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';

/**
 * A remote JWKS held in memory: the signing keys of a trusted IdP (trusted-issuers.ts)
 * or of a trusted home authorization server (chaining/domain-keys.ts). Fetched at start
 * and again only for a key not in the set, at most once per refetch interval (made-up
 * kids must not turn us into a request amplifier), one fetch at a time: a request that
 * finds a fetch under way waits for it rather than starting another.
 *
 * Where the document comes from (discovery, TLS by a private CA or by a federated
 * bundle) and what is logged are the owner's; the cache only keeps the keys.
 */
export interface JwksKey { key: KeyObject; alg?: string }

export interface JwksCacheOptions {
  clock: Clock;
  /** Fetches the JWKS document; `uri` names it in errors. */
  fetch(): Promise<{ uri: string; doc: unknown }>;
  /** The least time between two fetches a miss may cause (ms). */
  refetchMs: number;
  /** The same while the set is empty (the start-up fetch failed): a shorter wait; refetchMs when not given. */
  emptyRefetchMs?: number;
  /**
   * Keys without a kid: 'skip' them, or 'number' them `#0`, `#1`… (an IdP with a single
   * unnamed key is still usable for tokens without a kid).
   */
  unnamed: 'skip' | 'number';
  loaded(uri: string, kids: string[]): void;
  failed(reason: string): void;
}

export class JwksCache {
  private current = new Map<string, JwksKey>();
  private inflight: Promise<void> | undefined;
  private attemptedAt = -Infinity;
  /** Bumped whenever the key set is replaced: what was verified with the old set is verified again. */
  generation = 0;
  fetchedAt = -Infinity;
  lastError: string | undefined;

  constructor(private readonly o: JwksCacheOptions) {}

  get keys(): ReadonlyMap<string, JwksKey> { return this.current; }

  /** Starts a fetch without waiting for it (server start must not hang on a remote key set). */
  warm(): void { void this.refresh().catch(() => undefined); }

  /** Resolves when no fetch is under way (whether the last one failed or not). */
  settled(): Promise<void> { return (this.inflight ?? Promise.resolve()).catch(() => undefined); }

  /**
   * The key `lookup` picks from the set, fetching the JWKS again when it picks none and
   * the refetch interval has passed; undefined when there is none after that.
   */
  async find(lookup: (keys: ReadonlyMap<string, JwksKey>) => JwksKey | undefined): Promise<JwksKey | undefined> {
    await this.settled();
    let hit = lookup(this.current);
    const interval = this.current.size === 0 ? this.o.emptyRefetchMs ?? this.o.refetchMs : this.o.refetchMs;
    if (!hit && this.o.clock.now() - this.attemptedAt >= interval) {
      await this.refresh().catch(() => undefined);
      hit = lookup(this.current);
    }
    return hit;
  }

  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.o.clock.now();
    try {
      const { uri, doc } = await this.o.fetch();
      const keys = jwksKeys(doc, uri, this.o.unnamed);
      this.current = keys;
      this.generation++;
      this.fetchedAt = this.o.clock.now();
      this.lastError = undefined;
      this.o.loaded(uri, [...keys.keys()]);
    } catch (e) {
      this.lastError = (e as Error).message;
      this.o.failed(this.lastError);
      throw e;
    }
  }
}

/** The signature keys of a JWKS document by kid; a key node:crypto cannot import is left out. */
export function jwksKeys(doc: unknown, uri: string, unnamed: 'skip' | 'number'): Map<string, JwksKey> {
  const list = (doc as { keys?: unknown } | null | undefined)?.keys;
  if (!Array.isArray(list)) throw new Error(`${uri} is not a JWKS (no keys list)`);
  const keys = new Map<string, JwksKey>();
  let anonymous = 0;
  for (const jwk of list as (JsonWebKey & { kid?: unknown; use?: string; alg?: unknown })[]) {
    // node:crypto imports only these as public keys (an oct key never is).
    if (typeof jwk !== 'object' || jwk === null || (jwk.use !== undefined && jwk.use !== 'sig') || !['EC', 'RSA', 'OKP'].includes(String(jwk.kty))) continue;
    if (typeof jwk.kid !== 'string' && unnamed === 'skip') continue;
    try {
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      keys.set(typeof jwk.kid === 'string' ? jwk.kid : `#${anonymous++}`, { key, ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}) });
    } catch { /* a key we cannot use verifies nothing */ }
  }
  return keys;
}
