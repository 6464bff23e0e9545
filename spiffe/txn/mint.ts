import { TrustDomain } from '../id.ts';
import { postOAuthForm } from '../delegation/https.ts';
import type { ServerTrust } from '../delegation/types.ts';
import type { JwtSvidSource, X509SvidSource } from '../source/types.ts';
import { oauthErrorCode } from '../delegation/errors.ts';
import { TxnTokenError } from './errors.ts';

/**
 * A transaction token from the Txn-Token service (docs/transaction-tokens.md): RFC 8693
 * token exchange with requested_token_type txn_token at the Tessera token endpoint.
 * This workload is the requester (`req_wl`): it authenticates with its X.509-SVID over
 * mTLS, or a JWT-SVID client assertion; the server is verified as its SVID first.
 *
 * The subject is one of:
 * - `accessToken`: the delegated token this workload received (the user's transaction);
 * - `txnToken`: a txn token to replace, adding context (`details`) or narrowing `scope`;
 * - neither: self-initiated work, the subject is this workload (its JWT-SVID, from `jwtSource`).
 */
export const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';
export const TXN_TOKEN_HEADER = 'txn-token';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const JWT_SPIFFE_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

export interface MintTxnTokenOptions extends ServerTrust {
  /** https://…/oauth2/token */
  tokenEndpoint: string;
  /** The trust domain the token is for (the `audience`); default this workload's. */
  trustDomain?: TrustDomain | string;
  accessToken?: string;
  txnToken?: string;
  /** The purpose, as narrowly as possible (required unless replacing). */
  scope?: string[];
  /** Becomes `tctx`: the transaction's fixed parameters (request_details). */
  details?: Record<string, unknown>;
  /** Becomes `rctx`: where the transaction came from, e.g. { req_ip } (request_context). */
  context?: Record<string, unknown>;
  /** Requested lifetime, seconds (the server's ceiling, default 60 s, applies). */
  expiresIn?: number;
  /** mTLS as the requester. */
  x509Source?: X509SvidSource;
  /** JWT-SVIDs: the client assertion when there is no x509Source, and the subject of self-initiated work. */
  jwtSource?: JwtSvidSource;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface MintedTxnToken {
  txnToken: string;
  expiresIn: number;
  scope: string[];
}

export async function mintTxnToken(o: MintTxnTokenOptions): Promise<MintedTxnToken> {
  const endpoint = new URL(o.tokenEndpoint);
  if (endpoint.protocol !== 'https:') throw new TypeError(`tokenEndpoint ${o.tokenEndpoint} must be an https URL`);
  if (!o.x509Source && !o.jwtSource) throw new TypeError('mintTxnToken needs the requester identity: x509Source (mTLS) and/or jwtSource (client assertion)');
  if (o.accessToken !== undefined && o.txnToken !== undefined) throw new TypeError('pass accessToken or txnToken, not both');
  const issuer = endpoint.href.replace(/\/oauth2\/token$/, '');
  let td = o.x509Source?.getX509Svid().id.trustDomain;

  const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, requested_token_type: TXN_TOKEN_TYPE });
  if (o.accessToken !== undefined) {
    form.set('subject_token', o.accessToken);
    form.set('subject_token_type', ACCESS_TOKEN_TYPE);
  } else if (o.txnToken !== undefined) {
    form.set('subject_token', o.txnToken);
    form.set('subject_token_type', TXN_TOKEN_TYPE);
  } else {
    if (!o.jwtSource) throw new TypeError('self-initiated work needs jwtSource: the subject_token is this workload\'s JWT-SVID');
    const svid = await o.jwtSource.fetchJwtSvid({ audience: endpoint.href });
    form.set('subject_token', svid.token);
    form.set('subject_token_type', JWT_TOKEN_TYPE);
    td ??= svid.id.trustDomain;
  }
  if (!o.x509Source) {
    // rfc7523bis: the assertion's audience is exactly the issuer.
    const svid = await o.jwtSource!.fetchJwtSvid({ audience: issuer });
    form.set('client_assertion_type', JWT_SPIFFE_ASSERTION);
    form.set('client_assertion', svid.token);
    td ??= svid.id.trustDomain;
  }
  const audience = o.trustDomain === undefined ? td! : typeof o.trustDomain === 'string' ? TrustDomain.parse(o.trustDomain) : o.trustDomain;
  form.set('audience', audience.idString);
  if (o.scope?.length) form.set('scope', o.scope.join(' '));
  if (o.details) form.set('request_details', JSON.stringify(o.details));
  if (o.context) form.set('request_context', JSON.stringify(o.context));
  if (o.expiresIn !== undefined) form.set('expires_in', String(o.expiresIn));

  const r = await postOAuthForm(endpoint, form, o, td);
  const body = r.body;
  if (r.status !== 200) {
    const error = typeof body?.error === 'string' && body.error ? body.error : 'server_error';
    const description = typeof body?.error_description === 'string' ? body.error_description : '';
    throw new TxnTokenError(oauthErrorCode(error) as `ERR_OAUTH_${Uppercase<string>}`, `Txn-Token request refused: ${error}${description ? `: ${description}` : ''}`,
      { reason: body?.error ? 'oauth' : 'bad_response', oauthError: error, description, status: r.status });
  }
  if (!body || typeof body.access_token !== 'string' || body.issued_token_type !== TXN_TOKEN_TYPE) {
    throw new TxnTokenError('ERR_OAUTH_SERVER_ERROR', `token endpoint answered 200 without a ${TXN_TOKEN_TYPE}`, { reason: 'bad_response', status: 200 });
  }
  return {
    txnToken: body.access_token,
    expiresIn: typeof body.expires_in === 'number' ? body.expires_in : 0,
    scope: typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [...(o.scope ?? [])],
  };
}
