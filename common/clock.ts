/** Time source, injected wherever time matters so tests control it. Milliseconds. */
export interface Clock {
  now(): number;
  /** Resolves after `ms` of this clock's time, or rejects when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal!.reason ?? new Error('aborted')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

/** A clock tests move by hand; sleepers wake when `advance` passes their deadline. */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: { at: number; resolve: () => void }[] = [];
  constructor(start = Date.UTC(2026, 0, 1)) { this.t = start; }
  now(): number { return this.t; }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((x) => x !== s);
        reject(signal!.reason ?? new Error('aborted'));
      };
      // Remove the listener once woken: long loops reuse one signal for every sleep.
      const s = { at: this.t + ms, resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(); } };
      this.sleepers.push(s);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.resolve();
  }
}
