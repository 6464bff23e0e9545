import { TesseraError } from '../../common/errors.ts';

/**
 * Per-uid bounds on token exchanges. Any local user can call the socket, and each
 * exchange makes the agent open an mTLS connection to the authorization server, so a
 * user gets a few exchanges in flight and a steady rate (token bucket) — like the
 * Workload API's per-uid connection and stream caps, refused with ResourceExhausted.
 */
export interface ExchangeLimits {
  /** Exchanges one uid may have in flight. Default 8. */
  maxInFlightPerUid?: number;
  /** Sustained exchanges per second per uid. Default 10. */
  ratePerUid?: number;
  /** Burst size per uid (bucket capacity). Default 20. */
  burstPerUid?: number;
}

export const DEFAULT_EXCHANGE_LIMITS: Required<ExchangeLimits> = { maxInFlightPerUid: 8, ratePerUid: 10, burstPerUid: 20 };

interface UidState { inFlight: number; tokens: number; at: number }

export class ExchangeLimiter {
  private readonly limits: Required<ExchangeLimits>;
  private readonly now: () => number;
  private readonly perUid = new Map<number, UidState>();

  constructor(limits: ExchangeLimits | undefined, now: () => number) {
    this.limits = { ...DEFAULT_EXCHANGE_LIMITS, ...limits };
    this.now = now;
  }

  /** Takes one slot for `uid`, or throws resource_exhausted; call the returned function when done. */
  acquire(uid: number): () => void {
    const now = this.now();
    if (this.perUid.size > SWEEP_AT) this.sweep(now);
    const s = this.perUid.get(uid) ?? { inFlight: 0, tokens: this.limits.burstPerUid, at: now };
    s.tokens = Math.min(this.limits.burstPerUid, s.tokens + ((now - s.at) / 1000) * this.limits.ratePerUid);
    s.at = now;
    if (s.inFlight >= this.limits.maxInFlightPerUid) {
      this.keep(uid, s);
      throw new TesseraError('resource_exhausted', 'ERR_DELEGATION_TOO_MANY_EXCHANGES',
        `too many token exchanges in flight for uid ${uid} (limit ${this.limits.maxInFlightPerUid})`);
    }
    if (s.tokens < 1) {
      this.keep(uid, s);
      throw new TesseraError('resource_exhausted', 'ERR_DELEGATION_RATE_LIMITED',
        `token exchange rate for uid ${uid} exceeds ${this.limits.ratePerUid}/s (burst ${this.limits.burstPerUid})`);
    }
    s.tokens -= 1;
    s.inFlight += 1;
    this.perUid.set(uid, s);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      s.inFlight -= 1;
      this.keep(uid, s);
    };
  }

  /** Number of uids with remembered state (tests). */
  get size(): number { return this.perUid.size; }

  // A uid with nothing in flight and a full bucket is the same as a uid never seen:
  // forget it, so the map holds only recently active uids.
  private keep(uid: number, s: UidState): void {
    if (s.inFlight === 0 && s.tokens >= this.limits.burstPerUid) this.perUid.delete(uid);
    else this.perUid.set(uid, s);
  }

  private sweep(now: number): void {
    for (const [uid, s] of this.perUid) {
      const tokens = s.tokens + ((now - s.at) / 1000) * this.limits.ratePerUid;
      if (s.inFlight === 0 && tokens >= this.limits.burstPerUid) this.perUid.delete(uid);
    }
  }
}

/** Remembered uids beyond which idle, refilled ones are swept on the next acquire. */
const SWEEP_AT = 256;
