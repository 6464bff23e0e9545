import { createHash } from 'node:crypto';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import type { Datastore } from '../datastore/types.ts';
import { OAuthError } from './errors.ts';
import { clip, type Form } from './http.ts';
import type { ClientCertificate } from './listener.ts';
import { x5tS256 } from './mint.ts';
import type { TrustDomainBundles } from './trust.ts';

/**
 * OAuth client authentication at the token endpoint (and any endpoint that needs it),
 * shared by every grant. Clients never hold secrets: an attested workload proves its
 * SPIFFE ID (draft-ietf-oauth-spiffe-client-auth), anything else is a public client
 * bound by PKCE.
 *
 * - `tls_client_auth` (RFC 8705 / SPIFFE profile): the X.509-SVID of the TLS
 *   connection; `client_id`, when sent, must be that SVID's SPIFFE ID.
 * - `private_key_jwt` (SPIFFE profile): `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-spiffe`
 *   with a JWT-SVID as `client_assertion`: its `sub` is the client_id, its `aud` is
 *   exactly one value, this server's issuer or token endpoint (rfc7523bis), its lifetime
 *   short, its signature by a key of the trust domain's JWT bundle, and it is usable
 *   once (its SHA-256 is kept until exp, on every server sharing the store).
 * - `none`: no credential, `client_id` given, and the caller allows public clients.
 *   A SPIFFE ID can never be a public client: whoever names one must prove it.
 *
 * Every failure is `invalid_client` (401) naming what failed; a request that carries
 * two different identities is refused rather than resolved.
 */
export const JWT_SPIFFE_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A client assertion may live at most this long from now (JWT-SVIDs default to 5 minutes). */
export const MAX_ASSERTION_LIFETIME_S = 600;

/**
 * RFC 7591 `token_endpoint_auth_method` names. `private_key_jwt` here means an RFC 7523
 * assertion of the SPIFFE profile: the key is the trust domain's, not one the client
 * registered, and the assertion type is jwt-spiffe.
 */
export type ClientAuthMethod = 'tls_client_auth' | 'private_key_jwt' | 'none';

export interface AuthenticatedClient {
  /** The client_id: a SPIFFE ID for workloads, otherwise as registered (CIMD URL, pre-registered id). */
  clientId: string;
  method: ClientAuthMethod;
  /** The attested workload identity: set when the client authenticated with an SVID. */
  spiffeId?: SpiffeId;
  /** Agent claims of the SVID (empty when it carries none, or for public clients). */
  claims: AgentClaims;
  /** RFC 8705 thumbprint of the TLS client certificate: set for tls_client_auth. */
  x5t?: string;
}

export interface ClientAuthOptions {
  /** This server's issuer (an accepted assertion audience). */
  issuer: string;
  /** <issuer>/oauth2/token (the other accepted assertion audience). */
  tokenEndpoint: string;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce'>;
  /** Unix seconds. */
  now: number;
  /** Whether a client without credentials may pass as a public client (method none). Default false. */
  allowPublic?: boolean;
  /**
   * The method a registered client must use, when the caller knows its registration
   * (pre-registered clients, client ID metadata documents). Undefined = any.
   */
  requiredMethod?: (clientId: string) => Promise<ClientAuthMethod | undefined> | ClientAuthMethod | undefined;
}

/** What authenticateClient needs of a route or grant request. */
export interface ClientAuthContext {
  client(): ClientCertificate | undefined;
}

export async function authenticateClient(ctx: ClientAuthContext, form: Form, opts: ClientAuthOptions): Promise<AuthenticatedClient> {
  const clientIdParam = form.get('client_id');
  const assertionType = form.get('client_assertion_type');
  const assertion = form.get('client_assertion');
  if (form.get('client_secret') !== undefined) {
    throw invalidClient('client_secret is not accepted: this server has no client secrets; authenticate with an X.509-SVID (mTLS) or a JWT-SVID client_assertion, or use PKCE as a public client');
  }
  const cert = ctx.client();

  let out: AuthenticatedClient;
  if (assertionType !== undefined || assertion !== undefined) {
    out = await byAssertion(assertionType, assertion, clientIdParam, cert, opts);
  } else if (cert) {
    if (clientIdParam !== undefined && clientIdParam !== cert.id.toString()) {
      throw invalidClient(`client_id ${clip(clientIdParam, 200)} does not match the TLS client certificate, an X.509-SVID of ${cert.id}`);
    }
    out = { clientId: cert.id.toString(), method: 'tls_client_auth', spiffeId: cert.id, claims: cert.claims, x5t: x5tS256(cert.leaf) };
  } else {
    if (clientIdParam === undefined) {
      throw invalidClient('client authentication is required: present an X.509-SVID as the TLS client certificate, a JWT-SVID as client_assertion, or (public clients) client_id');
    }
    if (isSpiffeIdText(clientIdParam)) {
      throw invalidClient(`client_id ${clip(clientIdParam, 200)} is a SPIFFE ID: that client must authenticate with its X.509-SVID (mTLS) or a JWT-SVID client_assertion (${JWT_SPIFFE_ASSERTION})`);
    }
    if (!opts.allowPublic) {
      throw invalidClient(`client ${clip(clientIdParam, 200)} presented no credentials, and this request needs an authenticated client (X.509-SVID or JWT-SVID client_assertion)`);
    }
    out = { clientId: clientIdParam, method: 'none', claims: {} };
  }

  const required = opts.requiredMethod ? await opts.requiredMethod(out.clientId) : undefined;
  if (required !== undefined && required !== out.method) {
    throw invalidClient(`client ${clip(out.clientId, 200)} is registered with token_endpoint_auth_method ${required} but authenticated with ${out.method}`);
  }
  return out;
}

/** The methods this module implements, as metadata lists them. */
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = ['tls_client_auth', 'private_key_jwt', 'none'];

async function byAssertion(type: string | undefined, assertion: string | undefined, clientIdParam: string | undefined,
  cert: ClientCertificate | undefined, opts: ClientAuthOptions): Promise<AuthenticatedClient> {
  if (type === undefined) throw invalidClient('client_assertion is given without client_assertion_type');
  if (assertion === undefined) throw invalidClient('client_assertion_type is given without client_assertion');
  if (type !== JWT_SPIFFE_ASSERTION) {
    const hint = type === JWT_BEARER_ASSERTION ? ' (a JWT-SVID is presented with the SPIFFE assertion type)' : '';
    throw invalidClient(`client_assertion_type ${clip(type, 120)} is not supported; use ${JWT_SPIFFE_ASSERTION}${hint}`);
  }
  const audiences = [opts.issuer, opts.tokenEndpoint];
  let svid;
  try {
    svid = await verifyJwtSvid(assertion, opts.bundles, audiences, { now: new Date(opts.now * 1000) });
  } catch (e) {
    if (!(e instanceof SpiffeError)) throw e;
    throw invalidClient(`client_assertion is not a valid JWT-SVID of trust domain ${opts.bundles.trustDomain}: ${describe(e, assertion, audiences)}`);
  }
  if (svid.audience.length !== 1) {
    throw invalidClient(`client_assertion aud ${clip(JSON.stringify(svid.audience), 200)} must be exactly one value, ${opts.issuer} (or ${opts.tokenEndpoint})`);
  }
  const exp = Math.floor(svid.expiresAt.getTime() / 1000);
  if (exp - opts.now > MAX_ASSERTION_LIFETIME_S) {
    throw invalidClient(`client_assertion expires in ${exp - opts.now} s; client assertions may live at most ${MAX_ASSERTION_LIFETIME_S} s`);
  }
  const id = svid.id.toString();
  if (clientIdParam !== undefined && clientIdParam !== id) {
    throw invalidClient(`client_assertion is a JWT-SVID of ${id}, not of client_id ${clip(clientIdParam, 200)}`);
  }
  if (cert && !cert.id.equals(svid.id)) {
    throw invalidClient(`client_assertion names ${id} but the TLS client certificate names ${cert.id}: both must name the client`);
  }
  const hash = createHash('sha256').update(assertion).digest('hex');
  if (!await opts.store.useTokenOnce(hash, exp)) {
    throw invalidClient(`client_assertion (JWT-SVID of ${id}) was already used: client assertions are single use, fetch a fresh one`);
  }
  if (cert) return { clientId: id, method: 'private_key_jwt', spiffeId: cert.id, claims: cert.claims, x5t: x5tS256(cert.leaf) };
  return { clientId: id, method: 'private_key_jwt', spiffeId: svid.id, claims: svid.agentClaims };
}

function describe(e: SpiffeError, token: string, audiences: string[]): string {
  if (e.reason === 'audience_mismatch') {
    let aud: unknown;
    try { aud = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).aud; } catch { /* shown as unknown */ }
    return `its aud ${clip(JSON.stringify(aud ?? null), 200)} is neither ${audiences.join(' nor ')}`;
  }
  if (e.reason === 'expired') {
    let exp: unknown;
    try { exp = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).exp; } catch { /* shown as unknown */ }
    return `it expired${typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : ''}`;
  }
  if (e.reason === 'key_not_found' || e.reason === 'bad_signature') return `${e.message} (not signed by a key of the trust domain's JWT bundle)`;
  return e.message;
}

const isSpiffeIdText = (s: string): boolean => {
  if (!/^spiffe:\/\//i.test(s)) return false;
  try { SpiffeId.parse(s); return true; } catch { return true; } // malformed SPIFFE IDs are not public client ids either
};

const invalidClient = (m: string) => new OAuthError('invalid_client', m);
