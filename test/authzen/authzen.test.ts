import test, { type ExecutionContext } from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf, until, type HttpResult } from '../oauth/harness.ts';
import { AGENT, evaluation, INDEXER, startAuthzenEnv, SUB, TD, TOOLS, type AuthzenEnv } from './authzen-harness.ts';

/**
 * OpenID AuthZEN Authorization API 1.0 on the authorization server's listener
 * (docs/authzen.md), against a real in-process server: decisions by the delegation
 * policies, budgets spent on permit, approvals, batch semantics, and the transport
 * errors with their status and message.
 */
const scope = sharedScope();
let env: AuthzenEnv;
const EVAL = '/access/v1/evaluation';
const EVALS = '/access/v1/evaluations';

test.before(async () => { env = await startAuthzenEnv(scope); });
test.after.always(() => scope.cleanup());

function denied(t: ExecutionContext, r: HttpResult, id: string, message: RegExp): void {
  t.is(r.status, 200, r.text);
  t.is(r.json.decision, false, r.text);
  const c = r.json.context as Record<string, any>;
  t.is(c.id, id, r.text);
  t.regex(c.reason_admin.en, message);
}

function transportError(t: ExecutionContext, r: HttpResult, status: number, message: RegExp): void {
  t.is(r.status, status, r.text);
  t.is((r.json.error as any)?.status, status, r.text);
  t.regex((r.json.error as any)?.message, message);
}

test('metadata at /.well-known/authzen-configuration names this PDP and its endpoints', async (t) => {
  const r = await env.request('GET', '/.well-known/authzen-configuration');
  t.is(r.status, 200);
  t.deepEqual(r.json, {
    policy_decision_point: env.issuer, access_evaluation_endpoint: `${env.issuer}${EVAL}`, access_evaluations_endpoint: `${env.issuer}${EVALS}`,
  });
});

test('permit: the agent\'s token carries the scope, the resource is its audience, the live policy agrees; audited; X-Request-ID echoed', async (t) => {
  const token = await env.token();
  const r = await env.pdp(EVAL, evaluation(token, 'files:read'), { headers: { 'x-request-id': 'req-42' } });
  t.is(r.status, 200, r.text);
  t.deepEqual(r.json, { decision: true, context: { id: 'permit', policy: 'pol_agent', ttl: 60 } });
  t.is(r.headers['x-request-id'], 'req-42');
  const user = await env.pdp(EVAL, evaluation(token, 'files:read', { subject: { type: 'user', id: payloadOf(token).sub } }));
  t.is(user.json.decision, true, user.text);
  const ev = await until('decision audit', () => env.logs.find((l) => l.event === 'authzen.permitted' && l.jti === payloadOf(token).jti));
  t.like(ev, { actor: AGENT, subject: payloadOf(token).sub, action: 'files:read', caller: env.tool.id, decision: 'permit', policy: 'pol_agent' });
  const rows = await until('audit row', async () => (await env.server.store.listAudit({ event: 'authzen.permitted' })).find((a) => a.data.jti === payloadOf(token).jti));
  t.is(rows.subject, 'file:report.pdf');
});

test('a sub-agent\'s token is decided along its whole chain', async (t) => {
  const sub = await env.subToken(await env.token());
  const r = await env.pdp(EVAL, evaluation(sub, 'files:read', { subject: { type: 'agent', id: SUB } }));
  t.like(r.json, { decision: true, context: { id: 'permit', policy: 'pol_sub' } });
  denied(t, await env.pdp(EVAL, evaluation(sub, 'payments:send', { subject: { type: 'agent', id: SUB } })), 'scope',
    /^scope payments:send is not allowed: the subject token grants files:read; policy pol_sub allows files:read/);
});

test('denials name the reason: scope, audience, subject, revoked, unknown action, approval', async (t) => {
  const narrow = await env.token({ scope: 'files:read' });
  denied(t, await env.pdp(EVAL, evaluation(narrow, 'payments:send')), 'scope',
    /^scope payments:send is not allowed: the subject token grants files:read; policy pol_agent allows files:read payments:send/);
  denied(t, await env.pdp(EVAL, evaluation(narrow, 'files:read', { audience: 'https://mail.example.org' })), 'audience',
    /^audience https:\/\/mail.example.org not allowed: the subject token's aud is https:\/\/tools.example.org/);
  denied(t, await env.pdp(EVAL, evaluation(narrow, 'files:read', { subject: { type: 'agent', id: SUB } })), 'subject_mismatch',
    /^subject agent spiffe:\/\/example.org\/agents\/sub\/reviewer is not who the token names \(agent spiffe:\/\/example.org\/agents\/researcher\)/);
  denied(t, await env.pdp(EVAL, evaluation(narrow, 'files:read', { subject: { type: 'user', id: 'https://idp#bob' } })), 'subject_mismatch', /is not who the token names \(sub https:/);
  denied(t, await env.pdp(EVAL, evaluation(`${narrow.slice(0, -4)}AAAA`, 'files:read')), 'token_invalid', /^subject.properties.token signature does not verify/);

  const unknown = await env.pdp(EVAL, evaluation(narrow, 'files:shred'));
  denied(t, unknown, 'unknown_action', /^action "files:shred" is unknown: no delegation policy names it as a scope or an approvable scope$/);
  t.deepEqual((unknown.json.context as any).error, { status: 400, message: (unknown.json.context as any).reason_admin.en });

  const approval = await env.pdp(EVAL, evaluation(narrow, 'files:delete'));
  denied(t, approval, 'approval_required', /^action files:delete needs a person's approval \(policy pol_agent\)/);
  t.deepEqual((approval.json.context as any).approval, { scopes: ['files:delete'], approvers: ['subject'], backchannel_authentication_endpoint: `${env.issuer}/oauth2/bc-authorize` });

  const revokeMe = await env.token();
  t.is((await env.request('POST', '/oauth2/revoke', { params: { token: revokeMe }, as: env.svid('/agents/researcher') })).status, 200);
  denied(t, await env.pdp(EVAL, evaluation(revokeMe, 'files:read')), 'token_revoked', /^subject.properties.token tok_\S+ is revoked \(jti tok_/);
  const ev = await until('deny audit', () => env.logs.find((l) => l.event === 'authzen.denied' && l.decision_id === 'token_revoked'));
  t.regex(String(ev.reason), /^token_revoked: subject.properties.token/);
});

test('budgets: each permit of a budgeted action spends one use of the grant; then budget_exhausted', async (t) => {
  const token = await env.token();
  const first = await env.pdp(EVAL, evaluation(token, 'payments:send'));
  t.deepEqual(first.json, { decision: true, context: { id: 'permit', policy: 'pol_agent', ttl: 0, budget: { operation: 'payments:send', remaining: 1 } } });
  t.like((await env.pdp(EVAL, evaluation(token, 'payments:send'))).json, { decision: true, context: { budget: { remaining: 0 } } });
  const spent = await env.pdp(EVAL, evaluation(token, 'payments:send'));
  denied(t, spent, 'budget_exhausted', /^the budget of payments:send for grant grt_\S+ is spent \(remaining 0\)/);
  // The same counter as /oauth2/consume: introspection shows it spent.
  const intro = await env.request('POST', '/oauth2/introspect', { as: env.tool, params: { token } });
  t.like(intro.json, { budgets: { 'payments:send': { limit: 2, remaining: 0 } } });
  // A denied action spends nothing.
  const other = await env.token();
  denied(t, await env.pdp(EVAL, evaluation(other, 'payments:send', { audience: 'https://mail.example.org' })), 'audience', /not allowed/);
  t.like((await env.pdp(EVAL, evaluation(other, 'payments:send', { count: 2 }))).json, { decision: true, context: { budget: { remaining: 0 } } });
});

test('an agent acting for itself needs no token; a user does', async (t) => {
  const self = await env.pdp(EVAL, evaluation(undefined, 'index:build', { subject: { type: 'agent', id: INDEXER } }));
  t.like(self.json, { decision: true, context: { id: 'permit', policy: 'pol_self' } });
  denied(t, await env.pdp(EVAL, evaluation(undefined, 'files:read', { subject: { type: 'agent', id: INDEXER } })), 'scope', /policy pol_self allows index:build/);
  denied(t, await env.pdp(EVAL, evaluation(undefined, 'files:read', { subject: { type: 'user', id: 'alice' } })), 'token_required', /^a user subject must present its token/);
  denied(t, await env.pdp(EVAL, evaluation(undefined, 'index:build', { subject: { type: 'agent', id: 'spiffe://other.org/x' } })), 'subject_mismatch', /is not a workload of trust domain example.org/);
});

test('a transaction token is a credential too: decided for its requester within the trust domain', async (t) => {
  const access = await env.token();
  const m = await env.request('POST', '/oauth2/token', { as: env.svid('/services/gateway'), params: {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', requested_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
    subject_token: access, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: TD, scope: 'files:read',
  } });
  t.is(m.status, 200, m.text);
  const txn = m.json.access_token as string;
  t.like((await env.pdp(EVAL, evaluation(txn, 'files:read'))).json, { decision: true, context: { id: 'permit', policy: 'pol_gateway' } });
  denied(t, await env.pdp(EVAL, evaluation(txn, 'payments:send')), 'scope', /^scope payments:send is not allowed: the subject token grants files:read/);
});

test('batch evaluations: defaults, order, and the three semantics', async (t) => {
  const token = await env.token({ scope: 'files:read' });
  const body = (semantic?: string) => ({
    subject: { type: 'agent', id: AGENT, properties: { token } }, resource: { type: 'file', id: 'a', properties: { audience: TOOLS } },
    evaluations: [{ action: { name: 'files:read' } }, { action: { name: 'payments:send' } }, { action: { name: 'files:read' }, resource: { type: 'file', id: 'b', properties: { audience: TOOLS } } }],
    ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
  });
  const all = await env.pdp(EVALS, body());
  t.is(all.status, 200, all.text);
  t.deepEqual((all.json.evaluations as any[]).map((e) => e.decision), [true, false, true]);
  t.deepEqual(((await env.pdp(EVALS, body('deny_on_first_deny'))).json.evaluations as any[]).map((e: any) => e.decision), [true, false]);
  t.deepEqual(((await env.pdp(EVALS, body('permit_on_first_permit'))).json.evaluations as any[]).map((e: any) => e.decision), [true]);
  // Without an evaluations array it is one evaluation, answered as one.
  t.like((await env.pdp(EVALS, evaluation(token, 'files:read'))).json, { decision: true });
  transportError(t, await env.pdp(EVALS, { ...body(), options: { evaluations_semantic: 'first' } }), 400, /^options.evaluations_semantic "first" is not one of execute_all, deny_on_first_deny, permit_on_first_permit/);
  transportError(t, await env.pdp(EVALS, { evaluations: [{ action: { name: 'x' } }] }), 400, /^evaluations\[0\] has no subject, and the request gives no default one/);
});

test('transport errors: caller without an SVID, malformed requests', async (t) => {
  const token = await env.token({ scope: 'files:read' });
  transportError(t, await env.pdp(EVAL, evaluation(token, 'files:read'), { as: null }), 401,
    /^the AuthZEN API requires an X.509-SVID of trust domain example.org as the TLS client certificate$/);
  transportError(t, await env.pdp(EVAL, { action: { name: 'files:read' }, resource: { type: 'file', id: 'x' } }), 400, /^subject is required$/);
  transportError(t, await env.pdp(EVAL, { subject: { type: 'agent', id: AGENT }, action: { name: 123 }, resource: { type: 'file', id: 'x' } }), 400, /^action.name must be a string, not number$/);
  transportError(t, await env.pdp(EVAL, { subject: 'alice', action: { name: 'a' }, resource: { type: 'file', id: 'x' } }), 400, /^subject must be an object with type and id$/);
  transportError(t, await env.pdp(EVAL, { subject: { id: AGENT }, action: { name: 'a' }, resource: { type: 'file', id: 'x' } }), 400, /^subject.type is required$/);
  transportError(t, await env.pdp(EVAL, '{"subject":'), 400, /^the request body is not JSON/);
  transportError(t, await env.pdp(EVAL, ''), 400, /^the request body is empty/);
  transportError(t, await env.pdp(EVAL, evaluation(token, 'files:read'), { contentType: 'application/x-www-form-urlencoded' }), 400, /^the request body must be application\/json/);
  // Unknown members are ignored.
  t.like((await env.pdp(EVAL, { ...evaluation(token, 'files:read'), futureField: { nested: true } })).json, { decision: true });
});
