import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import type { DelegationSubject, ExchangeInput } from '../delegation/types.ts';
import { canonicalResource, parsePkce, parseScopeParam } from './authz-params.ts';
import type { ClientRegistry, ResolvedClient } from './clients.ts';
import { issueCode } from './codes.ts';
import { sendConsentPage } from './consent-page.ts';
import { sendErrorPage } from './html.ts';
import { clip, toOAuthError } from './http.ts';
import type { Route, RouteContext } from './listener.ts';
import type { UpstreamLogin } from './login.ts';
import type { DelegationCore } from './ports.ts';
import { clearCookieHeader, readCookie, setCookieHeader, type CookieSealer } from './sealed-cookie.ts';

/**
 * The browser half of the MCP authorization flow (OAuth 2.1 authorization code + PKCE):
 *
 *   GET  /oauth2/authorize  checks the request, sends the person to the upstream IdP;
 *   GET  /oauth2/callback   the IdP's answer: who signed in; the policy decides the scopes;
 *                           the consent page;
 *   POST /oauth2/consent    Approve → a code; Deny → access_denied.
 *
 * Until the client and its redirect URI are known good, errors are shown as a page;
 * after, they go back to the client with error, error_description, state and iss (RFC
 * 9207; `iss` on every authorization response). The flow's state is one sealed cookie
 * (sealed-cookie.ts), so any server with the same secret can continue it.
 */
export interface AuthorizeDeps {
  issuer: string;
  clients: ClientRegistry;
  login: UpstreamLogin;
  sealer: CookieSealer;
  core: Pick<DelegationCore, 'policies' | 'evaluate'>;
  store: Pick<Datastore, 'putAuthorizationCode'>;
  /** oauth.token_ttl: the ceiling the policy check assumes. */
  tokenTtl: number;
  /** oauth.consent_ttl: how long the person has to sign in and decide. */
  flowTtl: number;
  clock: Clock;
  logger: Logger;
}

/** The sealed flow cookie's content. */
interface Flow {
  stage: 'login' | 'consent';
  exp: number;
  clientId: string;
  redirectUri: string;
  state?: string;
  codeChallenge: string;
  resource: string;
  scope?: string[];
  upstream?: { verifier: string; state: string; nonce: string };
  user?: DelegationSubject;
  scopes?: string[];
  policy?: string;
  csrf?: string;
}

const PURPOSE = 'authz-flow';
const AUTHORIZE_PARAMS = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'resource', 'scope'];

/** An error that goes back to the client's (verified) redirect URI. */
class ClientRedirectError extends Error {
  constructor(readonly error: string, description: string) { super(description); }
}

export function authorizeRoutes(d: AuthorizeDeps): Route[] {
  const now = () => Math.floor(d.clock.now() / 1000);

  const redirect = (res: ServerResponse, f: Pick<Flow, 'redirectUri' | 'state'>, params: Record<string, string>, extra: Record<string, string> = {}, status = 302) => {
    const u = new URL(f.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (f.state !== undefined) u.searchParams.set('state', f.state);
    u.searchParams.set('iss', d.issuer);
    res.writeHead(status, { location: u.href, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', ...extra });
    res.end();
  };
  const redirectError = (res: ServerResponse, f: Pick<Flow, 'redirectUri' | 'state' | 'clientId'>, e: { error: string; message: string }, status = 302) => {
    d.logger.info('authorization refused', { client_id: f.clientId, error: e.error, error_description: e.message });
    redirect(res, f, { error: e.error, error_description: e.message }, { 'set-cookie': clearCookieHeader() }, status);
  };

  const authorize: Route = {
    method: 'GET', path: '/oauth2/authorize',
    async handler(ctx) {
      const q = ctx.url.searchParams;
      // Client and redirect URI first: until both are verified nothing is redirected.
      const clientId = single(q, 'client_id');
      if (clientId === undefined) return page(ctx, 'invalid_request', 'client_id is required');
      let client: ResolvedClient;
      try { client = await d.clients.resolve(clientId); } catch (e) {
        const o = toOAuthError(e);
        if (o.status >= 500) throw e;
        return page(ctx, o.error, o.message);
      }
      let redirectUri = single(q, 'redirect_uri');
      if (redirectUri === undefined) {
        if (client.redirectUris.length !== 1) return page(ctx, 'invalid_request', `redirect_uri is required: client ${clip(clientId, 200)} registers ${client.redirectUris.length} redirect URIs`);
        redirectUri = client.redirectUris[0]!;
      } else if (!client.redirectUris.includes(redirectUri)) {
        return page(ctx, 'invalid_request', `redirect_uri ${clip(redirectUri, 200)} is not registered for client ${clip(clientId, 200)} (exact match required; registered: ${client.redirectUris.map((u) => clip(u, 100)).join(', ')})`);
      }
      const state = single(q, 'state');
      const f = { clientId, redirectUri, state };
      try {
        for (const k of AUTHORIZE_PARAMS) {
          if (q.getAll(k).length > 1) throw new ClientRedirectError('invalid_request', `parameter ${k} is given ${q.getAll(k).length} times; it must appear at most once`);
        }
        const responseType = q.get('response_type') || undefined;
        if (responseType === undefined) throw new ClientRedirectError('invalid_request', 'response_type is required (code)');
        if (responseType !== 'code') throw new ClientRedirectError('unsupported_response_type', `response_type ${clip(responseType, 60)} is not supported; use code`);
        const pkce = parsePkce(q.get('code_challenge') || undefined, q.get('code_challenge_method') || undefined);
        if (!pkce.ok) throw new ClientRedirectError(pkce.error, pkce.description);
        const resource = canonicalResource(q.get('resource') || undefined);
        if (!resource.ok) throw new ClientRedirectError(resource.error, resource.description);
        const scope = parseScopeParam(q.get('scope') || undefined);
        if (!scope.ok) throw new ClientRedirectError(scope.error, scope.description);
        const up = await d.login.begin();
        const flow: Flow = {
          stage: 'login', exp: now() + d.flowTtl, ...f, codeChallenge: pkce.value, resource: resource.value,
          ...(scope.value ? { scope: scope.value } : {}), upstream: { verifier: up.verifier, state: up.state, nonce: up.nonce },
        };
        ctx.res.writeHead(302, { location: up.url, 'cache-control': 'no-store', 'set-cookie': setCookieHeader(d.sealer.seal(PURPOSE, flow), d.flowTtl) });
        ctx.res.end();
      } catch (e) {
        if (e instanceof ClientRedirectError) return redirectError(ctx.res, f, e);
        const o = toOAuthError(e);
        if (o.status >= 500 && o.error === 'server_error') throw e;
        return redirectError(ctx.res, f, o);
      }
    },
  };

  const callback: Route = {
    method: 'GET', path: '/oauth2/callback',
    async handler(ctx) {
      const flow = openFlow(d, ctx, 'login');
      if ('problem' in flow) return page(ctx, 'invalid_request', flow.problem);
      const q = ctx.url.searchParams;
      if (q.get('state') !== flow.upstream!.state) {
        return page(ctx, 'invalid_request', 'the sign-in answer does not belong to this browser\'s authorization (state mismatch); start again from the application');
      }
      const upstreamError = q.get('error');
      if (upstreamError) {
        return redirectError(ctx.res, flow, { error: 'access_denied', message: `sign-in at ${d.login.issuer} failed: ${clip(upstreamError, 60)}${q.get('error_description') ? ` (${clip(q.get('error_description')!, 200)})` : ''}` });
      }
      try {
        const user = await d.login.finish(ctx.url.search, flow.upstream!);
        const client = await d.clients.resolve(flow.clientId);
        const t = now();
        const input: ExchangeInput = {
          subject: user, actor: { spiffeId: client.spiffeId ?? client.clientId, claims: {} }, priorActors: [],
          subjectScopes: undefined, parentAudiences: undefined, subjectExpiresAt: t + d.tokenTtl,
          requestedScopes: flow.scope, requestedAudiences: [flow.resource], requestedTtl: undefined, now: t, serverMaxTtl: d.tokenTtl,
        };
        const decision = d.core.evaluate(input, d.core.policies());
        const csrf = randomBytes(24).toString('base64url');
        const next: Flow = {
          ...flow, stage: 'consent', exp: t + d.flowTtl, upstream: undefined, user, scopes: decision.scopes, policy: decision.policyId, csrf,
        };
        sendConsentPage(ctx.res, {
          client, user, redirectUri: flow.redirectUri, resource: flow.resource, scopes: decision.scopes, csrf,
          setCookie: setCookieHeader(d.sealer.seal(PURPOSE, next), d.flowTtl),
        });
      } catch (e) {
        const o = toOAuthError(e);
        if (o.status >= 500 && o.error === 'server_error') throw e;
        return redirectError(ctx.res, flow, o);
      }
    },
  };

  const consent: Route = {
    method: 'POST', path: '/oauth2/consent',
    async handler(ctx) {
      const flow = openFlow(d, ctx, 'consent');
      if ('problem' in flow) return page(ctx, 'invalid_request', flow.problem, 403);
      const form = await ctx.form();
      const csrf = form.get('csrf');
      if (csrf === undefined) return page(ctx, 'invalid_request', 'the consent form carries no CSRF token; submit the form Tessera showed', 403);
      if (!sameText(csrf, flow.csrf!)) return page(ctx, 'invalid_request', 'the consent form\'s CSRF token does not match this browser\'s authorization; start again from the application', 403);
      const decision = form.get('decision');
      if (decision === 'deny') {
        return redirectError(ctx.res, flow, { error: 'access_denied', message: `${flow.user!.name} denied the request` }, 303);
      }
      if (decision !== 'approve') return page(ctx, 'invalid_request', 'decision must be approve or deny', 400);
      const t = now();
      const code = await issueCode(d.store, {
        clientId: flow.clientId, redirectUri: flow.redirectUri, codeChallenge: flow.codeChallenge, resource: flow.resource,
        scopes: flow.scopes!, subject: flow.user!, approvedAt: t,
      }, t);
      d.logger.info('authorization approved', {
        client_id: flow.clientId, subject: `${flow.user!.issuer}#${flow.user!.name}`, resource: flow.resource, scopes: flow.scopes, policy: flow.policy,
      });
      redirect(ctx.res, flow, { code }, { 'set-cookie': clearCookieHeader() }, 303);
    },
  };

  return [authorize, callback, consent];
}

function openFlow(d: AuthorizeDeps, ctx: RouteContext, stage: Flow['stage']): Flow | { problem: string } {
  const f = d.sealer.open<Flow>(PURPOSE, readCookie(ctx.req));
  if (!f) return { problem: 'no authorization is in progress in this browser (its cookie is missing or was altered); start again from the application' };
  if (f.exp <= Math.floor(d.clock.now() / 1000)) return { problem: 'the authorization took too long and expired; start again from the application' };
  if (f.stage !== stage) return { problem: `this authorization is waiting for ${f.stage === 'login' ? 'sign-in' : 'consent'}, not ${stage === 'login' ? 'a sign-in answer' : 'a consent decision'}` };
  return f;
}

function page(ctx: RouteContext, error: string, description: string, status = 400): void {
  sendErrorPage(ctx.res, status, error, description, { 'set-cookie': clearCookieHeader() });
}

function single(q: URLSearchParams, k: string): string | undefined {
  const all = q.getAll(k).filter((v) => v !== '');
  return all.length === 1 ? all[0] : undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

