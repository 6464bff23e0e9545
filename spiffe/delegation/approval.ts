import { sleep } from '../lib/backoff.ts';
import type { JwtSvidSource, X509SvidSource } from '../source/types.ts';
import { DelegationError, oauthErrorCode } from './errors.ts';
import { issuerUrl, postOAuthForm } from './https.ts';
import type { ServerTrust } from './types.ts';

/**
 * Human approval of an escalation (OpenID CIBA, poll and ping modes; docs/attenuation.md
 * "Human approval"): an agent asks the Tessera authorization server for scopes a
 * policy marks as approvable, the user approves or denies on Tessera's approval page,
 * and the agent collects a delegated token, once.
 *
 *   const req = await requestApproval({ issuer, x509Source: source, bundleSource: source,
 *     loginHintToken: held, scope: ['files:read', 'review:post'], audience: [rs], bindingMessage: 'post the review to PR 42' });
 *   const { accessToken } = await waitForApproval({ issuer, x509Source: source, bundleSource: source, request: req });
 *
 * The agent authenticates with its X.509-SVID (mTLS, a fresh connection per call, so the
 * token is bound to the SVID of that moment) or a JWT-SVID client assertion. Refusals are
 * DelegationError `ERR_OAUTH_<ERROR>`: ERR_OAUTH_ACCESS_DENIED (the user said no),
 * ERR_OAUTH_EXPIRED_TOKEN (no decision, or the token not collected, in time),
 * ERR_OAUTH_INVALID_GRANT (unknown, another agent's, or already used auth_req_id),
 * ERR_OAUTH_INVALID_SCOPE / _UNAUTHORIZED_CLIENT / _INVALID_TARGET (no policy allows it),
 * each with the server's `oauthError`, `description` and `status`.
 */
export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const JWT_SPIFFE_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

export interface ApprovalClientOptions extends ServerTrust {
  /** The authorization server's issuer (https); endpoints are <issuer>/oauth2/bc-authorize and /oauth2/token. */
  issuer: string;
  /** mTLS as the agent (the token is bound to this SVID). */
  x509Source?: X509SvidSource;
  /** Or: a JWT-SVID client assertion (aud = the issuer); the token is then a bearer token. */
  jwtSource?: JwtSvidSource;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RequestApprovalOptions extends ApprovalClientOptions {
  /** The user's ID token from their OpenID Provider … */
  idTokenHint?: string;
  /** … or a delegated token this agent holds for them (what it asks to extend). Exactly one of the two. */
  loginHintToken?: string;
  /** Every scope the token should carry, those needing approval included. */
  scope: string[];
  audience?: string[];
  resource?: string[];
  /** Shown to the approver: what the agent will do ("post the review to PR 42"). */
  bindingMessage?: string;
  /** Seconds the request may wait for a decision (the server's limit caps it). */
  requestedExpiry?: number;
  /** Ping mode (the agent is registered for it): the bearer token the server's ping carries. */
  clientNotificationToken?: string;
}

export interface ApprovalRequest {
  authReqId: string;
  /** Seconds the request waits for a decision, from when it was made. */
  expiresIn: number;
  /** Minimum seconds between polls. */
  interval: number;
  expiresAt: Date;
}

export interface ApprovedToken {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  scope: string[];
}

export type PollResult =
  | { status: 'pending'; interval: number }
  | { status: 'slow_down'; interval: number }
  | { status: 'approved'; token: ApprovedToken };

/** POST /oauth2/bc-authorize: starts a request; the user decides on the approval page. */
export async function requestApproval(o: RequestApprovalOptions): Promise<ApprovalRequest> {
  if ((o.idTokenHint === undefined) === (o.loginHintToken === undefined)) {
    throw new TypeError('requestApproval needs exactly one of idTokenHint and loginHintToken');
  }
  if (!o.scope.length) throw new TypeError('scope is empty: name every scope the token should carry');
  const form = new URLSearchParams();
  form.set('scope', o.scope.join(' '));
  if (o.idTokenHint !== undefined) form.set('id_token_hint', o.idTokenHint);
  if (o.loginHintToken !== undefined) form.set('login_hint_token', o.loginHintToken);
  for (const a of o.audience ?? []) form.append('audience', a);
  for (const r of o.resource ?? []) form.append('resource', r);
  if (o.bindingMessage !== undefined) form.set('binding_message', o.bindingMessage);
  if (o.requestedExpiry !== undefined) form.set('requested_expiry', String(o.requestedExpiry));
  if (o.clientNotificationToken !== undefined) form.set('client_notification_token', o.clientNotificationToken);
  const started = Date.now();
  const body = await post(o, '/oauth2/bc-authorize', form);
  const { auth_req_id: id, expires_in: expiresIn, interval } = body;
  if (typeof id !== 'string' || !id || typeof expiresIn !== 'number') throw badResponse('bc-authorize', 'without auth_req_id and expires_in');
  const every = typeof interval === 'number' && interval > 0 ? interval : 5; // CIBA §7.3 default
  return { authReqId: id, expiresIn, interval: every, expiresAt: new Date(started + expiresIn * 1000) };
}

/** One poll of the token endpoint: pending, slow_down (with the new interval) or the token; other answers throw. */
export async function pollApproval(o: ApprovalClientOptions & { authReqId: string; interval?: number }): Promise<PollResult> {
  const form = new URLSearchParams({ grant_type: CIBA_GRANT, auth_req_id: o.authReqId });
  try {
    const b = await post(o, '/oauth2/token', form);
    if (typeof b.access_token !== 'string' || !b.access_token) throw badResponse('token', 'without access_token');
    return {
      status: 'approved',
      token: {
        accessToken: b.access_token, tokenType: typeof b.token_type === 'string' ? b.token_type : 'Bearer',
        expiresIn: typeof b.expires_in === 'number' ? b.expires_in : 0,
        scope: typeof b.scope === 'string' ? b.scope.split(' ').filter(Boolean) : [],
      },
    };
  } catch (e) {
    const interval = o.interval ?? 5;
    if (e instanceof DelegationError && e.oauthError === 'authorization_pending') return { status: 'pending', interval };
    // RFC 8628 §3.5 / CIBA §11: the interval grows by 5 s for this and every later poll.
    if (e instanceof DelegationError && e.oauthError === 'slow_down') return { status: 'slow_down', interval: interval + 5 };
    throw e;
  }
}

/**
 * Polls every `interval` seconds (longer after slow_down) until the token, a refusal or
 * the abort signal. `sleep` is injectable: in ping mode, resolve it early when the
 * server's ping for this auth_req_id arrives.
 */
export async function waitForApproval(o: ApprovalClientOptions & {
  request: ApprovalRequest;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onPending?: (r: { interval: number }) => void;
}): Promise<ApprovedToken> {
  const wait = o.sleep ?? sleep;
  let interval = o.request.interval;
  for (;;) {
    const r = await pollApproval({ ...o, authReqId: o.request.authReqId, interval });
    if (r.status === 'approved') return r.token;
    interval = r.interval;
    o.onPending?.({ interval });
    await wait(interval * 1000, o.signal);
  }
}

async function post(o: ApprovalClientOptions, path: string, form: URLSearchParams): Promise<Record<string, unknown>> {
  const url = issuerUrl(o.issuer, path);
  if (!o.x509Source && !o.jwtSource) throw new TypeError('the agent must authenticate: pass x509Source (mTLS) and/or jwtSource (client assertion)');
  let td = o.x509Source?.getX509Svid().id.trustDomain;
  if (o.jwtSource) {
    // rfc7523bis: the assertion's audience is exactly the issuer.
    const svid = await o.jwtSource.fetchJwtSvid({ audience: o.issuer });
    form.set('client_assertion_type', JWT_SPIFFE_ASSERTION);
    form.set('client_assertion', svid.token);
    td ??= svid.id.trustDomain;
  }
  const r = await postOAuthForm(url, form, o, td);
  const body = r.body;
  if (r.status === 200 && body) return body;
  const error = typeof body?.error === 'string' && body.error ? body.error : undefined;
  if (!error) throw badResponse(path, `with HTTP ${r.status} and no OAuth error body`, r.status);
  const description = typeof body?.error_description === 'string' ? body.error_description : '';
  throw new DelegationError(oauthErrorCode(error), `${path} refused: ${error}${description ? `: ${description}` : ''}`,
    { reason: 'oauth', oauthError: error, description, status: r.status });
}

const badResponse = (what: string, how: string, status = 200) =>
  new DelegationError('ERR_OAUTH_SERVER_ERROR', `${what} answered ${how}`, { reason: 'bad_response', oauthError: 'server_error', description: '', status });
