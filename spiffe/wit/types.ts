import type { KeyObject } from 'node:crypto';
import type { AgentClaims } from '../agent-claims.ts';
import type { SpiffeId } from '../id.ts';
import type { WitAlgorithm } from './jws.ts';

/** WIT-SVID 2.2: the `typ` of every WIT-SVID. */
export const WIT_TYP = 'wit+jwt';
/** draft-ietf-wimse-wpt: the WPT's media type (`typ` may carry it with or without "application/"). */
export const WPT_TYP = 'wpt+jwt';
/** SPIFFE WIT-SVID 6.1: the `use` of WIT-SVID signing keys in a SPIFFE bundle. */
export const USE_WIT_SVID = 'wit-svid';
/** HTTP header fields (draft-ietf-wimse-workload-creds 4.1.1, draft-ietf-wimse-wpt 2). */
export const WIT_HEADER = 'workload-identity-token';
export const WPT_HEADER = 'workload-proof-token';

/** A WIT-SVID after parsing (and, from verifyWitSvid, after its signature and time checks). */
export interface WitSvid {
  id: SpiffeId;
  token: string;
  /** The issuer's key ID (`kid` header): which bundle key signed it. */
  keyId: string;
  alg: WitAlgorithm;
  expiresAt: Date;
  issuedAt?: Date;
  notBefore?: Date;
  /** Auditing only: WIT-SVID 3.3 forbids using it for replay protection. */
  jti?: string;
  /** The workload's public key (`cnf.jwk`) and the algorithm its proofs must use (`cnf.jwk.alg`). */
  confirmationKey: KeyObject;
  confirmationAlg: WitAlgorithm;
  confirmationJwk: Record<string, unknown>;
  /** The whole payload, registered claims included. */
  claims: Record<string, unknown>;
  agentClaims: AgentClaims;
}

/** A WIT-SVID as the Workload API hands it to its workload: with the private key of `cnf`. */
export interface WitSvidWithKey extends WitSvid {
  privateKey: KeyObject;
  hint: string;
}
