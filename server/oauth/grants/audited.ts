import type { ExchangeDecision, ExchangeInput } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import { OAuthError } from '../errors.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';

/** What a grant learned about the request before it failed: the refusal's audit fields. */
export type Known = Record<string, unknown>;

/**
 * The frame every grant handler shares: room in the audit queue first (a request that
 * cannot be audited changes nothing), then the grant, and every refusal the client
 * caused (4xx) recorded as `oauth.token_refused` with what the grant had learned by then.
 */
export function auditedGrant(audit: OAuthAudit, o: Omit<GrantHandler, 'handle'> & {
  /** The refusal's audit fields beside grant/error/error_description (e.g. token_type). */
  refusal?: Known;
  /** Who the refusal is about: the first of these `known` fields that is set. */
  who: readonly string[];
  /** Answers that are not refusals (CIBA's authorization_pending): not audited. */
  quiet?: (e: OAuthError) => boolean;
  run(r: GrantRequest, known: Known): Promise<Record<string, unknown>>;
}): GrantHandler {
  const { refusal, who, quiet, run, ...handler } = o;
  return {
    ...handler,
    async handle(r) {
      await audit.admit();
      const known: Known = {};
      try {
        return await run(r, known);
      } catch (e) {
        if (e instanceof OAuthError && e.status < 500 && !quiet?.(e)) {
          const subject = who.map((k) => known[k]).find((v) => v !== undefined) ?? 'unknown';
          audit.record('oauth.token_refused', String(subject),
            { grant: o.grantType, ...refusal, error: e.error, error_description: e.message, ...known }, 'warn');
        }
        throw e;
      }
    },
  };
}

/**
 * The policy engine's decision, with its "no policy" refusal reworded by the grant so
 * the client learns which policy it would need.
 */
export function decideOrExplain(core: Pick<DelegationCore, 'policies' | 'evaluate'>, input: ExchangeInput,
  explain: (why: string) => string): ExchangeDecision {
  try {
    return core.evaluate(input, core.policies());
  } catch (e) {
    if (e instanceof OAuthError && e.error === 'unauthorized_client') throw new OAuthError('unauthorized_client', explain(e.message));
    throw e;
  }
}
