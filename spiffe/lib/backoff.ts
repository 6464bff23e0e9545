/**
 * Exponential backoff with full jitter (AWS "full jitter"): the n-th delay is
 * uniform in [0, min(max, initial * factor^n)], with a floor of initial/2 so a
 * flapping endpoint is never hammered. reset() after a success.
 */
export interface BackoffOptions {
  /** First delay ceiling, ms. Default 500. */
  initialMs?: number;
  /** Largest delay ceiling, ms. Default 30 000. */
  maxMs?: number;
  /** Default 2. */
  factor?: number;
  /** Test seam: uniform [0, 1). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly o: Required<BackoffOptions>;

  constructor(o: BackoffOptions = {}) {
    this.o = { initialMs: 500, maxMs: 30_000, factor: 2, random: Math.random, ...o };
  }

  /** The next delay in ms; each call grows the ceiling. */
  next(): number {
    const ceiling = Math.min(this.o.maxMs, this.o.initialMs * this.o.factor ** this.attempt);
    this.attempt++;
    const floor = Math.min(ceiling, this.o.initialMs / 2);
    return floor + this.o.random() * (ceiling - floor);
  }

  reset(): void { this.attempt = 0; }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
