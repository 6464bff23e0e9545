import type { TrustDomain } from '../id.ts';
import type { JwtSvidSource, X509SvidSource } from '../source/types.ts';
import { DelegationError, oauthErrorCode } from '../delegation/errors.ts';
import { issuerUrl, postOAuthForm } from '../delegation/https.ts';
import type { ServerTrust } from '../delegation/types.ts';

/**
 * Identity chaining across trust domains from an agent (docs/identity-chaining.md):
 * `requestCrossDomainGrant` asks the home authorization server for a JWT authorization
 * grant (ID-JAG) addressed to a foreign one; `redeemCrossDomainGrant` presents it there
 * (RFC 7523 jwt-bearer) for a token of the foreign domain. Refusals are
 * DelegationError ERR_OAUTH_<ERROR> with the server's error and description.
 */
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_SPIFFE_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';
const TYPES = {
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
};

interface Call extends ServerTrust { timeoutMs?: number; signal?: AbortSignal }

export interface CrossDomainGrantRequest extends Call {
  /** The home server's https://…/oauth2/token. */
  tokenEndpoint: string;
  /** A delegated token of the home server, or the user's ID token (the ID-JAG profile). */
  subjectToken: string;
  /** Default: access_token for an `at+jwt`, else id_token. */
  subjectTokenType?: string;
  /** The foreign authorization server's issuer. */
  audience: string;
  resource?: string[];
  scope?: string[];
  expiresIn?: number;
  /** The actor by mTLS (the usual way), … */
  x509Source?: X509SvidSource;
  /** … or by a JWT-SVID actor_token. */
  jwtSource?: JwtSvidSource;
}

export interface CrossDomainGrant { grant: string; expiresIn: number; scope: string[] }

export async function requestCrossDomainGrant(o: CrossDomainGrantRequest): Promise<CrossDomainGrant> {
  const endpoint = new URL(o.tokenEndpoint);
  if (!o.x509Source && !o.jwtSource) throw new TypeError('requestCrossDomainGrant needs the actor identity: x509Source (mTLS) and/or jwtSource (actor_token)');
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG_TOKEN_TYPE,
    subject_token: o.subjectToken, subject_token_type: o.subjectTokenType ?? defaultType(o.subjectToken), audience: o.audience,
  });
  for (const r of o.resource ?? []) form.append('resource', r);
  if (o.scope?.length) form.set('scope', o.scope.join(' '));
  if (o.expiresIn !== undefined) form.set('expires_in', String(o.expiresIn));
  let td: TrustDomain | undefined = o.x509Source?.getX509Svid().id.trustDomain;
  if (o.jwtSource) {
    const svid = await o.jwtSource.fetchJwtSvid({ audience: endpoint.href });
    form.set('actor_token', svid.token);
    form.set('actor_token_type', TYPES.jwt);
    td ??= svid.id.trustDomain;
  }
  const body = await post(endpoint, form, o, td, 'cross-domain grant request');
  if (typeof body.access_token !== 'string' || body.issued_token_type !== ID_JAG_TOKEN_TYPE) {
    throw badResponse(`token endpoint answered 200 without an ${ID_JAG_TOKEN_TYPE}`);
  }
  return { grant: body.access_token, expiresIn: num(body.expires_in), scope: scopes(body.scope, o.scope) };
}

export interface CrossDomainRedeemRequest extends Call {
  /** The foreign server's issuer; its token endpoint is <issuer>/oauth2/token. */
  issuer: string;
  /** Where to reach it, when not at the issuer URL (tests, internal addresses). */
  tokenEndpoint?: string;
  grant: string;
  /** Narrower than the grant's, or absent for the grant's. */
  scope?: string[];
  resource?: string[];
  /** The client authenticates with a JWT-SVID client_assertion whose aud is the foreign issuer. */
  jwtSource: JwtSvidSource;
}

export interface CrossDomainToken { accessToken: string; expiresIn: number; scope: string[] }

export async function redeemCrossDomainGrant(o: CrossDomainRedeemRequest): Promise<CrossDomainToken> {
  const endpoint = o.tokenEndpoint ? new URL(o.tokenEndpoint) : issuerUrl(o.issuer, '/oauth2/token');
  const svid = await o.jwtSource.fetchJwtSvid({ audience: o.issuer });
  const form = new URLSearchParams({
    grant_type: JWT_BEARER_GRANT, assertion: o.grant, client_assertion_type: JWT_SPIFFE_ASSERTION, client_assertion: svid.token,
  });
  for (const r of o.resource ?? []) form.append('resource', r);
  if (o.scope?.length) form.set('scope', o.scope.join(' '));
  // No client certificate: the foreign listener verifies certificates against its own trust domain only.
  const body = await post(endpoint, form, o, undefined, 'cross-domain grant redemption');
  if (typeof body.access_token !== 'string') throw badResponse('token endpoint answered 200 without access_token');
  return { accessToken: body.access_token, expiresIn: num(body.expires_in), scope: scopes(body.scope, o.scope) };
}

async function post(url: URL, form: URLSearchParams, o: Call & { x509Source?: X509SvidSource }, td: TrustDomain | undefined, what: string): Promise<Record<string, unknown>> {
  const r = await postOAuthForm(url, form, o, td);
  const body = r.body;
  if (r.status !== 200) {
    const error = typeof body?.error === 'string' && body.error ? body.error : 'server_error';
    const description = typeof body?.error_description === 'string' ? body.error_description : '';
    throw new DelegationError(oauthErrorCode(error), `${what} refused: ${error}${description ? `: ${description}` : ''}`,
      { reason: body?.error ? 'oauth' : 'bad_response', oauthError: error, description, status: r.status });
  }
  if (!body) throw badResponse('token endpoint answered 200 without a JSON object');
  return body;
}

function defaultType(token: string): string {
  try {
    const h = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { typ?: unknown };
    if (typeof h.typ === 'string' && /^(application\/)?at\+jwt$/i.test(h.typ)) return TYPES.accessToken;
  } catch { /* the server says what it thinks */ }
  return TYPES.idToken;
}

const badResponse = (m: string) => new DelegationError('ERR_OAUTH_SERVER_ERROR', m, { reason: 'bad_response', oauthError: 'server_error', description: '', status: 200 });
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const scopes = (v: unknown, asked: string[] | undefined): string[] => (typeof v === 'string' ? v.split(' ').filter(Boolean) : [...(asked ?? [])]);
