import { insertApproval, type NewApprovalRequest } from './sql-approvals.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * The cap on pending approval requests of one agent for one user (docs/attenuation.md
 * "Limits"), so an agent cannot flood its approvers. Counted and inserted inside the
 * change-log write transaction, which every server sharing the store serialises
 * (SQLite's write lock, PostgreSQL's advisory lock): two servers cannot both see
 * `max - 1` and both insert.
 */
export type PendingLimitResult =
  | { stored: true }
  /** `pending`: how many are pending now; `nextExpiry`: unix seconds when the oldest of them expires. */
  | { stored: false; pending: number; nextExpiry: number };

export async function insertApprovalWithinLimit(c: SqlConn, r: NewApprovalRequest, maxPending: number, now: number): Promise<PendingLimitResult> {
  const rows = await c.all(`SELECT COUNT(*) AS n, MIN(expires_at) AS next FROM approval_requests
    WHERE client_id = ? AND subject = ? AND status = 'pending' AND expires_at > ?`, [r.clientId, r.subject, now]);
  const pending = Number(rows[0]?.n ?? 0);
  if (pending >= maxPending) return { stored: false, pending, nextExpiry: Number(rows[0]?.next ?? now) };
  await insertApproval(c, r);
  return { stored: true };
}
