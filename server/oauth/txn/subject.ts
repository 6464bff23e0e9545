import { SpiffeError } from '../../../spiffe/errors.ts';
import { verifyJwtSvid } from '../../../spiffe/jwtsvid/verify.ts';
import type { ChainActor, DelegationSubject, RevocableToken, RevocationRecord } from '../../delegation/types.ts';
import type { AuthenticatedClient } from '../client-auth.ts';
import { TokenRejected, verifyDelegatedToken } from '../delegated-token.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, workloadProfile, type ActClaim, type SubProfile } from '../mint.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { TXN_TOKEN_TYPE, verifyTxnToken, type TxnClaims } from './token.ts';

/**
 * What a Txn-Token request's subject_token stands for (docs/transaction-tokens.md):
 * - access_token: a delegated token of this issuer that the requester received; the
 *   user stays `sub`, its agents (`act`) are carried over, its scope bounds the txn's;
 * - jwt: the requester's own JWT-SVID (self-initiated work): the workload is `sub`;
 * - txn_token: a txn token to replace (a downstream workload adding context).
 * Each is verified and checked against the revocation index before anything is issued.
 */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const SUBJECT_TOKEN_TYPES = [ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TXN_TOKEN_TYPE];

export interface TxnSubject {
  kind: 'access_token' | 'self' | 'replacement';
  subject: DelegationSubject;
  /** The txn token's `sub`. */
  sub: string;
  subProfile: SubProfile;
  act?: ActClaim;
  actors: ChainActor[];
  /** Bounds the txn token's scope; undefined for self-initiated work (the policy alone bounds it). */
  scopes?: string[];
  exp: number;
  grantId?: string;
  /** Ancestors of the new token: the subject token's chain plus its jti. */
  chain: string[];
  /** Replacement: the txn token being replaced. */
  replaced?: TxnClaims;
}

export interface SubjectDeps {
  issuer: string;
  tokenEndpoint: string;
  /** spiffe://<td>: the aud of every txn token. */
  trustDomainId: string;
  keys: Pick<OAuthKeyManager, 'findKey'>;
  bundles: TrustDomainBundles;
  revokedBy(t: RevocableToken): RevocationRecord | undefined;
}

export async function resolveSubject(d: SubjectDeps, token: string, type: string, requester: AuthenticatedClient, now: number): Promise<TxnSubject> {
  if (type === JWT_TOKEN_TYPE) return selfInitiated(d, token, requester, now);
  const findKey = (kid: string) => d.keys.findKey(kid);
  if (type === TXN_TOKEN_TYPE) {
    const v = await rejected(() => verifyTxnToken(token, { issuer: d.issuer, audience: d.trustDomainId, findKey, now, what: 'subject_token' }));
    notRevoked(d, v.revocable, 'subject_token (a transaction token)');
    const c = v.claims;
    return {
      kind: 'replacement', subject: { issuer: c.subject.iss, name: c.subject.sub, groups: groupsOf(c.subject) }, sub: c.sub,
      subProfile: c.sub_profile ?? 'user', ...(c.act ? { act: c.act } : {}), actors: v.actors, scopes: split(c.scope),
      exp: c.exp, grantId: c.grant_id, chain: [...c.chain, c.jti], replaced: c,
    };
  }
  // An access token of ours (RFC 9068). A txn token here is refused by its typ: never an access token.
  const v = await rejected(() => verifyDelegatedToken(token, { issuer: d.issuer, findKey, now, what: 'subject_token' }));
  notRevoked(d, v.revocable, `subject_token ${v.claims.jti}`);
  const c = v.claims;
  return {
    kind: 'access_token', subject: { issuer: c.subject.iss, name: c.subject.sub, groups: groupsOf(c.subject) }, sub: c.sub,
    subProfile: c.sub_profile ?? 'user', ...(c.act ? { act: c.act } : {}), actors: v.actors, scopes: split(c.scope),
    exp: c.exp, grantId: c.grant_id, chain: [...c.chain, c.jti],
  };
}

async function selfInitiated(d: SubjectDeps, token: string, requester: AuthenticatedClient, now: number): Promise<TxnSubject> {
  const audiences = [d.tokenEndpoint, d.issuer];
  let svid;
  try {
    svid = await verifyJwtSvid(token, d.bundles, audiences, { now: new Date(now * 1000) });
  } catch (e) {
    if (!(e instanceof SpiffeError)) throw e;
    throw new OAuthError('invalid_request', `subject_token is not a valid JWT-SVID of trust domain ${d.bundles.trustDomain} for ${audiences.join(' or ')}: ${e.message}`);
  }
  const id = svid.id.toString();
  if (id !== requester.clientId) {
    throw new OAuthError('invalid_request', `subject_token is a JWT-SVID of ${id}, but the requester is ${requester.clientId}: `
      + 'self-initiated work names the requesting workload itself');
  }
  const actor: ChainActor = { spiffeId: id, claims: requester.claims };
  return {
    kind: 'self', subject: { issuer: d.issuer, name: id, groups: [] }, sub: id, subProfile: workloadProfile(requester.claims),
    act: actClaim([actor]), actors: [actor], exp: Math.floor(svid.expiresAt.getTime() / 1000), chain: [],
  };
}

async function rejected<T>(f: () => Promise<T>): Promise<T> {
  try { return await f(); } catch (e) {
    if (e instanceof TokenRejected) throw new OAuthError('invalid_request', e.message);
    throw e;
  }
}

function notRevoked(d: SubjectDeps, t: RevocableToken, what: string): void {
  const rec = d.revokedBy(t);
  if (rec) throw new OAuthError('invalid_request', `${what} is revoked (${rec.kind} ${clip(rec.value, 120)} revoked at ${new Date(rec.at * 1000).toISOString()})`);
}

const split = (s: string): string[] => s.split(' ').filter((x) => x.length > 0);
const groupsOf = (s: { groups?: unknown }): string[] => (Array.isArray(s.groups) ? s.groups.filter((g): g is string => typeof g === 'string') : []);
