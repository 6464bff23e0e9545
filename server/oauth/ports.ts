import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  DelegationPolicy, ExchangeDecision, ExchangeInput, RevocableToken, RevocationKind, RevocationRecord,
} from '../delegation/types.ts';
import type { RevocationContext } from '../delegation/audit.ts';

/**
 * What the authorization server needs from the delegation core (server/delegation/):
 * the policy decision, the cached policies, the revocation index and the push feed.
 * start.ts adapts the core's classes to these, so the endpoints stay testable with
 * small fakes and do not depend on how the core is wired.
 */
export interface DelegationCore {
  /** The cached policies (kept current by the change feed; no datastore read per request). */
  policies(): readonly DelegationPolicy[];
  /** The policy engine: a decision, or OAuthError naming what was refused. */
  evaluate(input: ExchangeInput, policies: readonly DelegationPolicy[]): ExchangeDecision;
  /** The matching revocation record, or undefined when the token is live. */
  revokedBy(t: RevocableToken): RevocationRecord | undefined;
  /**
   * Writes (and audits) a revocation; resolves once the local index applied it. Peers
   * learn it from the change feed.
   */
  revoke(kind: RevocationKind, value: string, by: string, ctx?: RevocationContext): Promise<RevocationRecord>;
  /** GET /oauth2/revocations after the caller's SVID was verified. */
  feed(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}
