import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromiumAvailable, chromiumLaunchOptions, openPage } from '../helpers/oidc-flow.ts';
import { freePort, type Proc } from '../helpers/proc.ts';
import { sharedScope, type Scope } from '../helpers/server.ts';
import { billingRefusesAndSubAgentNarrows, esc, ID, startMcpWorld, type McpWorld } from './e2e-mcp-world.ts';

/**
 * examples/mcp/ with the agent as the OAuth client of the person's consent (issue 23
 * §3/§4): the agent process (uid 1301, its SVID from the Workload API) is pre-registered
 * with the real CLI as client_id = its SPIFFE ID and its loopback redirect URI; it runs
 * the MCP SDK client with SpiffeMcpClientProvider in authorizationCode mode and logs the
 * authorization URL; a real Chromium signs alice in at a real OpenID Provider and
 * approves on Tessera's consent page, which shows the attested workload; the browser
 * lands on the agent's loopback listener, the agent redeems the code with its SVID
 * (tls_client_auth) and calls the files MCP server with a token naming alice and itself.
 * The billing server refuses that token; a sub-agent exchanges it for files:read only.
 */
const scope = sharedScope();
let w: McpWorld;
let callbackPort: number;
let redirectUri: string;

/** The agent in interactive mode, and the authorization URL it logged for the person. */
async function interactiveAgent(s: Scope, env: Record<string, string> = {}): Promise<{ proc: Proc; url: URL }> {
  const proc = w.runAgent(s, 'agent', { INTERACTIVE: '1', CALLBACK_PORT: String(callbackPort), TOOL: 'whoami', SCOPE: 'files:read files:write', ...env });
  const line = await proc.waitFor(/\{"msg":"authorize","url":"[^"]+"\}/, 90_000);
  return { proc, url: new URL((JSON.parse(line) as { url: string }).url) };
}

test.before(async () => {
  w = await startMcpWorld(scope);
  // The operator registers the agent as an OAuth client: its SPIFFE ID, its loopback redirect URI, its SVID as credential.
  callbackPort = await freePort();
  redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
  const reg = await w.srv.cli(['client', 'create', '--client-id', ID.agent, '--redirect-uri', redirectUri, '--auth-method', 'tls_client_auth', '--name', 'Research agent']);
  if (reg.code !== 0) throw new Error(`client create failed: ${reg.stderr}`);
  await w.policy(['--id', 'pol_agent', '--issuer', w.op.issuer, '--actor', ID.agent, '--audience', w.files.url, '--audience', w.billing.url,
    '--scope', 'files:read', '--scope', 'files:write', '--max-ttl', '5m', '--max-depth', '2', '--may-delegate-to', ID.sub]);
  await w.policy(['--id', 'pol_sub', '--issuer', w.op.issuer, '--actor', ID.sub, '--audience', w.files.url, '--scope', 'files:read', '--max-ttl', '5m', '--max-depth', '2']);
});
test.after.always(() => scope.cleanup());

test.serial('the agent process is the OAuth client: alice consents in Chromium to the attested agent; its tool call names alice and the agent; billing refuses the token; a sub-agent reaches a third tool with files:read only', async (t) => {
  t.timeout(300_000);
  if (!chromiumAvailable()) { t.fail('this test needs /usr/bin/chromium'); return; }
  const forSub = join(w.dir, 'agent-token');
  const a = await interactiveAgent(t, { TOKEN_OUT: forSub, OTHER_URL: w.billing.url, OTHER_ID: ID.billing });
  t.is(a.url.origin + a.url.pathname, `${w.issuer}/oauth2/authorize`);
  t.like(Object.fromEntries(a.url.searchParams), { client_id: ID.agent, redirect_uri: redirectUri, resource: w.files.url, scope: 'files:read files:write', code_challenge_method: 'S256' });

  // A stray request at the loopback listener (another state) is refused and does not end the wait.
  const stray = await fetch(`${redirectUri}?code=forged&state=forged&iss=${encodeURIComponent(w.issuer)}`);
  t.is(stray.status, 400);
  t.regex(await a.proc.waitFor(/"msg":"callback refused".*/), /"code":"ERR_MCP_STATE"/);

  const { chromium } = await import('playwright-core');
  const opts = chromiumLaunchOptions(w.op);
  opts.args = [...opts.args!, '--ignore-certificate-errors']; // Tessera's listener shows its SPIFFE server SVID
  const browser = await chromium.launch(opts);
  t.teardown(() => browser.close());
  const page = await openPage(browser);
  await page.goto(a.url.href);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'pw-alice');
  await page.click('#submit');
  await page.waitForSelector('#allow, #approve');
  if (await page.$('#allow')) { await page.click('#allow'); await page.waitForSelector('#approve'); }
  // Tessera's consent page: the client is the attested workload, with its agent metadata.
  t.is(await page.textContent('#client_id'), ID.agent);
  t.is(await page.textContent('#spiffe_id'), ID.agent);
  t.regex((await page.textContent('#agent'))!, /provider anthropic, model researcher-1/);
  t.is(await page.$('#localhost_warning'), null);
  t.deepEqual(await page.$$eval('#scopes li', (els) => els.map((e) => e.textContent)), ['files:read', 'files:write']);
  await page.click('#approve');
  await page.waitForSelector('#done');
  const back = new URL(page.url());
  t.is(back.origin + back.pathname, redirectUri, 'the browser lands on the agent\'s loopback listener');
  t.is(back.searchParams.get('iss'), w.issuer);

  const exit = await a.proc.exited;
  t.is(exit.code, 0, `${a.proc.stdout()}\n${a.proc.stderr()}`);
  const [answer, other] = a.proc.stdout().trim().split('\n');
  t.is(answer, `user ${w.op.issuer}#alice via agent ${ID.agent}, scope files:read files:write`);
  t.regex(a.proc.stderr(), /"msg":"token","grant":"authorization_code","scope":\["files:read","files:write"\]/);
  t.regex(w.files.proc.stderr(), new RegExp(`"msg":"served","tool":"whoami","answer":"user ${esc(w.op.issuer)}#alice via agent ${esc(ID.agent)}, scope files:read files:write"`));
  const claims = JSON.parse(Buffer.from(readFileSync(forSub, 'utf8').split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  t.like(claims, { iss: w.issuer, sub: `${w.op.issuer}#alice`, client_id: ID.agent, act: { sub: ID.agent } });
  t.truthy((claims.cnf as Record<string, string> | undefined)?.['x5t#S256'], 'bound to the agent\'s SVID (tls_client_auth)');

  // A token for the files server is no good at the billing server; the sub-agent narrows it.
  await billingRefusesAndSubAgentNarrows(t, w, other, forSub);
});

test.serial('the agent refuses a callback from another issuer (RFC 9207) and redeems nothing', async (t) => {
  t.timeout(180_000);
  const a = await interactiveAgent(t);
  const state = a.url.searchParams.get('state')!;
  const r = await fetch(`${redirectUri}?code=stolen&state=${encodeURIComponent(state)}&iss=${encodeURIComponent('https://attacker.example')}`);
  t.is(r.status, 400);
  t.is((await a.proc.exited).code, 2, a.proc.stderr());
  t.regex(a.proc.stdout(), /^refused: the callback comes from issuer https:\/\/attacker\.example/);
  t.regex(a.proc.stderr(), /"msg":"callback refused","code":"ERR_MCP_ISSUER"/);
  t.notRegex(a.proc.stderr(), /"msg":"token"/);
});

