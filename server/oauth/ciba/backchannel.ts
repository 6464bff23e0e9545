import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ExchangeInput } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import { canonicalResource, parseScopeParam } from '../authz-params.ts';
import { authenticateClient, type ClientAuthContext } from '../client-auth.ts';
import { OAuthError } from '../errors.ts';
import { clip, sendJson, type Form } from '../http.ts';
import type { Route } from '../listener.ts';
import type { DelegationCore } from '../ports.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { evaluateEscalation } from './escalation.ts';
import { verifyHint, type HintDeps } from './hint.ts';
import { approverPrincipals, qualified, recordApproval, type RequestData } from './request.ts';

/**
 * POST /oauth2/bc-authorize: the backchannel authentication endpoint of OpenID CIBA
 * (poll and ping modes). An agent, authenticated by its SVID exactly as at the token
 * endpoint (client-auth.ts), asks for scopes for a user it already acts for; the policy
 * engine decides as for a token exchange, counting the policy's approvable scopes; the
 * request is stored (any server sharing the store answers the polls) and the user (or a
 * group approver) decides on the approval page. Answer (CIBA §7.3):
 * `{"auth_req_id", "expires_in", "interval"}`.
 *
 * auth_req_id: 192 random bits; the store keeps its SHA-256 only, except for ping
 * clients, whose ping must carry it.
 */
export interface BackchannelDeps extends HintDeps {
  tokenEndpoint: string;
  /** oauth.token_ttl: the ceiling the policy check assumes. */
  tokenTtl: number;
  /** oauth.ciba.request_ttl (seconds): default and ceiling of expires_in. */
  requestTtl: number;
  /** oauth.ciba.interval (seconds). */
  interval: number;
  /** oauth.ciba.limits: flood protection per agent (see AgentBuckets and putApprovalRequestWithin). */
  limits: { max_pending: number; burst: number; per_minute: number };
  /** Ping-mode clients: SPIFFE ID → notification endpoint (oauth.ciba.ping). */
  pingEndpoints: ReadonlyMap<string, string>;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'getOAuthClient' | 'putApprovalRequestWithin'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy'>;
  audit: OAuthAudit;
  clock: Clock;
}

export const BACKCHANNEL_PATH = '/oauth2/bc-authorize';
const MAX_BINDING_MESSAGE = 200;
const MAX_NOTIFICATION_TOKEN = 1024;
const MAX_AUDIENCES = 16;

export function backchannelRoute(d: BackchannelDeps): Route {
  const buckets = new AgentBuckets(d.limits.burst, d.limits.per_minute);
  return {
    method: 'POST', path: BACKCHANNEL_PATH,
    async handler(ctx) {
      await d.audit.admit(); // a request that cannot be audited changes nothing
      const form = await ctx.form();
      const known: Record<string, unknown> = {};
      try {
        sendJson(ctx.res, 200, await authenticationRequest(d, buckets, ctx, form, known));
      } catch (e) {
        if (e instanceof OAuthError && e.status < 500) {
          recordApproval(d.audit, 'oauth.approval_refused', String(known.subject ?? known.client_id ?? 'unknown'),
            { error: e.error, error_description: e.message, ...known }, 'warn');
        }
        // The one refusal that carries a header: the shared error mapper knows no Retry-After.
        if (e instanceof CibaLimitError) { sendJson(ctx.res, e.status, e.toJSON(), { headers: { 'retry-after': String(e.retryAfter) } }); return; }
        throw e;
      }
    },
  };
}

async function authenticationRequest(d: BackchannelDeps, buckets: AgentBuckets, ctx: ClientAuthContext, form: Form, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const now = Math.floor(d.clock.now() / 1000);
  form.assertSingle(['audience', 'resource']);
  const client = await authenticateClient(ctx, form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: false,
    requiredMethod: async (id) => (await d.store.getOAuthClient(id))?.authMethod,
  });
  const agent = client.spiffeId!.toString();
  known.client_id = agent;
  known.actor = agent;
  // After authentication, so nobody can drain another agent's bucket; before any other work.
  const wait = buckets.take(agent, d.clock.now());
  if (wait !== 0) {
    throw new CibaLimitError(`${agent} sent backchannel requests faster than this server allows per agent (oauth.ciba.limits: burst ${d.limits.burst}, `
      + `${d.limits.per_minute} per minute); retry in ${wait} s`, wait);
  }

  // Parameters (CIBA §7.1).
  if (form.get('request') !== undefined) throw new OAuthError('invalid_request', 'signed authentication requests (request) are not supported; send the parameters in the form');
  const scopeText = form.get('scope');
  if (scopeText === undefined) throw new OAuthError('invalid_request', 'scope is required: the scopes the token should carry, those needing approval included');
  const scope = parseScopeParam(scopeText);
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);
  const audiences = parseAudiences(form);
  const bindingMessage = parseBindingMessage(form.get('binding_message'));
  const expiresIn = parseRequestedExpiry(form.get('requested_expiry'), d.requestTtl);
  const ping = d.pingEndpoints.get(agent);
  const notificationToken = form.get('client_notification_token');
  if (ping && notificationToken === undefined) {
    throw new OAuthError('invalid_request', `client_notification_token is required: ${agent} is registered for ping mode (CIBA §7.1)`);
  }
  if (!ping && notificationToken !== undefined) {
    throw new OAuthError('invalid_request', `client_notification_token given, but ${agent} is registered for poll mode only (no oauth.ciba.ping entry)`);
  }
  if (notificationToken !== undefined && notificationToken.length > MAX_NOTIFICATION_TOKEN) {
    throw new OAuthError('invalid_request', `client_notification_token is ${notificationToken.length} characters; at most ${MAX_NOTIFICATION_TOKEN}`);
  }

  // The user, then the policy (counting approvable scopes).
  const hinted = await verifyHint(d, form, client, now);
  known.subject = qualified(hinted.subject);
  const input: ExchangeInput = {
    subject: hinted.subject, actor: { spiffeId: agent, claims: client.claims }, priorActors: [], subjectScopes: undefined,
    parentAudiences: undefined, subjectExpiresAt: hinted.exp, requestedScopes: scope.value, requestedAudiences: audiences,
    requestedTtl: undefined, now, serverMaxTtl: d.tokenTtl,
  };
  const esc = evaluateEscalation(d.core, input);

  const authReqId = randomBytes(24).toString('base64url');
  const id = `apr_${randomBytes(16).toString('base64url')}`;
  const data: RequestData = {
    subject: hinted.subject, hint: hinted.hint, ...(hinted.held ? { held: hinted.held } : {}),
    agent: { spiffeId: agent, claims: client.claims, auth: client.method },
    scopes: esc.decision.scopes, escalated: esc.escalated, audiences: esc.decision.audiences, policy: esc.policy.id,
    ...(bindingMessage !== undefined ? { bindingMessage } : {}),
    ...(ping ? { ping: { endpoint: ping, token: notificationToken!, authReqId } } : {}),
  };
  const put = await d.store.putApprovalRequestWithin({
    id, reqHash: approvalRequestHash(authReqId), clientId: agent, subject: qualified(hinted.subject),
    approvers: approverPrincipals(esc.approvers, hinted.subject, esc.policy.subjectIssuer),
    data: JSON.stringify(data), createdAt: now, expiresAt: now + expiresIn, interval: d.interval,
  }, d.limits.max_pending);
  if (!put.stored) {
    const retry = Math.max(1, put.nextExpiry - now);
    throw new CibaLimitError(`${agent} already has ${put.pending} pending approval requests for ${qualified(hinted.subject)} `
      + `(oauth.ciba.limits.max_pending ${d.limits.max_pending}); retry once one is approved or denied, at the latest in ${retry} s when the oldest expires`, retry);
  }
  recordApproval(d.audit, 'oauth.approval_requested', qualified(hinted.subject), {
    approval_id: id, subject: qualified(hinted.subject), actor: agent, client_auth: client.method, hint: hinted.hint,
    held_jti: hinted.held?.jti, scopes: data.scopes, escalated: data.escalated, audience: data.audiences, policy: data.policy,
    approvers: esc.approvers, binding_message: bindingMessage, mode: ping ? 'ping' : 'poll', expires_at: now + expiresIn,
  });
  // CIBA §7.3: interval only for poll mode; a ping client polls when pinged.
  return { auth_req_id: authReqId, expires_in: expiresIn, ...(ping ? {} : { interval: d.interval }) };
}

/** SHA-256 (hex) of an auth_req_id: how the store finds a request. */
export const approvalRequestHash = (authReqId: string): string => createHash('sha256').update(authReqId).digest('hex');

function parseAudiences(form: Form): string[] {
  const out: string[] = [];
  for (const r of form.all('resource')) {
    const c = canonicalResource(r);
    if (!c.ok) throw new OAuthError('invalid_target', c.description);
    out.push(c.value);
  }
  const all = [...new Set([...form.all('audience'), ...out])];
  if (all.length === 0) throw new OAuthError('invalid_target', 'audience or resource is required: name the service the token is for');
  if (all.length > MAX_AUDIENCES) throw new OAuthError('invalid_target', `${all.length} audiences/resources requested; at most ${MAX_AUDIENCES}`);
  return all;
}

/** Shown verbatim to the approver: printable text of bounded length (CIBA invalid_binding_message). */
function parseBindingMessage(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if ([...v].length > MAX_BINDING_MESSAGE) {
    throw new OAuthError('invalid_binding_message', `binding_message is ${[...v].length} characters; at most ${MAX_BINDING_MESSAGE}`);
  }
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(v)) {
    throw new OAuthError('invalid_binding_message', 'binding_message must be plain text: no control or formatting characters (they could disguise what the approver reads)');
  }
  return v;
}

function parseRequestedExpiry(v: string | undefined, max: number): number {
  if (v === undefined) return max;
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new OAuthError('invalid_request', `requested_expiry ${clip(JSON.stringify(v), 40)} must be a positive whole number of seconds`);
  return Math.min(Number(v), max);
}

/**
 * A bc-authorize refused by oauth.ciba.limits. CIBA Core §13 has no "slow down" for this
 * endpoint (slow_down is a token-endpoint poll error); the OP refusing the request is
 * access_denied. Sent as 429 rather than §13's 403 so the Retry-After header (RFC 6585)
 * means what it says: the refusal is temporary.
 */
export class CibaLimitError extends OAuthError {
  constructor(description: string, readonly retryAfter: number) {
    super('access_denied', description, { status: 429 });
  }
}

/**
 * One token bucket per agent, in this server's memory (the pending cap is the
 * cross-server limit; this one only slows a single agent hammering one server). Bounded:
 * beyond `maxAgents`, buckets that have refilled are forgotten (losslessly), then the
 * least recently used.
 */
export class AgentBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private readonly perMs: number;
  constructor(private readonly burst: number, perMinute: number, private readonly maxAgents = 10_000) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request's token at `nowMs`: 0 when taken, else whole seconds until one is there. */
  take(agent: string, nowMs: number): number {
    const tokens = this.level(this.buckets.get(agent), nowMs);
    if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
    this.buckets.delete(agent); // re-inserted last: Map order is recency order
    this.buckets.set(agent, { tokens: tokens - 1, atMs: nowMs });
    if (this.buckets.size > this.maxAgents) this.shrink(nowMs);
    return 0;
  }

  private level(b: { tokens: number; atMs: number } | undefined, nowMs: number): number {
    return b ? Math.min(this.burst, b.tokens + Math.max(0, nowMs - b.atMs) * this.perMs) : this.burst;
  }

  private shrink(nowMs: number): void {
    for (const [k, b] of this.buckets) if (this.level(b, nowMs) >= this.burst) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxAgents) break;
      this.buckets.delete(k);
    }
  }
}
