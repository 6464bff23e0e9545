import type { Clock } from '../../common/clock.ts';

/**
 * The sleep of a maintenance loop until its next due time: cut short when earlier work
 * comes up (`rouse`), and observable (`idle`), so a test that moves a fake clock can
 * wait for the work that fell due to be done instead of sleeping for a while.
 */
export class LoopSleep {
  private wake: AbortController | undefined;
  private planned = Infinity;
  private waiters: (() => void)[] = [];

  /** `busy`: whether work outside the loop is in flight (then the loop is not idle). */
  constructor(private readonly clock: Clock, private readonly busy: () => boolean) {}

  /** Sleeps until `at` (clock time), or until roused or `signal` aborts; returns at once when `at` has come. */
  async until(at: number, signal: AbortSignal): Promise<void> {
    const ms = at - this.clock.now();
    if (ms <= 0) return;
    this.wake = new AbortController();
    this.planned = at;
    const slept = this.clock.sleep(ms, AbortSignal.any([signal, this.wake.signal]));
    this.check();
    try { await slept; } catch { /* roused or stopping */ } finally {
      this.wake = undefined;
      this.planned = Infinity;
    }
  }

  /** Wakes the loop now, or, given `at`, only when that comes before its planned wake. */
  rouse(at = -Infinity): void {
    if (at < this.planned) this.wake?.abort();
  }

  /** Resolves once the loop sleeps until a time still ahead and nothing is in flight. */
  idle(): Promise<void> {
    return new Promise((resolve) => { this.waiters.push(resolve); this.check(); });
  }

  /** Work in flight may have finished: releases idle() waiters if the loop is idle now. */
  check(): void {
    if (this.waiters.length === 0) return;
    const asleep = this.wake !== undefined && !this.wake.signal.aborted && this.planned > this.clock.now();
    if (!asleep || this.busy()) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
