import test from 'ava';
import { requestApproval, waitForApproval } from '../../spiffe/delegation/approval.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { chromiumAvailable, chromiumLaunchOptions, openPage } from '../helpers/oidc-flow.ts';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf } from '../oauth/harness.ts';
import { browserTls } from '../helpers/browser-tls.ts';
import { approvalIdOf, PLANNER, RS, startCibaEnv, type CibaEnv } from './ciba-harness.ts';

/**
 * The whole escalation with a person in a real Chromium (issue 13 §3): the planner
 * agent asks through the SDK for review:post on alice's behalf and polls; alice opens
 * Tessera's approval page (a WebPKI certificate through oauth.tls, as browsers need),
 * signs in at the real OpenID Provider, sees the agent, its claims, her name, the
 * binding message and the extra scope, presses Approve; the agent's poll returns the token.
 */
const scope = sharedScope();
let env: CibaEnv;
let webPkiCa: string;
let tesseraSpki: string;

test.before(async () => {
  const web = await browserTls(scope);
  webPkiCa = web.caPem;
  tesseraSpki = web.spki;
  env = await startCibaEnv(scope, { oauth: { tls: web.tls }, extraCa: webPkiCa });
  await env.policy({
    id: 'pol_planner', actors: [PLANNER], subjectIssuer: env.op.issuer, audiences: [RS], scopes: ['files:read'], maxTtl: 300,
    approval: { scopes: ['review:post'], approvers: ['subject'] },
  });
});
test.after.always(() => scope.cleanup());

test('alice approves the planner\'s escalation in Chromium; the polling agent receives the token', async (t) => {
  if (!chromiumAvailable()) { t.pass('no /usr/bin/chromium'); return; }
  const { chromium } = await import('playwright-core');
  const opts = chromiumLaunchOptions(env.op);
  opts.args = opts.args!.map((a) => (a.startsWith('--ignore-certificate-errors-spki-list=') ? `${a},${tesseraSpki}` : a));
  const browser = await chromium.launch(opts);
  scope.teardown(() => browser.close());

  // The agent: its SVID over mTLS; the listener shows browsers (and so agents) the WebPKI certificate.
  const w = env.svid('/agents/planner', { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  const source = new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles: new BundleSet() });
  // The SDK's 10 s default per request is a production choice; this machine may be saturated.
  const c = { issuer: env.issuer, x509Source: source, caPem: webPkiCa, timeoutMs: 60_000 };
  const req = await requestApproval({ ...c, idTokenHint: await env.idToken('alice'), scope: ['files:read', 'review:post'], audience: [RS], bindingMessage: 'post the review to PR 42' });
  let told!: () => void;
  const toldToWait = new Promise<void>((resolve) => { told = resolve; });
  const collected = waitForApproval({ ...c, request: req, onPending: () => told() });
  const id = await approvalIdOf(env, req.authReqId);
  await toldToWait; // the agent polls and hears authorization_pending before alice decides

  const page = await openPage(browser);
  await page.goto(`${env.issuer}/oauth2/approvals`);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'pw-alice');
  await page.click('#submit');
  await page.waitForSelector(`#allow, #approve-${id}`);
  if (await page.$('#allow')) { await page.click('#allow'); await page.waitForSelector(`#approve-${id}`); }

  t.is(new URL(page.url()).origin + new URL(page.url()).pathname, `${env.issuer}/oauth2/approvals`);
  t.is(await page.textContent('#user'), 'alice');
  const section = `section[id="${id}"]`;
  t.is(await page.textContent(`${section} .spiffe_id`), PLANNER);
  t.is(await page.textContent(`${section} .agent`), 'provider anthropic, model claude-sonnet-4');
  t.regex((await page.textContent(`${section} .subject`)) ?? '', /^alice /);
  t.is(await page.textContent(`${section} .binding_message`), 'post the review to PR 42');
  t.is((await page.textContent(`${section} .escalated`))?.trim(), 'review:post');
  t.is((await page.textContent(`${section} .held`))?.trim(), 'files:read');
  await page.click(`#approve-${id}`);
  await page.waitForSelector('#result');
  t.regex((await page.textContent('#result')) ?? '', /^Approved/);

  const token = await collected;
  t.deepEqual(token.scope, ['files:read', 'review:post']);
  const claims = payloadOf(token.accessToken);
  t.is(claims.sub, `${env.op.issuer}#alice`);
  t.is(claims.act.sub, PLANNER);
  t.is(claims.cnf['x5t#S256'], w.x5t);
});
