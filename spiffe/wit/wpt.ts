import { randomBytes, type KeyObject } from 'node:crypto';
import { WitError } from './errors.ts';
import { keyFitsAlg, signCompact } from './jws.ts';
import { parseWitSvidInsecure } from './parse.ts';
import { targetUriAudience, tokenHash } from './hash.ts';
import { WPT_TYP, type WitSvid } from './types.ts';

export interface WorkloadProofParams {
  /** The WIT-SVID (with its private key, as WITSource gives it), or its token plus `privateKey`. */
  wit: (WitSvid & { privateKey?: KeyObject }) | string;
  privateKey?: KeyObject;
  /** HTTP method of the request, bound as `htm` (RFC 9449's registered claim). */
  method: string;
  /** The request's target URI; `aud` is it without query and fragment. */
  uri: string | URL;
  /** An OAuth access token sent with the request (bound as `ath`). */
  accessToken?: string;
  /** A Txn-Token sent with the request (bound as `tth`). */
  txnToken?: string;
  /** Other context tokens sent in header fields: field name → field value (bound as `oth`). */
  otherTokens?: Record<string, string>;
  /** Seconds until exp. Default 60 (the WPT draft: minutes or seconds). */
  lifetimeSeconds?: number;
  now?: Date;
}

/**
 * A Workload Proof Token (draft-ietf-wimse-wpt 2) for one HTTP request: header {alg:
 * cnf.jwk.alg, typ: "wpt+jwt"}, claims aud, exp, iat, jti (128 random bits), wth (hash
 * of the WIT), htm, and ath / tth / oth for the tokens sent with it. Signed with the
 * WIT's private key.
 */
export function createWorkloadProofToken(p: WorkloadProofParams): string {
  const wit = typeof p.wit === 'string' ? parseWitSvidInsecure(p.wit) : p.wit;
  const key = p.privateKey ?? (typeof p.wit === 'string' ? undefined : p.wit.privateKey);
  if (!key || key.type !== 'private') throw new WitError('ERR_WPT_INVALID', 'bad_key', 'a proof needs the private key of the WIT-SVID');
  if (!keyFitsAlg(key, wit.confirmationAlg)) throw new WitError('ERR_WPT_INVALID', 'alg_mismatch', `the private key cannot sign ${wit.confirmationAlg} (cnf.jwk.alg)`);
  if (!p.method) throw new WitError('ERR_WPT_INVALID', 'missing_claim', 'the request method is required');
  const now = Math.floor((p.now ?? new Date()).getTime() / 1000);
  const claims: Record<string, unknown> = {
    aud: targetUriAudience(p.uri),
    exp: now + (p.lifetimeSeconds ?? 60),
    htm: p.method,
    iat: now,
    jti: randomBytes(16).toString('base64url'),
    wth: tokenHash(wit.token),
  };
  if (p.accessToken !== undefined) claims.ath = tokenHash(p.accessToken);
  if (p.txnToken !== undefined) claims.tth = tokenHash(p.txnToken);
  if (p.otherTokens && Object.keys(p.otherTokens).length > 0) {
    claims.oth = Object.fromEntries(Object.entries(p.otherTokens).map(([name, v]) => [name.toLowerCase(), tokenHash(v.trim())]));
  }
  return signCompact({ alg: wit.confirmationAlg, typ: WPT_TYP }, claims, key, wit.confirmationAlg);
}

/** The two header fields of a request authenticated by WIT + WPT. Never `Authorization` (WIT-SVID 5). */
export function workloadProofHeaders(p: WorkloadProofParams): { 'Workload-Identity-Token': string; 'Workload-Proof-Token': string } {
  const token = typeof p.wit === 'string' ? p.wit : p.wit.token;
  return { 'Workload-Identity-Token': token, 'Workload-Proof-Token': createWorkloadProofToken(p) };
}
