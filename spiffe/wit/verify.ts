import { WitError } from './errors.ts';
import { keyFitsAlg, verifyCompact } from './jws.ts';
import { parseWit } from './parse.ts';
import type { WitBundleSource } from './bundle.ts';
import type { WitSvid } from './types.ts';

export interface VerifyWitOptions {
  now?: Date;
  /** Clock skew allowed on exp and nbf (WIT-SVID 3.4: seconds to at most a couple of minutes). Default 30 s. */
  leewaySeconds?: number;
  /** Refuse WIT-SVIDs whose lifespan (exp - nbf, else exp - iat) exceeds this (WIT-SVID 3.5 policy). Default: no limit. */
  maxLifetimeSeconds?: number;
}

export const DEFAULT_LEEWAY_SECONDS = 30;

/**
 * Validates a WIT-SVID: every rule of parseWit, then the signature against the key
 * named by `kid` in the WIT bundle of the sub's trust domain, then exp / nbf. It does
 * NOT authenticate anyone by itself: WIT-SVID 4 and 7.1 forbid accepting a WIT-SVID
 * without a proof of possession of its cnf key (verifyWitRequest does both).
 */
export function verifyWitSvid(token: string, bundles: WitBundleSource, opts: VerifyWitOptions = {}): WitSvid {
  const { svid, jws } = parseWit(token);
  const td = svid.id.trustDomain;
  const bundle = bundles.getWitBundleForTrustDomain(td);
  if (!bundle) throw new WitError('ERR_WIT_UNTRUSTED', 'bundle_not_found', `no WIT bundle for trust domain ${td}`);
  const key = bundle.findKey(svid.keyId);
  if (!key) throw new WitError('ERR_WIT_UNTRUSTED', 'key_not_found', `no key "${svid.keyId}" in the WIT bundle of ${td}`);
  if (!keyFitsAlg(key, svid.alg)) throw new WitError('ERR_WIT_UNTRUSTED', 'bad_key', `bundle key "${svid.keyId}" cannot verify ${svid.alg}`);
  if (!verifyCompact(jws, key, svid.alg)) throw new WitError('ERR_WIT_UNTRUSTED', 'bad_signature', 'WIT-SVID signature does not verify');
  checkWitTimes(svid, opts);
  return svid;
}

export function checkWitTimes(svid: WitSvid, opts: VerifyWitOptions): void {
  const now = (opts.now ?? new Date()).getTime();
  const leeway = (opts.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS) * 1000;
  if (svid.expiresAt.getTime() + leeway <= now) throw new WitError('ERR_WIT_EXPIRED', 'expired', `WIT-SVID expired at ${svid.expiresAt.toISOString()}`);
  if (svid.notBefore && svid.notBefore.getTime() - leeway > now) {
    throw new WitError('ERR_WIT_EXPIRED', 'not_yet_valid', `WIT-SVID is not valid before ${svid.notBefore.toISOString()}`);
  }
  const start = svid.notBefore ?? svid.issuedAt;
  if (opts.maxLifetimeSeconds !== undefined && start && svid.expiresAt.getTime() - start.getTime() > opts.maxLifetimeSeconds * 1000) {
    throw new WitError('ERR_WIT_INVALID', 'lifetime', `WIT-SVID lifespan exceeds ${opts.maxLifetimeSeconds} s`);
  }
}
