import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { cleanAgentClaims, type AgentClaims } from '../../spiffe/agent-claims.ts';
import type { ChainActor } from '../delegation/types.ts';

/**
 * The delegated token (RFC 9068 JWT access token) exactly as docs/delegation.md shows
 * it: header {alg: ES256, typ: at+jwt, kid}; `sub` = the user qualified by the IdP
 * issuer; `act` nests the actors, current outermost; `chain` the ancestors' jtis;
 * `cnf.x5t#S256` when the actor authenticated with mTLS.
 */
export interface ActClaim extends AgentClaims {
  sub: string;
  act?: ActClaim;
}

export interface DelegatedClaims {
  iss: string;
  sub: string;
  aud: string[];
  scope: string;
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  client_id: string;
  grant_id: string;
  chain: string[];
  subject: { iss: string; sub: string; groups: string[] };
  act: ActClaim;
  cnf?: { 'x5t#S256': string };
}

/** `tok_` + 22 base64url characters (128 random bits). */
export const newJti = (): string => `tok_${randomBytes(16).toString('base64url')}`;
/** `grt_` + 22 base64url characters (128 random bits). */
export const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

/** RFC 8705 certificate thumbprint: base64url SHA-256 of the leaf DER. */
export const x5tS256 = (leafDer: Uint8Array): string => createHash('sha256').update(leafDer).digest('base64url');

/** The nested `act` claim of a chain given current actor first. */
export function actClaim(actors: readonly ChainActor[]): ActClaim {
  let inner: ActClaim | undefined;
  for (let i = actors.length - 1; i >= 0; i--) {
    const a = actors[i]!;
    inner = { sub: a.spiffeId, ...cleanAgentClaims(a.claims as Record<string, unknown>), ...(inner ? { act: inner } : {}) };
  }
  if (!inner) throw new Error('a delegated token needs at least one actor');
  return inner;
}

/**
 * Signs with node:crypto directly (as spiffe/jwtsvid/sign.ts does): the compact JWS is
 * fixed and small, and jose's async WebCrypto round trip costs more than the signature.
 */
export function signDelegatedToken(claims: DelegatedClaims, key: { kid: string; privateKey: KeyObject }): string {
  const header = { alg: 'ES256', typ: 'at+jwt', kid: key.kid };
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
