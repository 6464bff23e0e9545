import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, payloadOf, until, type Workload } from '../oauth/harness.ts';
import { approvalIdOf, CIBA, decide, listedIds, PLANNER, RS, signIn, startCibaEnv, type CibaEnv } from './ciba-harness.ts';

/**
 * Human approval of an escalation over HTTP (docs/attenuation.md "Human approval"):
 * the planner holds files:read for alice; review:post is only approvable. It asks at
 * /oauth2/bc-authorize, alice signs in at the real OpenID Provider and approves on the
 * approval page, the planner polls and gets one delegated token; every refusal is the
 * OAuth error JSON CIBA names.
 */
const scope = sharedScope();
let env: CibaEnv;
let planner: Workload;
let held: string;

test.before(async () => {
  env = await startCibaEnv(scope);
  await env.policy({
    id: 'pol_planner', actors: [PLANNER], subjectIssuer: env.op.issuer, audiences: [RS], scopes: ['files:read'], maxTtl: 300,
    approval: { scopes: ['review:post'], approvers: ['subject'] },
  });
  await env.policy({
    id: 'pol_leads', actors: ['spiffe://example.org/agents/releaser'], subjectIssuer: env.op.issuer, audiences: [RS], scopes: ['files:read'],
    maxTtl: 300, approval: { scopes: ['release:ship'], approvers: ['group:leads'] },
  });
  planner = env.svid('/agents/planner', { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic', agent_instance_id: 'inst_planner1' });
  const r = await env.exchange({ subject_token: await env.idToken('alice'), subject_token_type: ID_TOKEN, audience: RS, scope: 'files:read' }, planner);
  if (r.status !== 200) throw new Error(`exchange failed: ${r.text}`);
  held = r.json.access_token as string;
});
test.after.always(() => scope.cleanup());

/** A fresh request of the planner for review:post on alice's behalf. */
function ask(over: Record<string, string> = {}, as: Workload | null = planner) {
  return env.bcAuthorize({ login_hint_token: held, scope: 'files:read review:post', audience: RS, binding_message: 'post the review to PR 42', ...over }, as ?? undefined);
}

/** Moves the server's clock past the request's poll interval. */
const nextPoll = () => env.advance(2_100);

test.serial('metadata advertises the backchannel endpoint, poll mode and the CIBA grant', async (t) => {
  const m = (await env.request('GET', '/.well-known/oauth-authorization-server')).json;
  t.is(m.backchannel_authentication_endpoint, `${env.issuer}/oauth2/bc-authorize`);
  t.deepEqual(m.backchannel_token_delivery_modes_supported, ['poll']);
  t.is(m.backchannel_user_code_parameter_supported, false);
  t.true((m.grant_types_supported as string[]).includes(CIBA));
});

test.serial('alice approves on the page; the planner polls and gets one token with the approved scope, bound to its SVID', async (t) => {
  const r = await ask();
  t.is(r.status, 200, r.text);
  const authReqId = r.json.auth_req_id as string;
  t.true(authReqId.length >= 32, 'auth_req_id carries at least 160 bits');
  t.is(r.json.interval, 2);
  t.is(r.json.expires_in, 600);
  t.is(r.headers['cache-control'], 'no-store');

  const pending = await env.poll(authReqId, planner);
  t.is(pending.status, 400);
  t.is(pending.json.error, 'authorization_pending');

  const { browser, page } = await signIn(env, 'alice');
  t.is(page.status, 200, page.html.slice(0, 300));
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'none'.*form-action 'self'/);
  const id = await approvalIdOf(env, authReqId);
  t.true(listedIds(page.html).includes(id));
  const section = page.html.slice(page.html.indexOf(`<section id="${id}"`));
  t.regex(section, new RegExp(`<code class="spiffe_id">${PLANNER}</code>`));
  t.regex(section, /provider anthropic, model claude-sonnet-4/);
  t.regex(section, /<code class="instance">inst_planner1<\/code>/);
  t.regex(section, /<q class="binding_message">post the review to PR 42<\/q>/);
  t.regex(section, /<ul class="escalated"><li><code>review:post<\/code><\/li><\/ul>/);
  t.regex(section, /<ul class="held"><li><code>files:read<\/code><\/li><\/ul>/);
  t.regex(section, /class="subject">alice/);

  const done = await decide(env, browser, page, id, 'approve');
  t.is(done.status, 200, done.html.slice(0, 400));
  t.regex(done.html, /id="result"[^>]*>Approved/);

  nextPoll();
  const ok = await env.poll(authReqId, planner);
  t.is(ok.status, 200, ok.text);
  t.is(ok.json.token_type, 'Bearer');
  t.is(ok.json.scope, 'files:read review:post');
  const claims = payloadOf(ok.json.access_token as string);
  t.is(claims.sub, `${env.op.issuer}#alice`);
  t.is(claims.act.sub, PLANNER);
  t.is(claims.act.agent_model, 'claude-sonnet-4');
  t.deepEqual(claims.aud, [RS]);
  t.is(claims.cnf['x5t#S256'], planner.x5t);
  t.not(claims.grant_id, payloadOf(held).grant_id);

  // Single use: the same auth_req_id never gives a second token.
  nextPoll();
  const again = await env.poll(authReqId, planner);
  t.is(again.status, 400);
  t.is(again.json.error, 'invalid_grant');
  t.regex(again.json.error_description as string, /already used/);

  // The OAuth audit trail holds the decision and the issuance.
  const rows = await until('audit rows', async () => {
    const all = await env.server.store.listAudit({ subject: `${env.op.issuer}#alice` });
    const approved = all.find((a) => a.event === 'oauth.approval_approved' && a.data.approval_id === id);
    const issued = all.find((a) => a.event === 'oauth.token_exchange' && a.data.grant === CIBA && a.data.approval_id === id);
    return approved && issued ? { approved, issued } : undefined;
  });
  t.is(rows.approved.data.approver, `${env.op.issuer}#alice`);
  t.deepEqual(rows.approved.data.escalated, ['review:post']);
  t.is(rows.issued.data.jti, claims.jti);
});

test.serial('a denial gives access_denied', async (t) => {
  const r = await ask();
  const authReqId = r.json.auth_req_id as string;
  const { browser, page } = await signIn(env, 'alice');
  const done = await decide(env, browser, page, await approvalIdOf(env, authReqId), 'deny');
  t.regex(done.html, /id="result"[^>]*>Denied/);
  const p = await env.poll(authReqId, planner);
  t.is(p.status, 400);
  t.is(p.json.error, 'access_denied');
  t.regex(p.json.error_description as string, /alice denied request apr_/);
});

test.serial('a request nobody decides expires: expired_token, and the page no longer offers it', async (t) => {
  const r = await ask({ requested_expiry: '30' });
  t.is(r.json.expires_in, 30);
  const authReqId = r.json.auth_req_id as string;
  const id = await approvalIdOf(env, authReqId);
  const before = await signIn(env, 'alice');
  env.advance(31_000);
  const p = await env.poll(authReqId, planner);
  t.is(p.status, 400);
  t.deepEqual(Object.keys(p.json).sort(), ['error', 'error_description']);
  t.is(p.json.error, 'expired_token');
  const late = await decide(env, before.browser, before.page, id, 'approve');
  t.is(late.status, 409, 'a page opened in time cannot approve after expiry');
  t.regex(late.html, /has expired/);
  const { page } = await signIn(env, 'alice');
  t.false(listedIds(page.html).includes(id));
  t.is((await env.poll(authReqId, planner)).json.error, 'expired_token');
});

test.serial('another agent polling the planner\'s auth_req_id gets invalid_grant and does not disturb the planner\'s polling', async (t) => {
  const r = await ask();
  const authReqId = r.json.auth_req_id as string;
  const intruder = env.svid('/agents/intruder');
  const p = await env.poll(authReqId, intruder);
  t.is(p.status, 400);
  t.is(p.json.error, 'invalid_grant');
  t.regex(p.json.error_description as string, /issued to another client, not spiffe:\/\/example\.org\/agents\/intruder/);
  const mine = await env.poll(authReqId, planner);
  t.is(mine.json.error, 'authorization_pending', 'the intruder\'s poll did not count as the planner\'s');
  // Without any client authentication: 401 invalid_client.
  const anon = await env.poll(authReqId);
  t.is(anon.status, 401);
  t.is(anon.json.error, 'invalid_client');
});

test.serial('polling faster than the interval gives slow_down, and the interval grows by 5 s', async (t) => {
  const r = await ask();
  const authReqId = r.json.auth_req_id as string;
  t.is((await env.poll(authReqId, planner)).json.error, 'authorization_pending');
  const fast = await env.poll(authReqId, planner);
  t.is(fast.status, 400);
  t.is(fast.json.error, 'slow_down');
  t.regex(fast.json.error_description as string, /every 7 s/);
  nextPoll(); // 2.1 s: enough before, not now; and each early poll adds 5 s more
  const again = await env.poll(authReqId, planner);
  t.is(again.json.error, 'slow_down');
  t.regex(again.json.error_description as string, /every 12 s/);
  env.advance(12_100);
  t.is((await env.poll(authReqId, planner)).json.error, 'authorization_pending');
});

test.serial('bob neither sees nor decides alice\'s request; a decision without the session\'s CSRF token is refused', async (t) => {
  const r = await ask();
  const id = await approvalIdOf(env, r.json.auth_req_id as string);
  // A request of bob's own, so bob's page carries his session's CSRF token.
  const forBob = await env.bcAuthorize({ id_token_hint: await env.idToken('bob'), scope: 'files:read review:post', audience: RS }, planner);
  t.is(forBob.status, 200, forBob.text);
  const bob = await signIn(env, 'bob');
  t.deepEqual(listedIds(bob.page.html), [await approvalIdOf(env, forBob.json.auth_req_id as string)]);
  const bobCsrf = /name="csrf" value="([^"]+)"/.exec(bob.page.html)![1]!;
  const alice = await signIn(env, 'alice');

  const notApprover = await decide(env, bob.browser, alice.page, id, 'approve', bobCsrf);
  t.is(notApprover.status, 403);
  t.regex(notApprover.html, /bob is not an approver of request apr_/);
  const crossSession = await decide(env, bob.browser, alice.page, id, 'approve');
  t.is(crossSession.status, 403, 'alice\'s CSRF token in bob\'s session');
  t.regex(crossSession.html, /CSRF token is not this session/);
  const noCsrf = await decide(env, alice.browser, alice.page, id, 'approve', null);
  t.is(noCsrf.status, 403);
  t.regex(noCsrf.html, /CSRF token is missing/);
  t.is((await env.server.store.getApprovalRequest({ id }))!.status, 'pending', 'nothing was decided');
});

test.serial('revoking the grant the agent held when it asked ends the approved escalation', async (t) => {
  const ex = await env.exchange({ subject_token: await env.idToken('alice'), subject_token_type: ID_TOKEN, audience: RS, scope: 'files:read' }, planner);
  const mine = ex.json.access_token as string;
  const r = await ask({ login_hint_token: mine });
  const authReqId = r.json.auth_req_id as string;
  const { browser, page } = await signIn(env, 'alice');
  await decide(env, browser, page, await approvalIdOf(env, authReqId), 'approve');
  const at = Math.floor(Date.now() / 1000) + 3600; // live well past the server's clock, which the tests moved ahead
  await env.server.store.addRevocation({ kind: 'grant', value: payloadOf(mine).grant_id, at, expiresAt: at + 600, by: 'test' });
  await until('the revocation applied', async () => {
    const i = await env.request('POST', '/oauth2/introspect', { params: { token: mine }, as: planner });
    return i.json.active === false ? true : undefined;
  });
  nextPoll();
  const p = await env.poll(authReqId, planner);
  t.is(p.status, 400, p.text);
  t.is(p.json.error, 'invalid_grant');
  t.regex(p.json.error_description as string, /login_hint_token tok_.* was revoked since \(grant grt_/);
});

test.serial('a group approver (carol, in leads) decides for a policy that names group:leads; alice cannot', async (t) => {
  const releaser = env.svid('/agents/releaser');
  const r = await env.bcAuthorize({ id_token_hint: await env.idToken('alice'), scope: 'files:read release:ship', audience: RS }, releaser);
  t.is(r.status, 200, r.text);
  const authReqId = r.json.auth_req_id as string;
  const id = await approvalIdOf(env, authReqId);
  const alice = await signIn(env, 'alice');
  t.false(listedIds(alice.page.html).includes(id), 'the subject is not an approver of this policy');
  const carol = await signIn(env, 'carol');
  t.true(listedIds(carol.page.html).includes(id));
  t.regex((await decide(env, carol.browser, carol.page, id, 'approve')).html, /Approved/);
  const ok = await env.poll(authReqId, releaser);
  t.is(ok.status, 200, ok.text);
  t.is(payloadOf(ok.json.access_token as string).sub, `${env.op.issuer}#alice`);
  t.is(ok.json.scope, 'files:read release:ship');
});

test.serial('refusals at the backchannel endpoint are CIBA errors naming what failed', async (t) => {
  const cases: [string, Record<string, string>, Workload | null, number, string, RegExp][] = [
    ['scope neither standing nor approvable', { scope: 'files:write' }, planner, 400, 'invalid_scope', /files:write.*approver/],
    ['login_hint alone', { login_hint_token: '', login_hint: 'alice' }, planner, 400, 'invalid_request', /login_hint is not supported/],
    ['two hints', { id_token_hint: 'x.y.z' }, planner, 400, 'invalid_request', /exactly one of/],
    ['another agent\'s token as hint', {}, env.svid('/agents/other'), 400, 'invalid_request', /issued to spiffe:\/\/example\.org\/agents\/planner/],
    ['no client authentication', {}, null, 401, 'invalid_client', /client authentication is required/],
    ['binding message with a control character', { binding_message: 'post\u0000now' }, planner, 400, 'invalid_binding_message', /plain text/],
    ['no audience', { audience: '' }, planner, 400, 'invalid_target', /audience or resource is required/],
    ['no scope', { scope: '' }, planner, 400, 'invalid_request', /scope is required/],
    ['ping token from a poll-mode client', { client_notification_token: 'tok' }, planner, 400, 'invalid_request', /poll mode only/],
  ];
  for (const [what, over, as, status, error, description] of cases) {
    const r = await ask(over, as);
    t.is(r.status, status, `${what}: ${r.text}`);
    t.is(r.json.error, error, what);
    t.regex(r.json.error_description as string, description, what);
  }
});
