import { randomBytes, type KeyObject } from 'node:crypto';
import { cleanAgentClaims, type AgentClaims } from '../agent-claims.ts';
import type { SpiffeId } from '../id.ts';
import { WitError } from './errors.ts';
import { isWitAlgorithm, keyFitsAlg, signCompact, type WitAlgorithm } from './jws.ts';
import { publicJwk } from './jwk.ts';
import { WIT_TYP } from './types.ts';

export interface WitSigningKey { kid: string; privateKey: KeyObject; alg: WitAlgorithm }

export interface WitSvidSignParams {
  id: SpiffeId;
  /** The workload's public key, bound as `cnf.jwk`, and the algorithm its proofs use. */
  confirmationKey: KeyObject;
  confirmationAlg: WitAlgorithm;
  expiresAt: Date;
  issuedAt?: Date;
  /** Default: 128 random bits, base64url (WIT-SVID 3.3: negligible collision probability). */
  jti?: string;
  claims?: AgentClaims;
  key: WitSigningKey;
}

const invalid = (reason: ConstructorParameters<typeof WitError>[1], message: string) => new WitError('ERR_WIT_INVALID', reason, message);

/**
 * Mints a WIT-SVID (WIT-SVID 4): header exactly {alg, kid, typ: "wit+jwt"} (2.4: no
 * other parameters), claims cnf.jwk (with its alg), sub, exp, iat, jti and the agent
 * claims. Never aud (3.8) and never iss (3.7: nothing an OIDC validator could take).
 */
export function signWitSvid(p: WitSvidSignParams): string {
  if (!isWitAlgorithm(p.key.alg)) throw invalid('unsupported_algorithm', `alg ${String(p.key.alg)} is not allowed for WIT-SVIDs`);
  if (typeof p.key.kid !== 'string' || p.key.kid.length === 0) throw invalid('missing_kid', 'a WIT-SVID signing key needs a kid (WIT-SVID 2.1)');
  if (p.key.privateKey.type !== 'private' || !keyFitsAlg(p.key.privateKey, p.key.alg)) {
    throw invalid('bad_key', `signing key ${p.key.kid} cannot sign ${p.key.alg}`);
  }
  if (!isWitAlgorithm(p.confirmationAlg)) throw invalid('cnf_alg', `cnf.jwk.alg ${String(p.confirmationAlg)} is not one of the WIT-SVID algorithms`);
  if (!keyFitsAlg(p.confirmationKey, p.confirmationAlg)) {
    throw invalid('bad_cnf', `the workload key (${p.confirmationKey.asymmetricKeyType}) cannot sign ${p.confirmationAlg}`);
  }
  if (p.id.path === '') throw invalid('bad_sub', `sub must be a workload's SPIFFE ID, not the trust domain ID ${p.id}`);
  const iat = p.issuedAt ?? new Date();
  if (!(p.expiresAt.getTime() > iat.getTime())) throw invalid('expired', 'expiresAt must be after issuedAt');
  const payload = {
    ...cleanAgentClaims(p.claims as Record<string, unknown> | undefined),
    cnf: { jwk: publicJwk(p.confirmationKey, p.confirmationAlg) },
    exp: Math.floor(p.expiresAt.getTime() / 1000),
    iat: Math.floor(iat.getTime() / 1000),
    jti: p.jti ?? randomBytes(16).toString('base64url'),
    sub: p.id.toString(),
  };
  return signCompact({ alg: p.key.alg, kid: p.key.kid, typ: WIT_TYP }, payload, p.key.privateKey, p.key.alg);
}
