import type * as https from 'node:https';
import type { X509SvidSource } from '../source/types.ts';
import { DelegationError, oauthErrorCode } from './errors.ts';
import { httpsRequest, issuerUrl, serverAgent } from './https.ts';
import type { DelegatedToken, ServerTrust } from './types.ts';

/**
 * Execution budgets for resource servers (docs/attenuation.md "Budgets"): before doing
 * a metered operation, spend it at the authorization server's POST /oauth2/consume,
 * authenticated by this resource server's own X.509-SVID (mTLS). A spent budget is a
 * DelegationError ERR_OAUTH_INSUFFICIENT_BUDGET (`oauthError` insufficient_budget), which
 * resource servers answer with 403 and WWW-Authenticate error="insufficient_budget".
 */
export interface BudgetClientOptions extends ServerTrust {
  issuer: string;
  /** This resource server's SVID (the mTLS client certificate). */
  source: X509SvidSource;
  timeoutMs?: number;
}

export interface BudgetResult { operation: string; allowed: boolean; remaining: number | null }

export class BudgetClient {
  private readonly url: URL;
  private readonly agent: https.Agent;

  constructor(private readonly o: BudgetClientOptions) {
    this.url = issuerUrl(o.issuer, '/oauth2/consume');
    this.agent = serverAgent({ ...o, client: o.source, keepAlive: true });
  }

  /** Spends `count` uses of `operation`; throws ERR_OAUTH_INSUFFICIENT_BUDGET when not allowed. */
  async consume(token: string | DelegatedToken, operation: string, count = 1): Promise<BudgetResult> {
    const [r] = await this.consumeMany(token, [{ operation, count }]);
    return r!;
  }

  /**
   * Several operations in one round trip, each spent on its own (an earlier one stays
   * spent when a later one is refused); throws ERR_OAUTH_INSUFFICIENT_BUDGET naming the refused ones.
   */
  async consumeMany(token: string | DelegatedToken, ops: { operation: string; count?: number }[]): Promise<BudgetResult[]> {
    const body = new URLSearchParams({ token: typeof token === 'string' ? token : token.token });
    for (const op of ops) { body.append('operation', op.operation); body.append('count', String(op.count ?? 1)); }
    const r = await httpsRequest(this.url, {
      agent: this.agent, method: 'POST', body: body.toString(), timeoutMs: this.o.timeoutMs ?? 10_000,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    });
    let json: Record<string, unknown>;
    try { json = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>; } catch (e) {
      throw new DelegationError('ERR_DELEGATION_INVALID', `consume answered HTTP ${r.status} without JSON`, { reason: 'bad_response', cause: e });
    }
    if (r.status !== 200) {
      const error = String(json.error ?? 'server_error');
      throw new DelegationError(oauthErrorCode(error), `consume refused: ${error}: ${String(json.error_description ?? '')}`,
        { reason: 'oauth', oauthError: error, description: String(json.error_description ?? ''), status: r.status });
    }
    const results = (Array.isArray(json.results) ? json.results : [json]) as BudgetResult[];
    const refused = results.filter((x) => x.allowed !== true);
    if (refused.length) {
      const description = `budget spent: ${refused.map((x) => `${x.operation} (remaining ${x.remaining})`).join(', ')}`;
      throw new DelegationError('ERR_OAUTH_INSUFFICIENT_BUDGET', `insufficient_budget: ${description}`,
        { reason: 'oauth', oauthError: 'insufficient_budget', description, status: 403 });
    }
    return results;
  }

  close(): void { this.agent.destroy(); }
}
