import type { X509BundleSource } from '../bundle/x509bundle.ts';
import type { SpiffeId, TrustDomain } from '../id.ts';
import type { JwtSvidSource, X509SvidSource } from '../source/types.ts';
import { DelegationError, oauthErrorCode } from './errors.ts';
import { httpsRequest, serverAgent } from './https.ts';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

export interface ExchangeTokenOptions {
  /** https://…/oauth2/token */
  tokenEndpoint: string;
  subjectToken: string;
  /** Default: access_token for an `at+jwt` (a delegated token being extended), else jwt. */
  subjectTokenType?: string;
  audience?: string[];
  resource?: string[];
  scope?: string[];
  /** Requested lifetime, seconds. */
  expiresIn?: number;
  /** mTLS as the actor with the SVID current at call time: the token is bound to it (cnf). */
  x509Source?: X509SvidSource;
  /** Or: a JWT-SVID actor_token (aud = the token endpoint URL): a bearer token. */
  jwtSource?: JwtSvidSource;
  /** Bundles to verify the server's X.509-SVID. */
  bundleSource: X509BundleSource;
  /** The server's SPIFFE ID; default spiffe://<actor's trust domain>/tessera/server. */
  serverId?: SpiffeId | string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExchangeTokenResult {
  accessToken: string;
  /** Seconds, as the server said (or from the token's exp when it did not). */
  expiresIn: number;
  scope: string[];
  issuedTokenType: string;
  tokenType: string;
}

/**
 * RFC 8693 token exchange at the Tessera authorization server: the user's token (or
 * a delegated token being narrowed for a sub-agent) plus our workload identity, by
 * mTLS (the SVID of this moment, on a fresh connection, so the binding names the
 * certificate we will present next) and/or a JWT-SVID actor_token. The server is
 * verified as the SVID spiffe://<td>/tessera/server before the subject token is
 * sent. OAuth errors become DelegationError ERR_OAUTH_<ERROR> with `oauthError`,
 * `description` and `status`; a response that is not OAuth is ERR_OAUTH_SERVER_ERROR.
 */
export async function exchangeToken(o: ExchangeTokenOptions): Promise<ExchangeTokenResult> {
  const endpoint = new URL(o.tokenEndpoint);
  if (endpoint.protocol !== 'https:') throw new TypeError(`tokenEndpoint ${o.tokenEndpoint} must be an https URL`);
  if (!o.x509Source && !o.jwtSource) throw new TypeError('exchangeToken needs the actor identity: x509Source (mTLS) and/or jwtSource (actor_token)');
  if (typeof o.subjectToken !== 'string' || o.subjectToken.length === 0) throw new TypeError('subjectToken is empty');

  const form = new URLSearchParams();
  form.set('grant_type', TOKEN_EXCHANGE_GRANT);
  form.set('subject_token', o.subjectToken);
  form.set('subject_token_type', o.subjectTokenType ?? defaultSubjectTokenType(o.subjectToken));
  for (const a of o.audience ?? []) form.append('audience', a);
  for (const r of o.resource ?? []) form.append('resource', r);
  if (o.scope && o.scope.length > 0) form.set('scope', o.scope.join(' '));
  if (o.expiresIn !== undefined) {
    if (!Number.isInteger(o.expiresIn) || o.expiresIn <= 0) throw new TypeError(`expiresIn must be a positive integer of seconds, got ${o.expiresIn}`);
    form.set('expires_in', String(o.expiresIn));
  }
  let td: TrustDomain | undefined = o.x509Source?.getX509Svid().id.trustDomain;
  if (o.jwtSource) {
    // The audience is the endpoint exactly as the server names itself (<issuer>/oauth2/token).
    const svid = await o.jwtSource.fetchJwtSvid({ audience: endpoint.href });
    form.set('actor_token', svid.token);
    form.set('actor_token_type', TOKEN_TYPE.jwt);
    td ??= svid.id.trustDomain;
  }

  const agent = serverAgent({
    bundleSource: o.bundleSource,
    ...(o.serverId !== undefined ? { serverId: o.serverId } : {}),
    ...(o.x509Source ? { client: o.x509Source } : {}),
    keepAlive: false,
  }, td);
  try {
    const r = await httpsRequest(endpoint, {
      agent, method: 'POST', body: form.toString(), timeoutMs: o.timeoutMs ?? 10_000, maxBytes: 256 * 1024,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const body = parseBody(r.body);
    if (r.status !== 200) throw oauthFailure(r.status, body);
    return result(body, o.scope ?? [], r.status);
  } finally {
    agent.destroy();
  }
}

function defaultSubjectTokenType(token: string): string {
  try {
    const h = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { typ?: unknown };
    if (typeof h.typ === 'string' && /^(application\/)?at\+jwt$/i.test(h.typ)) return TOKEN_TYPE.accessToken;
  } catch { /* not a JWT we can read: the server will say what it thinks */ }
  return TOKEN_TYPE.jwt;
}

function parseBody(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch { return undefined; }
}

function oauthFailure(status: number, body: Record<string, unknown> | undefined): DelegationError {
  const error = body?.error;
  if (typeof error !== 'string' || error.length === 0) {
    return new DelegationError('ERR_OAUTH_SERVER_ERROR', `token endpoint answered HTTP ${status} without an OAuth error body`, {
      reason: 'bad_response', oauthError: 'server_error', description: '', status,
    });
  }
  const description = typeof body?.error_description === 'string' ? body.error_description : '';
  return new DelegationError(oauthErrorCode(error), `token exchange refused: ${error}${description ? `: ${description}` : ''}`, {
    reason: 'oauth', oauthError: error, description, status,
  });
}

function result(body: Record<string, unknown> | undefined, requestedScope: string[], status: number): ExchangeTokenResult {
  const bad = (what: string) => new DelegationError('ERR_OAUTH_SERVER_ERROR', `token endpoint answered 200 but ${what}`, {
    reason: 'bad_response', oauthError: 'server_error', description: '', status,
  });
  if (!body) throw bad('the body is not a JSON object');
  if (typeof body.access_token !== 'string' || body.access_token.length === 0) throw bad('without access_token');
  if (typeof body.issued_token_type !== 'string') throw bad('without issued_token_type (RFC 8693 §2.2.1)');
  let expiresIn = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) ? body.expires_in : undefined;
  if (expiresIn === undefined) expiresIn = secondsLeft(body.access_token);
  // RFC 8693 §2.2.1: scope may be omitted when it is exactly what was requested.
  const scope = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [...requestedScope];
  return {
    accessToken: body.access_token, expiresIn, scope, issuedTokenType: body.issued_token_type,
    tokenType: typeof body.token_type === 'string' ? body.token_type : 'Bearer',
  };
}

function secondsLeft(token: string): number {
  try {
    const p = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof p.exp === 'number') return Math.max(0, Math.floor(p.exp - Date.now() / 1000));
  } catch { /* opaque token */ }
  return 0;
}
