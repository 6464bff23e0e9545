import type { AgentClaims } from '../agent-claims.ts';
import type { SpiffeId } from '../id.ts';

/** JWT-SVID 2.1: the only accepted `alg` values. Everything else (none, HS*, EdDSA) is refused. */
export const JWT_SVID_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type JwtSvidAlgorithm = typeof JWT_SVID_ALGORITHMS[number];

export function isJwtSvidAlgorithm(alg: unknown): alg is JwtSvidAlgorithm {
  return typeof alg === 'string' && (JWT_SVID_ALGORITHMS as readonly string[]).includes(alg);
}

/** A JWT-SVID after parsing (and, from verifyJwtSvid, after signature and claim checks). */
export interface JwtSvid {
  id: SpiffeId;
  token: string;
  audience: string[];
  expiresAt: Date;
  issuedAt?: Date;
  /** The whole payload, registered claims included. */
  claims: Record<string, unknown>;
  agentClaims: AgentClaims;
}
