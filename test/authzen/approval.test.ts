import test from 'ava';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { AuthzenClient } from '../../spiffe/authzen/client.ts';
import { waitForApproval } from '../../spiffe/delegation/approval.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, payloadOf, type HttpResult, type Workload } from '../oauth/harness.ts';
import { approvalIdOf, decide, PLANNER, RS, signIn, startCibaEnv, type CibaEnv } from '../attenuation/ciba-harness.ts';

/**
 * A decision that needs a person (docs/authzen.md "Approval"): the PDP denies
 * approval_required and starts the CIBA request itself, returning the auth_req_id the
 * agent waits on; repeated decisions share that one request; the user approves on the
 * real approval page (signed in at the test OpenID Provider); the agent collects the
 * token with the SDK's waitForApproval, and the decision with that token permits.
 */
const scope = sharedScope();
let env: CibaEnv;
let bundles: BundleSet;
let planner: Workload;
let tool: Workload;

test.before(async () => {
  env = await startCibaEnv(scope);
  await env.policy({
    id: 'pol_planner', actors: [PLANNER], subjectIssuer: env.op.issuer, audiences: [RS], scopes: ['files:read'], maxTtl: 300,
    approval: { scopes: ['review:post'], approvers: ['subject'] },
  });
  bundles = new BundleSet([new SpiffeBundle(TrustDomain.parse(env.td), { x509Authorities: env.server.ca.x509Authorities() })]);
  planner = env.svid('/agents/planner');
  tool = env.svid('/services/reviews');
});
test.after.always(() => scope.cleanup());

const sourceOf = (w: Workload) => new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles });

async function plannerToken(user: string): Promise<string> {
  const r = await env.exchange({ subject_token: await env.idToken(user), subject_token_type: ID_TOKEN, audience: RS, scope: 'files:read' }, planner);
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

const evaluate = (token: string, action: string, file = 'pr-42'): Promise<HttpResult> => env.request('POST', '/access/v1/evaluation', {
  as: tool, contentType: 'application/json',
  body: JSON.stringify({ subject: { type: 'agent', id: PLANNER, properties: { token } }, action: { name: action }, resource: { type: 'review', id: file, properties: { audience: RS } } }),
});

async function plannerRequests(): Promise<number> {
  return (await env.server.store.listApprovalRequests({ limit: 1000 })).filter((r) => r.clientId === PLANNER).length;
}

test.serial('approval_required starts one CIBA request and returns its auth_req_id; repeated decisions reuse it', async (t) => {
  const before = await plannerRequests();
  const token = await plannerToken('alice');
  const first = await evaluate(token, 'review:post');
  t.is(first.status, 200, first.text);
  t.false(first.json.decision as boolean);
  const ctx = first.json.context as any;
  t.is(ctx.id, 'approval_required');
  t.like(ctx.approval, { scopes: ['review:post'], approvers: ['subject'], expires_in: 600, interval: 2, token_endpoint: `${env.issuer}/oauth2/token` });
  t.regex(ctx.approval.auth_req_id, /^[A-Za-z0-9_-]{32}$/);
  t.regex(ctx.reason_admin.en, /^action review:post needs a person's approval \(policy pol_planner\): .*; started approval request apr_\S+: the agent polls/);

  // The same user, agent, action and resource: the same request, however often the tool asks (and through the SDK).
  const again = await evaluate(token, 'review:post');
  t.is((again.json.context as any).approval.auth_req_id, ctx.approval.auth_req_id);
  t.regex((again.json.context as any).reason_admin.en, /; still waiting on approval request apr_/);
  const sdk = new AuthzenClient({ issuer: env.issuer, source: sourceOf(tool), bundleSource: bundles, trustDomain: env.td, audience: RS });
  t.teardown(() => sdk.close());
  const d = await sdk.authorize('review:post', { type: 'review', id: 'pr-42' }, { token });
  t.is(d.id, 'approval_required');
  t.like(d.approval, { authReqId: ctx.approval.auth_req_id, interval: 2, scopes: ['review:post'], approvers: ['subject'] });
  t.true(d.approval!.expiresIn > 0 && d.approval!.expiresIn <= 600);
  t.is(await plannerRequests(), before + 1, 'one request for three decisions');

  // Another resource is another request; the request is the planner's, for alice, shown to her as such.
  const other = await evaluate(token, 'review:post', 'pr-43');
  t.not((other.json.context as any).approval.auth_req_id, ctx.approval.auth_req_id);
  t.is(await plannerRequests(), before + 2);
  const rec = (await env.server.store.getApprovalRequest({ id: await approvalIdOf(env, ctx.approval.auth_req_id) }))!;
  t.is(rec.subject, `${env.op.issuer}#alice`);
  t.deepEqual(rec.approvers, [`user:${env.op.issuer}#alice`]);
});

test.serial('approve on the page, collect with waitForApproval, and the decision with the new token permits', async (t) => {
  const token = await plannerToken('alice');
  const denied = await evaluate(token, 'review:post', 'pr-7');
  const authReqId = (denied.json.context as any).approval.auth_req_id as string;
  const pending = await env.poll(authReqId, planner);
  t.is(pending.json.error, 'authorization_pending', pending.text);

  const id = await approvalIdOf(env, authReqId);
  const { browser, page } = await signIn(env, 'alice');
  t.true(page.html.includes('review:post on review pr-7 (asked at spiffe://example.org/services/reviews)'), 'the approver sees the action, the resource and the tool');
  const done = await decide(env, browser, page, id, 'approve');
  t.is(done.status, 200, done.html);

  // Approved but not collected: the decision still points at the same request.
  t.is(((await evaluate(token, 'review:post', 'pr-7')).json.context as any).approval.auth_req_id, authReqId);

  const approved = await waitForApproval({
    issuer: env.issuer, x509Source: sourceOf(planner), bundleSource: bundles, trustDomain: env.td,
    request: { authReqId, expiresIn: 600, interval: 2, expiresAt: new Date(Date.now() + 600_000) },
    sleep: async (ms) => { env.advance(ms); },
  });
  t.deepEqual(approved.scope, ['review:post']);
  t.is(payloadOf(approved.accessToken).act.sub, PLANNER);

  const permitted = await evaluate(approved.accessToken, 'review:post', 'pr-7');
  t.true(permitted.json.decision as boolean, permitted.text);
  t.like(permitted.json.context, { id: 'permit', policy: 'pol_planner' });
  // The standing scope is still decided as before, and the old token still needs a person.
  t.true((await evaluate(token, 'files:read', 'pr-7')).json.decision as boolean);
  const after = await evaluate(token, 'review:post', 'pr-7');
  t.is((after.json.context as any).id, 'approval_required');
  t.not((after.json.context as any).approval.auth_req_id, authReqId, 'a collected approval is used up: a new request');
});

test.serial('denied by the person: the agent learns access_denied, and the next decision asks again', async (t) => {
  const token = await plannerToken('alice');
  const authReqId = ((await evaluate(token, 'review:post', 'pr-9')).json.context as any).approval.auth_req_id as string;
  const { browser, page } = await signIn(env, 'alice');
  await decide(env, browser, page, await approvalIdOf(env, authReqId), 'deny');
  const polled = await env.poll(authReqId, planner);
  t.is(polled.json.error, 'access_denied', polled.text);
  const next = (await evaluate(token, 'review:post', 'pr-9')).json.context as any;
  t.is(next.id, 'approval_required');
  t.not(next.approval.auth_req_id, authReqId);
});
