import { randomBytes } from 'node:crypto';
import { alreadyExists, failedPrecondition, notFound } from '../../common/errors.ts';
import type { DelegationPolicy, NewDelegationPolicy, RevocationKind, RevocationRecord } from '../delegation/types.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';
import type { ChangeKind, OAuthKeyRecord } from './types.ts';

/**
 * SQL for delegated authority (docs/delegation.md): policies, revocation records,
 * single-use token hashes and the OAuth token-signing public keys. Shared by SQLite and
 * PostgreSQL through SqlStore, which runs writes in its change-logging transaction.
 */

/** Appends a change event inside the current write transaction (SqlStore's `log`). */
export type LogChange = (kind: ChangeKind, id: string) => Promise<void>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
const list = (v: unknown): string[] => JSON.parse(str(v)) as string[];

export const policyExists = (id: string) =>
  alreadyExists('ERR_POLICY_EXISTS', `a delegation policy with id "${id}" already exists`);
export const policyNotFound = (id: string) =>
  notFound('ERR_POLICY_NOT_FOUND', `delegation policy "${id}" not found`);
export const policyRevisionMismatch = (id: string, expected: number, actual: number) =>
  failedPrecondition('ERR_POLICY_REVISION',
    `delegation policy "${id}": revision ${expected} was expected but the stored revision is ${actual}`);

/** `pol_` + 16 base64url characters (96 random bits). */
export const newPolicyId = (): string => `pol_${randomBytes(12).toString('base64url')}`;

const POLICY_COLUMNS = [
  'id', 'description', 'actors', 'subject_issuer', 'subjects', 'user_groups', 'audiences', 'scopes',
  'max_ttl', 'max_depth', 'may_delegate_to', 'revision', 'created_at', 'updated_at', 'budgets',
] as const;
const POLICY_INSERT = `INSERT INTO delegation_policies (${POLICY_COLUMNS.join(', ')})
  VALUES (${POLICY_COLUMNS.map(() => '?').join(', ')})`;
const POLICY_UPDATE = `UPDATE delegation_policies SET ${POLICY_COLUMNS.filter((c) => c !== 'id' && c !== 'created_at')
  .map((c) => `${c} = ?`).join(', ')} WHERE id = ?`;

function policyParams(p: NewDelegationPolicy & { id: string }, revision: number, createdAt: number, updatedAt: number): unknown[] {
  return [
    p.id, p.description, JSON.stringify(p.actors), p.subjectIssuer, JSON.stringify(p.subjects),
    JSON.stringify(p.groups), JSON.stringify(p.audiences), JSON.stringify(p.scopes), p.maxTtl, p.maxDepth,
    JSON.stringify(p.mayDelegateTo), revision, createdAt, updatedAt, JSON.stringify(p.budgets ?? {}),
  ];
}

function toPolicy(p: NewDelegationPolicy & { id: string }, revision: number, createdAt: number): DelegationPolicy {
  return {
    id: p.id, description: p.description, actors: [...p.actors], subjectIssuer: p.subjectIssuer,
    subjects: [...p.subjects], groups: [...p.groups], audiences: [...p.audiences], scopes: [...p.scopes],
    maxTtl: p.maxTtl, maxDepth: p.maxDepth, mayDelegateTo: [...p.mayDelegateTo], revision, createdAt,
    budgets: { ...p.budgets },
  };
}

export function rowToPolicy(r: Row): DelegationPolicy {
  return {
    id: str(r.id), description: str(r.description), actors: list(r.actors), subjectIssuer: str(r.subject_issuer),
    subjects: list(r.subjects), groups: list(r.user_groups), audiences: list(r.audiences), scopes: list(r.scopes),
    maxTtl: num(r.max_ttl), maxDepth: num(r.max_depth), mayDelegateTo: list(r.may_delegate_to),
    revision: num(r.revision), createdAt: num(r.created_at),
    budgets: JSON.parse(str(r.budgets ?? '{}') || '{}') as Record<string, number>,
  };
}

export async function insertPolicy(c: SqlConn, log: LogChange, p: NewDelegationPolicy, now: number): Promise<DelegationPolicy> {
  const id = p.id ?? newPolicyId();
  // Inside the write transaction (the change log's lock), so check-then-insert cannot race.
  if ((await c.all('SELECT 1 FROM delegation_policies WHERE id = ?', [id])).length) throw policyExists(id);
  await c.run(POLICY_INSERT, policyParams({ ...p, id }, 1, now, now));
  await log('delegation_policy', id);
  return toPolicy({ ...p, id }, 1, now);
}

export async function updatePolicy(c: SqlConn, log: LogChange,
  p: NewDelegationPolicy & { id: string; expectRevision?: number }, now: number): Promise<DelegationPolicy> {
  const cur = (await c.all('SELECT revision, created_at FROM delegation_policies WHERE id = ?', [p.id]))[0];
  if (!cur) throw policyNotFound(p.id);
  const revision = num(cur.revision);
  if (p.expectRevision !== undefined && p.expectRevision !== revision) throw policyRevisionMismatch(p.id, p.expectRevision, revision);
  const createdAt = num(cur.created_at);
  const params = policyParams(p, revision + 1, createdAt, now)
    .filter((_, i) => POLICY_COLUMNS[i] !== 'id' && POLICY_COLUMNS[i] !== 'created_at');
  await c.run(POLICY_UPDATE, [...params, p.id]);
  await log('delegation_policy', p.id);
  return toPolicy(p, revision + 1, createdAt);
}

export async function deletePolicy(c: SqlConn, log: LogChange, id: string): Promise<boolean> {
  if (await c.run('DELETE FROM delegation_policies WHERE id = ?', [id]) === 0) return false;
  await log('delegation_policy', id);
  return true;
}

export async function selectPolicy(c: SqlConn, id: string): Promise<DelegationPolicy | undefined> {
  const rows = await c.all('SELECT * FROM delegation_policies WHERE id = ?', [id]);
  return rows[0] ? rowToPolicy(rows[0]) : undefined;
}

export async function selectPolicies(c: SqlConn): Promise<DelegationPolicy[]> {
  return (await c.all('SELECT * FROM delegation_policies ORDER BY id')).map(rowToPolicy);
}

// ---- revocations ----

function rowToRevocation(r: Row): RevocationRecord {
  const rec: RevocationRecord = {
    seq: num(r.seq), kind: str(r.kind) as RevocationKind, value: str(r.value), at: num(r.at), expiresAt: num(r.expires_at),
  };
  if (r.revoked_by) rec.by = str(r.revoked_by);
  return rec;
}

export async function insertRevocation(c: SqlConn, log: LogChange, r: Omit<RevocationRecord, 'seq'>): Promise<RevocationRecord> {
  // Written under the change log's lock, so revocation seqs commit in increasing order
  // and a reader of listRevocations({afterSeq}) never skips one that commits later.
  const rows = await c.all('INSERT INTO revocations (kind, value, at, expires_at, revoked_by) VALUES (?, ?, ?, ?, ?) RETURNING seq',
    [r.kind, r.value, r.at, r.expiresAt, r.by ?? '']);
  const seq = num(rows[0].seq);
  await log('revocation', String(seq));
  const rec: RevocationRecord = { seq, kind: r.kind, value: r.value, at: r.at, expiresAt: r.expiresAt };
  if (r.by) rec.by = r.by;
  return rec;
}

export async function selectRevocations(c: SqlConn, opts: { afterSeq?: number; liveAt?: number } = {}): Promise<RevocationRecord[]> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (opts.afterSeq !== undefined) { clauses.push('seq > ?'); params.push(opts.afterSeq); }
  if (opts.liveAt !== undefined) { clauses.push('expires_at > ?'); params.push(opts.liveAt); }
  const where = clauses.length ? `WHERE ${clauses.join(' AND ')} ` : '';
  return (await c.all(`SELECT * FROM revocations ${where}ORDER BY seq`, params)).map(rowToRevocation);
}

export async function deleteRevocations(c: SqlConn, before: number): Promise<number> {
  return c.run('DELETE FROM revocations WHERE expires_at <= ?', [before]);
}

// ---- single-use tokens ----

/** One INSERT ... ON CONFLICT DO NOTHING: whichever engine, exactly one caller inserts the row. */
export async function insertUsedToken(c: SqlConn, hash: string, expiresAt: number): Promise<boolean> {
  return await c.run('INSERT INTO used_tokens (token_hash, expires_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING',
    [hash, expiresAt]) === 1;
}

export async function deleteUsedTokens(c: SqlConn, before: number): Promise<number> {
  return c.run('DELETE FROM used_tokens WHERE expires_at <= ?', [before]);
}

// ---- OAuth signing keys ----

export async function upsertOAuthKey(c: SqlConn, log: LogChange, k: OAuthKeyRecord): Promise<void> {
  await c.run(`INSERT INTO oauth_keys (kid, public_key, alg, not_after) VALUES (?, ?, ?, ?)
    ON CONFLICT (kid) DO UPDATE SET public_key = excluded.public_key, alg = excluded.alg, not_after = excluded.not_after`,
  [k.kid, Buffer.from(k.publicKey).toString('base64'), k.alg, k.notAfter]);
  await log('oauth_key', k.kid);
}

export async function selectOAuthKeys(c: SqlConn): Promise<OAuthKeyRecord[]> {
  return (await c.all('SELECT * FROM oauth_keys ORDER BY kid')).map((r) => ({
    kid: str(r.kid), publicKey: new Uint8Array(Buffer.from(str(r.public_key), 'base64')), alg: str(r.alg), notAfter: num(r.not_after),
  }));
}

export async function deleteOAuthKeys(c: SqlConn, log: LogChange, before: number): Promise<number> {
  const rows = await c.all('DELETE FROM oauth_keys WHERE not_after <= ? RETURNING kid', [before]);
  for (const r of rows) await log('oauth_key', str(r.kid));
  return rows.length;
}
