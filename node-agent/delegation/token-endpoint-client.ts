import * as https from 'node:https';
import { TesseraError, type ErrorKind } from '../../common/errors.ts';
import type { X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import { serverId } from '../../spiffe/id.ts';
import type { X509Svid } from '../../spiffe/x509svid/parse.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';

/**
 * The agent's half of RFC 8693 token exchange: one form POST to the authorization
 * server's token endpoint, over mTLS with the *workload's* X.509-SVID as the client
 * certificate (so the server names that workload as actor and binds the token to that
 * certificate), the server verified as the SVID spiffe://<td>/tessera/server of the
 * workload's own trust domain before the subject token is written.
 */

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

export interface TokenExchangeParams {
  subjectToken: string;
  /** Empty: access_token for an `at+jwt` (a delegated token being narrowed), else jwt. */
  subjectTokenType?: string;
  audience: string[];
  resource: string[];
  /** Space-delimited; empty = let the server compute it. */
  scope?: string;
  /** Seconds; 0/undefined = server default. */
  expiresIn?: number;
  requestedTokenType?: string;
}

export interface TokenExchangeReply {
  accessToken: string;
  issuedTokenType: string;
  tokenType: string;
  expiresIn: number;
  /** Space-delimited. */
  scope: string;
}

/**
 * What the token endpoint said it did not like, or why it could not be asked. `kind`
 * (→ gRPC status at the transport edge) follows from the OAuth error; `oauthError` is
 * set only when the server actually answered with one.
 */
export class TokenEndpointError extends TesseraError {
  readonly oauthError?: string;
  readonly description?: string;
  readonly httpStatus?: number;
  constructor(kind: ErrorKind, code: string, message: string, o: { oauthError?: string; description?: string; httpStatus?: number; cause?: unknown } = {}) {
    super(kind, code, message, { cause: o.cause });
    if (o.oauthError !== undefined) this.oauthError = o.oauthError;
    if (o.description !== undefined) this.description = o.description;
    if (o.httpStatus !== undefined) this.httpStatus = o.httpStatus;
  }
}

/**
 * OAuth error → error kind. Refusals the caller can fix by asking differently are
 * invalid_argument; refusals of *who* is asking are permission_denied; a failed client
 * authentication is unauthenticated (the agent presented the workload's SVID, so that
 * means the SVID was not accepted); the rest is the server's trouble.
 */
const OAUTH_KIND: Record<string, ErrorKind> = {
  invalid_request: 'invalid_argument',
  invalid_scope: 'invalid_argument',
  invalid_target: 'invalid_argument',
  // RFC 8693 §2.2.2: the subject_token_type / requested_token_type is not supported.
  unsupported_token_type: 'invalid_argument',
  unauthorized_client: 'permission_denied',
  invalid_grant: 'permission_denied',
  access_denied: 'permission_denied',
  invalid_client: 'unauthenticated',
  temporarily_unavailable: 'unavailable',
  server_error: 'unavailable',
};

export function oauthErrorCode(error: string): string {
  return `ERR_OAUTH_${error.toUpperCase().replace(/[^A-Z0-9_]/g, '_') || 'UNKNOWN'}`;
}

/** Control characters never reach a message, a log line or a gRPC trailer from a server's free text. */
const clean = (s: string, max: number) => s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);

export interface TokenEndpointClientOptions {
  /** https://…/oauth2/token */
  url: URL;
  /** Deadline of one exchange (connect + TLS + response). Default 10 s. */
  timeoutMs?: number;
  /** Largest response body accepted. Default 256 KiB. */
  maxResponseBytes?: number;
  /** ms clock, for expires_in when the server left it out. Default Date.now. */
  now?: () => number;
}

export class TokenEndpointClient {
  readonly url: URL;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(o: TokenEndpointClientOptions) {
    if (o.url.protocol !== 'https:') throw new TypeError(`token endpoint ${o.url.href} must be an https URL`);
    this.url = o.url;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.maxBytes = o.maxResponseBytes ?? 256 * 1024;
    this.now = o.now ?? Date.now;
  }

  /**
   * Exchanges `p.subjectToken` with `actor` (SVID with private key) as the TLS client
   * certificate; `bundles` verifies the server. Resolves with the issued token or
   * rejects with a TokenEndpointError.
   */
  async exchange(actor: X509Svid, bundles: X509BundleSource, p: TokenExchangeParams, signal?: AbortSignal): Promise<TokenExchangeReply> {
    const form = new URLSearchParams();
    form.set('grant_type', TOKEN_EXCHANGE_GRANT);
    form.set('subject_token', p.subjectToken);
    form.set('subject_token_type', p.subjectTokenType || defaultSubjectTokenType(p.subjectToken));
    for (const a of p.audience) form.append('audience', a);
    for (const r of p.resource) form.append('resource', r);
    if (p.scope) form.set('scope', p.scope);
    if (p.expiresIn) form.set('expires_in', String(p.expiresIn));
    if (p.requestedTokenType) form.set('requested_token_type', p.requestedTokenType);

    // One connection per exchange: each carries a different workload's certificate, and
    // the binding must name the SVID of this moment (a pooled socket could hold an older one).
    const agent = createMtlsAgent({
      source: { getX509Svid: () => actor },
      bundles,
      authorize: authorizeID(serverId(actor.id.trustDomain)),
      agent: { keepAlive: false },
    });
    let reply: { status: number; body: Buffer };
    try {
      reply = await this.post(agent, form.toString(), signal);
    } catch (e) {
      throw new TokenEndpointError('unavailable', 'ERR_TOKEN_ENDPOINT_UNREACHABLE',
        `token endpoint ${this.url.href} is unreachable: ${clean((e as Error).message, 300)}`, { cause: e });
    } finally {
      agent.destroy();
    }
    const body = parseJsonObject(reply.body);
    if (reply.status !== 200) throw this.refusal(reply.status, body);
    return this.issued(body, p.scope ?? '');
  }

  private refusal(status: number, body: Record<string, unknown> | undefined): TokenEndpointError {
    const error = body?.error;
    if (typeof error !== 'string' || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(error)) {
      // Not an OAuth answer (a proxy's error page, a crash): nothing the caller can fix.
      return new TokenEndpointError('unavailable', 'ERR_TOKEN_ENDPOINT_RESPONSE',
        `token endpoint ${this.url.href} answered HTTP ${status} without an OAuth error`, { httpStatus: status });
    }
    const description = typeof body?.error_description === 'string' ? clean(body.error_description, 1024) : '';
    return new TokenEndpointError(OAUTH_KIND[error] ?? 'internal', oauthErrorCode(error),
      description ? `${error}: ${description}` : error, { oauthError: error, description, httpStatus: status });
  }

  private issued(body: Record<string, unknown> | undefined, requestedScope: string): TokenExchangeReply {
    const bad = (what: string) => new TokenEndpointError('internal', 'ERR_TOKEN_ENDPOINT_RESPONSE',
      `token endpoint ${this.url.href} answered 200 ${what}`, { httpStatus: 200 });
    if (!body) throw bad('with a body that is not a JSON object');
    if (typeof body.access_token !== 'string' || body.access_token.length === 0) throw bad('without access_token');
    if (typeof body.issued_token_type !== 'string') throw bad('without issued_token_type (RFC 8693 §2.2.1)');
    const expiresIn = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in >= 0
      ? Math.floor(body.expires_in) : secondsLeft(body.access_token, this.now());
    return {
      accessToken: body.access_token,
      issuedTokenType: body.issued_token_type,
      tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
      expiresIn,
      // RFC 8693 §2.2.1: scope may be left out when it is exactly what was requested.
      scope: typeof body.scope === 'string' ? body.scope : requestedScope,
    };
  }

  private post(agent: https.Agent, body: string, signal?: AbortSignal): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = https.request(this.url, {
        agent, method: 'POST', timeout: this.timeoutMs, ...(signal ? { signal } : {}),
        headers: {
          'content-type': 'application/x-www-form-urlencoded', accept: 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        },
      }, (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > this.maxBytes) { req.destroy(new Error(`response exceeds ${this.maxBytes} bytes`)); return; }
          parts.push(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      // `timeout` is socket inactivity; the whole exchange also gets a hard deadline.
      const deadline = setTimeout(() => req.destroy(new Error(`no response within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', () => req.destroy(new Error(`no response within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** access_token for a Tessera delegated token (`typ: at+jwt`), else jwt (an IdP token). */
export function defaultSubjectTokenType(token: string): string {
  try {
    const h = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { typ?: unknown };
    if (typeof h.typ === 'string' && /^(application\/)?at\+jwt$/i.test(h.typ)) return TOKEN_TYPE_ACCESS_TOKEN;
  } catch { /* not a JWT we can read: the server will say what it thinks */ }
  return TOKEN_TYPE_JWT;
}

function parseJsonObject(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch { return undefined; }
}

function secondsLeft(token: string, nowMs: number): number {
  try {
    const p = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof p.exp === 'number') return Math.max(0, Math.floor(p.exp - nowMs / 1000));
  } catch { /* opaque token */ }
  return 0;
}
