import { randomBytes, timingSafeEqual } from 'node:crypto';
import { McpClientError } from './client-errors.ts';

/**
 * The agent as the OAuth client of a person's authorization (authorization code +
 * PKCE): the person signs in and approves in a browser, the agent redeems the code
 * with its SVID as client authentication. Its client_id is its SPIFFE ID, pre-registered
 * at the authorization server with `redirectUrl` (exact match).
 */
export interface AuthorizationCodeOptions {
  /**
   * Where the browser comes back with the code: as registered for this SPIFFE ID,
   * verbatim (an RFC 8252 loopback URL such as http://127.0.0.1:8976/callback, or https).
   */
  redirectUrl: string | URL;
  /** Hand the authorization URL to the person: open a browser, print it, post it to a UI. */
  open(url: URL): void | Promise<void>;
}

/** What the authorization server's metadata says about the callback's `iss` (RFC 9207). */
export interface CallbackIssuer {
  /** The discovered authorization server (metadata `issuer`, already checked against its URL). */
  issuer: string;
  /** metadata authorization_response_iss_parameter_supported: a callback without `iss` is refused. */
  required: boolean;
}

/**
 * One authorization in progress, in memory: the `state` the SDK sent, the PKCE
 * verifier it generated, and whether a callback passed the checks. The verifier is
 * released only after that, so a code can be redeemed only through
 * completeAuthorization's state and issuer checks (CSRF, RFC 9207 mix-up defence).
 */
export class AuthorizationCodeFlow {
  readonly redirectUrl: string;
  private readonly callbackAt: URL;
  private pendingState: string | undefined;
  private verifier: string | undefined;
  private checked = false;

  constructor(private readonly o: AuthorizationCodeOptions) {
    this.redirectUrl = String(o.redirectUrl);
    let u: URL;
    try { u = new URL(this.redirectUrl); } catch { throw new TypeError(`redirectUrl ${JSON.stringify(this.redirectUrl)} is not an absolute URL`); }
    if (u.hash) throw new TypeError(`redirectUrl ${this.redirectUrl} must not have a fragment`);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) {
      throw new TypeError(`redirectUrl ${this.redirectUrl} must be https, or http on a loopback address (RFC 8252 §7.3)`);
    }
    this.callbackAt = u;
  }

  /** A fresh, unguessable state per authorization request; the previous one is void. */
  state(): string {
    this.pendingState = randomBytes(32).toString('base64url');
    this.checked = false;
    return this.pendingState;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
    this.checked = false;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new McpClientError('ERR_MCP_INTERACTIVE', 'no authorization is in progress: there is no PKCE verifier');
    if (!this.checked) {
      throw new McpClientError('ERR_MCP_INTERACTIVE', 'no checked authorization response: pass the callback URL to completeAuthorization() before transport.finishAuth(code)');
    }
    return this.verifier;
  }

  /** The SDK computed the URL; the scopes are ours (configured and challenged, MCP step-up). */
  async open(url: URL, scopes: string[]): Promise<void> {
    if (scopes.length > 0) url.searchParams.set('scope', scopes.join(' '));
    await this.o.open(url);
  }

  /**
   * Checks the browser's return to redirectUrl and gives the code to redeem. State is
   * checked first (a mismatch leaves the authorization pending: a stray or forged
   * request cannot cancel it), then `iss`, then an error answer.
   */
  complete(callbackUrl: string | URL, iss: CallbackIssuer): string {
    const u = new URL(String(callbackUrl), this.callbackAt);
    if (u.origin !== this.callbackAt.origin || u.pathname !== this.callbackAt.pathname) {
      throw new McpClientError('ERR_MCP_AUTHORIZATION', `callback ${u.origin}${u.pathname} is not the redirect URL ${this.callbackAt.origin}${this.callbackAt.pathname}`);
    }
    const q = u.searchParams;
    if (this.pendingState === undefined) throw new McpClientError('ERR_MCP_STATE', 'a callback arrived but no authorization is in progress');
    const state = q.get('state');
    if (state === null || !same(state, this.pendingState)) {
      throw new McpClientError('ERR_MCP_STATE', state === null ? 'the callback has no state' : 'the callback\'s state is not the one of the authorization in progress');
    }
    this.pendingState = undefined; // one answer per request, whatever it says
    const got = q.get('iss');
    if (got === null ? iss.required : got !== iss.issuer) {
      throw new McpClientError('ERR_MCP_ISSUER', got === null
        ? `the callback has no iss, but ${iss.issuer} sends it on every response (RFC 9207)`
        : `the callback comes from issuer ${got}, not from ${iss.issuer} (RFC 9207 mix-up defence)`);
    }
    const error = q.get('error');
    if (error !== null) {
      const description = q.get('error_description');
      throw new McpClientError('ERR_MCP_AUTHORIZATION', `authorization refused: ${error}${description ? ` (${description})` : ''}`);
    }
    const code = q.get('code');
    if (!code) throw new McpClientError('ERR_MCP_AUTHORIZATION', 'the callback carries neither code nor error');
    this.checked = true;
    return code;
  }

  /** After a redemption (or on invalidateCredentials('verifier')): the verifier is single-use. */
  reset(): void {
    this.verifier = undefined;
    this.checked = false;
  }
}

const isLoopback = (h: string): boolean => h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
