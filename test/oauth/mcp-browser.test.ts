import test from 'ava';
import { chromiumLaunchOptions, launchBrowser, openPage } from '../helpers/oidc-flow.ts';
import { browserTls } from '../helpers/browser-tls.ts';
import { sharedScope } from '../helpers/server.ts';
import { authorizeParams, authorizeUrl, MCP, pkce, startMcpEnv, type McpEnv } from './mcp-harness.ts';

/**
 * A person in a real Chromium: Tessera (serving a WebPKI certificate through oauth.tls,
 * as browsers need) sends them to the real OpenID Provider, they sign in, see Tessera's
 * consent page naming the client, resource and scopes, press Approve, and the client's
 * redirect URI receives code, state and iss; the code redeems for a token.
 */
const scope = sharedScope();
let env: McpEnv;
let tesseraSpki: string;

test.before(async () => {
  const web = await browserTls(scope);
  tesseraSpki = web.spki;
  env = await startMcpEnv(scope, { oauth: { tls: web.tls }, extraCa: web.caPem });
  await env.policy({ id: 'pol_browser', subjectIssuer: env.op.issuer, actors: [env.docs.url('/browser-client.json')], audiences: [MCP], scopes: ['files:read'], maxTtl: 300 });
});
test.after.always(() => scope.cleanup());

test('a person signs in and approves in Chromium; the client gets code, state and iss', async (t) => {
  const base = await launchBrowser(scope, env.op);
  if (!base) { t.pass('no /usr/bin/chromium'); return; }
  await base.close();
  const { chromium } = await import('playwright-core');
  const opts = chromiumLaunchOptions(env.op);
  opts.args = opts.args!.map((a) => (a.startsWith('--ignore-certificate-errors-spki-list=') ? `${a},${tesseraSpki}` : a));
  const browser = await chromium.launch(opts);
  scope.teardown(() => browser.close());

  const clientId = env.docs.url('/browser-client.json');
  const redirectUri = env.docs.url('/callback');
  env.docs.json('/browser-client.json', { client_id: clientId, client_name: 'Browser MCP Client', redirect_uris: [redirectUri] });
  env.docs.set('/callback', (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<p id="done">back at the client</p>'); });

  const p = pkce();
  const page = await openPage(browser);
  await page.goto(authorizeUrl(env, authorizeParams(env, p, { client_id: clientId, redirect_uri: redirectUri })));
  await page.fill('#username', 'alice');
  await page.fill('#password', 'pw-alice');
  await page.click('#submit');
  await page.waitForSelector('#allow, #approve');
  if (await page.$('#allow')) { await page.click('#allow'); await page.waitForSelector('#approve'); }

  // Tessera's consent page: the client, the resource, the scopes; keyboard-usable buttons.
  t.is(await page.textContent('#client_name'), 'Browser MCP Client');
  t.is(await page.textContent('#client_id'), clientId);
  t.is(await page.textContent('#resource'), MCP);
  t.is((await page.textContent('#scopes'))?.trim(), 'files:read');
  t.truthy(await page.$('#localhost_warning'), 'a loopback redirect is called out');
  await page.focus('#approve');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#done');

  const back = new URL(page.url());
  t.is(back.origin + back.pathname, redirectUri);
  t.is(back.searchParams.get('state'), 'st-123');
  t.is(back.searchParams.get('iss'), env.issuer);
  const code = back.searchParams.get('code')!;
  t.truthy(code);

  const r = await env.fetch(`${env.issuer}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: p.verifier, client_id: clientId, resource: MCP }),
  });
  const body = await r.json() as Record<string, unknown>;
  t.is(r.status, 200, JSON.stringify(body));
  t.is(body.scope, 'files:read');
});
