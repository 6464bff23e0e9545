import type { Logger } from '../../common/logger.ts';
import type { AuditRecord, Datastore } from '../datastore/types.ts';

/** What the wrapper needs of the store: the batched append and the queue bound. */
export type IssuanceAuditBase = Pick<Datastore, 'appendAudit' | 'appendAuditBatched' | 'logRoom'>;

/** How long an issuance waits for room in a full log queue before it fails with ERR_AUDIT_BACKLOG. */
export const ISSUANCE_BACKLOG_WAIT_MS = 5000;

/**
 * The datastore as the issuance paths (attestation, agent renewal, refused attestations)
 * see it: `appendAudit` acknowledges once the record is queued in the log's batcher, not
 * once it is committed, so an SVID is never held back by a commit that waits out a
 * batching window or a slow fsync (docs/audit.md "Durability per event kind").
 *
 * Nothing is dropped: the audit row and its leaf are written together in the batch's
 * transaction, retried while the database is away. The queue is bounded: when it is
 * full the issuance waits for room, then fails with ERR_AUDIT_BACKLOG before the reply,
 * so an SVID that cannot be audited is not handed out. What this gives up is durability
 * across a crash: a kill -9 within the batching window (≤ 250 ms) loses the queued
 * records, as it does the issuance events already recorded this way (AuditLog.record).
 * Admin changes keep the plain store, whose appendAudit waits for the commit.
 */
export function issuanceAuditStore<S extends IssuanceAuditBase>(store: S, o: { logger: Logger; backlogWaitMs?: number }): S {
  const log = o.logger.child({ component: 'audit-log' });
  const appendAudit = async (rec: AuditRecord): Promise<void> => {
    await store.logRoom(o.backlogWaitMs ?? ISSUANCE_BACKLOG_WAIT_MS);
    store.appendAuditBatched(rec).catch((err: unknown) =>
      log.error('audit record not written to the transparency log', { err: err as Error, event: rec.event, subject: rec.subject }));
  };
  return withAppendAudit(store, appendAudit);
}

/**
 * The store with its own `appendAudit` replaced and everything else passed through to it
 * (bound once per method: the agent API calls through this on every request).
 */
export function withAppendAudit<S extends Pick<Datastore, 'appendAudit'>>(store: S, appendAudit: (rec: AuditRecord) => Promise<void>): S {
  const bound = new Map<PropertyKey, unknown>([['appendAudit', appendAudit]]);
  return new Proxy(store, {
    get(target, prop) {
      if (bound.has(prop)) return bound.get(prop);
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      bound.set(prop, fn);
      return fn;
    },
  });
}
