import test from 'ava';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry } from '../helpers/agent-e2e.ts';
import { chromiumAvailable, chromiumLaunchOptions, trustingFetch } from '../helpers/oidc-flow.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { freePort, spawnTs, type Proc } from '../helpers/proc.ts';
import { sharedScope, startServer, type Scope, type TestServer } from '../helpers/server.ts';
import { pkce } from './mcp-harness.ts';

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
 * (SpiffeMcpClientProvider is non-interactive: it cannot run the code flow itself) and
 * exchanges it for one naming the user and itself.
 */
const TD = 'example.org';
const ID = {
  agent: `spiffe://${TD}/agents/researcher`,
  sub: `spiffe://${TD}/agents/summarizer`,
  files: `spiffe://${TD}/mcp/files`,
  billing: `spiffe://${TD}/mcp/billing`,
};
const UID = { agent: 1301, sub: 1302, files: 1303, billing: 1304 };

const scope = sharedScope();
let op: OpenIdProvider;
let srv: TestServer;
let agent: TestAgent;
let issuer: string;
let dir: string;
let files: { proc: Proc; url: string };
let billing: { proc: Proc; url: string };
let docs: { url: (p: string) => string };

const portOf = async (p: Proc) => Number(/"port":(\d+)/.exec(await p.waitFor(/"msg":"listening".*"port":\d+/, 90_000))![1]);

function run(s: Scope, script: string, who: keyof typeof UID, env: Record<string, string>): Proc {
  const p = spawnTs(undefined, `examples/mcp/${script}`, [], {
    uid: UID[who], gid: UID[who],
    env: { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint, ...env },
  });
  s.teardown(() => p.stop());
  return p;
}

async function mcpServer(who: 'files' | 'billing', path: string, tools: string): Promise<{ proc: Proc; url: string }> {
  const proc = run(scope, 'mcp-server.ts', who, { ISSUER: issuer, PORT: '0', RESOURCE_PATH: path, TOOLS: tools, REQUIRED_SCOPE: 'files:read' });
  return { proc, url: `https://127.0.0.1:${await portOf(proc)}${path}` };
}

const runAgent = (s: Scope, who: 'agent' | 'sub', env: Record<string, string>) =>
  run(s, 'agent.ts', who, { MCP_URL: files.url, MCP_ID: ID.files, ...env });

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'emcp-'));
  chmodSync(dir, 0o777); // the workloads (other uids) read and write tokens here
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort(); // part of the redirect URI registered at the OP
  issuer = `https://127.0.0.1:${port}`;
  const secret = randomBytes(16).toString('base64url');
  op = await startOpenIdProvider(scope, { clients: [{ clientId: 'tessera', clientSecret: secret, redirectUris: [`${issuer}/oauth2/callback`] }] });
  srv = await startServer(scope, {
    config: {
      oauth: {
        listen: `127.0.0.1:${port}`,
        trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
        login: { issuer: op.issuer, client_id: 'tessera', client_secret: secret, ca_file: op.caFile },
        cimd: { allow_insecure_loopback: true },
        scopes_supported: ['files:read', 'files:write'],
      },
    },
  });
  agent = await startAgent(scope, { server: srv, logLevel: 'info' });
  await createEntry(srv, agent.spiffeId, ID.agent, [`unix:uid:${UID.agent}`], ['--agent-model', 'researcher-1', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, ID.sub, [`unix:uid:${UID.sub}`], ['--agent-model', 'summarizer-1', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, ID.files, [`unix:uid:${UID.files}`]);
  await createEntry(srv, agent.spiffeId, ID.billing, [`unix:uid:${UID.billing}`]);
  docs = await docServer(scope);
  [files, billing] = await Promise.all([mcpServer('files', '/mcp', 'whoami summarize'), mcpServer('billing', '/billing', 'invoice')]);

  // The policies, as an operator writes them.
  const policy = async (args: string[]) => {
    const r = await srv.cli(['delegation', 'create', ...args]);
    if (r.code !== 0) throw new Error(`delegation create ${args.join(' ')} failed: ${r.stderr}`);
  };
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
  const a = runAgent(t, 'agent', { TOOL: 'whoami' });
  const exit = await a.exited;
  t.is(exit.code, 0, `${a.stdout()}\n${a.stderr()}`);
  t.is(a.stdout().trim(), `user ${ID.agent} via agent ${ID.agent}, scope files:read`);
  t.regex(a.stderr(), /"msg":"token","grant":"client_credentials","scope":\["files:read"\]/);
  t.regex(files.proc.stderr(), new RegExp(`"msg":"served","tool":"whoami","answer":"user ${esc(ID.agent)} via agent ${esc(ID.agent)}, scope files:read"`));
});

test.serial('a person consents in Chromium; the agent acts for them; another MCP server refuses the token; a sub-agent reaches a third tool with less scope', async (t) => {
  t.timeout(240_000);
  if (!chromiumAvailable()) { t.fail('this test needs /usr/bin/chromium'); return; }
  const userToken = await consentInBrowser(t, 'alice');
  const userFile = join(dir, 'user-token');
  writeFileSync(userFile, userToken, { mode: 0o600 });
  chownSync(userFile, UID.agent, UID.agent);

  // (2) the agent for alice, then the same token at the billing server.
  const forSub = join(dir, 'agent-token');
  const a = runAgent(t, 'agent', { TOOL: 'whoami', SUBJECT_TOKEN_FILE: userFile, SCOPE: 'files:read files:write', TOKEN_OUT: forSub, OTHER_URL: billing.url, OTHER_ID: ID.billing });
  const exit = await a.exited;
  t.is(exit.code, 0, `${a.stdout()}\n${a.stderr()}`);
  const [answer, other] = a.stdout().trim().split('\n');
  t.is(answer, `user ${op.issuer}#alice via agent ${ID.agent}, scope files:read files:write`);
  t.regex(a.stderr(), /"msg":"token","grant":"token-exchange"/);

  // (3) a token for the files server is no good at the billing server: 401 invalid_token, pointing at billing's metadata.
  const billingMeta = `${new URL(billing.url).origin}/.well-known/oauth-protected-resource/billing`;
  t.regex(other!, new RegExp(`^other server: 401 Bearer error="invalid_token", error_description="[^"]*audience[^"]*", resource_metadata="${esc(billingMeta)}", scope="files:read"$`));
  t.notRegex(billing.proc.stderr(), /"msg":"served"/);

  // (4) the sub-agent exchanges the agent's token for a narrower one and calls a third tool.
  const subFile = join(dir, 'sub-subject-token');
  writeFileSync(subFile, readFileSync(forSub, 'utf8'), { mode: 0o600 });
  chownSync(subFile, UID.sub, UID.sub);
  const b = runAgent(t, 'sub', { TOOL: 'summarize', SUBJECT_TOKEN_FILE: subFile, SCOPE: 'files:read' });
  const bExit = await b.exited;
  t.is(bExit.code, 0, `${b.stdout()}\n${b.stderr()}`);
  t.is(b.stdout().trim(), `user ${op.issuer}#alice via agent ${ID.sub} via ${ID.agent}, scope files:read`);
});

test.serial('a sub-agent may not widen the scope it was handed', async (t) => {
  t.timeout(180_000);
  const forSub = join(dir, 'agent-token');
  const subFile = join(dir, 'sub-wide-token');
  writeFileSync(subFile, readFileSync(forSub, 'utf8'), { mode: 0o600 });
  chownSync(subFile, UID.sub, UID.sub);
  const b = runAgent(t, 'sub', { TOOL: 'summarize', SUBJECT_TOKEN_FILE: subFile, SCOPE: 'files:read files:write' });
  t.is((await b.exited).code, 2, b.stderr());
  t.regex(b.stdout(), /^refused: .*files:write/);
});

/** Chromium: Tessera's authorize → the OP's login and consent → Tessera's consent page → the client's redirect; the test redeems the code. */
async function consentInBrowser(t: Scope, user: string): Promise<string> {
  const { chromium } = await import('playwright-core');
  const opts = chromiumLaunchOptions(op);
  // Tessera's listener shows its SPIFFE server SVID, which no browser trusts (docs/mcp.md: oauth.tls for production).
  opts.args = [...opts.args!, '--ignore-certificate-errors'];
  const browser = await chromium.launch(opts);
  t.teardown(() => browser.close());
  const clientId = docs.url('/client.json');
  const redirectUri = docs.url('/callback');
  const p = pkce();
  const u = new URL(`${issuer}/oauth2/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state: 'st-e2e',
    code_challenge: p.challenge, code_challenge_method: 'S256', resource: files.url, scope: 'files:read files:write' })) u.searchParams.set(k, v);
  const page = await browser.newPage();
  await page.goto(u.href);
  await page.fill('#username', user);
  await page.fill('#password', `pw-${user}`);
  await page.click('#submit');
  await page.waitForSelector('#allow, #approve');
  if (await page.$('#allow')) { await page.click('#allow'); await page.waitForSelector('#approve'); }
  await page.click('#approve');
  await page.waitForSelector('#done');
  const back = new URL(page.url());
  if (back.searchParams.get('iss') !== issuer) throw new Error(`callback without iss ${issuer}: ${back.href}`);
  const r = await trustingFetch(srv.bundlePem)(`${issuer}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: p.verifier, client_id: clientId, resource: files.url }),
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

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
