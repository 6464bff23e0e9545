/**
 * Exponential backoff with jitter for the agent's reconnect and retry loops: each
 * delay is the current base ±`jitter` (fraction), so many agents losing one server
 * at once do not come back in lockstep.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0..1: fraction of the base delay added or removed at random. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private base: number;
  private readonly o: Required<BackoffOptions>;
  constructor(opts: BackoffOptions = {}) {
    this.o = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.2, random: Math.random, ...opts };
    this.base = this.o.initialMs;
  }
  /** The next delay (ms); grows the base for the following call. */
  next(): number {
    const d = this.base * (1 + this.o.jitter * (2 * this.o.random() - 1));
    this.base = Math.min(this.o.maxMs, this.base * this.o.factor);
    return Math.max(0, Math.round(d));
  }
  reset(): void { this.base = this.o.initialMs; }
}
