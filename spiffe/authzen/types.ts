import type { ApprovalRequest } from '../delegation/approval.ts';
import type { RevocationChecker, RevocationRecord, ServerTrust } from '../delegation/types.ts';
import type { X509SvidSource } from '../source/types.ts';

/** OpenID AuthZEN Authorization API 1.0 entities (docs/authzen.md). */
export interface AuthzenEntity { type: string; id: string; properties?: Record<string, unknown> }
export interface AuthzenAction { name: string; properties?: Record<string, unknown> }
export interface AuthzenEvaluation {
  subject: AuthzenEntity;
  action: AuthzenAction;
  resource: AuthzenEntity;
  context?: Record<string, unknown>;
}

export interface AuthzenDecision {
  decision: boolean;
  /** The PDP's context: `id` (permit or the deny reason), `reason_admin`, `policy`, `budget`, `approval`, `error`, `ttl`. */
  context: Record<string, unknown>;
  /** context.id: `permit`, or why not (scope, audience, token_revoked, budget_exhausted, approval_required, unknown_action, …). */
  id: string;
  /** context.reason_admin.en: what failed, for logs (not for end users). */
  reason?: string;
  /** Served from the decision cache, without a round trip. */
  cached: boolean;
  /**
   * approval_required with a CIBA request started (or still pending) for it: what the
   * agent waits on, e.g. `waitForApproval({ issuer, x509Source, bundleSource, request: d.approval })`;
   * the token it receives carries the action, and the next decision with it permits.
   */
  approval?: AuthzenApproval;
}

/** The CIBA request of an approval_required decision: ApprovalRequest of the delegation SDK, plus who approves what. */
export interface AuthzenApproval extends ApprovalRequest {
  /** The scopes the approval grants (the action). */
  scopes: string[];
  /** The policy's approver rules: `subject`, `group:NAME`. */
  approvers: string[];
}

/** The revocation feed as the decision cache uses it (RevocationFeed is one). */
export interface RevocationSource extends RevocationChecker {
  onRevocation(cb: (r: RevocationRecord) => void): () => void;
}

export interface AuthzenClientOptions extends ServerTrust {
  /** The Tessera authorization server (the PDP); endpoints are <issuer>/access/v1/evaluation(s). */
  issuer: string;
  /** This tool's X.509-SVID: the PEP authenticates with it over mTLS. */
  source: X509SvidSource;
  /** This tool's identifier, the audience of the tokens it accepts: sent as resource.properties.audience unless given. */
  audience?: string;
  /**
   * The revocation feed: every revocation clears the decision cache, a cached permit whose
   * token a record matches is dropped, and a stale feed bypasses the cache. Without one,
   * nothing is cached.
   */
  revocations?: RevocationSource;
  /** Decision cache bounds; false turns it off. Permits are cached only as long as the PDP's context.ttl says. */
  cache?: false | { maxEntries?: number; maxTtlMs?: number };
  timeoutMs?: number;
  /** Test seam: wall clock, ms. */
  now?: () => number;
}

/** `context` of authorize(): the subject's token (and/or the subject itself) plus any AuthZEN context members. */
export interface AuthorizeContext extends Record<string, unknown> {
  /** The delegated access token or transaction token the caller presented to this tool. */
  token?: string;
  /** Default: the agent the token names (its current actor), else its sub. */
  subject?: AuthzenEntity;
}
