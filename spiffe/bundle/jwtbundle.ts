import type { KeyObject } from 'node:crypto';
import type { TrustDomain } from '../id.ts';

/** The JWT-SVID signing keys of one trust domain, by key ID. JWT validation only. */
export class JwtBundle {
  readonly trustDomain: TrustDomain;
  readonly keys: Map<string, KeyObject>;

  constructor(td: TrustDomain, keys: Map<string, KeyObject>) {
    this.trustDomain = td;
    this.keys = new Map(keys);
  }

  findKey(kid: string): KeyObject | undefined { return this.keys.get(kid); }
}

export interface JwtBundleSource {
  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined;
}
