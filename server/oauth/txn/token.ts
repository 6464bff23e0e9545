import { sign, type KeyObject } from 'node:crypto';
import type { ChainActor, RevocableToken } from '../../delegation/types.ts';
import { actorsOf, TokenRejected, verifyOwnJws } from '../delegated-token.ts';
import type { ActClaim, SubProfile } from '../mint.ts';

/**
 * The transaction token (draft-ietf-oauth-transaction-tokens, docs/transaction-tokens.md):
 * a JWT with header typ `txntoken+jwt`, signed by the same token-signing keys as the
 * delegated tokens (published at /oauth2/jwks), never usable as an access token: every
 * access-token verifier demands typ at+jwt, and `aud` is the trust domain, not a
 * resource server.
 *
 * Draft claims: iat, exp, aud (the trust domain), txn (the transaction, kept across
 * replacements), sub, scope, req_wl (the requesting workloads, comma-separated, the
 * newest last), tctx, rctx. Tessera adds iss (keys are the issuer's), jti (this token),
 * grant_id and chain (the ancestors' jtis: the access token's chain and jti, then each
 * replaced txn token), subject (the user's parts) and act (the agents of the access
 * token, carried over), so the revocation feed matches a txn token exactly as it
 * matches the token it came from.
 */
export const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';
export const TXN_TYP = 'txntoken+jwt';

export interface TxnClaims {
  iss: string;
  iat: number;
  exp: number;
  /** The trust domain ID, spiffe://<td>. */
  aud: string;
  txn: string;
  sub: string;
  scope: string;
  /** SPIFFE IDs of the requesting workloads, comma-separated, first requester first. */
  req_wl: string;
  jti: string;
  grant_id: string;
  chain: string[];
  subject: { iss: string; sub: string; groups: string[] };
  sub_profile?: SubProfile;
  act?: ActClaim;
  tctx?: Record<string, unknown>;
  rctx?: Record<string, unknown>;
}

export interface VerifiedTxnToken {
  claims: TxnClaims;
  /** The agents of the `act` chain, current first ([] when the token has none). */
  actors: ChainActor[];
  revocable: RevocableToken;
}

export function signTxnToken(claims: TxnClaims, key: { kid: string; privateKey: KeyObject }): string {
  const input = `${b64(JSON.stringify({ alg: 'ES256', typ: TXN_TYP, kid: key.kid }))}.${b64(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/**
 * A txn token this trust domain issued (a replacement's subject token), or
 * TokenRejected saying what was wrong. Revocation is the caller's (core.revokedBy).
 */
export async function verifyTxnToken(token: string, o: {
  issuer: string; audience: string; findKey: (kid: string) => Promise<KeyObject | undefined>; now: number; what: string;
}): Promise<VerifiedTxnToken> {
  const bad = (m: string) => new TokenRejected('malformed', `${o.what} ${m}`);
  const payload = await verifyOwnJws(token, {
    ...o, typ: TXN_TYP, family: 'transaction tokens',
    typHint: (typ) => typ === 'at+jwt' ? `is an access token (typ at+jwt), not a transaction token (typ ${TXN_TYP})` : undefined,
  });
  const c = payload as unknown as TxnClaims;
  if (typeof c.exp !== 'number' || typeof c.iat !== 'number') throw bad('has no numeric exp or iat');
  if (c.exp <= o.now) throw new TokenRejected('expired', `${o.what} expired at ${iso(c.exp)} (now ${iso(o.now)}): an expired transaction token is never replaced`);
  if (c.aud !== o.audience) throw bad(`aud ${JSON.stringify(c.aud)} is not this trust domain ${o.audience}`);
  if (typeof c.txn !== 'string' || typeof c.sub !== 'string' || typeof c.scope !== 'string' || typeof c.req_wl !== 'string'
    || typeof c.jti !== 'string' || typeof c.grant_id !== 'string' || !Array.isArray(c.chain) || !c.chain.every((x) => typeof x === 'string')
    || typeof c.subject !== 'object' || c.subject === null || typeof c.subject.iss !== 'string' || typeof c.subject.sub !== 'string') {
    throw bad('lacks txn, sub, scope, req_wl, jti, grant_id, chain or subject');
  }
  const actors = c.act === undefined ? [] : actorsOf(c.act);
  if (!actors) throw bad('has a malformed act claim');
  return {
    claims: c, actors,
    revocable: { jti: c.jti, grantId: c.grant_id, chain: c.chain, sub: c.sub, actors: actors.map((a) => a.spiffeId), iat: c.iat },
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const iso = (s: number) => new Date(s * 1000).toISOString();
