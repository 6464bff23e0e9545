import { createHash, randomBytes } from 'node:crypto';
import type { Datastore } from '../datastore/types.ts';
import type { NewRefreshToken, RefreshTokenRecord } from '../datastore/sql-refresh.ts';
import type { DelegationSubject } from '../delegation/types.ts';
import type { AuthenticatedClient } from './client-auth.ts';

/**
 * Refresh tokens of the authorization code flow (docs/mcp.md "Refresh tokens"):
 * `rt_` + 256 random bits, stored only as their SHA-256, one family per delegation
 * grant (the grant_id of the access tokens they yield), rotated on every use.
 *
 * Issued when the granted scope contains `offline_access`: the client asks for it, the
 * person sees it on the consent page and a policy must allow it like any scope. It is
 * a scope for the authorization server only, so access tokens never carry it.
 */
export const OFFLINE_ACCESS = 'offline_access';

/** What a family remembers of the person's approval (JSON in the row's `data`). */
export interface RefreshGrantData {
  subject: DelegationSubject;
  /** Everything granted at code redemption, offline_access included. */
  scopes: string[];
  resource: string;
  /** Unix seconds the person approved. */
  approvedAt: number;
}

export const refreshTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Scopes an access token carries: the granted ones minus offline_access. */
export const accessScopes = (scopes: readonly string[]): string[] => scopes.filter((s) => s !== OFFLINE_ACCESS);

/** A fresh refresh token and its row, for the family of `grantId`. */
export function mintRefreshToken(p: {
  grantId: string; client: Pick<AuthenticatedClient, 'clientId' | 'spiffeId' | 'x5t'>; data: RefreshGrantData; now: number; expiresAt: number;
}): { token: string; record: NewRefreshToken } {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return {
    token,
    record: {
      hash: refreshTokenHash(token), grantId: p.grantId, clientId: p.client.clientId,
      subject: `${p.data.subject.issuer}#${p.data.subject.name}`, actor: p.client.spiffeId?.toString() ?? '', x5t: p.client.x5t ?? '',
      data: JSON.stringify(p.data), issuedAt: p.now, expiresAt: p.expiresAt,
    },
  };
}

/** Stores a family's first token (code redemption). */
export async function issueRefreshToken(store: Pick<Datastore, 'putRefreshToken'>, p: Parameters<typeof mintRefreshToken>[0]): Promise<string> {
  const { token, record } = mintRefreshToken(p);
  await store.putRefreshToken(record);
  return token;
}

export const grantDataOf = (rec: RefreshTokenRecord): RefreshGrantData => JSON.parse(rec.data) as RefreshGrantData;
