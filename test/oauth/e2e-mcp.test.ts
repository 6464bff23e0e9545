import test from 'ava';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromiumAvailable, chromiumLaunchOptions, trustingFetch, openPage } from '../helpers/oidc-flow.ts';
import { sharedScope, type Scope } from '../helpers/server.ts';
import { pkce } from './mcp-harness.ts';
import { billingRefusesAndSubAgentNarrows, esc, ID, startMcpWorld, UID, type McpWorld } from './e2e-mcp-world.ts';

/**
 * examples/mcp/ for real (issue 23 §4): a tessera-server process with `oauth` + `login`
 * (its users sign in at a real OpenID Provider), policies written with the CLI, a
 * tessera-agent process, and as separate processes under their own uids, each with its
 * own SVID from the Workload API: two MCP servers (MCP SDK McpServer +
 * StreamableHTTPServerTransport on node:https behind createMcpResourceServer), an agent
 * and a sub-agent (MCP SDK Client + SpiffeMcpClientProvider).
 *
 * The user's part runs in a real Chromium through Tessera's authorization endpoint: the
 * client there is a public client (a Client ID Metadata Document served by the test),
 * the test redeems the code, and the agent gets the user's token as its subjectToken
 * and exchanges it for one naming the user and itself. (The agent running the code flow
 * itself, as a pre-registered client: e2e-mcp-interactive.test.ts.)
 */
const scope = sharedScope();
let w: McpWorld;
let docs: { url: (p: string) => string };

test.before(async () => {
  w = await startMcpWorld(scope, { oauth: { cimd: { allow_insecure_loopback: true } } });
  docs = await docServer(scope);
  const { issuer, op, files, billing, policy } = w;
  // The policies, as an operator writes them.
  // The agent acting for itself: subject issuer = Tessera itself (docs/mcp.md).
  await policy(['--id', 'pol_self', '--issuer', issuer, '--actor', ID.agent, '--audience', files.url, '--scope', 'files:read', '--max-ttl', '5m']);
  // A person through the public MCP client, then the agent for that person, then its sub-agent.
  await policy(['--id', 'pol_client', '--issuer', op.issuer, '--actor', docs.url('/client.json'), '--audience', files.url,
    '--scope', 'files:read', '--scope', 'files:write', '--max-ttl', '5m']);
  await policy(['--id', 'pol_agent', '--issuer', op.issuer, '--actor', ID.agent, '--audience', files.url, '--audience', billing.url,
    '--scope', 'files:read', '--scope', 'files:write', '--max-ttl', '5m', '--max-depth', '2', '--may-delegate-to', ID.sub]);
  await policy(['--id', 'pol_sub', '--issuer', op.issuer, '--actor', ID.sub, '--audience', files.url, '--scope', 'files:read', '--max-ttl', '5m', '--max-depth', '2']);
});
test.after.always(() => scope.cleanup());

test.serial('an agent acting for itself: client_credentials at Tessera, the tool sees a token naming only the agent', async (t) => {
  t.timeout(180_000);
  const a = w.runAgent(t, 'agent', { TOOL: 'whoami' });
  const exit = await a.exited;
  t.is(exit.code, 0, `${a.stdout()}\n${a.stderr()}`);
  t.is(a.stdout().trim(), `user ${ID.agent} via agent ${ID.agent}, scope files:read`);
  t.regex(a.stderr(), /"msg":"token","grant":"client_credentials","scope":\["files:read"\]/);
  t.regex(w.files.proc.stderr(), new RegExp(`"msg":"served","tool":"whoami","answer":"user ${esc(ID.agent)} via agent ${esc(ID.agent)}, scope files:read"`));
});

test.serial('a person consents in Chromium; the agent acts for them; another MCP server refuses the token; a sub-agent reaches a third tool with less scope', async (t) => {
  t.timeout(240_000);
  if (!chromiumAvailable()) { t.fail('this test needs /usr/bin/chromium'); return; }
  const userToken = await consentInBrowser(t, 'alice');
  const userFile = join(w.dir, 'user-token');
  writeFileSync(userFile, userToken, { mode: 0o600 });
  chownSync(userFile, UID.agent, UID.agent);

  // (2) the agent for alice, then the same token at the billing server.
  const forSub = join(w.dir, 'agent-token');
  const a = w.runAgent(t, 'agent', { TOOL: 'whoami', SUBJECT_TOKEN_FILE: userFile, SCOPE: 'files:read files:write', TOKEN_OUT: forSub, OTHER_URL: w.billing.url, OTHER_ID: ID.billing });
  const exit = await a.exited;
  t.is(exit.code, 0, `${a.stdout()}\n${a.stderr()}`);
  const [answer, other] = a.stdout().trim().split('\n');
  t.is(answer, `user ${w.op.issuer}#alice via agent ${ID.agent}, scope files:read files:write`);
  t.regex(a.stderr(), /"msg":"token","grant":"token-exchange"/);

  // (3) a token for the files server is no good at the billing server; (4) the sub-agent
  // exchanges the agent's token for a narrower one and calls a third tool.
  await billingRefusesAndSubAgentNarrows(t, w, other, forSub);
});

test.serial('a sub-agent may not widen the scope it was handed', async (t) => {
  t.timeout(180_000);
  const forSub = join(w.dir, 'agent-token');
  const subFile = join(w.dir, 'sub-wide-token');
  writeFileSync(subFile, readFileSync(forSub, 'utf8'), { mode: 0o600 });
  chownSync(subFile, UID.sub, UID.sub);
  const b = w.runAgent(t, 'sub', { TOOL: 'summarize', SUBJECT_TOKEN_FILE: subFile, SCOPE: 'files:read files:write' });
  t.is((await b.exited).code, 2, b.stderr());
  t.regex(b.stdout(), /^refused: .*files:write/);
});

/** Chromium: Tessera's authorize → the OP's login and consent → Tessera's consent page → the client's redirect; the test redeems the code. */
async function consentInBrowser(t: Scope, user: string): Promise<string> {
  const { chromium } = await import('playwright-core');
  const opts = chromiumLaunchOptions(w.op);
  // Tessera's listener shows its SPIFFE server SVID, which no browser trusts (docs/mcp.md: oauth.tls for production).
  opts.args = [...opts.args!, '--ignore-certificate-errors'];
  const browser = await chromium.launch(opts);
  t.teardown(() => browser.close());
  const clientId = docs.url('/client.json');
  const redirectUri = docs.url('/callback');
  const p = pkce();
  const u = new URL(`${w.issuer}/oauth2/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state: 'st-e2e',
    code_challenge: p.challenge, code_challenge_method: 'S256', resource: w.files.url, scope: 'files:read files:write' })) u.searchParams.set(k, v);
  const page = await openPage(browser);
  await page.goto(u.href);
  await page.fill('#username', user);
  await page.fill('#password', `pw-${user}`);
  await page.click('#submit');
  await page.waitForSelector('#allow, #approve');
  if (await page.$('#allow')) { await page.click('#allow'); await page.waitForSelector('#approve'); }
  await page.click('#approve');
  await page.waitForSelector('#done');
  const back = new URL(page.url());
  if (back.searchParams.get('iss') !== w.issuer) throw new Error(`callback without iss ${w.issuer}: ${back.href}`);
  const r = await trustingFetch(w.srv.bundlePem)(`${w.issuer}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: p.verifier, client_id: clientId, resource: w.files.url }),
  });
  const body = await r.json() as { access_token?: string };
  if (r.status !== 200 || !body.access_token) throw new Error(`code redemption failed (${r.status}): ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The public MCP client's metadata document and its redirect target. */
async function docServer(s: Scope) {
  const handlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const server = createServer((req, res) => {
    const h = handlers.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (h) h(req, res); else res.writeHead(404).end();
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  s.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  handlers.set('/client.json', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ client_id: url('/client.json'), client_name: 'Example MCP Client', redirect_uris: [url('/callback')], token_endpoint_auth_method: 'none' }));
  });
  handlers.set('/callback', (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<p id="done">back at the client</p>'); });
  return { url };
}

