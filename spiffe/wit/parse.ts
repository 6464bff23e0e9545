import { cleanAgentClaims } from '../agent-claims.ts';
import { SpiffeId } from '../id.ts';
import { WitError, type WitReason } from './errors.ts';
import { decodeCompact, isObject, isWitAlgorithm, type DecodedJws } from './jws.ts';
import { publicKeyFromJwk } from './jwk.ts';
import { WIT_TYP, type WitSvid } from './types.ts';

const invalid = (reason: WitReason, message: string, cause?: unknown) => new WitError('ERR_WIT_INVALID', reason, message, { cause });

/**
 * Every WIT-SVID rule that depends on neither the clock nor a bundle: JOSE header
 * (2.1 kid present, 2.2 typ "wit+jwt", 2.3 alg allowed, no `crit` we would have to
 * understand) and claims (3.1 sub a SPIFFE ID, 3.2 cnf.jwk a public key with an
 * allowed alg, 3.4 exp present, 3.8 no aud). Unknown claims and headers are ignored.
 */
export function parseWit(token: string): { svid: WitSvid; jws: DecodedJws } {
  const jws = decodeCompact(token);
  if (!jws) throw invalid('malformed', 'WIT-SVID must be a JWS in compact serialization with JSON header and payload');
  const { header: h, payload: c } = jws;
  if (h.typ !== WIT_TYP) throw invalid('bad_typ', `WIT-SVID typ must be "${WIT_TYP}", got ${JSON.stringify(h.typ ?? null)}`);
  if (!isWitAlgorithm(h.alg)) throw invalid('unsupported_algorithm', `WIT-SVID alg ${JSON.stringify(h.alg ?? null)} is not one of the nine WIT-SVID algorithms`);
  if (typeof h.kid !== 'string' || h.kid.length === 0) throw invalid('missing_kid', 'WIT-SVID has no kid header');
  if (h.crit !== undefined) throw invalid('crit', `WIT-SVID carries crit ${JSON.stringify(h.crit)}: no critical extension is understood`);

  if (c.sub === undefined) throw invalid('missing_sub', 'WIT-SVID has no sub claim');
  if (typeof c.sub !== 'string') throw invalid('bad_sub', 'WIT-SVID sub must be a string');
  let id: SpiffeId;
  try { id = SpiffeId.parse(c.sub); } catch (e) { throw invalid('bad_sub', `WIT-SVID sub is not a SPIFFE ID: ${(e as Error).message}`, e); }
  if (id.path === '') throw invalid('bad_sub', `WIT-SVID sub ${c.sub} is a trust domain ID, not a workload's`);
  if (c.exp === undefined) throw invalid('missing_exp', 'WIT-SVID has no exp claim');
  if (!isNumericDate(c.exp)) throw invalid('malformed', 'WIT-SVID exp is not a NumericDate');
  for (const k of ['nbf', 'iat'] as const) if (c[k] !== undefined && !isNumericDate(c[k])) throw invalid('malformed', `WIT-SVID ${k} is not a NumericDate`);
  if (c.aud !== undefined) throw invalid('has_aud', 'WIT-SVID must not carry an aud claim (WIT-SVID 3.8)');
  if (c.cnf === undefined) throw invalid('missing_cnf', 'WIT-SVID has no cnf claim');
  if (!isObject(c.cnf) || c.cnf.jwk === undefined) throw invalid('missing_cnf', 'WIT-SVID cnf has no jwk member');
  const jwk = c.cnf.jwk;
  if (!isObject(jwk)) throw invalid('bad_cnf', 'WIT-SVID cnf.jwk is not a JSON object');
  if (!isWitAlgorithm(jwk.alg)) throw invalid('cnf_alg', `WIT-SVID cnf.jwk.alg ${JSON.stringify(jwk.alg ?? null)} is not one of the nine WIT-SVID algorithms`);
  let cnf: ReturnType<typeof publicKeyFromJwk>;
  try { cnf = publicKeyFromJwk(jwk); } catch (e) { throw invalid('bad_cnf', `WIT-SVID cnf.jwk is unusable: ${(e as Error).message}`, e); }
  if (c.jti !== undefined && typeof c.jti !== 'string') throw invalid('malformed', 'WIT-SVID jti must be a string');

  const svid: WitSvid = {
    id, token, keyId: h.kid, alg: h.alg, expiresAt: new Date((c.exp as number) * 1000),
    confirmationKey: cnf.key, confirmationAlg: cnf.alg, confirmationJwk: { ...jwk },
    claims: { ...c }, agentClaims: cleanAgentClaims(c),
  };
  if (c.iat !== undefined) svid.issuedAt = new Date((c.iat as number) * 1000);
  if (c.nbf !== undefined) svid.notBefore = new Date((c.nbf as number) * 1000);
  if (c.jti !== undefined) svid.jti = c.jti as string;
  return { svid, jws };
}

/**
 * Parses a WIT-SVID without checking its signature or times: for a workload reading
 * the one its own Workload API just gave it. Never use this to authenticate a peer.
 */
export function parseWitSvidInsecure(token: string): WitSvid {
  return parseWit(token).svid;
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
