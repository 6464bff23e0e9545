import type { DelegationPolicy, PolicyApproval } from '../delegation/types.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * SQL for human approval of escalations (OpenID CIBA; docs/attenuation.md "Human
 * approval"): the approvable part of a delegation policy (a column of its row), and the
 * pending requests an agent polls for. A request lives in the store, not in one server's
 * memory: any server sharing it answers the poll, shows the page, records the decision.
 *
 * Every state change is one conditional UPDATE, so it happens once across servers:
 * pending → approved | denied (only while unexpired), approved → issued (only by the
 * requesting client, only while unexpired). Polls are rate-limited in the same way: the
 * UPDATE that records a poll only matches when the interval has passed; a poll that
 * matches nothing raises the interval by 5 s (CIBA §11 slow_down).
 */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'issued';

export interface NewApprovalRequest {
  /** `apr_…`: the public id (approval page, admin, audit). */
  id: string;
  /** SHA-256 (hex) of the auth_req_id: the agent's handle, never stored itself. */
  reqHash: string;
  /** The requesting agent's SPIFFE ID: only it may poll. */
  clientId: string;
  /** `<issuer>#<subject>`: the user whose authority is extended. */
  subject: string;
  /** Who may decide: `user:<issuer>#<name>` and `group:<issuer>#<group>` principals. */
  approvers: string[];
  /** JSON written by server/oauth/ciba (what the page shows and the grant mints). */
  data: string;
  createdAt: number;
  expiresAt: number;
  /** Seconds the agent must wait between polls. */
  interval: number;
}

export interface ApprovalRequestRecord extends NewApprovalRequest {
  status: ApprovalStatus;
  /** Unix milliseconds of the last accepted poll (0 = none yet). */
  lastPollMs: number;
  decidedAt: number;
  /** `<issuer>#<name>` of the approver, or `admin …`. */
  decidedBy: string;
  /** JSON written by server/oauth/ciba with the decision (the approver's groups). */
  decision: string;
  issuedJti: string;
}

export interface ApprovalDecision {
  status: 'approved' | 'denied';
  by: string;
  at: number;
  decision: string;
}

/** Whether a poll came after the interval; `interval` is the one in force after it. */
export interface ApprovalPoll { tooFast: boolean; interval: number }

/** Rows stay this long past expiry, so a late poll still reads expired_token, not an unknown id. */
export const APPROVAL_RETENTION_S = 3600;
/** The longest interval slow_down raises a request to. */
const MAX_INTERVAL_S = 60;
/** Timer jitter and clock skew between servers a poll is forgiven. */
const POLL_GRACE_MS = 250;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

function rowToApproval(r: Row, approvers: string[]): ApprovalRequestRecord {
  return {
    id: str(r.id), reqHash: str(r.req_hash), clientId: str(r.client_id), subject: str(r.subject), approvers, data: str(r.data),
    createdAt: num(r.created_at), expiresAt: num(r.expires_at), interval: num(r.poll_interval), status: str(r.status) as ApprovalStatus,
    lastPollMs: num(r.last_poll_ms), decidedAt: num(r.decided_at), decidedBy: str(r.decided_by), decision: str(r.decision),
    issuedJti: str(r.issued_jti),
  };
}

async function withApprovers(c: SqlConn, rows: Row[]): Promise<ApprovalRequestRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => str(r.id));
  const by = new Map<string, string[]>(ids.map((id) => [id, []]));
  const list = await c.all(`SELECT request_id, principal FROM approval_approvers WHERE request_id IN (${ids.map(() => '?').join(', ')})
    ORDER BY principal`, ids);
  for (const a of list) by.get(str(a.request_id))?.push(str(a.principal));
  return rows.map((r) => rowToApproval(r, by.get(str(r.id)) ?? []));
}

/** Inside a write transaction: the request and its approver rows commit together. */
export async function insertApproval(c: SqlConn, r: NewApprovalRequest): Promise<void> {
  await c.run(`INSERT INTO approval_requests (id, req_hash, client_id, subject, status, data, created_at, expires_at, poll_interval)
    VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)`, [r.id, r.reqHash, r.clientId, r.subject, r.data, r.createdAt, r.expiresAt, r.interval]);
  for (const p of new Set(r.approvers)) await c.run('INSERT INTO approval_approvers (request_id, principal) VALUES (?, ?)', [r.id, p]);
}

export async function selectApproval(c: SqlConn, by: { id: string } | { reqHash: string }): Promise<ApprovalRequestRecord | undefined> {
  const rows = 'id' in by
    ? await c.all('SELECT * FROM approval_requests WHERE id = ?', [by.id])
    : await c.all('SELECT * FROM approval_requests WHERE req_hash = ?', [by.reqHash]);
  return (await withApprovers(c, rows))[0];
}

/**
 * Newest last. `principals`: only requests one of them may decide; `pendingAt`: only
 * pending requests unexpired at that time.
 */
export async function selectApprovals(c: SqlConn, f: { principals?: string[]; pendingAt?: number; limit?: number } = {}): Promise<ApprovalRequestRecord[]> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (f.pendingAt !== undefined) { clauses.push("status = 'pending' AND expires_at > ?"); params.push(f.pendingAt); }
  if (f.principals !== undefined) {
    if (f.principals.length === 0) return [];
    clauses.push(`id IN (SELECT request_id FROM approval_approvers WHERE principal IN (${f.principals.map(() => '?').join(', ')}))`);
    params.push(...f.principals);
  }
  const where = clauses.length ? `WHERE ${clauses.join(' AND ')} ` : '';
  params.push(f.limit ?? 200);
  return withApprovers(c, await c.all(`SELECT * FROM approval_requests ${where}ORDER BY created_at, id LIMIT ?`, params));
}

/** pending → approved/denied, only while unexpired at `d.at`; false when it was not pending (or expired). */
export async function decideApproval(c: SqlConn, id: string, d: ApprovalDecision): Promise<boolean> {
  // The answer is ready: the next poll is served at once, whenever the last one was (ping clients poll on the ping).
  return await c.run(`UPDATE approval_requests SET status = ?, decided_at = ?, decided_by = ?, decision = ?, last_poll_ms = 0
    WHERE id = ? AND status = 'pending' AND expires_at > ?`, [d.status, d.at, d.by, d.decision, id, d.at]) === 1;
}

/** Records a poll by its client; undefined when no request has this hash for this client. */
export async function pollApproval(c: SqlConn, reqHash: string, clientId: string, nowMs: number): Promise<ApprovalPoll | undefined> {
  const ok = await c.all(`UPDATE approval_requests SET last_poll_ms = ?
    WHERE req_hash = ? AND client_id = ? AND last_poll_ms + poll_interval * 1000 - ? <= ? RETURNING poll_interval`,
  [nowMs, reqHash, clientId, POLL_GRACE_MS, nowMs]);
  if (ok[0]) return { tooFast: false, interval: num(ok[0].poll_interval) };
  const slow = await c.all(`UPDATE approval_requests
    SET poll_interval = CASE WHEN poll_interval + 5 > ? THEN ? ELSE poll_interval + 5 END, last_poll_ms = ?
    WHERE req_hash = ? AND client_id = ? RETURNING poll_interval`, [MAX_INTERVAL_S, MAX_INTERVAL_S, nowMs, reqHash, clientId]);
  return slow[0] ? { tooFast: true, interval: num(slow[0].poll_interval) } : undefined;
}

/** approved → issued, once, for its own client, while unexpired. */
export async function redeemApproval(c: SqlConn, reqHash: string, clientId: string, jti: string, now: number): Promise<boolean> {
  return await c.run(`UPDATE approval_requests SET status = 'issued', issued_jti = ?
    WHERE req_hash = ? AND client_id = ? AND status = 'approved' AND expires_at > ?`, [jti, reqHash, clientId, now]) === 1;
}

export async function deleteApprovals(c: SqlConn, before: number): Promise<number> {
  await c.run('DELETE FROM approval_approvers WHERE request_id IN (SELECT id FROM approval_requests WHERE expires_at <= ?)', [before]);
  return c.run('DELETE FROM approval_requests WHERE expires_at <= ?', [before]);
}

// ---- the approvable part of a policy (column delegation_policies.approval) ----

/** Inside the policy's write transaction: stores `approval` on the row just written; the policy with it. */
export async function writePolicyApproval(c: SqlConn, p: DelegationPolicy, approval: PolicyApproval | undefined): Promise<DelegationPolicy> {
  await c.run('UPDATE delegation_policies SET approval = ? WHERE id = ?', [approval ? JSON.stringify(approval) : '', p.id]);
  return approval ? { ...p, approval: { scopes: [...approval.scopes], approvers: [...approval.approvers] } } : p;
}

/** The policies with their stored approval (read in the same connection as the policies). */
export async function readPolicyApprovals<P extends DelegationPolicy | undefined>(c: SqlConn, policies: P[]): Promise<P[]> {
  const present = policies.filter((p): p is NonNullable<P> => p !== undefined);
  if (present.length === 0) return policies;
  const rows = present.length === 1
    ? await c.all("SELECT id, approval FROM delegation_policies WHERE id = ? AND approval <> ''", [present[0]!.id])
    : await c.all("SELECT id, approval FROM delegation_policies WHERE approval <> ''");
  const by = new Map(rows.map((r) => [str(r.id), JSON.parse(str(r.approval)) as PolicyApproval]));
  return policies.map((p) => (p && by.has(p.id) ? { ...p, approval: by.get(p.id) } : p));
}
