import type { KeyObject } from 'node:crypto';
import type { AgentClaims } from '../agent-claims.ts';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import type { SpiffeId, TrustDomain } from '../id.ts';

/**
 * The shapes of delegated authority as the SDK exposes them (docs/delegation.md):
 * a verified delegated token, its actors, revocation records and the sources that
 * verification composes on (keys, revocations).
 */

/** One agent of the `act` chain. */
export interface Actor {
  id: SpiffeId;
  /** agent_model / agent_provider / agent_version / agent_instance_id, when the actor's SVID carried them. */
  claims: AgentClaims;
}

/** A delegated access token after verifyDelegatedToken. */
export interface DelegatedToken {
  /** The compact JWT as presented. */
  token: string;
  /** `iss`: the authorization server. */
  issuer: string;
  /** `sub`: the user, `<subjectIssuer>#<subjectName>`. */
  subject: string;
  subjectIssuer: string;
  subjectName: string;
  scopes: string[];
  audience: string[];
  expiresAt: Date;
  issuedAt: Date;
  jti: string;
  grantId: string;
  /** jtis of every ancestor token, root first ([] for a root token). */
  chain: string[];
  /** The `act` chain, current actor FIRST, then earlier ones; length = depth. */
  actors: Actor[];
  /** The current actor's SPIFFE ID (`client_id`). */
  clientId: string;
  /** `cnf.x5t#S256` when the token is bound to the actor's X.509-SVID. */
  certificateThumbprint?: string;
  /** The whole payload, registered claims included. */
  claims: Record<string, unknown>;
  /** Per-operation budgets (docs/attenuation.md), enforced by the server's /oauth2/consume. */
  budgets?: Record<string, number>;
  /** A Biscuit token (spiffe/biscuit): each block's revocation id, hex, authority first. */
  biscuitRevocationIds?: string[];
}

export type RevocationKind = 'grant' | 'jti' | 'subject' | 'actor' | 'biscuit';

/** A revocation record of the push feed (times in unix seconds). */
export interface RevocationRecord {
  seq: number;
  kind: RevocationKind;
  value: string;
  at: number;
  expiresAt: number;
}

/**
 * Decides whether a verified token is revoked. RevocationFeed is the push-fed one;
 * a checker that cannot vouch for its freshness throws ERR_DELEGATION_FEED_STALE.
 */
export interface RevocationChecker {
  /** The record that revokes `token`, or undefined. */
  revocationOf(token: DelegatedToken): RevocationRecord | undefined;
}

/** A token-signing public key of the authorization server. */
export interface DelegationKey {
  kid: string;
  key: KeyObject;
  /** The JWK's `alg`, when it named one: the token's alg must then be exactly this. */
  alg?: string;
}

/**
 * Where verification finds signing keys by `kid`. Known keys come back synchronously
 * (no await on the hot path); an unknown kid may resolve after a refresh.
 */
export interface DelegationKeySource {
  getKey(kid: string): DelegationKey | undefined | Promise<DelegationKey | undefined>;
}

/** How SDK clients trust the authorization server's HTTPS certificate. */
export interface ServerTrust {
  /** Verify the server's certificate as an X.509-SVID against these bundles (BundleSource, X509Source, BundleSet). */
  bundleSource?: X509BundleSource;
  /** The SPIFFE ID the server must present; default `spiffe://<trustDomain>/tessera/server`. */
  serverId?: SpiffeId | string;
  /** Trust domain of the server, when it cannot be inferred (e.g. a BundleSource holding several). */
  trustDomain?: TrustDomain | string;
  /** Or: CA certificates (PEM) for a WebPKI-style certificate with the issuer's host name (other deployments). */
  caPem?: string;
}

export interface VerifyDelegatedTokenOptions {
  /** The exact `iss` expected. */
  issuer: string;
  keys: DelegationKeySource;
  /** This resource server's identifier: `aud` must contain it. */
  audience: string;
  requiredScopes?: string[];
  /** DER of the mTLS peer's leaf certificate, compared with `cnf.x5t#S256`. */
  peerCertificate?: Uint8Array;
  /** Refuse bearer tokens (no `cnf`). */
  requireBinding?: boolean;
  revocations?: RevocationChecker;
  /** Narrow the allowed algorithms (never widen: ES256 ES384 PS256 RS256 EdDSA). */
  algorithms?: string[];
  /** Clock skew tolerated for exp/nbf/iat, seconds (default 0, at most 300). */
  leeway?: number;
  now?: Date;
}
