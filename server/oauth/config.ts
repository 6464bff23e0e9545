import { t, type Field } from '../../common/config.ts';
import { ConfigError } from '../../common/errors.ts';

/**
 * The `oauth` section of the server config (docs/delegation.md). Absent = no
 * authorization server. Parsed by server/config.ts with the other sections.
 */

const httpsUrl = /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/** A string or a list of strings, always returned as a non-empty list. */
const stringOrList: Field<string[]> = {
  describe: 'string or list of strings',
  parse(v, p) {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string' || x.length === 0)) {
      throw new ConfigError(`config: ${p}: must be a non-empty string or a non-empty list of non-empty strings`);
    }
    return list as string[];
  },
};

const trustedIssuer = t.object({
  /** Exact `iss` of the IdP's tokens; its OpenID configuration is at <issuer>/.well-known/openid-configuration. */
  issuer: t.string({ pattern: httpsUrl }),
  /** Subject tokens must name (one of) these in `aud`. */
  audience: stringOrList,
  subject_claim: t.string({ default: 'sub', nonEmpty: true }),
  groups_claim: t.optional(t.string({ nonEmpty: true })),
  /** Overrides the jwks_uri of the OpenID configuration. */
  jwks_uri: t.optional(t.string({ pattern: httpsUrl })),
  /** PEM CA certificate(s) to trust for this issuer's HTTPS (private PKI, tests). */
  ca_file: t.optional(t.string({ nonEmpty: true })),
});

export const oauthConfigField = t.optional(t.object({
  /** host:port; port 0 picks one (written to <data_dir>/oauth.addr). */
  listen: t.string({ default: '127.0.0.1:8443', pattern: /^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/ }),
  /** `iss` of every token; default https://<listen host>:<bound port>. */
  issuer: t.optional(t.string({ pattern: /^https:\/\/[^\s/?#]+(\/[^\s?#]*[^\s?#/])?$/ })),
  /** Default and ceiling of issued token lifetimes (policies may lower it). */
  token_ttl: t.duration({ default: 300, min: 10, max: 86400 }),
  /** Default and ceiling of transaction-token lifetimes (docs/transaction-tokens.md); policies and the subject token may lower it. */
  txn_token_ttl: t.duration({ default: 60, min: 5, max: 600 }),
  /**
   * Lifetime of a refresh-token family (docs/mcp.md "Refresh tokens"), counted from the
   * code redemption; rotation does not extend it. Then the person signs in again.
   */
  refresh_token_ttl: t.duration({ default: 7 * 86400, min: 60, max: 90 * 86400 }),
  /** How long one token-signing key signs before the next takes over. */
  key_rotation: t.duration({ default: 86400, min: 60 }),
  /** Heartbeat interval of the revocation feed (GET /oauth2/revocations). */
  revocation_heartbeat: t.duration({ default: 5, min: 0.1, max: 300 }),
  trusted_issuers: t.array(trustedIssuer, { default: [] }),
  /**
   * MCP authorization (docs/mcp.md): the upstream OpenID Provider people sign in at
   * (Tessera is its relying party). Absent = no authorization endpoint. Its issuer must
   * also be listed in trusted_issuers (subject and groups claims come from there).
   */
  login: t.optional(t.object({
    issuer: t.string({ pattern: httpsUrl }),
    client_id: t.string({ nonEmpty: true }),
    /** Absent = public client (PKCE only). */
    client_secret: t.optional(t.string({ nonEmpty: true })),
    /** PEM CA certificate(s) to trust for the provider's HTTPS (private PKI, tests). */
    ca_file: t.optional(t.string({ nonEmpty: true })),
    /** Scopes requested at the provider. */
    scope: t.string({ default: 'openid email profile groups', nonEmpty: true }),
  })),
  /** How long a person has to sign in and approve (the sealed transaction cookie's life). */
  consent_ttl: t.duration({ default: 600, min: 30, max: 3600 }),
  /** File with a secret (≥ 32 bytes) sealing the login/consent cookies; share it across servers behind one name. Default: random per process. */
  cookie_secret_file: t.optional(t.string({ nonEmpty: true })),
  /** Client ID Metadata Documents (URL client_ids). */
  cimd: t.object({
    enabled: t.boolean({ default: true }),
    /** Tests only: allow http:// and loopback/private addresses for metadata documents. */
    allow_insecure_loopback: t.boolean({ default: false }),
    max_bytes: t.number({ default: 16384, min: 1024, max: 1048576, integer: true }),
    timeout: t.duration({ default: 5, min: 0.1, max: 60 }),
    /** Ceiling on how long a fetched document is cached (HTTP max-age below it wins). */
    max_cache: t.duration({ default: 3600, min: 0, max: 86400 }),
  }),
  /**
   * Human approval of escalations (OpenID CIBA; docs/attenuation.md "Human approval"):
   * /oauth2/bc-authorize and the approval page, mounted with oauth.login.
   */
  ciba: t.object({
    /** Default and ceiling of a request's life (an agent's requested_expiry may shorten it). */
    request_ttl: t.duration({ default: 600, min: 30, max: 86400 }),
    /** Minimum seconds between an agent's polls (CIBA `interval`). */
    interval: t.duration({ default: 5, min: 1, max: 60 }),
    /** Ping mode: the agent's HTTPS endpoint (serving its X.509-SVID) Tessera notifies when a request is decided. */
    ping: t.array(t.object({
      client_id: t.string({ pattern: /^spiffe:\/\/[^\s]+$/ }),
      notification_endpoint: t.string({ pattern: httpsUrl }),
    }), { default: [] }),
    /**
     * Flood protection of /oauth2/bc-authorize, per agent (SPIFFE ID of the authenticated
     * client); beyond either limit the request is refused with 429 access_denied and Retry-After.
     */
    limits: t.object({
      /** Pending (undecided, unexpired) requests one agent may have for one user; counted in the datastore, so it holds across servers. */
      max_pending: t.number({ default: 10, min: 1, max: 100, integer: true }),
      /** Requests one agent may send in a burst (token-bucket size); per server, not shared through the datastore. */
      burst: t.number({ default: 20, min: 1, max: 1000, integer: true }),
      /** Sustained requests per minute one agent may send (bucket refill rate); per server. */
      per_minute: t.number({ default: 20, min: 0.1, max: 6000 }),
    }),
  }),
  /**
   * Conditions of AuthZEN decisions (docs/authzen.md "Conditions"), attached to delegation
   * policies by id: the policy records do not store conditions yet.
   */
  authzen_conditions: t.array(t.object({
    policy: t.string({ nonEmpty: true }),
    action: t.string({ nonEmpty: true }),
    /** At most `max` permits per fixed `window`, per user and agent. */
    rate: t.optional(t.object({ max: t.number({ min: 1, integer: true }), window: t.duration({ min: 1, max: 86400 }) })),
    /** The request's number `property` must be ≤ `max`. */
    amount: t.optional(t.object({ property: t.string({ default: 'amount', nonEmpty: true }), max: t.number({ min: 0 }) })),
    /** A destination not used by this user and agent within `remember`: only up to `max_amount` (0: never without a person). */
    first_seen: t.optional(t.object({
      property: t.string({ default: 'destination', nonEmpty: true }),
      amount_property: t.string({ default: 'amount', nonEmpty: true }),
      max_amount: t.number({ default: 0, min: 0 }),
      remember: t.duration({ default: 90 * 86400, min: 60, max: 400 * 86400 }),
    })),
  }), { default: [] }),
  /**
   * Identity chaining across trust domains (docs/identity-chaining.md):
   * draft-ietf-oauth-identity-chaining and the ID-JAG profile.
   */
  chaining: t.object({
    /** Home side: the foreign authorization servers (their exact issuer) we issue JWT authorization grants for. */
    audiences: t.array(t.string({ pattern: httpsUrl }), { default: [] }),
    /** Home side: lifetime ceiling of an issued grant (it is exchanged at once; keep it short). */
    grant_ttl: t.duration({ default: 60, min: 5, max: 300 }),
    /** Foreign side: clock skew tolerated on a presented grant's iat, nbf and exp. */
    leeway: t.duration({ default: 30, min: 0, max: 300 }),
    /** Foreign side: the home authorization servers whose grants we redeem (RFC 7523 jwt-bearer). */
    trusted_domains: t.array(t.object({
      /** Exact `iss` of its grants. */
      issuer: t.string({ pattern: httpsUrl }),
      /** Its JWKS; default <issuer>/oauth2/jwks. */
      jwks_uri: t.optional(t.string({ pattern: httpsUrl })),
      /**
       * The SPIFFE trust domain of that server (a Tessera deployment federated with us): its
       * JWKS is fetched over TLS authenticated as spiffe://<td>/tessera/server with the
       * federated bundle, and its clients authenticate with SVIDs of that trust domain.
       */
      spiffe_trust_domain: t.optional(t.string({ pattern: /^[a-z0-9._-]+$/ })),
      /** Without spiffe_trust_domain: PEM CA certificate(s) for the JWKS's HTTPS (private PKI). */
      ca_file: t.optional(t.string({ nonEmpty: true })),
    }), { default: [] }),
  }),
  /** RFC 7591 dynamic registration at /oauth2/register (deprecated by MCP; off by default). */
  dynamic_registration: t.boolean({ default: false }),
  /** Scopes listed in the metadata (scopes_supported); informational. */
  scopes_supported: t.array(t.string({ nonEmpty: true }), { default: [] }),
  /** A WebPKI certificate for browsers, used by the listener instead of the server SVID. */
  tls: t.optional(t.object({
    cert_file: t.string({ nonEmpty: true }),
    key_file: t.string({ nonEmpty: true }),
  })),
}));

export type OAuthConfig = NonNullable<ReturnType<typeof oauthConfigField.parse>>;
export type TrustedIssuerConfig = OAuthConfig['trusted_issuers'][number];
export type LoginConfig = NonNullable<OAuthConfig['login']>;
export type ChainingConfig = OAuthConfig['chaining'];
export type TrustedDomainConfig = ChainingConfig['trusted_domains'][number];
