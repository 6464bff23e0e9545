import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { AuditRecord, Datastore } from '../datastore/types.ts';

/**
 * Every exchange, refusal and revocation becomes one structured log line, one audit row
 * and one transparency-log event (docs/audit.md). Row and event are written after the
 * response, together, through the log's batcher: one transaction per batch, never a
 * commit per request.
 *
 * Nothing is ever dropped, as with the issuance events (server/audit/log.ts): a grant
 * first waits for room (`admit`: at once normally; when the queue is full, at most
 * backlogWaitMs, then unavailable ERR_AUDIT_BACKLOG, a 503, before the request has
 * changed anything), then records. A batch the datastore refuses because it is away
 * stays queued and is retried.
 */
export type OAuthEvent = 'oauth.token_exchange' | 'oauth.token_refused' | 'oauth.token_revoked' | 'oauth.introspection'
  | 'oauth.approval_requested' | 'oauth.approval_refused' | 'oauth.approval_approved' | 'oauth.approval_denied'
  | 'authzen.permitted' | 'authzen.denied'
  // Identity chaining across trust domains (docs/identity-chaining.md).
  | 'oauth.chaining_grant_issued' | 'oauth.chaining_grant_redeemed' | 'oauth.chaining_grant_refused';

export type OAuthAuditStore = Pick<Datastore, 'appendAuditBatched' | 'logRoom' | 'logFlushed'>;

const BACKLOG_WAIT_MS = 5000;
/** At shutdown, how long queued events get to land (real time: the database decides). */
const CLOSE_WAIT_MS = 5000;

export class OAuthAudit {
  private readonly backlogWaitMs: number;

  constructor(private readonly o: {
    store: OAuthAuditStore; logger: Logger; clock: Clock;
    /** How long `admit` waits for room in a full queue. Default 5 s. */
    backlogWaitMs?: number;
  }) {
    this.backlogWaitMs = o.backlogWaitMs ?? BACKLOG_WAIT_MS;
  }

  /**
   * Resolves at once while the queue has room; otherwise when it has (at most
   * backlogWaitMs), or rejects with unavailable ERR_AUDIT_BACKLOG. Grants call it before
   * they act: an action that cannot be audited is not taken.
   */
  admit(): Promise<void> {
    return this.o.store.logRoom(this.backlogWaitMs);
  }

  /** Logs now; the audit row and the log event follow shortly. `subject` is what the audit trail is searched by. */
  record(event: OAuthEvent, subject: string, data: Record<string, unknown>, level: 'info' | 'warn' = 'info'): void {
    this.o.logger[level](event, { event, ...data });
    const rec: AuditRecord = { time: Math.floor(this.o.clock.now() / 1000), event, subject, data };
    // Queued even past the bound: whoever records was admitted (or cannot wait), and nothing is dropped.
    this.o.store.appendAuditBatched(rec).catch((err: unknown) =>
      this.o.logger.error('oauth audit event not written', { event, subject, err: err as Error }));
  }

  /** A log line only (the audit row is written elsewhere). */
  log(event: OAuthEvent, data: Record<string, unknown>): void {
    this.o.logger.info(event, { event, ...data });
  }

  /** Shutdown: waits (at most CLOSE_WAIT_MS) for the queued events to be written. */
  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const landed = await Promise.race([
      this.o.store.logFlushed().then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    if (!landed) this.o.logger.error('oauth audit events still queued at shutdown: the datastore is not answering; the store retries them until it closes');
  }
}
