import { createServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import test from 'ava';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { pollApproval, requestApproval, waitForApproval } from '../../spiffe/delegation/approval.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { createLogger } from '../../common/logger.ts';
import { PingNotifier } from '../../server/oauth/ciba/ping.ts';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf, until, type Workload } from '../oauth/harness.ts';
import { approvalIdOf, decide, PLANNER, RS, signIn, startCibaEnv, type CibaEnv } from './ciba-harness.ts';

/**
 * The SDK side of human approval (spiffe/delegation/approval.ts) against a real server:
 * requestApproval + waitForApproval in poll mode (the wait between polls injected, so the
 * server's clock moves instead of the test sleeping), typed refusals, and ping mode: the
 * server notifies the agent's own HTTPS endpoint, which serves the agent's X.509-SVID.
 */
const scope = sharedScope();
let env: CibaEnv;
let bundles: BundleSet;
const PINGER = 'spiffe://example.org/agents/pinger';
const pings: { authorization?: string; body: string }[] = [];
let receiver: Server;

test.before(async () => {
  const pingPort = await freePort();
  env = await startCibaEnv(scope, {
    oauth: { ciba: { interval: '2s', ping: [{ client_id: PINGER, notification_endpoint: `https://127.0.0.1:${pingPort}/ciba` }] } },
  });
  for (const actor of [PLANNER, PINGER]) {
    await env.policy({
      id: `pol_${actor.split('/').pop()}`, actors: [actor], subjectIssuer: env.op.issuer, audiences: [RS], scopes: ['files:read'], maxTtl: 300,
      approval: { scopes: ['review:post'], approvers: ['subject'] },
    });
  }
  bundles = new BundleSet([new SpiffeBundle(TrustDomain.parse(env.td), { x509Authorities: env.server.ca.x509Authorities() })]);
  // The pinger's notification endpoint serves the pinger's own SVID.
  const pinger = env.svid('/agents/pinger');
  receiver = createServer({ key: pinger.key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certificatesToPem(pinger.chain) }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { pings.push({ authorization: req.headers.authorization, body }); res.writeHead(204); res.end(); });
  });
  await new Promise<void>((resolve) => receiver.listen(pingPort, '127.0.0.1', resolve));
  scope.teardown(() => new Promise<void>((r) => { receiver.closeAllConnections(); receiver.close(() => r()); }));
});
test.after.always(() => scope.cleanup());

function sourceOf(w: Workload): StaticX509Source {
  return new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles });
}

const client = (w: Workload) => ({ issuer: env.issuer, x509Source: sourceOf(w), bundleSource: bundles, trustDomain: env.td });

/** What the user does on the approval page for the request of `authReqId`. */
async function userDecides(user: string, authReqId: string, decision: 'approve' | 'deny'): Promise<void> {
  const { browser, page } = await signIn(env, user);
  const done = await decide(env, browser, page, await approvalIdOf(env, authReqId), decision);
  if (done.status !== 200) throw new Error(`decision failed: ${done.html.slice(0, 300)}`);
}

test.serial('requestApproval + waitForApproval: pending, the user approves, the token arrives bound to the agent', async (t) => {
  const planner = env.svid('/agents/planner', { agent_model: 'claude-sonnet-4' });
  const c = client(planner);
  const req = await requestApproval({ ...c, idTokenHint: await env.idToken('alice'), scope: ['files:read', 'review:post'], audience: [RS], bindingMessage: 'post the review to PR 42' });
  t.is(req.interval, 2);
  t.true(req.expiresAt.getTime() > Date.now());
  const waits: number[] = [];
  const token = await waitForApproval({
    ...c, request: req,
    // Between polls: the user decides (once), and the server's clock moves by the wait instead of the test sleeping.
    sleep: async (ms) => { if (!waits.length) await userDecides('alice', req.authReqId, 'approve'); waits.push(ms); env.advance(ms); },
  });
  t.deepEqual(waits, [2000], 'one pending answer, then the token');
  t.deepEqual(token.scope, ['files:read', 'review:post']);
  const claims = payloadOf(token.accessToken);
  t.is(claims.act.sub, PLANNER);
  t.is(claims.cnf['x5t#S256'], planner.x5t);
  const replay = await t.throwsAsync(pollApproval({ ...c, authReqId: req.authReqId }), { instanceOf: DelegationError });
  t.like(replay, { code: 'ERR_OAUTH_INVALID_GRANT', oauthError: 'invalid_grant', status: 400 });
});

test.serial('a denial is ERR_OAUTH_ACCESS_DENIED; a refused request ERR_OAUTH_INVALID_SCOPE', async (t) => {
  const c = client(env.svid('/agents/planner'));
  const req = await requestApproval({ ...c, idTokenHint: await env.idToken('alice'), scope: ['review:post'], audience: [RS] });
  await userDecides('alice', req.authReqId, 'deny');
  const denied = await t.throwsAsync(waitForApproval({ ...c, request: req }), { instanceOf: DelegationError });
  t.like(denied, { code: 'ERR_OAUTH_ACCESS_DENIED', oauthError: 'access_denied', status: 400 });
  t.regex(denied!.description!, /alice denied/);
  const wide = await t.throwsAsync(requestApproval({ ...c, idTokenHint: await env.idToken('alice'), scope: ['files:write'], audience: [RS] }), { instanceOf: DelegationError });
  t.like(wide, { code: 'ERR_OAUTH_INVALID_SCOPE', status: 400 });
});

test.serial('ping mode: the decision is pushed to the agent\'s SVID-authenticated endpoint, which then collects at once', async (t) => {
  const pinger = env.svid('/agents/pinger');
  const raw = await env.bcAuthorize({ id_token_hint: await env.idToken('alice'), scope: 'files:read review:post', audience: RS }, pinger);
  t.is(raw.status, 400, 'a ping client must send client_notification_token');
  t.regex(raw.json.error_description as string, /client_notification_token is required/);

  const c = client(pinger);
  const req = await requestApproval({ ...c, idTokenHint: await env.idToken('alice'), scope: ['files:read', 'review:post'], audience: [RS], clientNotificationToken: 'ntf-0123456789' });
  const pinged = until('the ping', () => pings.find((p) => p.body.includes(req.authReqId)));
  const collected = waitForApproval({ ...c, request: req, sleep: () => pinged.then(() => undefined) });
  await userDecides('alice', req.authReqId, 'approve');
  const ping = await pinged;
  t.is(ping.authorization, 'Bearer ntf-0123456789');
  t.deepEqual(JSON.parse(ping.body), { auth_req_id: req.authReqId });
  const token = await collected;
  t.is(payloadOf(token.accessToken).act.sub, PINGER);

  // The endpoint must prove it is the agent: a ping meant for the planner is never sent to the pinger's endpoint.
  const before = pings.length;
  const notifier = new PingNotifier({ bundles, logger: createLogger({ level: 'error', write: () => undefined }) });
  const endpoint = `https://127.0.0.1:${(receiver.address() as { port: number }).port}/ciba`;
  t.false(await notifier.notify(PLANNER, { endpoint, token: 'ntf-x', authReqId: 'secret-id' }, 'apr_test'));
  t.true(await notifier.notify(PINGER, { endpoint, token: 'ntf-x', authReqId: 'other-id' }, 'apr_test'));
  t.is(pings.length, before + 1);
  t.false(pings.some((p) => p.body.includes('secret-id')));
});

function freePort(): Promise<number> {
  const s = createNetServer();
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  }));
}
