import { TesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { OAuthAudit } from '../oauth/audit.ts';
import { OAuthError } from '../oauth/errors.ts';
import { readBody, sendJson } from '../oauth/http.ts';
import type { ClientCertificate, Route, RouteContext } from '../oauth/listener.ts';
import { decide, type Decided, type PdpDeps } from './pdp.ts';
import { AuthzenError, parseEvaluation, parseEvaluations, parseJsonBody, type Decision, type Evaluation, type EvaluationsSemantic } from './request.ts';

/**
 * OpenID AuthZEN Authorization API 1.0 on the authorization server's one listener
 * (docs/authzen.md): POST /access/v1/evaluation, POST /access/v1/evaluations and the PDP
 * metadata at /.well-known/authzen-configuration. Callers (tools, gateways: the PEPs)
 * authenticate with an X.509-SVID of the trust domain over mTLS; anyone else gets 401.
 *
 * A decision is always 200 {decision, context}; transport errors (401 unauthenticated,
 * 400 a malformed body, 413 too large, 503 datastore or audit unavailable) are
 * {"error": {"status", "message"}}, the shape the specification gives per-evaluation
 * errors. X-Request-ID is echoed. Every decision is audited (authzen.permitted /
 * authzen.denied) with the agent, the user, the action, the resource and the reason.
 */
export const EVALUATION_PATH = '/access/v1/evaluation';
export const EVALUATIONS_PATH = '/access/v1/evaluations';
export const AUTHZEN_METADATA_PATH = '/.well-known/authzen-configuration';

export interface AuthzenDeps extends PdpDeps {
  audit: OAuthAudit;
  logger: Logger;
  cacheSeconds: number;
}

export function authzenRoutes(d: AuthzenDeps): Route[] {
  const attached = d.conditions?.attachedCount ?? 0;
  if (attached) {
    d.logger.warn('oauth.authzen_conditions is deprecated: store conditions with their delegation policy instead '
      + '(tessera-server delegation update POLICY --condition ..., docs/authzen.md "Conditions"); the configured ones still apply, after the stored ones',
    { conditions: attached });
  }
  return [
    {
      method: 'POST', path: EVALUATION_PATH,
      handler: (ctx) => serve(d, ctx, async (body, caller) => (await run(d, parseEvaluation(body), caller)).decision),
    },
    {
      method: 'POST', path: EVALUATIONS_PATH,
      handler: (ctx) => serve(d, ctx, async (body, caller) => {
        const b = parseEvaluations(body);
        if (b.single) return (await run(d, b.evaluations[0]!, caller)).decision;
        return { evaluations: await batch(d, b.evaluations, b.semantic, caller) };
      }),
    },
    {
      method: 'GET', path: AUTHZEN_METADATA_PATH,
      handler(ctx) { sendJson(ctx.res, 200, authzenMetadata(d.issuer), { cache: `public, max-age=${d.cacheSeconds}` }); },
    },
  ];
}

/** The PDP metadata (AuthZEN §"Policy Decision Point Metadata"): this server is the PDP, its issuer the identifier. */
export function authzenMetadata(issuer: string): Record<string, unknown> {
  return {
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${issuer}${EVALUATION_PATH}`,
    access_evaluations_endpoint: `${issuer}${EVALUATIONS_PATH}`,
  };
}

/** Evaluations in order, each on its own (a budget spent by one stays spent), stopping as the semantic says. */
async function batch(d: AuthzenDeps, evs: Evaluation[], semantic: EvaluationsSemantic, caller: ClientCertificate): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const ev of evs) {
    const r = await run(d, ev, caller);
    out.push(r.decision);
    if (semantic === 'deny_on_first_deny' && !r.decision.decision) break;
    if (semantic === 'permit_on_first_permit' && r.decision.decision) break;
  }
  return out;
}

async function run(d: AuthzenDeps, ev: Evaluation, caller: ClientCertificate): Promise<Decided> {
  const r = await decide(d, ev, caller.id.toString());
  const permit = r.decision.decision;
  const message = (r.decision.context?.reason_admin as { en?: string } | undefined)?.en;
  // The resource acted on is the audit record's subject; the user goes in data.subject.
  d.audit.record(permit ? 'authzen.permitted' : 'authzen.denied', `${ev.resource.type}:${ev.resource.id}`, {
    caller: caller.id.toString(), actor: r.actor, subject: r.subject, action: ev.action.name, decision: permit ? 'permit' : 'deny',
    decision_id: r.reason, ...(permit ? {} : { reason: `${r.reason}: ${message ?? ''}` }), policy: r.policy, jti: r.jti, grant_id: r.grantId,
    correlation_id: r.txn ?? r.grantId, budget: r.decision.context?.budget,
  }, permit ? 'info' : 'warn');
  return r;
}

async function serve(d: AuthzenDeps, ctx: RouteContext, f: (body: Record<string, unknown>, caller: ClientCertificate) => Promise<unknown>): Promise<void> {
  const rid = ctx.req.headers['x-request-id'];
  const headers: Record<string, string> = typeof rid === 'string' && /^[\x21-\x7e]{1,200}$/.test(rid) ? { 'x-request-id': rid } : {};
  try {
    let caller: ClientCertificate | undefined;
    try { caller = ctx.client(); } catch (e) {
      if (e instanceof OAuthError) throw new AuthzenError(401, e.message);
      throw e;
    }
    if (!caller) throw new AuthzenError(401, `the AuthZEN API requires an X.509-SVID of trust domain ${d.trustDomain} as the TLS client certificate`);
    let body: Buffer;
    try { body = await readBody(ctx.req); } catch (e) {
      if (e instanceof OAuthError && e.status === 413) { headers.connection = 'close'; throw new AuthzenError(413, e.message); }
      throw e;
    }
    const json = parseJsonBody(body, ctx.req.headers['content-type']);
    // A decision that cannot be audited is not made (it may spend a budget).
    await d.audit.admit();
    sendJson(ctx.res, 200, await f(json, caller), { headers });
  } catch (e) {
    const err = e instanceof AuthzenError ? e
      : e instanceof TesseraError && e.kind === 'unavailable' ? new AuthzenError(503, 'the datastore is unavailable; retry later')
        : undefined;
    if (!err) d.logger.error('authzen request failed', { err: e as Error, path: ctx.url.pathname });
    if (ctx.res.headersSent) { ctx.res.destroy(); return; }
    const out = err ?? new AuthzenError(500, 'internal error');
    sendJson(ctx.res, out.status, out.toJSON(), { headers: { ...headers, ...(out.status === 503 ? { 'retry-after': '1' } : {}) } });
  }
}
