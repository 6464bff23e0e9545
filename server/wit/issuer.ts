import { createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { invalidArgument } from '../../common/errors.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { witKeyIdForJwtKey } from '../../spiffe/wit/bundle.ts';
import { isWitAlgorithm, keyFitsAlg, type WitAlgorithm } from '../../spiffe/wit/jws.ts';
import { publicJwk } from '../../spiffe/wit/jwk.ts';
import { signWitSvid } from '../../spiffe/wit/sign.ts';
import type { CaManager } from '../ca/manager.ts';

/** Largest SPKI accepted (an RSA-8192 key is about 1 KiB). */
const MAX_SPKI_BYTES = 4096;

export interface IssuedWit { token: string; expiresAt: number; jti: string; kid: string; cnfThumbprint: string }

/**
 * Signs WIT-SVIDs with the active CA slot's JWT signing key (ES256), under the key ID
 * WIT-SVID bundles publish for it (witKeyIdForJwtKey: never a JWT-SVID kid, WIT-SVID
 * 6.1). Lifetimes are clamped so a WIT-SVID never outlives the slot that signed it.
 */
export class WitIssuer {
  constructor(private readonly ca: CaManager, private readonly clock: Clock) {}

  /** The workload key as the agent sent it: SPKI DER and the alg its proofs use; InvalidArgument if unusable. */
  static readKey(spki: Uint8Array, alg: string): { key: KeyObject; alg: WitAlgorithm } {
    if (!spki || spki.length === 0) throw invalidArgument('ERR_WIT_KEY', 'public_key is required (SPKI DER)');
    if (spki.length > MAX_SPKI_BYTES) throw invalidArgument('ERR_WIT_KEY', `public_key is ${spki.length} bytes; at most ${MAX_SPKI_BYTES}`);
    if (!isWitAlgorithm(alg)) throw invalidArgument('ERR_WIT_ALG', `alg "${String(alg).slice(0, 16)}" is not one of the WIT-SVID algorithms (WIT-SVID 3.2)`);
    let key: KeyObject;
    try { key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }); } catch (e) {
      throw invalidArgument('ERR_WIT_KEY', `public_key is not an SPKI public key: ${(e as Error).message}`, e);
    }
    if (!keyFitsAlg(key, alg)) throw invalidArgument('ERR_WIT_ALG', `public_key (${key.asymmetricKeyType}) cannot sign ${alg}`);
    return { key, alg };
  }

  issue(r: { spiffeId: SpiffeId; key: KeyObject; alg: WitAlgorithm; ttlSeconds: number; claims?: AgentClaims }): IssuedWit {
    const slot = this.ca.active();
    const now = this.clock.now();
    const expiresAt = Math.floor(Math.min(now + r.ttlSeconds * 1000, slot.notAfter) / 1000);
    const jti = randomBytes(16).toString('base64url');
    const kid = witKeyIdForJwtKey(slot.jwtKey.kid);
    const token = signWitSvid({
      id: r.spiffeId, confirmationKey: r.key, confirmationAlg: r.alg, expiresAt: new Date(expiresAt * 1000), issuedAt: new Date(now),
      jti, claims: r.claims, key: { kid, privateKey: slot.jwtKey.privateKey, alg: 'ES256' },
    });
    return { token, expiresAt, jti, kid, cnfThumbprint: thumbprint(r.key, r.alg) };
  }
}

/** RFC 7638 JWK thumbprint of the workload key: what the audit log names it by. */
function thumbprint(key: KeyObject, alg: WitAlgorithm): string {
  const { alg: _alg, ...members } = publicJwk(key, alg);
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
