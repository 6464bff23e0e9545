import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { DelegationSubject } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import { clip, toOAuthError } from '../http.ts';
import type { Route, RouteContext } from '../listener.ts';
import type { UpstreamLogin } from '../login.ts';
import { readCookie, type CookieSealer } from '../sealed-cookie.ts';
import { sendApprovalList, sendApprovalMessage } from './approval-page.ts';
import type { PingNotifier } from './ping.ts';
import { approverRule, parseRequest, personPrincipals, qualified, recordApproval, type DecisionData } from './request.ts';

/**
 * The approval page on the authorization server's listener:
 *
 *   GET  /oauth2/approvals           signed in: the requests waiting for this person;
 *                                    otherwise off to the OpenID Provider (oauth.login);
 *   GET  /oauth2/approvals/callback  the provider's answer: who signed in;
 *   POST /oauth2/approvals/decide    Approve / Deny one request (CSRF token required).
 *
 * The sign-in transaction and then the session (who, a CSRF token) live in one sealed
 * cookie of their own (`__Host-tessera_approval`, Secure, HttpOnly, SameSite=Lax,
 * oauth.consent_ttl long), so it never disturbs an MCP authorization in the same
 * browser, and any server sharing the cookie secret and the store serves the page.
 */
export interface ApprovalRoutesDeps {
  login: UpstreamLogin;
  sealer: CookieSealer;
  store: Pick<Datastore, 'listApprovalRequests' | 'getApprovalRequest' | 'decideApprovalRequest'>;
  ping: PingNotifier;
  audit: OAuthAudit;
  /** oauth.consent_ttl: how long a sign-in lasts on this page. */
  sessionTtl: number;
  clock: Clock;
  logger: Logger;
}

interface Session {
  stage: 'login' | 'session';
  exp: number;
  upstream?: { verifier: string; state: string; nonce: string };
  user?: DelegationSubject;
  csrf?: string;
}

export const APPROVAL_COOKIE = '__Host-tessera_approval';
const PURPOSE = 'approval-session';
const setCookie = (v: string, maxAge: number) => `${APPROVAL_COOKIE}=${v}; Path=/; Max-Age=${maxAge}; Secure; HttpOnly; SameSite=Lax`;
const clearCookie = () => setCookie('', 0);

export function approvalRoutes(d: ApprovalRoutesDeps): Route[] {
  const now = () => Math.floor(d.clock.now() / 1000);
  const open = (ctx: RouteContext): Session | undefined => {
    const s = d.sealer.open<Session>(PURPOSE, readCookie(ctx.req, APPROVAL_COOKIE));
    return s && s.exp > now() ? s : undefined;
  };
  const fail = (ctx: RouteContext, status: number, text: string) =>
    sendApprovalMessage(ctx.res, status, 'Approval failed', { id: 'error', text, headers: { 'set-cookie': clearCookie() } });

  const list: Route = {
    method: 'GET', path: '/oauth2/approvals',
    async handler(ctx) {
      const s = open(ctx);
      if (s?.stage === 'session') {
        const requests = (await d.store.listApprovalRequests({ principals: personPrincipals(s.user!), pendingAt: now() })).map(parseRequest);
        return sendApprovalList(ctx.res, { user: s.user!, requests, csrf: s.csrf! });
      }
      const up = await d.login.begin();
      const next: Session = { stage: 'login', exp: now() + d.sessionTtl, upstream: { verifier: up.verifier, state: up.state, nonce: up.nonce } };
      ctx.res.writeHead(302, { location: up.url, 'cache-control': 'no-store', 'set-cookie': setCookie(d.sealer.seal(PURPOSE, next), d.sessionTtl) });
      ctx.res.end();
    },
  };

  const callback: Route = {
    method: 'GET', path: '/oauth2/approvals/callback',
    async handler(ctx) {
      const s = open(ctx);
      if (s?.stage !== 'login') return fail(ctx, 400, 'no sign-in is in progress in this browser (its cookie is missing, expired or was altered); open the approval page again');
      const q = ctx.url.searchParams;
      if (q.get('state') !== s.upstream!.state) return fail(ctx, 400, 'the sign-in answer does not belong to this browser (state mismatch); open the approval page again');
      if (q.get('error')) return fail(ctx, 403, `sign-in at ${d.login.issuer} failed: ${clip(q.get('error')!, 60)}`);
      let user: DelegationSubject;
      try { user = await d.login.finish(ctx.url.search, s.upstream!); } catch (e) {
        const o = toOAuthError(e);
        if (o.status >= 500) throw e;
        return fail(ctx, 403, o.message);
      }
      const next: Session = { stage: 'session', exp: now() + d.sessionTtl, user, csrf: randomBytes(24).toString('base64url') };
      d.logger.info('approver signed in', { user: qualified(user) });
      ctx.res.writeHead(303, { location: '/oauth2/approvals', 'cache-control': 'no-store', 'set-cookie': setCookie(d.sealer.seal(PURPOSE, next), d.sessionTtl) });
      ctx.res.end();
    },
  };

  const decide: Route = {
    method: 'POST', path: '/oauth2/approvals/decide',
    async handler(ctx) {
      const s = open(ctx);
      if (s?.stage !== 'session') return fail(ctx, 403, 'you are not signed in on this page (the cookie is missing, expired or was altered); open the approval page again');
      const form = await ctx.form();
      const csrf = form.get('csrf');
      if (csrf === undefined || !sameText(csrf, s.csrf!)) {
        return fail(ctx, 403, `the form's CSRF token is ${csrf === undefined ? 'missing' : 'not this session\'s'}; submit the form the approval page showed`);
      }
      const decision = form.get('decision');
      if (decision !== 'approve' && decision !== 'deny') return fail(ctx, 400, 'decision must be approve or deny');
      const id = form.get('id');
      if (id === undefined) return fail(ctx, 400, 'the form names no request (id)');
      const rec = await d.store.getApprovalRequest({ id });
      const user = s.user!;
      const keep = { headers: { 'cache-control': 'no-store' } };
      if (!rec) return sendApprovalMessage(ctx.res, 404, 'Approval failed', { id: 'error', text: `request ${clip(id, 80)} does not exist`, ...keep });
      const req = parseRequest(rec);
      const as = approverRule(req, user);
      if (!as) {
        d.logger.warn('approval by a person who is not an approver refused', { approval_id: req.id, user: qualified(user) });
        return sendApprovalMessage(ctx.res, 403, 'Approval failed', { id: 'error', text: `${user.name} is not an approver of request ${req.id}`, ...keep });
      }
      await d.audit.admit(); // a decision that cannot be audited is not taken
      const t = now();
      const data: DecisionData = { approver: user, as };
      const ok = req.status === 'pending' && req.expiresAt > t && await d.store.decideApprovalRequest(req.id, {
        status: decision === 'approve' ? 'approved' : 'denied', by: qualified(user), at: t, decision: JSON.stringify(data),
      });
      if (!ok) {
        const again = parseRequest(await d.store.getApprovalRequest({ id }) ?? rec);
        const why = again.status !== 'pending' ? `was already ${again.status} by ${again.decidedBy || 'someone'}` : 'has expired';
        return sendApprovalMessage(ctx.res, 409, 'Approval failed', { id: 'error', text: `request ${req.id} ${why}`, ...keep });
      }
      recordApproval(d.audit, decision === 'approve' ? 'oauth.approval_approved' : 'oauth.approval_denied', req.subject, {
        approval_id: req.id, subject: req.subject, actor: req.clientId, approver: qualified(user), approver_groups: user.groups, approved_as: as,
        scopes: req.data.scopes, escalated: req.data.escalated, audience: req.data.audiences, binding_message: req.data.bindingMessage,
        policy: req.data.policy,
      });
      if (req.data.ping) void d.ping.notify(req.clientId, req.data.ping, req.id);
      const text = decision === 'approve'
        ? `Approved: ${req.data.agent.spiffeId} may now collect a token with ${req.data.scopes.join(' ')} for ${req.data.subject.name}, once.`
        : `Denied: ${req.data.agent.spiffeId} gets nothing from request ${req.id}.`;
      sendApprovalMessage(ctx.res, 200, decision === 'approve' ? 'Approved' : 'Denied', { id: 'result', text, ...keep });
    },
  };

  return [list, callback, decide];
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
