import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { trustingFetch, type FetchLike } from '../helpers/oidc-flow.ts';
import { startEnv, type Env, type Scope } from './harness.ts';

/**
 * An in-process Tessera with the MCP browser flow (oauth.login) whose users sign in at
 * the REAL test OpenID Provider (test/helpers/oidc-provider.ts), a loopback server for
 * client ID metadata documents, and a user agent that drives the whole flow over HTTP
 * with manual redirects and a cookie jar.
 */
export const MCP = 'https://mcp.example.org/mcp';

export interface McpEnv extends Env {
  op: OpenIdProvider;
  /** Serves client metadata documents: docs.set('/client.json', {...}). */
  docs: DocServer;
  /** A fetch trusting both Tessera's CA and the OP's, following nothing. */
  fetch: FetchLike;
  /** The redirect URI the test clients register (a loopback listener that is never loaded). */
  redirectUri: string;
  /** A metadata-document client already served at docs.url('/client.json'). */
  publicClientId: string;
}

export interface DocServer {
  url(path: string): string;
  set(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  json(path: string, body: unknown, headers?: Record<string, string>): void;
}

export async function startMcpEnv(scope: Scope, o: { oauth?: Record<string, unknown>; extraCa?: string } = {}): Promise<McpEnv> {
  // Tessera's port is part of the OP's registered redirect URI: reserve it first.
  const tesseraPort = await freePort();
  const op = await startOpenIdProvider(scope, {
    clients: [{ clientId: 'tessera', clientSecret: randomBytes(16).toString('base64url'), redirectUris: [`https://127.0.0.1:${tesseraPort}/oauth2/callback`] }],
  });
  const docs = await startDocServer(scope);
  const env = await startEnv(scope, {
    oauth: {
      listen: `127.0.0.1:${tesseraPort}`,
      trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
      login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.client.clientSecret, ca_file: op.caFile },
      cimd: { allow_insecure_loopback: true },
      scopes_supported: ['files:read', 'files:write'],
      ...o.oauth,
    },
  });
  const caPem = `${certificatesToPem(env.server.ca.x509Authorities())}\n${op.ca}\n${o.extraCa ?? ''}`;
  const redirectUri = 'http://127.0.0.1:39999/callback';
  const publicClientId = docs.url('/client.json');
  docs.json('/client.json', { client_id: publicClientId, client_name: 'Example MCP Client', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
  return Object.assign(env, { op, docs, fetch: trustingFetch(caPem), redirectUri, publicClientId });
}

export interface Pkce { verifier: string; challenge: string }
export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(env: McpEnv, p: Record<string, string | undefined>): string {
  const u = new URL(`${env.issuer}/oauth2/authorize`);
  for (const [k, v] of Object.entries(p)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/** The standard authorization request parameters of the public client; override any. */
export function authorizeParams(env: McpEnv, p: Pkce, over: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    response_type: 'code', client_id: env.publicClientId, redirect_uri: env.redirectUri, state: 'st-123',
    code_challenge: p.challenge, code_challenge_method: 'S256', resource: MCP, scope: 'files:read', ...over,
  };
}

export interface Step { status: number; location?: URL; html: string; url: URL; headers: Headers }

/** A user agent: a cookie jar (by name; every server here is 127.0.0.1) and one request at a time. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly fetch: FetchLike) {}

  async go(url: string | URL, form?: Record<string, string>): Promise<Step> {
    const u = new URL(String(url));
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.fetch(u, {
      method: form ? 'POST' : 'GET', headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) },
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || attrs.some((a) => /max-age=0\b/i.test(a.trim()))) this.cookies.delete(name); else this.cookies.set(name, value);
    }
    const loc = res.headers.get('location');
    return { status: res.status, location: loc ? new URL(loc, u) : undefined, html: await res.text(), url: u, headers: res.headers };
  }

  /** Follows redirects until a page (not a redirect) or a URL outside `origins`. */
  async follow(start: Step, origins: string[]): Promise<Step> {
    let s = start;
    for (let i = 0; i < 20; i++) {
      if (!s.location || !origins.includes(s.location.origin)) return s;
      s = await this.go(s.location);
    }
    throw new Error('too many redirects');
  }
}

/** The form of a page: action and hidden inputs. */
export function formOf(html: string, id: string): { action: string; fields: Record<string, string> } | undefined {
  const m = new RegExp(`<form[^>]*id="${id}"[^>]*>([\\s\\S]*?)</form>`).exec(html);
  if (!m) return undefined;
  const action = /action="([^"]*)"/.exec(m[0])![1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  const fields: Record<string, string> = {};
  for (const h of m[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[h[1]!] = h[2]!;
  return { action, fields };
}

export const pageError = (html: string) => ({
  error: /<code id="error_code">([^<]*)<\/code>/.exec(html)?.[1],
  description: /<span id="error_description">([^<]*)<\/span>/.exec(html)?.[1]?.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))),
});

/**
 * Drives authorize → OP login → OP consent → Tessera callback; returns the step at
 * Tessera's consent page (or wherever the flow stopped).
 */
export async function toConsent(env: McpEnv, b: Browser, url: string, user = 'alice'): Promise<Step> {
  const origins = [new URL(env.issuer).origin, env.op.issuer];
  let s = await b.follow(await b.go(url), origins);
  for (let i = 0; i < 6; i++) {
    const onOp = s.url.origin === env.op.issuer;
    if (onOp && formOf(s.html, 'login')) {
      const f = formOf(s.html, 'login')!;
      s = await b.follow(await b.go(new URL(f.action, s.url), { username: user, password: `pw-${user}` }), origins);
    } else if (onOp && formOf(s.html, 'consent')) {
      const f = formOf(s.html, 'consent')!;
      s = await b.follow(await b.go(new URL(f.action, s.url), { decision: 'allow' }), origins);
    } else return s;
  }
  return s;
}

/** Submits Tessera's consent form. */
export async function decide(env: McpEnv, b: Browser, consentPage: Step, decision: 'approve' | 'deny', csrf?: string | null): Promise<Step> {
  const f = formOf(consentPage.html, 'consent');
  if (!f) throw new Error(`no consent form at ${consentPage.url.pathname} (${consentPage.status}): ${consentPage.html.slice(0, 400)}`);
  const fields: Record<string, string> = { ...f.fields, decision };
  if (csrf === null) delete fields.csrf; else if (csrf !== undefined) fields.csrf = csrf;
  return b.go(new URL(f.action, env.issuer), fields);
}

/** The whole flow: the client's redirect (code or error). */
export async function authorizeFlow(env: McpEnv, p: Pkce, over: Record<string, string | undefined> = {}, user = 'alice'): Promise<URL> {
  const b = new Browser(env.fetch);
  const consent = await toConsent(env, b, authorizeUrl(env, authorizeParams(env, p, over)), user);
  if (consent.location) return consent.location;
  const done = await decide(env, b, consent, 'approve');
  if (!done.location) throw new Error(`consent did not redirect (${done.status}): ${done.html.slice(0, 400)}`);
  return done.location;
}

async function startDocServer(scope: Scope): Promise<DocServer> {
  const handlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const server: Server = createServer((req, res) => {
    const h = handlers.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (h) h(req, res); else { res.writeHead(404); res.end(); }
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  scope.teardown(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  const base = `http://127.0.0.1:${port}`;
  return {
    url: (p) => `${base}${p}`,
    set: (p, h) => { handlers.set(p, h); },
    json: (p, body, headers = {}) => handlers.set(p, (_req, res) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(text);
    }),
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  await new Promise((r) => s.close(r));
  return port;
}
