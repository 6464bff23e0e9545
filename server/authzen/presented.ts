import type { ChainActor, DelegationSubject, RevocableToken, RevocationRecord } from '../delegation/types.ts';
import { parseTokenBudgets } from '../oauth/consume.ts';
import { decodeSegment, TokenRejected, verifyDelegatedToken } from '../oauth/delegated-token.ts';
import type { OAuthKeyManager } from '../oauth/keys.ts';
import { TXN_TYP, verifyTxnToken } from '../oauth/txn/token.ts';

/**
 * The credential an AuthZEN subject presents (`subject.properties.token`): a delegated
 * access token or a transaction token of this trust domain, verified with the one set of
 * signing keys and checked against the one revocation index. Either way the decision
 * sees the same shape: who (user and agents), what (scopes), where (audiences), which
 * grant (for budgets), until when.
 */
export interface Presented {
  kind: 'access_token' | 'txn_token';
  jti: string;
  grantId: string;
  /** `sub`: `<idp>#<name>`, or a workload's SPIFFE ID when it acts for itself. */
  sub: string;
  subject: DelegationSubject;
  /** Current first. */
  actors: ChainActor[];
  scopes: string[];
  audiences: string[];
  exp: number;
  /** Per-operation limits of the token; txn tokens draw on their grant's counters without one of their own. */
  budgets?: Record<string, number>;
  /** txn tokens: the requesting workloads (req_wl), first first; `txn`. */
  requesters?: string[];
  txn?: string;
  /** What revocation matches on (a CIBA request started from this token is ended by the same records). */
  revocable: RevocableToken;
}

/** Why a presented credential is not good: a deny reason, never a transport error. */
export class NotPresentable extends Error {
  constructor(readonly id: 'token_invalid' | 'token_revoked', message: string) { super(message); }
}

export async function verifyPresented(d: {
  issuer: string; trustDomainId: string; keys: Pick<OAuthKeyManager, 'findKey'>; revokedBy(t: RevocableToken): RevocationRecord | undefined;
}, token: string, now: number): Promise<Presented> {
  const findKey = (kid: string) => d.keys.findKey(kid);
  const typ = decodeSegment(token.split('.')[0] ?? '')?.typ;
  let p: Omit<Presented, 'revocable'>;
  let revocable: RevocableToken;
  try {
    if (typ === TXN_TYP) {
      const v = await verifyTxnToken(token, { issuer: d.issuer, audience: d.trustDomainId, findKey, now, what: 'subject.properties.token' });
      const c = v.claims;
      revocable = v.revocable;
      p = {
        kind: 'txn_token', jti: c.jti, grantId: c.grant_id, sub: c.sub, subject: subjectOf(c.subject), actors: v.actors,
        scopes: split(c.scope), audiences: [c.aud], exp: c.exp, requesters: c.req_wl.split(','), txn: c.txn,
      };
    } else {
      const v = await verifyDelegatedToken(token, { issuer: d.issuer, findKey, now, what: 'subject.properties.token' });
      const c = v.claims;
      revocable = v.revocable;
      const budgets = parseTokenBudgets(c);
      p = {
        kind: 'access_token', jti: c.jti, grantId: c.grant_id, sub: c.sub, subject: subjectOf(c.subject), actors: v.actors,
        scopes: split(c.scope), audiences: c.aud, exp: c.exp, ...(budgets ? { budgets } : {}),
      };
    }
  } catch (e) {
    if (e instanceof TokenRejected) throw new NotPresentable('token_invalid', e.message);
    throw e;
  }
  const rec = d.revokedBy(revocable);
  if (rec) throw new NotPresentable('token_revoked', `subject.properties.token ${p.jti} is revoked (${rec.kind} ${rec.value} revoked at ${new Date(rec.at * 1000).toISOString()})`);
  return { ...p, revocable };
}

const split = (s: string): string[] => s.split(' ').filter((x) => x.length > 0);
const subjectOf = (s: { iss: string; sub: string; groups?: unknown }): DelegationSubject =>
  ({ issuer: s.iss, name: s.sub, groups: Array.isArray(s.groups) ? s.groups.filter((g): g is string => typeof g === 'string') : [] });
