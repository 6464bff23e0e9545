import { alreadyExists } from '../../common/errors.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * SQL for the MCP authorization flow (docs/mcp.md): pre-registered OAuth clients and
 * authorization codes. Codes live in the store, not in one server's memory, so a code
 * issued by one server redeems on any other sharing the database, and its single use
 * holds across all of them (one conditional UPDATE decides the first redemption).
 */

export type OAuthClientAuthMethod = 'tls_client_auth' | 'private_key_jwt' | 'none';

export interface OAuthClientRecord {
  clientId: string;
  name: string;
  redirectUris: string[];
  authMethod: OAuthClientAuthMethod;
  /** 'admin' (admin API / CLI) or 'dynamic' (RFC 7591 registration). */
  registeredBy: 'admin' | 'dynamic';
  createdAt: number;
}

export interface AuthorizationCodeRedemption {
  /** The code's stored payload (JSON text written by the authorization endpoint). */
  data: string;
  expiresAt: number;
  /** True for the first redemption; false for a replay. */
  first: boolean;
  /** What the first redemption recorded it would issue (a replay revokes these). */
  issuedJti: string;
  issuedGrantId: string;
}

/** Used codes are kept this long past their expiry, so a late replay still revokes what the code issued. */
export const CODE_RETENTION_S = 86_400;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

export const clientExists = (id: string) => alreadyExists('ERR_CLIENT_EXISTS', `an OAuth client with client_id "${id}" already exists`);

function rowToClient(r: Row): OAuthClientRecord {
  return {
    clientId: str(r.client_id), name: str(r.name), redirectUris: JSON.parse(str(r.redirect_uris)) as string[],
    authMethod: str(r.auth_method) as OAuthClientAuthMethod, registeredBy: str(r.registered_by) === 'dynamic' ? 'dynamic' : 'admin',
    createdAt: num(r.created_at),
  };
}

export async function insertClient(c: SqlConn, rec: OAuthClientRecord): Promise<OAuthClientRecord> {
  const n = await c.run(`INSERT INTO oauth_clients (client_id, name, redirect_uris, auth_method, registered_by, created_at)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING`,
  [rec.clientId, rec.name, JSON.stringify(rec.redirectUris), rec.authMethod, rec.registeredBy, rec.createdAt]);
  if (n !== 1) throw clientExists(rec.clientId);
  return { ...rec, redirectUris: [...rec.redirectUris] };
}

export async function selectClient(c: SqlConn, id: string): Promise<OAuthClientRecord | undefined> {
  const rows = await c.all('SELECT * FROM oauth_clients WHERE client_id = ?', [id]);
  return rows[0] ? rowToClient(rows[0]) : undefined;
}

export async function selectClients(c: SqlConn): Promise<OAuthClientRecord[]> {
  return (await c.all('SELECT * FROM oauth_clients ORDER BY client_id')).map(rowToClient);
}

export async function deleteClient(c: SqlConn, id: string): Promise<boolean> {
  return await c.run('DELETE FROM oauth_clients WHERE client_id = ?', [id]) === 1;
}

export async function insertCode(c: SqlConn, hash: string, data: string, expiresAt: number): Promise<void> {
  await c.run('INSERT INTO oauth_codes (code_hash, data, expires_at, used_at, issued_jti, issued_grant) VALUES (?, ?, ?, 0, \'\', \'\')',
    [hash, data, expiresAt]);
}

/**
 * Marks the code used and records what its redemption will issue, in one conditional
 * UPDATE: exactly one caller (on any server) sees `first`; every later one gets the
 * recorded jti and grant to revoke.
 */
export async function redeemCode(c: SqlConn, hash: string, now: number, issue: { jti: string; grantId: string }): Promise<AuthorizationCodeRedemption | undefined> {
  const n = await c.run('UPDATE oauth_codes SET used_at = ?, issued_jti = ?, issued_grant = ? WHERE code_hash = ? AND used_at = 0',
    [now, issue.jti, issue.grantId, hash]);
  const row = (await c.all('SELECT * FROM oauth_codes WHERE code_hash = ?', [hash]))[0];
  if (!row) return undefined;
  return {
    data: str(row.data), expiresAt: num(row.expires_at), first: n === 1,
    issuedJti: str(row.issued_jti), issuedGrantId: str(row.issued_grant),
  };
}

export async function deleteCodes(c: SqlConn, before: number): Promise<number> {
  return c.run('DELETE FROM oauth_codes WHERE expires_at <= ?', [before]);
}
