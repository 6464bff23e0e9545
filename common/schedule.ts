import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';

/**
 * A loop that sleeps until its next due time, runs one step, and repeats until stopped;
 * `wake()` cuts the sleep short (an operator's "rotate now", a test). A failed step is
 * logged and retried after a jittered 1–5 s pause, so several servers sharing a store
 * do not retry in lockstep.
 */
export class ScheduleLoop {
  private nap: AbortController | undefined;

  constructor(private readonly o: {
    clock: Clock;
    logger: Logger;
    /** What the log line says failed, e.g. 'oauth signing key rotation step'. */
    what: string;
    /** Epoch ms when the next step is due; <= now runs it at once. */
    nextAt: () => number;
    step: () => Promise<void>;
  }) {}

  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.o;
    while (!signal.aborted) {
      const nap = new AbortController();
      const stop = () => nap.abort();
      signal.addEventListener('abort', stop, { once: true });
      this.nap = nap;
      const wait = this.o.nextAt() - clock.now();
      // Due work runs without a sleep(0): an injected clock may only wake sleepers when moved.
      if (wait > 0) try { await clock.sleep(wait, nap.signal); } catch { /* woken or stopped */ }
      signal.removeEventListener('abort', stop);
      this.nap = undefined;
      if (signal.aborted) return;
      try { await this.o.step(); } catch (e) {
        logger.warn(`${this.o.what} failed`, { err: e });
        try { await clock.sleep(1_000 + Math.random() * 4_000, signal); } catch { return; }
      }
    }
  }

  /** Runs the next step now if the loop is sleeping. */
  wake(): void { this.nap?.abort(); }
}
