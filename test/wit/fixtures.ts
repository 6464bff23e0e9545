import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { WitBundle, WitBundleSet } from '../../spiffe/wit/bundle.ts';
import { signCompact, type WitAlgorithm } from '../../spiffe/wit/jws.ts';
import { publicJwk } from '../../spiffe/wit/jwk.ts';
import { signWitSvid } from '../../spiffe/wit/sign.ts';
import { parseWitSvidInsecure } from '../../spiffe/wit/parse.ts';
import type { WitSvidWithKey } from '../../spiffe/wit/types.ts';

/** Small builders for WIT-SVID tests: an issuer key in a bundle, workload keys, tokens. */
export const td = TrustDomain.parse('example.org');
export const id = SpiffeId.parse('spiffe://example.org/agents/researcher');
export const NOW = new Date('2026-07-01T12:00:00Z');

export const ec = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve });
export const issuer = { kid: 'wit-key-1', ...ec() };
export const bundles = new WitBundleSet([new WitBundle(td, new Map([[issuer.kid, issuer.publicKey]]))]);

/** A WIT-SVID from our signer, with its workload private key (as a WITSource hands it out). */
export function wit(over: { ttl?: number; now?: Date; claims?: Record<string, string>; workload?: { publicKey: KeyObject; privateKey: KeyObject } } = {}): WitSvidWithKey {
  const workload = over.workload ?? ec();
  const now = over.now ?? NOW;
  const token = signWitSvid({
    id, confirmationKey: workload.publicKey, confirmationAlg: 'ES256', issuedAt: now, expiresAt: new Date(now.getTime() + (over.ttl ?? 600) * 1000),
    claims: over.claims, key: { kid: issuer.kid, privateKey: issuer.privateKey, alg: 'ES256' },
  });
  return { ...parseWitSvidInsecure(token), privateKey: workload.privateKey, hint: '' };
}

/** A token with any header and claims, signed by the issuer key: for what our signer refuses to make. */
export function rawWit(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject = issuer.privateKey, alg: WitAlgorithm = 'ES256'): string {
  return signCompact({ alg, kid: issuer.kid, typ: 'wit+jwt', ...header }, claims, key, alg);
}

/** Claims of a valid WIT-SVID, to take apart. */
export function claims(workloadKey: KeyObject = ec().publicKey): Record<string, unknown> {
  const t = Math.floor(NOW.getTime() / 1000);
  return { cnf: { jwk: publicJwk(workloadKey, 'ES256') }, exp: t + 600, iat: t, jti: 'j1', sub: id.toString() };
}
