import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { BundleError, SpiffeError } from '../errors.ts';
import type { TrustDomain } from '../id.ts';
import { readCertificate } from '../x509svid/certificate.ts';
import { JwtBundle } from './jwtbundle.ts';
import { X509Bundle } from './x509bundle.ts';

/** One JWK of a SPIFFE bundle (RFC 7517 + SPIFFE `use` values). */
export interface SpiffeJwk {
  kty: string;
  use?: string;
  kid?: string;
  x5c?: string[];
  [param: string]: unknown;
}

/** SPIFFE bundle document (SPIFFE_Trust_Domain_and_Bundle 4). */
export interface SpiffeJwks {
  keys: SpiffeJwk[];
  spiffe_sequence?: number;
  spiffe_refresh_hint?: number;
}

export const USE_X509_SVID = 'x509-svid';
export const USE_JWT_SVID = 'jwt-svid';
const KNOWN_KTY = new Set(['EC', 'RSA', 'OKP']);

/**
 * Everything a trust domain publishes: X.509 authorities and JWT keys, with the
 * sequence number and refresh hint (seconds; 0 = not set). Bundles of different
 * trust domains are never merged: every lookup goes through the trust domain.
 */
export class SpiffeBundle {
  readonly trustDomain: TrustDomain;
  readonly x509Authorities: Uint8Array[];
  readonly jwtAuthorities: Map<string, KeyObject>;
  readonly sequence: number;
  readonly refreshHint: number;

  constructor(td: TrustDomain, parts: { x509Authorities?: Uint8Array[]; jwtAuthorities?: Map<string, KeyObject>; sequence?: number; refreshHint?: number } = {}) {
    this.trustDomain = td;
    this.x509Authorities = [...(parts.x509Authorities ?? [])];
    this.jwtAuthorities = new Map(parts.jwtAuthorities ?? []);
    this.sequence = parts.sequence ?? 0;
    this.refreshHint = parts.refreshHint ?? 0;
  }

  x509Bundle(): X509Bundle { return new X509Bundle(this.trustDomain, this.x509Authorities); }
  jwtBundle(): JwtBundle { return new JwtBundle(this.trustDomain, this.jwtAuthorities); }

  /** x509-svid entries carry exactly one x5c certificate and no kid; jwt-svid entries carry a kid. */
  toJwks(): SpiffeJwks {
    const keys: SpiffeJwk[] = [];
    for (const der of this.x509Authorities) {
      const spki = readCertificate(der).spki;
      const jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
      keys.push({ ...publicJwk(jwk), use: USE_X509_SVID, x5c: [Buffer.from(der).toString('base64')] });
    }
    for (const [kid, key] of this.jwtAuthorities) {
      keys.push({ ...publicJwk(key.export({ format: 'jwk' })), kid, use: USE_JWT_SVID });
    }
    const out: SpiffeJwks = { keys, spiffe_sequence: this.sequence };
    if (this.refreshHint > 0) out.spiffe_refresh_hint = this.refreshHint;
    return out;
  }

  toJson(): string { return JSON.stringify(this.toJwks()); }

  /**
   * Reads a SPIFFE bundle. Entries with a missing or unknown `use` or an unknown
   * `kty`, and x509-svid entries without x5c, are ignored (not fatal); a
   * jwt-svid entry without kid, a duplicate kid, an undecodable certificate or
   * key, or a private key fails the whole bundle.
   */
  static parseJwks(td: TrustDomain, json: string | Uint8Array): SpiffeBundle {
    let doc: unknown;
    try {
      doc = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'));
    } catch (err) {
      throw new BundleError('ERR_BUNDLE_INVALID', `bundle for ${td} is not JSON`, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(td, 'document is not a JSON object');
    const d = doc as Record<string, unknown>;
    if (!Array.isArray(d.keys)) throw bad(td, '"keys" must be an array');
    const sequence = optionalUint(td, d.spiffe_sequence, 'spiffe_sequence');
    const refreshHint = optionalUint(td, d.spiffe_refresh_hint, 'spiffe_refresh_hint');

    const x509Authorities: Uint8Array[] = [];
    const jwtAuthorities = new Map<string, KeyObject>();
    d.keys.forEach((raw: unknown, i: number) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(td, `keys[${i}] is not an object`);
      const k = raw as SpiffeJwk;
      if (typeof k.kty !== 'string' || !KNOWN_KTY.has(k.kty)) return;
      if (k.use === USE_X509_SVID) {
        if (!Array.isArray(k.x5c) || k.x5c.length === 0) return; // X509-SVID 6.2: ignore entries without x5c
        // X509-SVID 6.2: only the first x5c value counts.
        const first = k.x5c[0];
        if (typeof first !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(first)) throw bad(td, `keys[${i}].x5c[0] is not base64`);
        const der = new Uint8Array(Buffer.from(first, 'base64'));
        try { readCertificate(der); } catch (err) {
          if (err instanceof SpiffeError) throw bad(td, `keys[${i}].x5c[0] is not a DER certificate`, err);
          throw err;
        }
        x509Authorities.push(der);
      } else if (k.use === USE_JWT_SVID) {
        if (typeof k.kid !== 'string' || k.kid.length === 0) throw bad(td, `keys[${i}] (jwt-svid) has no kid`);
        if (jwtAuthorities.has(k.kid)) throw bad(td, `duplicate kid "${k.kid}"`);
        if ('d' in k) throw bad(td, `keys[${i}] is a private key`);
        let key: KeyObject;
        try {
          key = createPublicKey({ key: publicJwk(k as JsonWebKey), format: 'jwk' });
        } catch (err) {
          throw bad(td, `keys[${i}] (kid "${k.kid}") is not a usable public key`, err);
        }
        jwtAuthorities.set(k.kid, key);
      }
    });
    return new SpiffeBundle(td, { x509Authorities, jwtAuthorities, sequence, refreshHint });
  }
}

// Only the key material: SPIFFE `use`, kid and x5c are set by the caller; jose-style `alg` etc. are dropped.
function publicJwk(jwk: JsonWebKey): JsonWebKey & { kty: string } {
  const out: Record<string, unknown> = { kty: jwk.kty };
  for (const p of ['crv', 'x', 'y', 'n', 'e'] as const) if (jwk[p] !== undefined) out[p] = jwk[p];
  return out as JsonWebKey & { kty: string };
}

function optionalUint(td: TrustDomain, v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(td, `${name} must be a non-negative integer`);
  return v;
}

function bad(td: TrustDomain, msg: string, cause?: unknown): BundleError {
  return new BundleError('ERR_BUNDLE_INVALID', `bundle for ${td}: ${msg}`, { cause });
}
