import { Backoff } from '../../spiffe/lib/backoff.ts';
import { refusedRetryTime } from './rotation.ts';

/** What RefusalRetries reads and sets on a cached SVID. */
export interface Refusable { notAfter: number; rotateAt: number; refused: boolean }

/**
 * Retries of SVID rotations the server refused (it answered: not an outage). They
 * follow one backoff, but each SVID is retried before it expires
 * (rotation.ts#refusedRetryTime), and all of them at once after a sign that the cause
 * may have cleared: the agent SVID was renewed, the entry sync reconnected. A refusal
 * of a call that went out before such a sign (made with an agent SVID that was
 * superseded while it was out) is retried at once as well.
 */
export class RefusalRetries {
  private readonly backoff: Backoff;
  private signs = 0;

  constructor(backoff?: Backoff) {
    this.backoff = backoff ?? new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  }

  /** Taken when a call goes out, handed back to `refused`. */
  get mark(): number { return this.signs; }

  /** A rotation went through: the next refusal starts the backoff over. */
  succeeded(): void { this.backoff.reset(); }

  /** Schedules the retries of SVIDs refused by a call made at `mark`; returns the earliest. */
  refused(svids: readonly Refusable[], mark: number, now: number): number {
    const backoffAt = mark === this.signs ? now + this.backoff.next() : now;
    let next = Infinity;
    for (const r of svids) {
      r.refused = true;
      r.rotateAt = refusedRetryTime(backoffAt, r.notAfter, now);
      next = Math.min(next, r.rotateAt);
    }
    return next;
  }

  /** The cause may have cleared: refused SVIDs are due now, on a fresh backoff. Returns how many are. */
  cleared(svids: Iterable<Refusable>, now: number): number {
    this.signs++;
    this.backoff.reset();
    let due = 0;
    for (const r of svids) if (r.refused && r.rotateAt > now) { r.rotateAt = now; due++; }
    return due;
  }
}
