/**
 * A real OpenID Provider (panva's oidc-provider v9) for tests of delegated authority:
 * users' ID tokens and RFC 9068 JWT access tokens come from a real authorization-code +
 * PKCE flow (test/helpers/oidc-flow.ts), never from a token the test signs itself.
 *
 *   const op = await startOpenIdProvider(t);                 // https://127.0.0.1:<port>
 *   const { idToken, accessToken } = await loginWithCode(op, { user: 'alice' });
 *   // Tessera trusts it with: trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', ca_file: op.caFile }]
 *
 * ID tokens carry aud = client_id ('tessera' by default) and JWT access tokens carry the
 * resource server's audience ('tessera' by default), so one `audience` setting accepts both.
 * Login and consent are plain HTML forms served by this helper (devInteractions off), the
 * same pages for the HTTP driver and a real browser. In-process; closed at teardown.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { keyPair, makeCustomCertificate, makeRootCa, toPem, x509 } from './pki.ts';
import type { Scope } from './server.ts';

export interface TestUser {
  sub: string;
  /** Default `pw-<sub>`. */
  password?: string;
  email?: string;
  name?: string;
  groups?: string[];
  /** Further claims released under the `profile` scope. */
  extraClaims?: Record<string, unknown>;
}

export interface TestClient {
  clientId: string;
  /** Absent = public client (token_endpoint_auth_method none). */
  clientSecret?: string;
  /** Default [op.redirectUri] (the helper's loopback callback listener). */
  redirectUris?: string[];
}

export interface TestResourceServer {
  /** The RFC 8707 resource indicator (an absolute URI). */
  indicator: string;
  /** `aud` of its JWT access tokens. Default the indicator. */
  audience?: string;
  /** Space-delimited scopes it accepts. */
  scope: string;
}

export interface OpenIdProviderOptions {
  /** Default DEFAULT_USERS (alice in eng, bob in sales). */
  users?: TestUser[];
  /** Default one confidential client `tessera` with a random secret. */
  clients?: TestClient[];
  /** Default one: `urn:tessera`, audience `tessera`, scopes `files:read files:write review:post`. */
  resources?: TestResourceServer[];
  /** Lifetimes in seconds. Defaults: access token 600, ID token 600, refresh token 3600, code 60. */
  ttl?: { accessToken?: number; idToken?: number; refreshToken?: number; code?: number };
  /** Default 0 (any free port). */
  port?: number;
}

export interface ResolvedTestUser extends Required<Pick<TestUser, 'sub' | 'password' | 'email' | 'name' | 'groups'>> { extraClaims: Record<string, unknown> }
export interface ResolvedTestClient { clientId: string; clientSecret?: string; redirectUris: string[] }

export interface OpenIdProvider {
  /** `https://127.0.0.1:<port>`: the `iss` of every token. */
  issuer: string;
  /** Same as issuer (the OP is mounted at /). */
  url: string;
  discoveryUrl: string;
  jwksUri: string;
  /** PEM of the test CA that signed the OP's TLS certificate. */
  ca: string;
  /** That PEM written to a temp file (for a relying party's `ca_file`). */
  caFile: string;
  /** base64 SHA-256 of the TLS key's SPKI (Chromium's --ignore-certificate-errors-spki-list). */
  tlsSpkiSha256: string;
  /** The loopback callback listener (http://127.0.0.1:<port>/callback); answers 200 to any code. */
  redirectUri: string;
  users: ResolvedTestUser[];
  clients: ResolvedTestClient[];
  /** The first client. */
  client: ResolvedTestClient;
  resources: Required<TestResourceServer>[];
  /** Indicator of the first resource server (what oidc-flow requests by default). */
  resource: string;
  /** kid of the current signing key. */
  signingKid(): string;
  /** Server-side errors seen by the OP (for failure messages; an empty list is the normal case). */
  errors: Error[];
  /**
   * Makes a new ES256 key the signing key. The previous key stays published in the JWKS
   * unless `dropPrevious`, so tokens issued before stay verifiable. Sessions survive.
   */
  rotateKeys(opts?: { dropPrevious?: boolean }): Promise<{ kid: string; previousKid: string }>;
  close(): Promise<void>;
}

export const DEFAULT_USERS: readonly TestUser[] = [
  { sub: 'alice', email: 'alice@example.org', name: 'Alice Liddell', groups: ['eng'] },
  { sub: 'bob', email: 'bob@example.org', name: 'Bob Builder', groups: ['sales'] },
];

export const DEFAULT_RESOURCE: Required<TestResourceServer> = { indicator: 'urn:tessera', audience: 'tessera', scope: 'files:read files:write review:post' };

// The subset of oidc-provider's API used here (the package ships no type declarations).
interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons: string[]; details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
  params: Record<string, string | undefined>;
  session?: { accountId: string };
  grantId?: string;
}
interface GrantInstance { addOIDCScope(s: string): void; addOIDCClaims(c: string[]): void; addResourceScope(r: string, s: string): void; save(): Promise<string> }
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, o?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (o: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
interface OidcProviderModule {
  default: new (issuer: string, config: Record<string, unknown>) => ProviderInstance;
  errors: { InvalidTarget: new (description?: string) => Error };
}

// Non-literal specifiers: typed through the interfaces above instead of an ambient module.
const OIDC_PROVIDER: string = 'oidc-provider';
const OIDC_MEMORY_ADAPTER: string = 'oidc-provider/lib/adapters/memory_adapter.js';
let loaded: Promise<{ mod: OidcProviderModule; createMemoryAdapter: () => unknown }> | undefined;

/** Imports oidc-provider once, without its "Use Node.js v22" banner (it runs on Node 20). */
function loadOidcProvider() {
  loaded ??= (async () => {
    const warn = console.warn;
    console.warn = (...a: unknown[]) => { if (!String(a[0]).includes('Unsupported runtime')) warn(...a); };
    try {
      const mod = (await import(OIDC_PROVIDER)) as OidcProviderModule;
      const { createMemoryAdapter } = (await import(OIDC_MEMORY_ADAPTER)) as { createMemoryAdapter: () => unknown };
      return { mod, createMemoryAdapter };
    } finally { console.warn = warn; }
  })();
  return loaded;
}

export async function startOpenIdProvider(t: Scope, opts: OpenIdProviderOptions = {}): Promise<OpenIdProvider> {
  const { mod, createMemoryAdapter } = await loadOidcProvider();
  const dir = mkdtempSync(join(tmpdir(), 'top-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // The callback listener first: its port is part of the registered redirect URI.
  const callback = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Signed in</title><p id="done">Signed in. You can close this window.</p>');
  });
  const redirectUri = `http://127.0.0.1:${await listen(callback, 0)}/callback`;

  const tls = await makeTlsIdentity();
  const caFile = join(dir, 'op-ca.pem');
  writeFileSync(caFile, tls.caPem);
  const https = createHttpsServer({ cert: tls.certPem, key: tls.keyPem });
  const port = await listen(https, opts.port ?? 0);
  const issuer = `https://127.0.0.1:${port}`;

  const users: ResolvedTestUser[] = (opts.users ?? DEFAULT_USERS).map((u) => ({
    sub: u.sub, password: u.password ?? `pw-${u.sub}`, email: u.email ?? `${u.sub}@example.org`,
    name: u.name ?? u.sub, groups: u.groups ?? [], extraClaims: u.extraClaims ?? {},
  }));
  const clients: ResolvedTestClient[] = (opts.clients ?? [{ clientId: 'tessera', clientSecret: randomBytes(16).toString('base64url') }])
    .map((c) => ({ ...c, redirectUris: c.redirectUris ?? [redirectUri] }));
  const resources = (opts.resources ?? [DEFAULT_RESOURCE]).map((r) => ({ ...r, audience: r.audience ?? r.indicator }));
  const ttl = { accessToken: 600, idToken: 600, refreshToken: 3600, code: 60, ...opts.ttl };
  const errors: Error[] = [];
  const cookieKeys = [randomBytes(32).toString('base64url')];
  const adapter = createMemoryAdapter(); // shared by every Provider instance of this OP (key rotation)
  let keys: JWK[] = [await signingJwk()];

  const userById = new Map(users.map((u) => [u.sub, u]));
  const build = (): ProviderInstance => {
    const provider = new mod.default(issuer, {
      adapter,
      jwks: { keys },
      clients: clients.map((c) => ({
        client_id: c.clientId, redirect_uris: c.redirectUris,
        ...(c.clientSecret ? { client_secret: c.clientSecret, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
      })),
      clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], id_token_signed_response_alg: 'ES256' },
      cookies: { keys: cookieKeys, long: { httpOnly: true, sameSite: 'lax', secure: true }, short: { httpOnly: true, sameSite: 'lax', secure: true } },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      // Scope claims go into the ID token itself (not only userinfo): the ID token is a subject token.
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            const rs = resources.find((r) => r.indicator === indicator);
            if (!rs) throw new mod.errors.InvalidTarget(`unknown resource indicator ${indicator}`);
            return { scope: rs.scope, audience: rs.audience, accessTokenTTL: ttl.accessToken, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          },
        },
      },
      findAccount: async (_ctx: unknown, sub: string) => {
        const u = userById.get(sub);
        if (!u) return undefined;
        return { accountId: u.sub, claims: async () => ({ sub: u.sub, email: u.email, email_verified: true, name: u.name, groups: u.groups, ...u.extraClaims }) };
      },
      // JWT access tokens name the user's groups too, so either token can serve as subject token.
      extraTokenClaims: async (_ctx: unknown, token: { kind?: string; accountId?: string }) =>
        token.kind === 'AccessToken' && token.accountId ? { groups: userById.get(token.accountId)?.groups ?? [] } : undefined,
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      ttl: {
        AccessToken: ttl.accessToken, IdToken: ttl.idToken, RefreshToken: ttl.refreshToken, AuthorizationCode: ttl.code,
        Interaction: 600, Session: 3600, Grant: 3600,
      },
      clientBasedCORS: () => false,
      renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
        ctx.type = 'html';
        ctx.body = page('Error', `<p id="error" role="alert">${esc(out.error ?? 'error')}: ${esc(out.error_description ?? '')}</p>`);
      },
    });
    provider.on('server_error', (_ctx, err) => errors.push(err as Error));
    provider.on('error', (err) => errors.push(err as Error)); // else Koa prints it
    return provider;
  };

  let provider = build();
  let handle = provider.callback();
  https.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(new URL(req.url ?? '/', issuer).pathname);
    if (!m) { handle(req, res); return; }
    interaction(provider, users, req, res, m[2]).catch((err: Error) => {
      errors.push(err);
      if (!res.headersSent) { res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }); res.end(page('Error', `<p id="error" role="alert">${esc(err.message)}</p>`)); }
    });
  });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    https.closeAllConnections();
    callback.closeAllConnections();
    await Promise.all([new Promise((r) => https.close(r)), new Promise((r) => callback.close(r))]);
  };
  t.teardown(close);

  return {
    issuer, url: issuer, discoveryUrl: `${issuer}/.well-known/openid-configuration`, jwksUri: `${issuer}/jwks`,
    ca: tls.caPem, caFile, tlsSpkiSha256: tls.spkiSha256, redirectUri,
    users, clients, client: clients[0]!, resources, resource: resources[0]!.indicator, errors,
    signingKid: () => keys[0]!.kid!,
    async rotateKeys(o = {}) {
      const previousKid = keys[0]!.kid!;
      const next = await signingJwk();
      keys = o.dropPrevious ? [next] : [next, ...keys];
      provider = build();
      handle = provider.callback();
      return { kid: next.kid!, previousKid };
    },
    close,
  };
}

/** GET shows the page the interaction's prompt needs; POST .../login and .../confirm take the forms. */
async function interaction(provider: ProviderInstance, users: ResolvedTestUser[], req: IncomingMessage, res: ServerResponse, action: string | undefined): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const html = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') return html(200, loginPage(details.uid, details.params.login_hint));
    if (details.prompt.name === 'consent') return html(200, consentPage(details));
    return html(400, page('Error', `<p id="error" role="alert">unsupported prompt ${esc(details.prompt.name)}</p>`));
  }
  if (req.method !== 'POST') return html(405, page('Error', '<p id="error" role="alert">method not allowed</p>'));
  const form = new URLSearchParams(await readBody(req));

  if (action === 'login') {
    const user = users.find((u) => u.sub === form.get('username'));
    if (!user || user.password !== form.get('password')) {
      return html(401, loginPage(details.uid, form.get('username') ?? undefined, 'Invalid username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }

  if (form.get('decision') !== 'allow') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user denied consent' }, { mergeWithLastSubmission: false });
  }
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  if (!accountId || !clientId) throw new Error('consent without a logged-in session');
  const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function loginPage(uid: string, username?: string, error?: string): string {
  return page('Sign in', `${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
  <label>Username <input id="username" name="username" autocomplete="username" value="${esc(username ?? '')}"></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
  <button id="submit" type="submit">Sign in</button>
</form>`);
}

function consentPage(d: InteractionDetails): string {
  const scopes = [...(d.prompt.details.missingOIDCScope ?? []), ...Object.values(d.prompt.details.missingResourceScopes ?? {}).flat()];
  return page('Authorize', `<p><b>${esc(d.params.client_id ?? '')}</b> asks for: <span id="scopes">${esc(scopes.join(' '))}</span></p>
<form id="consent" method="post" action="/interaction/${esc(d.uid)}/confirm">
  <button id="allow" type="submit" name="decision" value="allow">Allow</button>
  <button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>`);
}

const page = (title: string, body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 65_536) throw new Error('form body too large');
  }
  return body;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function signingJwk(): Promise<JWK> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
}

/** A test CA and a server certificate for 127.0.0.1 and localhost. */
export async function makeTlsIdentity(): Promise<{ caPem: string; certPem: string; keyPem: string; spkiSha256: string }> {
  const ca = await makeRootCa('oidc.test', { commonName: 'Test OpenID Provider CA' });
  const keys = keyPair('P-256');
  const san = new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }], false);
  const { certificate } = await makeCustomCertificate({
    issuer: { certificate: ca.certificate, privateKey: ca.privateKey }, keys, subject: 'CN=127.0.0.1',
    ca: false, keyUsage: x509.KeyUsageFlags.digitalSignature, extKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    extraExtensions: [{ oid: san.type, critical: false, value: new Uint8Array(san.value) }],
  });
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  return {
    caPem: toPem(ca.certificate), certPem: toPem(certificate),
    keyPem: String(keys.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}
