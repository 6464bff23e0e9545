/**
 * Obtains a test user's tokens from the OpenID Provider of test/helpers/oidc-provider.ts by
 * the real authorization-code + PKCE (S256) flow, with state and nonce. The relying party
 * is openid-client v6 (discovery, authorization URL, code redemption, ID token checks);
 * the user agent is either plain HTTP (fetch + a cookie jar, submitting the OP's own HTML
 * forms) or a real Chromium page driven by playwright-core.
 *
 *   const { idToken, accessToken, claims } = await loginWithCode(op, { user: 'alice' });
 *   const browser = await launchBrowser(t, op);               // undefined without /usr/bin/chromium
 *   await loginInBrowser(op, await openPage(browser), { user: 'alice' });
 *
 * Step by step (for negative tests): beginAuthorization → driveAuthorization (or a browser)
 * → redeemCode.
 */
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import * as client from 'openid-client';
import type { Browser, LaunchOptions, Page } from 'playwright-core';
import type { OpenIdProvider, ResolvedTestClient } from './oidc-provider.ts';
import type { Scope } from './server.ts';

export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

export type OidcFlowErrorCode = 'login_refused' | 'unexpected_page' | 'too_many_redirects' | 'unknown_user' | 'unknown_client';

/** The flow could not reach the redirect URI; `code` says why. */
export class OidcFlowError extends Error {
  override name = 'OidcFlowError';
  constructor(readonly code: OidcFlowErrorCode, message: string) { super(message); }
}

export interface LoginOptions {
  user: string;
  /** Default the user's configured password. */
  password?: string;
  /** Default `openid email profile groups` plus the resource's scopes. `offline_access` adds prompt=consent (refresh token). */
  scope?: string;
  /** RFC 8707 resource indicator; default op.resource (JWT access token for it); false = none (opaque userinfo token). */
  resource?: string | false;
  /** Default op.client. */
  clientId?: string;
  /** Button pressed on the consent page. Default allow. */
  consent?: 'allow' | 'deny';
  /** More authorization request parameters. */
  extraParams?: Record<string, string>;
}

export interface AuthorizationRequest {
  config: client.Configuration;
  client: ResolvedTestClient;
  url: URL;
  codeVerifier: string;
  state: string;
  nonce: string;
  resource?: string;
}

export interface LoginResult {
  idToken: string;
  accessToken: string;
  refreshToken?: string;
  /** ID token claims, validated by openid-client (signature, iss, aud, exp, nonce). */
  claims: client.IDToken;
  scope?: string;
  expiresIn?: number;
  nonce: string;
}

/** A fetch that trusts exactly `caPem` for HTTPS and never follows redirects (node's fetch takes no CA). */
export function trustingFetch(caPem: string): FetchLike {
  const agent = new Agent({ ca: caPem, keepAlive: false });
  return async (input, init = {}) => {
    const url = new URL(String(input));
    const headers = new Headers(init.headers);
    let body: Buffer | undefined;
    if (init.body != null) {
      const r = new Response(init.body);
      body = Buffer.from(await r.arrayBuffer());
      const type = r.headers.get('content-type');
      if (type && !headers.has('content-type')) headers.set('content-type', type);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, {
        method: init.method ?? 'GET', headers: Object.fromEntries(headers), signal: init.signal ?? undefined,
        ...(url.protocol === 'https:' ? { agent } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 500;
          const response = new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: out });
          Object.defineProperty(response, 'url', { value: url.href });
          resolve(response);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}

/** openid-client's view of the OP (discovery over HTTPS trusting op.ca) for one of its clients. */
export async function relyingParty(op: OpenIdProvider, clientId = op.client.clientId): Promise<{ config: client.Configuration; client: ResolvedTestClient }> {
  const c = op.clients.find((x) => x.clientId === clientId);
  if (!c) throw new OidcFlowError('unknown_client', `the OP has no client ${clientId}`);
  const auth = c.clientSecret ? client.ClientSecretBasic(c.clientSecret) : client.None();
  const config = await client.discovery(new URL(op.issuer), c.clientId, undefined, auth, { [client.customFetch]: trustingFetch(op.ca), algorithm: 'oidc' });
  return { config, client: c };
}

/** The authorization request URL, with PKCE S256, state and nonce. */
export async function beginAuthorization(op: OpenIdProvider, o: Omit<LoginOptions, 'user' | 'password' | 'consent'> = {}): Promise<AuthorizationRequest> {
  const { config, client: c } = await relyingParty(op, o.clientId);
  const resource = o.resource === false ? undefined : (o.resource ?? op.resource);
  const rsScope = op.resources.find((r) => r.indicator === resource)?.scope;
  const scope = o.scope ?? ['openid email profile groups', rsScope].filter(Boolean).join(' ');
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params: Record<string, string> = {
    redirect_uri: c.redirectUris[0]!, scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    ...(resource ? { resource } : {}),
    ...(scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
    ...o.extraParams,
  };
  return { config, client: c, url: client.buildAuthorizationUrl(config, params), codeVerifier, state, nonce, resource };
}

/**
 * Plays the user agent over HTTP from an authorization URL to the redirect URI: follows
 * redirects, keeps cookies, fills the OP's login and consent forms. Returns the callback
 * URL (code or error) without loading it.
 */
export async function driveAuthorization(op: OpenIdProvider, url: URL, o: Pick<LoginOptions, 'user' | 'password' | 'consent'> & { redirectUri?: string }): Promise<URL> {
  const password = o.password ?? op.users.find((u) => u.sub === o.user)?.password;
  if (password === undefined) throw new OidcFlowError('unknown_user', `no password given and the OP has no user ${o.user}`);
  const redirect = new URL(o.redirectUri ?? op.client.redirectUris[0]!);
  const fetchOp = trustingFetch(op.ca);
  const jar = new CookieJar();
  let next: { url: URL; form?: URLSearchParams } = { url };
  let loginSubmitted = false;
  for (let hop = 0; hop < 20; hop++) {
    const at = next.url;
    if (at.origin === redirect.origin && at.pathname === redirect.pathname) return at;
    const cookie = jar.header(at);
    const res = await fetchOp(at, { method: next.form ? 'POST' : 'GET', body: next.form, headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) } });
    jar.store(res.headers.getSetCookie(), at);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) { next = { url: new URL(location, at) }; continue; }
    const html = await res.text();
    const form = parseForm(html);
    if (form?.id === 'login') {
      if (loginSubmitted) throw new OidcFlowError('login_refused', `the OP refused the login of ${o.user} (${res.status}): ${errorText(html) ?? 'no message'}`);
      loginSubmitted = true;
      next = { url: new URL(form.action, at), form: new URLSearchParams({ username: o.user, password }) };
    } else if (form?.id === 'consent') {
      next = { url: new URL(form.action, at), form: new URLSearchParams({ decision: o.consent ?? 'allow' }) };
    } else {
      throw new OidcFlowError('unexpected_page', `${res.status} at ${at.pathname}: ${errorText(html) ?? html.slice(0, 300)}`);
    }
  }
  throw new OidcFlowError('too_many_redirects', `no redirect to ${redirect.href} after 20 steps`);
}

/** Redeems the code of `callbackUrl` with openid-client (PKCE verifier, state, nonce, ID token checks). */
export async function redeemCode(req: AuthorizationRequest, callbackUrl: URL, o: { codeVerifier?: string } = {}): Promise<LoginResult> {
  const tokens = await client.authorizationCodeGrant(req.config, callbackUrl, {
    pkceCodeVerifier: o.codeVerifier ?? req.codeVerifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true,
  }, req.resource ? { resource: req.resource } : undefined);
  const claims = tokens.claims();
  if (!tokens.id_token || !claims) throw new OidcFlowError('unexpected_page', 'the token response has no ID token');
  return {
    idToken: tokens.id_token, accessToken: tokens.access_token, refreshToken: tokens.refresh_token,
    claims, scope: tokens.scope, expiresIn: tokens.expiresIn(), nonce: req.nonce,
  };
}

/** The whole flow over HTTP: authorization request, login form, consent form, code redemption. */
export async function loginWithCode(op: OpenIdProvider, o: LoginOptions): Promise<LoginResult> {
  const req = await beginAuthorization(op, o);
  const callbackUrl = await driveAuthorization(op, req.url, { ...o, redirectUri: req.client.redirectUris[0] });
  return redeemCode(req, callbackUrl);
}

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const chromiumAvailable = (): boolean => existsSync(CHROMIUM_PATH);

/**
 * Debian's Chromium, headless, trusting the OP's TLS key by its SPKI hash (no blanket
 * ignoreHTTPSErrors). The background-networking flags keep it off the closed network.
 */
export function chromiumLaunchOptions(op?: OpenIdProvider): LaunchOptions {
  return {
    executablePath: CHROMIUM_PATH, headless: true,
    // Playwright's own SIGTERM/SIGINT/SIGHUP handlers close the browser but leave the
    // process running: ava's timeout ends a stuck worker with SIGTERM, which must end it.
    handleSIGTERM: false, handleSIGINT: false, handleSIGHUP: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...(op ? [`--ignore-certificate-errors-spki-list=${op.tlsSpkiSha256}`] : [])],
  };
}

/**
 * A new page whose waits are bounded by PAGE_WAIT_MS instead of Playwright's 30 s: a
 * page is a condition to wait for, and on a saturated 2-core machine Chromium and the
 * servers behind it can take longer than 30 s (a fresh-clone run with three suites
 * side by side failed there); a page that never comes still fails, with its selector.
 */
export const PAGE_WAIT_MS = 180_000;
export async function openPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(PAGE_WAIT_MS);
  page.setDefaultNavigationTimeout(PAGE_WAIT_MS);
  return page;
}

/** A Chromium closed at teardown, or undefined when /usr/bin/chromium is absent. */
export async function launchBrowser(t: Scope, op?: OpenIdProvider): Promise<Browser | undefined> {
  if (!chromiumAvailable()) return undefined;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch(chromiumLaunchOptions(op));
  t.teardown(() => browser.close());
  return browser;
}

/** The same flow with a real browser filling the same forms; the page ends on the loopback callback. */
export async function loginInBrowser(op: OpenIdProvider, page: Page, o: LoginOptions): Promise<LoginResult> {
  const req = await beginAuthorization(op, o);
  const password = o.password ?? op.users.find((u) => u.sub === o.user)?.password;
  if (password === undefined) throw new OidcFlowError('unknown_user', `no password given and the OP has no user ${o.user}`);
  const redirect = new URL(req.client.redirectUris[0]!);
  const atCallback = (u: URL) => u.origin === redirect.origin && u.pathname === redirect.pathname;
  await page.goto(req.url.href);
  await page.fill('#username', o.user);
  await page.fill('#password', password);
  await page.click('#submit');
  // The login page itself has neither: whichever appears is the answer to the submission.
  await page.waitForSelector('#consent, #error');
  if (await page.$('#login')) throw new OidcFlowError('login_refused', `the OP refused the login of ${o.user}: ${await page.textContent('#error')}`);
  if (!(await page.$('#consent'))) throw new OidcFlowError('unexpected_page', `${new URL(page.url()).pathname}: ${await page.textContent('#error')}`);
  await page.click(o.consent === 'deny' ? '#deny' : '#allow');
  await page.waitForURL(atCallback);
  return redeemCode(req, new URL(page.url()));
}

/** Just enough RFC 6265 for one user agent on one host: name, value, path, deletion. */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(setCookies: string[], url: URL): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k!.toLowerCase();
        if (key === 'path') path = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

function parseForm(html: string): { id: string; action: string } | undefined {
  const tag = /<form\b([^>]*)>/i.exec(html)?.[1];
  if (!tag) return undefined;
  const attr = (n: string) => new RegExp(`\\b${n}="([^"]*)"`, 'i').exec(tag)?.[1];
  const id = attr('id');
  const action = attr('action');
  return id && action ? { id, action: decodeEntities(action) } : undefined;
}

const errorText = (html: string): string | undefined => {
  const m = /<p id="error"[^>]*>([^<]*)<\/p>/.exec(html);
  return m ? decodeEntities(m[1]!) : undefined;
};
const decodeEntities = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
