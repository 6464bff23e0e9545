import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { TrustDomain } from '../id.ts';
import { WitError } from './errors.ts';
import { isObject } from './jws.ts';
import { USE_WIT_SVID } from './types.ts';

/** The WIT-SVID signing keys of one trust domain, by key ID (WIT-SVID 6). WIT validation only. */
export class WitBundle {
  readonly trustDomain: TrustDomain;
  readonly keys: ReadonlyMap<string, KeyObject>;

  constructor(td: TrustDomain, keys: Map<string, KeyObject>) {
    this.trustDomain = td;
    this.keys = new Map(keys);
  }

  findKey(kid: string): KeyObject | undefined { return this.keys.get(kid); }

  /**
   * A JWK Set as FetchWITBundles carries it: every key with its `kid` and `use:
   * "wit-svid"` (what go-spiffe's witbundle marshals too).
   */
  toJwks(): { keys: Record<string, unknown>[] } {
    return {
      keys: [...this.keys].map(([kid, key]) => ({ ...(key.export({ format: 'jwk' }) as Record<string, unknown>), kid, use: USE_WIT_SVID })),
    };
  }

  /**
   * Reads a JWK Set (a FetchWITBundles value, or the keys of a SPIFFE bundle). Only
   * WIT-SVID keys are taken (WIT-SVID 6.2): `use` "wit-svid", or no `use` in a set that
   * is a WIT bundle already; keys of other uses are skipped. Every key taken needs a kid.
   */
  static parse(td: TrustDomain, jwks: string | Uint8Array): WitBundle {
    let doc: unknown;
    try { doc = JSON.parse(typeof jwks === 'string' ? jwks : Buffer.from(jwks).toString('utf8')); } catch (e) {
      throw new WitError('ERR_WIT_UNTRUSTED', 'bundle_not_found', `WIT bundle for ${td} is not JSON`, { cause: e });
    }
    if (!isObject(doc) || !Array.isArray(doc.keys)) throw new WitError('ERR_WIT_UNTRUSTED', 'bundle_not_found', `WIT bundle for ${td} is not a JWK Set`);
    const keys = new Map<string, KeyObject>();
    for (const [i, k] of doc.keys.entries()) {
      if (!isObject(k)) throw new WitError('ERR_WIT_UNTRUSTED', 'bad_key', `WIT bundle for ${td}: key ${i} is not an object`);
      if (k.use !== undefined && k.use !== USE_WIT_SVID) continue;
      if (typeof k.kid !== 'string' || k.kid.length === 0) throw new WitError('ERR_WIT_UNTRUSTED', 'bad_key', `WIT bundle for ${td}: key ${i} has no kid`);
      if (keys.has(k.kid)) throw new WitError('ERR_WIT_UNTRUSTED', 'bad_key', `WIT bundle for ${td}: kid "${k.kid}" is not unique`);
      try { keys.set(k.kid, createPublicKey({ key: k as JsonWebKey, format: 'jwk' })); } catch (e) {
        throw new WitError('ERR_WIT_UNTRUSTED', 'bad_key', `WIT bundle for ${td}: key "${k.kid}" is unusable: ${(e as Error).message}`, { cause: e });
      }
    }
    return new WitBundle(td, keys);
  }
}

export interface WitBundleSource {
  getWitBundleForTrustDomain(td: TrustDomain): WitBundle | undefined;
}

/** Bundles of several trust domains (a FetchWITBundles message: trust domain ID → JWKS). */
export class WitBundleSet implements WitBundleSource {
  private readonly byName = new Map<string, WitBundle>();
  constructor(bundles: Iterable<WitBundle> = []) { for (const b of bundles) this.byName.set(b.trustDomain.name, b); }

  static fromMap(m: Map<string, string> | Record<string, string>): WitBundleSet {
    const entries = m instanceof Map ? [...m] : Object.entries(m);
    return new WitBundleSet(entries.map(([td, jwks]) => WitBundle.parse(TrustDomain.parse(td), jwks)));
  }

  getWitBundleForTrustDomain(td: TrustDomain): WitBundle | undefined { return this.byName.get(td.name); }
  get size(): number { return this.byName.size; }
  all(): WitBundle[] { return [...this.byName.values()]; }
}

/**
 * Tessera signs WIT-SVIDs with each CA slot's JWT signing key, published for WIT-SVIDs
 * under a key ID of its own (WIT-SVID 6.1: no kid shared with a JWT-SVID key), so a
 * JWT-SVID validator never finds the key a WIT-SVID names and vice versa.
 */
export function witKeyIdForJwtKey(jwtKid: string): string {
  return `wit-${jwtKid}`;
}
