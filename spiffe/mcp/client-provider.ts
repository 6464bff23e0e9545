import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { extractWWWAuthenticateParams, fetchToken, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../delegation/exchange.ts';
import type { ServerTrust } from '../delegation/types.ts';
import { isUpdateNotifier, type JwtSvidSource, type X509SvidSource } from '../source/types.ts';
import { JWTSource } from '../workloadapi/jwt-source.ts';
import type { SdkLogger } from '../workloadapi/watch.ts';
import { X509Source } from '../workloadapi/x509-source.ts';
import { ClientAgents, type McpServerTrust } from './client-agents.ts';
import { McpClientError } from './client-errors.ts';
import { nodeFetch, type FetchLike } from './fetch.ts';
import { AuthorizationCodeFlow, type AuthorizationCodeOptions } from './interactive.ts';

/** draft-ietf-oauth-spiffe-client-auth: a JWT-SVID as the RFC 7523 client assertion. */
export const JWT_SPIFFE_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

export interface SpiffeMcpClientOptions {
  /** The MCP server URL, as given to the transport. */
  serverUrl: string | URL;
  /**
   * How the agent proves its identity to the authorization server:
   * `mtls` (default): its X.509-SVID as TLS client certificate (RFC 8705
   * tls_client_auth); the tokens are bound to it (cnf) and only work on connections
   * that present it. `jwt-svid`: a JWT-SVID as client assertion (client_credentials)
   * or actor_token (token exchange); the tokens are bearer tokens.
   */
  authMethod?: 'mtls' | 'jwt-svid';
  /**
   * Act for someone: the token to exchange (RFC 8693) for one naming this agent as
   * actor: a user-delegated token (authorization-code flow, elsewhere), or a parent
   * agent's delegated token for a sub-agent. A function is called at every exchange
   * (a renewed user token). Without it the agent acts for itself (client_credentials).
   */
  subjectToken?: string | (() => string | Promise<string>);
  subjectTokenType?: string;
  /**
   * Act for a person who authorizes this agent in a browser (authorization code + PKCE,
   * interactive.ts): the agent is the OAuth client, its SPIFFE ID the client_id
   * (pre-registered with this redirect URL), its SVID the client authentication when it
   * redeems the code. The app hands the browser's return to completeAuthorization() and
   * the code to transport.finishAuth(). Excludes subjectToken.
   */
  authorizationCode?: AuthorizationCodeOptions;
  /** Scopes to ask for before the server challenged any (default: the server's scopes_supported). */
  scope?: string[];
  /** Our X.509-SVID and bundles; default X509Source.create() (SPIFFE_ENDPOINT_SOCKET). */
  x509Source?: X509SvidSource & Partial<X509BundleSource>;
  /** JWT-SVIDs (authMethod jwt-svid); default JWTSource.create(). */
  jwtSource?: JwtSvidSource;
  /** Bundles to verify servers with; default x509Source. */
  bundleSource?: X509BundleSource;
  /** The authorization server's identity (default spiffe://<our td>/tessera/server) or CA. */
  authorizationServer?: ServerTrust;
  /** How to trust the MCP server's certificate (default WebPKI). */
  mcpServer?: McpServerTrust;
  /** Renew a token this long before it expires, seconds (default 30, at most half its lifetime). */
  renewBeforeSeconds?: number;
  clientName?: string;
  logger?: SdkLogger;
  /** Test seam, ms. */
  now?: () => number;
}

interface Held { tokens: OAuthTokens; expiresAt: number; renewAt: number }

/**
 * The MCP SDK's OAuthClientProvider for an agent with a SPIFFE identity: no client
 * secret, no registration, no configuration but the MCP server URL (and the Workload
 * API socket from the environment).
 *
 *   const auth = await SpiffeMcpClientProvider.create({ serverUrl });
 *   const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: auth, fetch: auth.fetch });
 *   await new Client({ name: 'agent', version: '1' }).connect(transport);
 *
 * The SDK drives it: first request → 401 → protected resource metadata (RFC 9728) →
 * authorization server metadata (RFC 8414) → token request with `resource` = the
 * server's canonical URI → retry; 403 insufficient_scope → a token for the union of
 * the scopes asked so far and the challenged ones → retry. This class decides the
 * grant (client_credentials, or token exchange of `subjectToken`), authenticates
 * the agent with its SVID, checks what discovery returned (metadata `issuer` equal
 * to the authorization server's URL, protected resource metadata present and naming
 * this server) and what the token endpoint returned (`iss` of the token), keeps the
 * token until shortly before it expires and renews it before the transport needs it.
 * `fetch` must be the transport's fetch: it carries the SVID-authenticated TLS and
 * reads scope challenges.
 *
 * With `authorizationCode` the agent is the client of a person's browser consent
 * instead: the 401 ends in redirectToAuthorization (open), the transport throws
 * UnauthorizedError, and the app finishes with
 *   await transport.finishAuth(auth.completeAuthorization(callbackUrl));
 * then reconnects; renewal uses the refresh token when the server issued one.
 */
export class SpiffeMcpClientProvider implements OAuthClientProvider {
  readonly fetch: FetchLike;
  private readonly serverUrl: URL;
  private readonly agents: ClientAgents;
  private readonly method: 'mtls' | 'jwt-svid';
  private readonly now: () => number;
  private scopes: string[];
  private discovery: OAuthDiscoveryState | undefined;
  private held: Held | undefined;
  /** Kept apart from `held`: a rejected access token does not void the person's grant. */
  private refreshToken: string | undefined;
  private readonly flow: AuthorizationCodeFlow | undefined;
  private renewing: Promise<OAuthTokens | undefined> | undefined;
  private readonly owned: { close(): unknown }[] = [];
  private readonly unsubscribe: (() => void) | undefined;

  /** Opens the Workload API sources it was not given; close() closes those. */
  static async create(o: SpiffeMcpClientOptions): Promise<SpiffeMcpClientProvider> {
    const owned: { close(): unknown }[] = [];
    try {
      const x509Source = o.x509Source ?? await X509Source.create().then((s) => { owned.push(s); return s; });
      const jwtSource = o.jwtSource ?? (o.authMethod === 'jwt-svid' ? await JWTSource.create().then((s) => { owned.push(s); return s; }) : undefined);
      const p = new SpiffeMcpClientProvider({ ...o, x509Source, ...(jwtSource ? { jwtSource } : {}) });
      p.owned.push(...owned);
      return p;
    } catch (err) {
      for (const s of owned) await s.close();
      throw err;
    }
  }

  constructor(private readonly o: SpiffeMcpClientOptions) {
    this.serverUrl = new URL(String(o.serverUrl));
    this.method = o.authMethod ?? 'mtls';
    this.now = o.now ?? Date.now;
    this.scopes = [...(o.scope ?? [])];
    if (!o.x509Source) throw new TypeError('x509Source is required (or use SpiffeMcpClientProvider.create(), which opens one from the Workload API)');
    if (this.method === 'jwt-svid' && !o.jwtSource) throw new TypeError('authMethod jwt-svid needs a jwtSource');
    if (o.authorizationCode && o.subjectToken !== undefined) throw new TypeError('authorizationCode and subjectToken exclude each other: the person authorizes here, or elsewhere');
    this.flow = o.authorizationCode ? new AuthorizationCodeFlow(o.authorizationCode) : undefined;
    const bundles = o.bundleSource ?? (typeof o.x509Source.getX509BundleForTrustDomain === 'function' ? o.x509Source as X509BundleSource : undefined);
    if (!bundles) throw new TypeError('no bundles to verify servers with: pass bundleSource (x509Source is not a bundle source)');
    this.agents = new ClientAgents({
      mcpOrigin: this.serverUrl.origin, source: o.x509Source, bundles, mtlsToAuthorizationServer: this.method === 'mtls',
      ...(o.authorizationServer ? { authorizationServer: o.authorizationServer } : {}),
      ...(o.mcpServer ? { mcpServer: o.mcpServer } : {}),
    });
    const base = nodeFetch(this.agents.agentFor);
    this.fetch = async (url, init) => {
      const res = await base(url, init);
      if ((res.status === 401 || res.status === 403) && new URL(String(url)).origin === this.serverUrl.origin) this.challenged(res);
      return res;
    };
    // A rotated SVID: tokens bound to the previous certificate are useless, and so are connections showing it.
    this.unsubscribe = this.method === 'mtls' && isUpdateNotifier(o.x509Source)
      ? o.x509Source.onUpdate(() => { this.held = undefined; this.agents.reset(); })
      : undefined;
  }

  /** This agent's SPIFFE ID: its client_id everywhere. */
  get clientId(): string { return this.o.x509Source!.getX509Svid().id.toString(); }

  /** Scopes the next token request asks for. */
  get requestedScopes(): string[] {
    return this.scopes.length > 0 ? [...this.scopes] : [...(this.discovery?.resourceMetadata?.scopes_supported ?? [])];
  }

  // ---- OAuthClientProvider ----

  /** Set only in authorizationCode mode: the SDK's auth() then runs the browser flow, never prepareTokenRequest's grant. */
  get redirectUrl(): string | undefined { return this.flow?.redirectUrl; }

  get clientMetadata(): OAuthClientMetadata {
    const scope = this.requestedScopes.join(' ');
    return {
      redirect_uris: this.flow ? [this.flow.redirectUrl] : [],
      client_name: this.o.clientName ?? this.clientId,
      grant_types: this.flow ? ['authorization_code', 'refresh_token'] : [this.grant],
      token_endpoint_auth_method: this.method === 'mtls' ? 'tls_client_auth' : 'private_key_jwt',
      ...(scope ? { scope } : {}),
    };
  }

  clientInformation(): OAuthClientInformationMixed { return { client_id: this.clientId }; }

  async tokens(): Promise<OAuthTokens | undefined> {
    const h = this.held;
    const now = this.now();
    if (h && now < h.renewAt) return h.tokens;
    if (!this.discovery?.authorizationServerMetadata) return h && now < h.expiresAt ? h.tokens : undefined;
    // A person's grant renews only through its refresh token; without one the SDK sends the person back to the browser.
    if (this.flow && this.refreshToken === undefined) return h && now < h.expiresAt ? h.tokens : undefined;
    // Renew before the transport needs it (one request for all callers); on failure the
    // transport's 401 path runs the SDK's auth() and surfaces the error.
    this.renewing ??= this.renew().finally(() => { this.renewing = undefined; });
    return this.renewing;
  }

  saveTokens(tokens: OAuthTokens): void {
    const issuer = this.discovery?.authorizationServerUrl;
    if (issuer === undefined) throw new McpClientError('ERR_MCP_DISCOVERY', 'a token arrived before the authorization server was discovered');
    if (tokens.issuer !== undefined && tokens.issuer !== issuer) throw new McpClientError('ERR_MCP_ISSUER', `token was stamped for ${tokens.issuer}, not ${issuer}`);
    const iss = jwtClaim(tokens.access_token, 'iss');
    if (iss !== undefined && iss !== issuer) {
      throw new McpClientError('ERR_MCP_ISSUER', `the token endpoint of ${issuer} returned a token issued by ${String(iss)}`);
    }
    const now = this.now();
    const exp = jwtClaim(tokens.access_token, 'exp');
    const lifetimeMs = typeof tokens.expires_in === 'number' ? tokens.expires_in * 1000
      : typeof exp === 'number' ? exp * 1000 - now : 300_000;
    const margin = Math.min((this.o.renewBeforeSeconds ?? 30) * 1000, lifetimeMs / 2);
    this.held = { tokens, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs - margin };
    if (tokens.refresh_token !== undefined) this.refreshToken = tokens.refresh_token;
    this.flow?.reset();
    if (typeof tokens.scope === 'string') this.scopes = union(this.scopes, tokens.scope.split(' ').filter(Boolean));
    this.o.logger?.debug?.('mcp token obtained', { issuer, resource: this.discovery?.resourceMetadata?.resource, scope: tokens.scope, expiresIn: Math.round(lifetimeMs / 1000) });
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    if (!this.flow) throw new McpClientError('ERR_MCP_INTERACTIVE', 'this agent is a non-interactive client: a user must authorize elsewhere and hand it the user token (subjectToken), or give it authorizationCode');
    await this.flow.open(url, this.requestedScopes);
  }

  /** CSRF protection of the callback (the SDK sends it on the authorization request). */
  state(): string {
    if (!this.flow) throw new McpClientError('ERR_MCP_INTERACTIVE', 'this agent runs no authorization-code flow');
    return this.flow.state();
  }

  saveCodeVerifier(verifier: string): void { this.flow?.saveCodeVerifier(verifier); }
  codeVerifier(): string {
    if (!this.flow) throw new McpClientError('ERR_MCP_INTERACTIVE', 'this agent runs no authorization-code flow');
    return this.flow.codeVerifier();
  }

  /**
   * The browser's return to redirectUrl → the code for transport.finishAuth(code), once
   * its state is the pending request's and its `iss` the discovered authorization server
   * (RFC 9207). Throws McpClientError ERR_MCP_STATE, ERR_MCP_ISSUER or ERR_MCP_AUTHORIZATION.
   */
  completeAuthorization(callbackUrl: string | URL): string {
    if (!this.flow) throw new McpClientError('ERR_MCP_INTERACTIVE', 'this agent runs no authorization-code flow');
    const d = this.discovery;
    if (!d?.authorizationServerMetadata) throw new McpClientError('ERR_MCP_DISCOVERY', 'a callback arrived before the authorization server was discovered');
    return this.flow.complete(callbackUrl, {
      issuer: d.authorizationServerUrl,
      // RFC 9207 metadata; the SDK's schema passes it through without typing it.
      required: (d.authorizationServerMetadata as { authorization_response_iss_parameter_supported?: unknown }).authorization_response_iss_parameter_supported === true,
    });
  }

  /** undefined in authorizationCode mode: the SDK then redeems the code (code_verifier, redirect_uri). */
  async prepareTokenRequest(): Promise<URLSearchParams | undefined> { return this.flow ? undefined : this.grantParams(); }

  /** draft-ietf-oauth-spiffe-client-auth: client_id + mTLS, or a JWT-SVID assertion (actor_token in an exchange). */
  readonly addClientAuthentication = async (_h: Headers, params: URLSearchParams, url: string | URL, metadata?: { issuer?: string }): Promise<void> => {
    params.set('client_id', this.clientId);
    if (this.method !== 'jwt-svid') return;
    if (params.get('grant_type') === TOKEN_EXCHANGE_GRANT) {
      // Tessera's exchange: the actor proves itself with a JWT-SVID for the token endpoint.
      const svid = await this.o.jwtSource!.fetchJwtSvid({ audience: new URL(String(url)).href });
      params.set('actor_token', svid.token);
      params.set('actor_token_type', TOKEN_TYPE.jwt);
      return;
    }
    const issuer = metadata?.issuer ?? this.discovery?.authorizationServerUrl;
    if (!issuer) throw new McpClientError('ERR_MCP_DISCOVERY', 'no authorization server issuer to address the client assertion to');
    // aud = the issuer as its sole value (rfc7523bis); one fresh JWT-SVID per request (single use).
    const svid = await this.o.jwtSource!.fetchJwtSvid({ audience: issuer });
    params.set('client_assertion_type', JWT_SPIFFE_ASSERTION);
    params.set('client_assertion', svid.token);
  };

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    const md = state.authorizationServerMetadata;
    const prm = state.resourceMetadata;
    if (!prm) throw new McpClientError('ERR_MCP_DISCOVERY', `${this.serverUrl.href} serves no protected resource metadata (RFC 9728): cannot tell which authorization server to trust`);
    if (!prm.authorization_servers?.includes(state.authorizationServerUrl)) {
      throw new McpClientError('ERR_MCP_DISCOVERY', `authorization server ${state.authorizationServerUrl} is not named by the protected resource metadata of ${this.serverUrl.href}`);
    }
    if (!md) throw new McpClientError('ERR_MCP_DISCOVERY', `authorization server ${state.authorizationServerUrl} serves no metadata (RFC 8414)`);
    // RFC 8414 §3.3: the metadata's issuer is exactly the URL it was discovered from (mix-up defence).
    if (md.issuer !== state.authorizationServerUrl) {
      throw new McpClientError('ERR_MCP_ISSUER', `authorization server metadata at ${state.authorizationServerUrl} names issuer ${md.issuer}`);
    }
    if (!md.token_endpoint || new URL(md.token_endpoint).protocol !== 'https:') throw new McpClientError('ERR_MCP_DISCOVERY', `authorization server ${md.issuer} has no https token_endpoint`);
    const grant = this.flow ? 'authorization_code' : this.grant;
    if (md.grant_types_supported && !md.grant_types_supported.includes(grant)) {
      throw new McpClientError('ERR_MCP_DISCOVERY', `authorization server ${md.issuer} does not support grant ${grant} (it lists ${md.grant_types_supported.join(', ')})`);
    }
    if (this.discovery && this.discovery.authorizationServerUrl !== state.authorizationServerUrl) this.held = undefined;
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined { return this.discovery; }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'tokens') { this.held = undefined; this.refreshToken = undefined; }
    if (scope === 'all' || scope === 'verifier') this.flow?.reset();
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.agents.close();
    for (const s of this.owned.splice(0)) await s.close();
  }

  // ---- internals ----

  private get grant(): string { return this.o.subjectToken !== undefined ? TOKEN_EXCHANGE_GRANT : 'client_credentials'; }

  private async grantParams(): Promise<URLSearchParams> {
    const p = new URLSearchParams();
    const scope = this.requestedScopes.join(' ');
    if (this.o.subjectToken === undefined) {
      p.set('grant_type', 'client_credentials');
    } else {
      const subject = typeof this.o.subjectToken === 'function' ? await this.o.subjectToken() : this.o.subjectToken;
      if (!subject) throw new McpClientError('ERR_MCP_SUBJECT_TOKEN', 'subjectToken gave no token to exchange');
      p.set('grant_type', TOKEN_EXCHANGE_GRANT);
      p.set('subject_token', subject);
      p.set('subject_token_type', this.o.subjectTokenType ?? TOKEN_TYPE.accessToken);
      p.set('requested_token_type', TOKEN_TYPE.accessToken);
    }
    if (scope) p.set('scope', scope);
    return p;
  }

  /** The SDK's own token request (fetchToken: our grant; refreshAuthorization for a person's grant), our client authentication, `resource` from the metadata. */
  private async renew(): Promise<OAuthTokens | undefined> {
    const d = this.discovery!;
    try {
      const refreshToken = this.flow ? this.refreshToken : undefined;
      const tokens = refreshToken !== undefined
        ? await refreshAuthorization(d.authorizationServerUrl, {
          metadata: d.authorizationServerMetadata!, clientInformation: this.clientInformation(), refreshToken,
          ...(d.resourceMetadata ? { resource: d.resourceMetadata.resource } : {}),
          addClientAuthentication: this.addClientAuthentication, fetchFn: this.fetch,
        })
        : await fetchToken(this, d.authorizationServerUrl, {
          metadata: d.authorizationServerMetadata!,
          // The metadata's string verbatim: URL.href would append '/' to a pathless resource.
          ...(d.resourceMetadata ? { resource: d.resourceMetadata.resource } : {}),
          fetchFn: this.fetch,
        });
      this.saveTokens({ ...tokens, issuer: d.authorizationServerUrl });
      return this.held!.tokens;
    } catch (err) {
      this.o.logger?.warn?.('mcp token renewal failed', { issuer: d.authorizationServerUrl, error: (err as Error).message });
      this.held = undefined;
      // The server refused the refresh token (revoked, expired): only the person can grant again.
      if (err instanceof OAuthError) this.refreshToken = undefined;
      return undefined;
    }
  }

  /** A 401/403 from the MCP server: remember the scopes it asked for (MCP step-up: union with what we asked before). */
  private challenged(res: Response): void {
    const { scope, error } = extractWWWAuthenticateParams(res);
    if (scope) this.scopes = union(this.scopes, scope.split(' ').filter(Boolean));
    if (error === 'insufficient_scope' || error === 'invalid_token') this.held = undefined;
  }
}

function union(a: string[], b: string[]): string[] { return [...new Set([...a, ...b])]; }

/** A claim of a JWT access token read without verification (the client only compares), undefined for opaque tokens. */
function jwtClaim(token: string, claim: string): unknown {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try { return (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>)[claim]; } catch { return undefined; }
}
