import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { AuditRecord, Datastore } from '../datastore/types.ts';

/**
 * Every exchange, refusal and revocation becomes one structured log line and one audit
 * row. The rows are written after the response, in batches, in order: the audit
 * trail must never sit on the token endpoint's hot path, and a datastore hiccup
 * costs a warning, not a request.
 */
export type OAuthEvent = 'oauth.token_exchange' | 'oauth.token_refused' | 'oauth.token_revoked' | 'oauth.introspection';

const MAX_QUEUE = 10_000;

export class OAuthAudit {
  private queue: AuditRecord[] = [];
  private flushing: Promise<void> | undefined;
  private dropped = 0;

  constructor(private readonly o: { store: Pick<Datastore, 'appendAudit'>; logger: Logger; clock: Clock }) {}

  /** Logs now; the audit row follows shortly. `subject` is what the audit trail is searched by. */
  record(event: OAuthEvent, subject: string, data: Record<string, unknown>, level: 'info' | 'warn' = 'info'): void {
    this.o.logger[level](event, { event, ...data });
    if (this.queue.length >= MAX_QUEUE) { this.dropped++; return; }
    this.queue.push({ time: Math.floor(this.o.clock.now() / 1000), event, subject, data });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** A log line only (the audit row is written elsewhere). */
  log(event: OAuthEvent, data: Record<string, unknown>): void {
    this.o.logger.info(event, { event, ...data });
  }

  /** Resolves when every queued row has been written (or given up on). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.queue.length);
        // Handed over together (the store appends them in this order, as one multi-row
        // INSERT): awaiting each in turn would cost one commit, one fsync, per row.
        await Promise.all(batch.map((rec) => this.o.store.appendAudit(rec).catch((e: unknown) => {
          this.o.logger.warn('oauth audit row not written', { event: rec.event, err: e });
        })));
      }
      if (this.dropped > 0) {
        this.o.logger.warn('oauth audit rows dropped: queue full', { count: this.dropped });
        this.dropped = 0;
      }
    } finally { this.flushing = undefined; }
  }
}
