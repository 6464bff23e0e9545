import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { InsufficientScopeError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { DelegationError, invalid } from '../delegation/errors.ts';
import { peerCertificateOf } from '../delegation/middleware.ts';
import type { DelegatedToken, DelegationKeySource, RevocationChecker } from '../delegation/types.ts';
import { verifyDelegatedToken } from '../delegation/verify.ts';
import { missingScopes, toAuthInfo, type ScopeImplications } from './auth-info.ts';
import { refusalOf, sendRefusal, union } from './challenge.ts';
import { BodyError, calledTools, jsonBody, jsonRpcError, MAX_BODY_BYTES } from './request-body.ts';

export interface McpResourceServerOptions {
  /**
   * This MCP server's canonical URI (MCP "Canonical Server URI", RFC 8707 §2), e.g.
   * `https://tools.example.org/mcp`: the `resource` of its metadata and the `aud` a
   * token must carry, compared exactly.
   */
  resource: string;
  /** The Tessera authorization server: the only `iss` accepted and the one `authorization_servers` entry. */
  issuer: string;
  /** Its token-signing keys (createRemoteDelegationKeys({ issuer, bundleSource })). */
  keys: DelegationKeySource;
  /** The revocation push feed (RevocationFeed); without it revoked tokens pass until exp. */
  revocations?: RevocationChecker;
  /** Scopes every request needs. */
  requiredScopes?: string[];
  /**
   * Scopes per tool, checked for `tools/call` before the transport runs (403 step-up).
   * Same as calling requireScopes(tool, scopes) for each before serving; declare them
   * here when McpServer instances are built per request (the SDK's stateless pattern).
   */
  toolScopes?: Record<string, string[]>;
  /** `scopes_supported` of the metadata; default requiredScopes (the basic set, MCP "Scope Selection Strategy"). */
  scopesSupported?: string[];
  /** Broad scopes that imply narrower ones: `{ 'files:write': ['files:read'] }`. */
  scopeImplications?: ScopeImplications;
  /** Refuse bearer tokens: every token must be bound (cnf) to the caller's mTLS certificate. */
  requireBinding?: boolean;
  /** Runs after verification (authorizeDelegation({...})); throw to refuse with 403. */
  authorize?: (t: DelegatedToken) => void;
  /** Seconds of clock skew tolerated (verifyDelegatedToken `leeway`). */
  leeway?: number;
  resourceName?: string;
  resourceDocumentation?: string;
  /**
   * Remember verified tokens per connection (default true): the signature is checked
   * once per token and connection; expiry, revocation and scopes on every request.
   */
  cacheVerified?: boolean;
  maxBodyBytes?: number;
  /** Test seam, ms. */
  now?: () => number;
}

type Next = (err?: unknown) => void;
type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * An MCP server as an OAuth 2.1 resource server for Tessera-issued delegated tokens
 * (MCP authorization, revision 2026-07-28):
 *  - serves RFC 9728 protected resource metadata at
 *    `/.well-known/oauth-protected-resource<resource path>`;
 *  - verifies the Bearer token with verifyDelegatedToken: issuer, signature, exp,
 *    `aud` = this server's canonical URI, cnf = the connection's client certificate,
 *    revocation; then the request's scopes, including per-tool ones for `tools/call`;
 *  - refuses per challenge.ts (401 with resource_metadata, 403 insufficient_scope
 *    naming the scopes, 503 when it cannot vouch);
 *  - sets `req.auth` (the MCP SDK's AuthInfo: `extra.delegation` is the token) so
 *    StreamableHTTPServerTransport passes it to tool handlers as `extra.authInfo`.
 *
 *   const rs = createMcpResourceServer({ resource, issuer, keys, revocations });
 *   rs.requireScopes('write_file', ['files:write']);
 *   http.createServer(rs.handler((req, res) => transport.handleRequest(req, res, req.body)));
 *   // Express: app.use(rs.middleware); app.post('/mcp', (req, res) => transport.handleRequest(req, res, req.body));
 */
export class McpResourceServer {
  /** Path of the metadata document on this server. */
  readonly metadataPath: string;
  /** Absolute URL of the metadata document (the challenges' `resource_metadata`). */
  readonly metadataUrl: string;
  readonly resourceUrl: URL;
  private readonly toolScopes = new Map<string, string[]>();
  private readonly required: string[];
  private readonly verified = new WeakMap<object, Map<string, { t: DelegatedToken; auth: AuthInfo }>>();
  private readonly now: () => number;
  private readonly leewayMs: number;
  private metadataJson: string | undefined;

  constructor(private readonly o: McpResourceServerOptions) {
    this.resourceUrl = canonicalResource(o.resource);
    if (!/^https:\/\//.test(o.issuer)) throw new TypeError(`issuer ${o.issuer} must be an https URL`);
    const path = this.resourceUrl.pathname === '/' ? '' : this.resourceUrl.pathname.replace(/\/+$/, '');
    this.metadataPath = `/.well-known/oauth-protected-resource${path}`;
    this.metadataUrl = `${this.resourceUrl.origin}${this.metadataPath}`;
    this.required = [...(o.requiredScopes ?? [])];
    for (const [tool, scopes] of Object.entries(o.toolScopes ?? {})) this.toolScopes.set(tool, [...scopes]);
    this.now = o.now ?? Date.now;
    this.leewayMs = Math.min(Math.max(o.leeway ?? 0, 0), 300) * 1000;
  }

  /** The RFC 9728 document. */
  metadata(): Record<string, unknown> {
    return {
      resource: this.o.resource,
      authorization_servers: [this.o.issuer],
      scopes_supported: this.o.scopesSupported ?? this.required,
      bearer_methods_supported: ['header'],
      // Tessera binds tokens to the agent's X.509-SVID when it authenticated with mTLS (RFC 8705);
      // checking that binding needs this server to be on TLS.
      tls_client_certificate_bound_access_tokens: this.resourceUrl.protocol === 'https:',
      ...(this.o.resourceName ? { resource_name: this.o.resourceName } : {}),
      ...(this.o.resourceDocumentation ? { resource_documentation: this.o.resourceDocumentation } : {}),
    };
  }

  /**
   * Declares the scopes a tool needs: `tools/call` for it is refused with 403
   * insufficient_scope (all of them named) before the transport runs. With `handler`,
   * returns it wrapped so the rule is also enforced inside (InsufficientScopeError),
   * which also covers a tool registered after requests began: the HTTP check only
   * knows tools declared before the request arrived.
   */
  requireScopes(tool: string, scopes: string[]): void;
  requireScopes<H extends (...args: never[]) => unknown>(tool: string, scopes: string[], handler: H): H;
  requireScopes<H extends (...args: never[]) => unknown>(tool: string, scopes: string[], handler?: H): H | void {
    this.toolScopes.set(tool, [...scopes]);
    if (!handler) return;
    const implies = this.o.scopeImplications;
    return ((...args: never[]) => {
      const extra = args[args.length - 1] as { authInfo?: AuthInfo } | undefined;
      const granted = extra?.authInfo?.scopes ?? [];
      const missing = missingScopes(granted, scopes, implies);
      if (missing.length > 0) throw new InsufficientScopeError(`tool ${tool} needs scope "${scopes.join(' ')}"; the token lacks ${missing.join(' ')}`);
      return handler(...args);
    }) as H;
  }

  /** Connect/Express-style: serves the metadata, or authenticates and calls next() with `req.auth` set. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (this.isMetadataRequest(req)) { this.serveMetadata(req, res); return; }
    // Hot path, synchronous: a token already verified on this connection, no per-tool scopes to read.
    const auth = this.toolScopes.size === 0 || req.method !== 'POST' ? this.fromCache(req) : undefined;
    if (auth) { (req as IncomingMessage & { auth?: AuthInfo }).auth = auth; next(); return; }
    this.authenticate(req, res).then((ok) => { if (ok) next(); }, next);
  };

  /** node:http: wraps a handler (typically the MCP transport's) behind the metadata route and authentication. */
  handler(inner: Handler): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      this.middleware(req, res, (err?: unknown) => {
        if (err !== undefined) { fail(res, err); return; }
        try {
          const p = inner(req, res);
          if (p) p.catch((e: unknown) => fail(res, e));
        } catch (e) { fail(res, e); }
      });
    };
  }

  isMetadataRequest(req: IncomingMessage): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    return (q < 0 ? url : url.slice(0, q)) === this.metadataPath;
  }

  serveMetadata(req: IncomingMessage, res: ServerResponse): void {
    // Browser-based MCP clients fetch this cross-origin.
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS' };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors).end(); return; }
    this.metadataJson ??= JSON.stringify(this.metadata());
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', ...cors });
    res.end(req.method === 'HEAD' ? undefined : this.metadataJson);
  }

  /**
   * Verifies the request's token and scopes; true with `req.auth` set, false after
   * answering the refusal itself. Rejects only on faults (not on refusals).
   */
  async authenticate(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const token = bearer(req);
    let needed = this.required;
    try {
      if (token === undefined) throw invalid('malformed', 'request has no "Authorization: Bearer <token>" header');
      const { t, auth } = await this.verify(req, token);
      if (this.toolScopes.size > 0 && req.method === 'POST') {
        for (const tool of calledTools(await jsonBody(req, this.o.maxBodyBytes ?? MAX_BODY_BYTES))) {
          needed = union(needed, this.toolScopes.get(tool) ?? []);
        }
      }
      const missing = missingScopes(t.scopes, needed, this.o.scopeImplications);
      if (missing.length > 0) {
        throw new DelegationError('ERR_DELEGATION_SCOPE', `this request needs scope "${needed.join(' ')}"; the token lacks ${missing.join(' ')} (it has: ${t.scopes.join(' ') || 'none'})`, { reason: 'missing_scope', missingScopes: missing });
      }
      this.o.authorize?.(t);
      (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
      return true;
    } catch (err) {
      if (err instanceof BodyError) {
        res.writeHead(err.status, { 'content-type': 'application/json' }).end(jsonRpcError(err));
        return false;
      }
      const refusal = refusalOf(err, token !== undefined, needed.length > 0 ? needed : this.o.scopesSupported ?? []);
      if (!refusal) throw err;
      sendRefusal(res, refusal, this.metadataUrl);
      return false;
    }
  }

  /**
   * The AuthInfo of a token verified earlier on this connection, when it is still
   * unexpired, unrevoked and carries every scope this server requires of all requests
   * (and `authorize` passed it then). Undefined sends the request down the full path,
   * which also answers every refusal. Revocation checks that throw (stale feed) do too.
   */
  private fromCache(req: IncomingMessage): AuthInfo | undefined {
    if (this.o.cacheVerified === false) return undefined;
    const h = req.headers.authorization;
    if (h === undefined || h.length < 8 || (h.charCodeAt(0) | 32) !== 98 /* b */) return undefined;
    const sock = req.socket as object | undefined;
    const hit = sock ? this.verified.get(sock)?.get(h) : undefined;
    if (!hit || hit.t.expiresAt.getTime() + this.leewayMs <= this.now()) return undefined;
    try {
      if (this.o.revocations?.revocationOf(hit.t)) return undefined;
    } catch { return undefined; }
    return hit.auth;
  }

  /** verifyDelegatedToken, remembered per connection (keyed by the whole Authorization header): same socket = same peer certificate, so the cnf result holds. */
  private async verify(req: IncomingMessage, token: string): Promise<{ t: DelegatedToken; auth: AuthInfo }> {
    const cache = this.o.cacheVerified === false ? undefined : this.cacheOf(req);
    const header = req.headers.authorization!;
    const hit = cache?.get(header);
    if (hit) {
      if (hit.t.expiresAt.getTime() + this.leewayMs > this.now()) {
        const rec = this.o.revocations?.revocationOf(hit.t);
        if (!rec) return hit;
        cache!.delete(header);
        throw new DelegationError('ERR_DELEGATION_REVOKED', `delegated token ${hit.t.jti} is revoked (${rec.kind} ${rec.value}, revocation seq ${rec.seq})`, { reason: 'revoked' });
      }
      cache!.delete(header); // expired: the full verification below says so
    }
    const peerCertificate = peerCertificateOf(req);
    const t = await verifyDelegatedToken(token, {
      issuer: this.o.issuer, keys: this.o.keys, audience: this.o.resource,
      ...(peerCertificate ? { peerCertificate } : {}),
      ...(this.o.requireBinding ? { requireBinding: true } : {}),
      ...(this.o.revocations ? { revocations: this.o.revocations } : {}),
      ...(this.o.leeway !== undefined ? { leeway: this.o.leeway } : {}),
      now: new Date(this.now()),
    });
    const entry = { t, auth: toAuthInfo(t, this.resourceUrl) };
    // Only tokens that pass this server's own checks are remembered: the fast path skips them.
    const passes = missingScopes(t.scopes, this.required, this.o.scopeImplications).length === 0 && this.authorizes(t);
    if (cache && passes) {
      if (cache.size >= MAX_TOKENS_PER_CONNECTION) cache.clear();
      cache.set(header, entry);
    }
    return entry;
  }

  private authorizes(t: DelegatedToken): boolean {
    try { this.o.authorize?.(t); return true; } catch { return false; }
  }

  private cacheOf(req: IncomingMessage): Map<string, { t: DelegatedToken; auth: AuthInfo }> | undefined {
    const sock = req.socket as object | undefined;
    if (!sock) return undefined;
    let m = this.verified.get(sock);
    if (!m) { m = new Map(); this.verified.set(sock, m); }
    return m;
  }
}

/** One agent per connection in practice; a few tokens (scope step-ups) at most. */
const MAX_TOKENS_PER_CONNECTION = 8;

export function createMcpResourceServer(o: McpResourceServerOptions): McpResourceServer {
  return new McpResourceServer(o);
}

/** Validates the canonical URI: absolute http(s), no fragment (MCP "Canonical Server URI"). */
function canonicalResource(resource: string): URL {
  let u: URL;
  try { u = new URL(resource); } catch { throw new TypeError(`resource ${JSON.stringify(resource)} is not an absolute URI`); }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`resource ${resource} must be an https (or, for loopback, http) URL`);
  if (resource.includes('#')) throw new TypeError(`resource ${resource} must not have a fragment (RFC 8707)`);
  return u;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(h);
  // A malformed header is a token we cannot read: invalid_token, not "no token".
  return m ? m[1] : h.length > 0 ? '' : undefined;
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) { res.destroy(err as Error); return; }
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'server_error', error_description: (err as Error)?.message ?? String(err) }));
}
