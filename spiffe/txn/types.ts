import type { SpiffeId, TrustDomain } from '../id.ts';
import type { Actor, DelegationKeySource, RevocationChecker } from '../delegation/types.ts';

/**
 * A transaction token after verifyTxnToken (docs/transaction-tokens.md): who the
 * transaction is for, its purpose (scopes), the workloads that requested it, and the
 * context that stays fixed down the call chain.
 */
export interface TxnToken {
  /** The compact JWT as presented (forward it unchanged in the Txn-Token header). */
  token: string;
  issuer: string;
  /** `txn`: the transaction, the same across replacements. */
  txn: string;
  /** `sub`: the user (`<idp>#<name>`) or, for self-initiated work, the workload's SPIFFE ID. */
  subject: string;
  subjectIssuer: string;
  subjectName: string;
  /** `sub_profile`: user, ai_agent or service. */
  subjectProfile?: string;
  scopes: string[];
  /** `aud`: the trust domain the token is valid in. */
  trustDomain: TrustDomain;
  /** `req_wl`: the workloads that requested this token, first requester first, the latest replacement last. */
  requestingWorkloads: SpiffeId[];
  /** `tctx`: the transaction's fixed parameters ({} when none). */
  context: Record<string, unknown>;
  /** `rctx`: where the transaction came from (req_ip, authn, …; {} when none). */
  requesterContext: Record<string, unknown>;
  /** The agents of the access token it was made from, current first ([] for self-initiated work without agents). */
  actors: Actor[];
  jti: string;
  grantId: string;
  /** Ancestors: the access token's chain and jti, then every replaced txn token. */
  chain: string[];
  issuedAt: Date;
  expiresAt: Date;
  claims: Record<string, unknown>;
}

export interface VerifyTxnTokenOptions {
  /** The authorization server (`iss`), whose JWKS holds the keys. */
  issuer: string;
  keys: DelegationKeySource;
  /** This workload's trust domain: `aud` must be exactly spiffe://<td>. */
  trustDomain: TrustDomain | string;
  /** The revocation feed (RevocationFeed): a revoked grant, ancestor, user or agent kills the txn token too. */
  revocations?: RevocationChecker;
  requiredScopes?: string[];
  /** Clock skew tolerated for exp/iat, seconds (default 0, at most 60: txn tokens live seconds). */
  leeway?: number;
  now?: Date;
}
