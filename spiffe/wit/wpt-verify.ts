import { WitError, type WitErrorCode, type WitReason } from './errors.ts';
import { decodeCompact, isObject, verifyCompact } from './jws.ts';
import { tokenHash } from './hash.ts';
import type { JtiReplayCache } from './replay.ts';
import { DEFAULT_LEEWAY_SECONDS } from './verify.ts';
import { WPT_TYP, type WitSvid } from './types.ts';

/** What the recipient knows about the request the proof came with, from trusted sources only. */
export interface ProofContext {
  method: string;
  /**
   * The audience values this recipient accepts for the request: its target URI
   * without query or fragment, built from configured origins, never from Host or
   * X-Forwarded-Host (draft-ietf-wimse-wpt 3, audience validation).
   */
  audiences: string[];
  /** The OAuth access token sent with the request, if any (`ath` must then match). */
  accessToken?: string;
  /** The Txn-Token sent with the request, if any (`tth` must then match). */
  txnToken?: string;
  /** Single-valued header fields by lowercase name, for `oth`. */
  header?: (name: string) => string | undefined;
}

export interface VerifyProofOptions {
  now?: Date;
  leewaySeconds?: number;
  /** Proofs with exp further ahead than this are refused (the draft: unreasonably far in the future). Default 300 s. */
  maxLifetimeSeconds?: number;
  /** Refuse proofs without `htm`. Default false: the WPT draft does not define it; proofs that carry it are always checked. */
  requireMethod?: boolean;
  /** Replay protection by jti (RECOMMENDED); absent = none. */
  replay?: JtiReplayCache;
}

const fail = (code: WitErrorCode, reason: WitReason, message: string) => new WitError(code, reason, message);

/**
 * Checks a Workload Proof Token against the (already verified) WIT-SVID and the
 * request, in the order of draft-ietf-wimse-wpt 2: typ, alg = cnf.jwk.alg, signature by
 * the cnf key, aud, exp, wth, ath / tth / oth, then htm; the jti is recorded last, so
 * only proofs that passed every other check take room in the replay cache.
 */
export function verifyWorkloadProofToken(wpt: string, wit: WitSvid, req: ProofContext, opts: VerifyProofOptions = {}): { jti: string; expiresAt: Date } {
  const jws = decodeCompact(wpt);
  if (!jws) throw fail('ERR_WPT_INVALID', 'malformed', 'Workload-Proof-Token is not a JWS in compact serialization');
  const { header: h, payload: c } = jws;
  const typ = typeof h.typ === 'string' ? h.typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (typ !== WPT_TYP) throw fail('ERR_WPT_INVALID', 'bad_typ', `WPT typ must be "${WPT_TYP}", got ${JSON.stringify(h.typ ?? null)}`);
  if (h.alg !== wit.confirmationAlg) throw fail('ERR_WPT_INVALID', 'alg_mismatch', `WPT alg ${JSON.stringify(h.alg ?? null)} is not the WIT's cnf.jwk.alg ${wit.confirmationAlg}`);
  if (h.crit !== undefined) throw fail('ERR_WPT_INVALID', 'crit', 'WPT carries crit: no critical extension is understood');
  if (!verifyCompact(jws, wit.confirmationKey, wit.confirmationAlg)) {
    throw fail('ERR_WPT_SIGNATURE', 'bad_signature', `WPT is not signed by the key the WIT-SVID of ${wit.id} confirms`);
  }

  const aud = typeof c.aud === 'string' ? [c.aud] : Array.isArray(c.aud) ? c.aud : undefined;
  if (!aud || aud.length === 0) throw fail('ERR_WPT_INVALID', 'missing_claim', 'WPT has no aud claim');
  if (!aud.some((a) => req.audiences.includes(a as string))) {
    throw fail('ERR_WPT_MISMATCH', 'aud', `WPT aud ${JSON.stringify(aud)} is not this request's target URI`);
  }

  const now = (opts.now ?? new Date()).getTime();
  const leeway = (opts.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS) * 1000;
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw fail('ERR_WPT_INVALID', 'missing_claim', 'WPT has no numeric exp claim');
  const exp = c.exp * 1000;
  if (exp + leeway <= now) throw fail('ERR_WPT_EXPIRED', 'expired', `WPT expired at ${new Date(exp).toISOString()}`);
  if (exp - now > (opts.maxLifetimeSeconds ?? 300) * 1000 + leeway) throw fail('ERR_WPT_EXPIRED', 'lifetime', 'WPT expires unreasonably far in the future');
  if (typeof c.iat === 'number' && c.iat * 1000 - leeway > now) throw fail('ERR_WPT_EXPIRED', 'not_yet_valid', 'WPT was issued in the future');
  if (typeof c.nbf === 'number' && c.nbf * 1000 - leeway > now) throw fail('ERR_WPT_EXPIRED', 'not_yet_valid', 'WPT is not yet valid');

  if (typeof c.wth !== 'string') throw fail('ERR_WPT_INVALID', 'missing_claim', 'WPT has no wth claim');
  if (c.wth !== tokenHash(wit.token)) throw fail('ERR_WPT_MISMATCH', 'wth', 'WPT wth is not the hash of the Workload-Identity-Token sent with it');
  bound('ath', c.ath, req.accessToken, 'access token');
  bound('tth', c.tth, req.txnToken, 'Txn-Token');
  if (c.oth !== undefined) {
    if (!isObject(c.oth)) throw fail('ERR_WPT_INVALID', 'oth', 'WPT oth must be a JSON object');
    for (const [name, hash] of Object.entries(c.oth)) {
      const value = req.header?.(name.toLowerCase());
      if (value === undefined) throw fail('ERR_WPT_MISMATCH', 'oth', `WPT oth names "${name}", which this request does not carry once`);
      if (hash !== tokenHash(value.trim())) throw fail('ERR_WPT_MISMATCH', 'oth', `WPT oth hash of "${name}" does not match`);
    }
  }
  if (c.htm !== undefined ? c.htm !== req.method : opts.requireMethod) {
    throw fail('ERR_WPT_MISMATCH', 'htm', `WPT is bound to method ${JSON.stringify(c.htm ?? null)}, request is ${req.method}`);
  }

  if (typeof c.jti !== 'string' || c.jti.length === 0 || c.jti.length > 256) throw fail('ERR_WPT_INVALID', 'missing_claim', 'WPT has no usable jti claim');
  opts.replay?.use(wit.id.toString(), c.jti, exp + leeway, now);
  return { jti: c.jti, expiresAt: new Date(exp) };
}

/** `claim` must be present exactly when the request carries `token`, and be its hash. */
function bound(claim: 'ath' | 'tth', value: unknown, token: string | undefined, what: string): void {
  if (token === undefined && value === undefined) return;
  if (token === undefined) throw fail('ERR_WPT_MISMATCH', claim, `WPT ${claim} binds an ${what} this request does not carry`);
  if (value === undefined) throw fail('ERR_WPT_MISMATCH', claim, `the request carries an ${what} but the WPT has no ${claim}`);
  if (value !== tokenHash(token)) throw fail('ERR_WPT_MISMATCH', claim, `WPT ${claim} is not the hash of the ${what} sent with it`);
}
