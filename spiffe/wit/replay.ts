import { WitError } from './errors.ts';

export interface ReplayCacheOptions {
  /** Proofs remembered at once. When full of unexpired ones, new proofs are refused (fail closed). Default 100 000. */
  maxEntries?: number;
}

/**
 * Remembers the jti of every accepted Workload Proof Token until the proof expires
 * (draft-ietf-wimse-wpt 2 and 3: jti unseen within its validity window, per sender), so
 * a captured WIT + WPT pair cannot be played again against this recipient. Memory is
 * bounded by short proof lifetimes and `maxEntries`.
 */
export class JtiReplayCache {
  private readonly seen = new Map<string, number>();
  private readonly max: number;

  constructor(o: ReplayCacheOptions = {}) {
    this.max = o.maxEntries ?? 100_000;
  }

  get size(): number { return this.seen.size; }

  /** Records (sender, jti) until `expiresAtMs`; throws ERR_WPT_REPLAYED if it is already there. */
  use(sender: string, jti: string, expiresAtMs: number, nowMs: number): void {
    const key = `${sender} ${jti}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > nowMs) throw new WitError('ERR_WPT_REPLAYED', 'replayed', `proof ${jti} of ${sender} was already used`);
    if (this.seen.size >= this.max) this.sweep(nowMs);
    if (this.seen.size >= this.max) {
      throw new WitError('ERR_WPT_REPLAYED', 'replay_cache_full', `replay cache holds ${this.max} unexpired proofs; refusing until some expire`);
    }
    this.seen.set(key, expiresAtMs);
  }

  sweep(nowMs: number): void {
    for (const [k, until] of this.seen) if (until <= nowMs) this.seen.delete(k);
  }
}
