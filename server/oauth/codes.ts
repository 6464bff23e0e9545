import { createHash, randomBytes } from 'node:crypto';
import type { Datastore } from '../datastore/types.ts';
import type { DelegationSubject } from '../delegation/types.ts';

/**
 * Authorization codes: 256 random bits, stored by their SHA-256 (a datastore reader
 * learns no redeemable code), 60 s of life, single use across every server sharing the
 * store (sql-clients.ts redeemCode).
 */
export const CODE_TTL_S = 60;

export interface CodeData {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  /** What the person approved (already within a policy at approval time). */
  scopes: string[];
  subject: DelegationSubject;
  /** Unix seconds the person approved. */
  approvedAt: number;
}

export const codeHash = (code: string): string => createHash('sha256').update(code).digest('hex');

export async function issueCode(store: Pick<Datastore, 'putAuthorizationCode'>, data: CodeData, now: number): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  await store.putAuthorizationCode(codeHash(code), JSON.stringify(data), now + CODE_TTL_S);
  return code;
}
