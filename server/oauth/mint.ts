import { createHash, randomFillSync, sign, type KeyObject } from 'node:crypto';
import { cleanAgentClaims, hasAgentClaims, type AgentClaims } from '../../spiffe/agent-claims.ts';
import type { ChainActor } from '../delegation/types.ts';

/**
 * The delegated token (RFC 9068 JWT access token) exactly as docs/delegation.md shows
 * it: header {alg: ES256, typ: at+jwt, kid}; `sub` = the user qualified by the IdP
 * issuer; `act` nests the actors, current outermost; `chain` the ancestors' jtis;
 * `cnf.x5t#S256` when the actor authenticated with mTLS.
 *
 * Actor profile (draft-mcguinness-oauth-actor-profile): every `act` object carries
 * `iss`, the namespace of its `sub` (the actor's trust domain, `spiffe://<td>`), and
 * `sub_profile`: `ai_agent` when the actor's SVID carries agent claims (an entry with
 * agent metadata), else `service`. The top-level `sub_profile` is `user`: `sub` is
 * always a person signed in at an IdP. A token issued to a client that proved no
 * workload identity (a public MCP client) has no `act` at all: the draft forbids one
 * made up from the client_id alone.
 */
export type SubProfile = 'user' | 'service' | 'ai_agent';

export interface ActClaim extends AgentClaims {
  sub: string;
  iss?: string;
  sub_profile?: SubProfile;
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
  sub_profile?: SubProfile;
  /** Absent only for a public client's token (no attested actor). */
  act?: ActClaim;
  cnf?: { 'x5t#S256': string };
}

/**
 * 128-bit identifiers from a pool refilled 4 KiB at a time from the CSPRNG (as
 * crypto.randomUUID does): one kernel round trip per 256 ids rather than per id.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function random128(): string {
  if (poolOffset === pool.length) { randomFillSync(pool); poolOffset = 0; }
  poolOffset += 16;
  return pool.toString('base64url', poolOffset - 16, poolOffset);
}

/** `tok_` + 22 base64url characters (128 random bits). */
export const newJti = (): string => `tok_${random128()}`;
/** `grt_` + 22 base64url characters (128 random bits). */
export const newGrantId = (): string => `grt_${random128()}`;

/** RFC 8705 certificate thumbprint: base64url SHA-256 of the leaf DER. */
export const x5tS256 = (leafDer: Uint8Array): string => createHash('sha256').update(leafDer).digest('base64url');

/** The nested `act` claim of a chain given current actor first. */
export function actClaim(actors: readonly ChainActor[]): ActClaim {
  let inner: ActClaim | undefined;
  for (let i = actors.length - 1; i >= 0; i--) {
    const a = actors[i]!;
    const claims = cleanAgentClaims(a.claims as Record<string, unknown>);
    inner = {
      sub: a.spiffeId, iss: actorNamespace(a.spiffeId), sub_profile: hasAgentClaims(claims) ? 'ai_agent' : 'service',
      ...claims, ...(inner ? { act: inner } : {}),
    };
  }
  if (!inner) throw new Error('a delegated token needs at least one actor');
  return inner;
}

/**
 * The actor-profile `sub_profile` of a workload: `ai_agent` when its SVID carries agent
 * claims, else `service` (the same rule actClaim applies to each actor). Also the
 * top-level `sub_profile` of a client-credentials token, whose `sub` is the workload.
 */
export const workloadProfile = (claims: AgentClaims): SubProfile =>
  (hasAgentClaims(cleanAgentClaims(claims as Record<string, unknown>)) ? 'ai_agent' : 'service');

/** The namespace of an actor's SPIFFE ID: its trust domain ID (`spiffe://example.org`). */
export const actorNamespace = (spiffeId: string): string => /^spiffe:\/\/[^/]+/.exec(spiffeId)?.[0] ?? spiffeId;

/**
 * Signs with node:crypto directly (as spiffe/jwtsvid/sign.ts does): the compact JWS is
 * fixed and small, and jose's async WebCrypto round trip costs more than the signature.
 */
export function signDelegatedToken(claims: DelegatedClaims, key: { kid: string; privateKey: KeyObject }): string {
  // `sub` is always a person (a user of a trusted IdP): say so to resource servers.
  const body = claims.sub_profile === undefined ? { ...claims, sub_profile: 'user' } : claims;
  const input = `${encodedHeader(key.kid)}.${b64(JSON.stringify(body))}`;
  const sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url');

/** The encoded JOSE header per signing kid (a handful over a server's life). */
const headers = new Map<string, string>();
function encodedHeader(kid: string): string {
  let h = headers.get(kid);
  if (h === undefined) {
    h = b64(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid }));
    if (headers.size >= 64) headers.clear();
    headers.set(kid, h);
  }
  return h;
}
