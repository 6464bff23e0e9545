import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { TesseraError, unavailable } from '../../common/errors.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import type { SvidSigner } from './x509-minter.ts';

/**
 * One retry schedule for everything the SVID cache asks of the server. After a call
 * fails because the server could not be reached, nothing more is sent until the
 * backoff delay (with jitter) has passed: requests arriving meanwhile fail at once
 * with Unavailable, and the cache's loop makes the next attempt for every SVID still
 * waiting. An outage so costs one attempt and one log line per backoff step, however
 * many workloads ask; the first success, or a sign from elsewhere that the server is
 * back (the entry sync reconnected), ends it for everyone.
 *
 * A refusal (permission denied, not found, …) is an answer: the server is reachable.
 */
export class RetryGate {
  private retryAt = 0;
  private outage: { since: number; attempts: number; err: unknown } | undefined;

  constructor(private readonly o: { backoff: Backoff; clock: Clock; logger: Logger }) {}

  /** When the next call may go out; 0 = now. */
  get nextAttemptAt(): number { return this.retryAt > this.o.clock.now() ? this.retryAt : 0; }

  /** True from a failed call until the next successful one. */
  get down(): boolean { return this.outage !== undefined; }

  /** Throws Unavailable while waiting out a failure; returns when a call may go out. */
  check(what: string): void {
    const now = this.o.clock.now();
    if (!this.outage || now >= this.retryAt) return;
    const err = this.outage.err;
    throw unavailable('ERR_SERVER_UNAVAILABLE',
      `cannot ${what}: the server has been unreachable for ${Math.round((now - this.outage.since) / 1000)} s `
      + `(${this.outage.attempts} attempts, next in ${this.retryAt - now} ms): ${err instanceof Error ? err.message : String(err)}`, err);
  }

  /** Wraps a signer so every call checks the gate first and reports how it went. */
  guard(signer: SvidSigner): SvidSigner {
    const run = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
      this.check(what);
      let r: T;
      try { r = await call(); } catch (e) {
        if (unreachable(e)) this.failed(e); else this.succeeded();
        throw e;
      }
      this.succeeded();
      return r;
    };
    return {
      batchSignX509Svids: (p) => run('mint X.509-SVIDs', () => signer.batchSignX509Svids(p)),
      mintJwtSvid: (p) => run('mint a JWT-SVID', () => signer.mintJwtSvid(p)),
    };
  }

  /** A call could not reach the server. The first failure of an attempt schedules the next. */
  failed(err: unknown): void {
    const now = this.o.clock.now();
    if (now < this.retryAt) return; // a concurrent call of the same attempt already did
    const wait = Math.round(this.o.backoff.next());
    this.retryAt = now + wait;
    this.outage ??= { since: now, attempts: 0, err };
    this.outage.attempts++;
    this.outage.err = err;
    this.o.logger.warn('server unreachable: no SVIDs are minted until the next attempt; valid SVIDs keep being served',
      { attempt: this.outage.attempts, retry_in_ms: wait, err: err instanceof Error ? err : String(err) });
  }

  /** The server answered; returns true when that ended an outage. */
  succeeded(): boolean {
    this.retryAt = 0;
    this.o.backoff.reset();
    if (!this.outage) return false;
    this.o.logger.info('server reachable again: minting resumes',
      { down_ms: this.o.clock.now() - this.outage.since, attempts: this.outage.attempts });
    this.outage = undefined;
    return true;
  }

  /** The server was reached by another path: the next attempt may go out now. True if one was waiting. */
  reachable(): boolean {
    if (!this.outage || this.retryAt === 0) return false;
    this.retryAt = 0;
    return true;
  }
}

/**
 * The gate's backoff, readable from outside the cache: the gate takes a delay for each
 * failed attempt and resets on the first success, so `failing` is true exactly while
 * the gate is down. The agent checks it before passing on a sign that the server
 * answers (a sync message): such signs arrive on every entry change, and only one
 * that ends an outage should wake the cache.
 */
export class RetryBackoff extends Backoff {
  private counting = false;
  get failing(): boolean { return this.counting; }
  override next(): number { this.counting = true; return super.next(); }
  override reset(): void { this.counting = false; super.reset(); }
}

/** Errors that say nothing reached the server (or it could not answer), as opposed to a refusal. */
function unreachable(e: unknown): boolean {
  if (!(e instanceof TesseraError)) return true;
  return e.kind === 'unavailable' || e.kind === 'deadline_exceeded' || e.kind === 'resource_exhausted' || e.kind === 'internal';
}
