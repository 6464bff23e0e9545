import type { RevocationRecord } from '../delegation/types.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * SQL for refresh tokens (docs/mcp.md "Refresh tokens"): one row per refresh token,
 * stored by the SHA-256 of its value, grouped in families by the delegation grant they
 * extend. Rotation is one conditional UPDATE of the presented token plus the INSERT of
 * its successor in the same transaction, so exactly one caller — on any server sharing
 * the database — rotates a given token; every other presentation finds it used.
 *
 * A family dies with its grant: a revocation record (grant, subject or actor) marks the
 * matching rows revoked in the same transaction that writes the record, so the refusal
 * outlives the record itself (records leave the feed after the longest access-token
 * lifetime; refresh tokens live far longer).
 */
export interface NewRefreshToken {
  hash: string;
  grantId: string;
  clientId: string;
  /** The token's `sub` (`<idp issuer>#<subject>`): what subject revocations match. */
  subject: string;
  /** The client's SPIFFE ID when it is an attested workload, else '': what actor revocations match. */
  actor: string;
  /** RFC 8705 thumbprint of the certificate the client authenticated with when it got this token ('' otherwise). */
  x5t: string;
  /** JSON written by server/oauth/refresh-tokens.ts (subject parts, scopes, resource). */
  data: string;
  issuedAt: number;
  expiresAt: number;
}

export interface RefreshTokenRecord extends NewRefreshToken {
  /** Unix seconds it was rotated (0 = never: the family's current token). */
  usedAt: number;
  /** Unix seconds its family was revoked (0 = not revoked). */
  revokedAt: number;
}

/** Rows stay this long past expiry, so a late reuse of a rotated token is still recognised as one. */
export const REFRESH_RETENTION_S = 86_400;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

function rowToRefresh(r: Row): RefreshTokenRecord {
  return {
    hash: str(r.token_hash), grantId: str(r.grant_id), clientId: str(r.client_id), subject: str(r.subject), actor: str(r.actor),
    x5t: str(r.x5t), data: str(r.data), issuedAt: num(r.issued_at), expiresAt: num(r.expires_at), usedAt: num(r.used_at),
    revokedAt: num(r.revoked_at),
  };
}

export async function insertRefresh(c: SqlConn, t: NewRefreshToken): Promise<void> {
  await c.run(`INSERT INTO oauth_refresh_tokens (token_hash, grant_id, client_id, subject, actor, x5t, data, issued_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  [t.hash, t.grantId, t.clientId, t.subject, t.actor, t.x5t, t.data, t.issuedAt, t.expiresAt]);
}

export async function selectRefresh(c: SqlConn, hash: string): Promise<RefreshTokenRecord | undefined> {
  const row = (await c.all('SELECT * FROM oauth_refresh_tokens WHERE token_hash = ?', [hash]))[0];
  return row ? rowToRefresh(row) : undefined;
}

/**
 * Marks `oldHash` used and inserts its successor, only when the old one is still the
 * family's live token (not used, not revoked, not expired). False = nothing changed.
 */
export async function rotateRefresh(c: SqlConn, oldHash: string, now: number, next: NewRefreshToken): Promise<boolean> {
  const n = await c.run(
    'UPDATE oauth_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at = 0 AND revoked_at = 0 AND expires_at > ?',
    [now, oldHash, now]);
  if (n !== 1) return false;
  await insertRefresh(c, next);
  return true;
}

/**
 * Kills the refresh families a revocation record covers, with the record's own rules
 * (docs/delegation.md "Revocation"): grant = that family; subject/actor = families
 * whose tokens were issued at or before the record. jti and biscuit records name access
 * tokens, not grants: they leave refresh tokens alone.
 */
export async function revokeRefreshFor(c: SqlConn, r: Pick<RevocationRecord, 'kind' | 'value' | 'at'>): Promise<number> {
  switch (r.kind) {
    case 'grant':
      return c.run('UPDATE oauth_refresh_tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at = 0', [r.at, r.value]);
    case 'subject':
      return c.run(`UPDATE oauth_refresh_tokens SET revoked_at = ? WHERE grant_id IN
        (SELECT grant_id FROM oauth_refresh_tokens WHERE subject = ? AND issued_at <= ?) AND revoked_at = 0`, [r.at, r.value, r.at]);
    case 'actor':
      return c.run(`UPDATE oauth_refresh_tokens SET revoked_at = ? WHERE grant_id IN
        (SELECT grant_id FROM oauth_refresh_tokens WHERE actor = ? AND issued_at <= ?) AND revoked_at = 0`, [r.at, r.value, r.at]);
    default:
      return 0;
  }
}

export async function deleteRefresh(c: SqlConn, before: number): Promise<number> {
  return c.run('DELETE FROM oauth_refresh_tokens WHERE expires_at <= ?', [before]);
}
