import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { internal, invalidArgument, permissionDenied } from '../../common/errors.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr, parseCsrAsync, type ParsedCsr } from '../../spiffe/x509svid/csr.ts';
import {
  createAsyncLeafIssuer, createLeafIssuer, randomSerial, type AsyncLeafIssuer, type CaSigner, type LeafIssuer, type LeafParams,
} from '../../spiffe/x509svid/template.ts';
import { signJwtSvidSync, type JwtSigningKey } from '../../spiffe/jwtsvid/sign.ts';
import type { CaManager, CaSlot } from './manager.ts';
import type { SigningPool } from './sign-pool.ts';

/**
 * The SVID signing path: CSR in, DER chain out (leaf first, then our CA when it is
 * an intermediate); JWT-SVIDs with the active slot's key. Lifetimes are clamped so
 * an SVID never outlives the CA that signed it. The leaf encoder is the spiffe/
 * DER template (the hot path: thousands per second), built once per CA slot.
 */
export interface X509SignRequest {
  spiffeId: SpiffeId;
  /** PKCS#10 DER (signature checked) or the public key itself (KeyObject or SPKI DER). */
  csr?: Uint8Array;
  publicKey?: KeyObject | Uint8Array;
  ttlSeconds: number;
  dnsNames?: string[];
  ipAddresses?: string[];
  claims?: AgentClaims;
}

/** A CSR to sign as it arrives in BatchSignX509SVID: checked and signed in one step. */
export interface CsrSignRequest extends Omit<X509SignRequest, 'csr' | 'publicKey'> {
  csr: Uint8Array;
  /** Field name for error messages. */
  field?: string;
  /** A CSR with URI SANs must carry exactly this one (PermissionDenied otherwise), checked before signing. */
  expectUriSan?: string;
  /** How the refusal names expectUriSan (default "the requested SPIFFE ID"). */
  expectedAs?: string;
}

export interface SignedX509 {
  chain: Uint8Array[];
  /** Lowercase hex without leading zeros (normalizeSerial). */
  serial: string;
  notAfter: number;
}

export interface JwtMintRequest {
  spiffeId: SpiffeId;
  audience: string[];
  ttlSeconds: number;
  claims?: AgentClaims;
}

/** Backdate notBefore a little so agents with a slightly slow clock accept new SVIDs. */
const BACKDATE_MS = 10_000;

export class SvidSigner {
  private issuers = new WeakMap<CaSlot, LeafIssuer>();
  private asyncIssuers = new WeakMap<CaSlot, AsyncLeafIssuer>();
  /** `iss` of JWT-SVIDs: the OIDC discovery issuer when configured (docs/oidc-discovery.md). */
  jwtIssuer: string | undefined;
  /** Worker threads for signCsr (server/ca/sign-pool.ts); absent: the libuv threadpool path. */
  pool: SigningPool | undefined;

  constructor(private readonly ca: CaManager, private readonly clock: Clock) {}

  /** Checks a CSR and returns its key and URI SANs (InvalidArgument if it is bad). */
  static readCsr(csr: Uint8Array, field = 'csr'): ParsedCsr {
    checkCsrPresent(csr, field);
    try { return parseCsr(csr); } catch (e) { throw csrInvalid(e, field); }
  }

  /** readCsr with the signature checked on the libuv threadpool (batches spread over every core). */
  static async readCsrAsync(csr: Uint8Array, field = 'csr'): Promise<ParsedCsr> {
    checkCsrPresent(csr, field);
    try { return await parseCsrAsync(csr); } catch (e) { throw csrInvalid(e, field); }
  }

  /** Signs on the calling thread (one SVID: attestation, renewal, the server's own). */
  signX509(r: X509SignRequest): SignedX509 {
    const slot = this.ca.active();
    const publicKey = r.publicKey ?? SvidSigner.readCsr(r.csr!).spki;
    const issue = issuerFor(this.issuers, slot, createLeafIssuer);
    const { params, serial, notAfter } = this.leafParams(slot, r, publicKey);
    return { chain: this.chainFor(slot, issue(params)), serial, notAfter };
  }

  /**
   * Same result with the CSR check and the signature on the libuv threadpool, so a
   * batch (BatchSignX509SVID) spreads over every core while the event loop encodes.
   */
  async signX509Async(r: X509SignRequest): Promise<SignedX509> {
    const slot = this.ca.active();
    const publicKey = r.publicKey ?? (await SvidSigner.readCsrAsync(r.csr!)).spki;
    const issue = issuerFor(this.asyncIssuers, slot, createAsyncLeafIssuer);
    const { params, serial, notAfter } = this.leafParams(slot, r, publicKey);
    return { chain: this.chainFor(slot, await issue(params)), serial, notAfter };
  }

  /**
   * CSR in, chain out, with the CSR's URI SAN compared before anything is signed. On
   * the signing pool when one is set (key import, proof of possession and leaf
   * signature all on a worker thread), else as readCsrAsync + signX509Async.
   */
  async signCsr(r: CsrSignRequest): Promise<SignedX509> {
    const field = r.field ?? 'csr';
    checkCsrPresent(r.csr, field);
    if (!this.pool) {
      const { spki, uriSans } = await SvidSigner.readCsrAsync(r.csr, field);
      checkUriSans(uriSans, r);
      return this.signX509Async({ ...r, csr: undefined, publicKey: spki });
    }
    const slot = this.ca.active();
    const { params, serial, notAfter } = this.leafParams(slot, r, new Uint8Array());
    const res = await this.pool.sign(slot.id, { certificate: slot.certificate, privateKey: slot.privateKey, chain: slot.upstreamChain }, {
      csr: new Uint8Array(r.csr), spiffeId: params.spiffeId.toString(), notBefore: params.notBefore.getTime(), notAfter: params.notAfter.getTime(),
      serial: params.serial!, dnsNames: params.dnsNames, ipAddresses: params.ipAddresses, claims: params.claims, expectUriSan: r.expectUriSan,
    });
    if ('leaf' in res) return { chain: this.chainFor(slot, res.leaf), serial, notAfter };
    if (res.error === 'csr') throw csrInvalid(new Error(res.message), field);
    if (res.error === 'id_mismatch') throw idMismatch(res.message, r);
    throw internal('ERR_SIGNING_FAILED', `cannot issue an X.509-SVID for ${r.spiffeId}: ${res.message}`);
  }

  private leafParams(slot: CaSlot, r: X509SignRequest, publicKey: KeyObject | Uint8Array): { params: LeafParams; serial: string; notAfter: number } {
    const now = this.clock.now();
    // Never beyond the CA; X.509 times have second precision.
    const notAfter = Math.floor(Math.min(now + r.ttlSeconds * 1000, slot.notAfter) / 1000) * 1000;
    const serialBytes = randomSerial();
    return {
      params: {
        spiffeId: r.spiffeId, publicKey,
        notBefore: new Date(Math.max(now - BACKDATE_MS, slot.notBefore)),
        notAfter: new Date(notAfter),
        dnsNames: r.dnsNames && r.dnsNames.length > 0 ? r.dnsNames : undefined,
        ipAddresses: r.ipAddresses,
        claims: r.claims, serial: serialBytes,
      },
      serial: normalizeSerial(Buffer.from(serialBytes).toString('hex')),
      notAfter,
    };
  }

  private chainFor(slot: CaSlot, leaf: Uint8Array): Uint8Array[] {
    return this.ca.upstream ? [leaf, slot.certificate, ...slot.upstreamChain] : [leaf];
  }

  async mintJwt(r: JwtMintRequest): Promise<{ token: string; expiresAt: number }> {
    const slot = this.ca.active();
    const now = this.clock.now();
    const expiresAt = Math.floor(Math.min(now + r.ttlSeconds * 1000, slot.notAfter) / 1000);
    const token = signJwtSvidSync({
      id: r.spiffeId, audience: r.audience, expiresAt: new Date(expiresAt * 1000), issuedAt: new Date(now),
      claims: r.claims, key: jwtKeyOf(slot), issuer: this.jwtIssuer,
    });
    return { token, expiresAt };
  }
}

const jwtKeys = new WeakMap<CaSlot, JwtSigningKey>();

/** The slot's JWT signing key in the shape signJwtSvidSync takes, one object per slot. */
function jwtKeyOf(slot: CaSlot): JwtSigningKey {
  let k = jwtKeys.get(slot);
  if (!k) { k = { kid: slot.jwtKey.kid, privateKey: slot.jwtKey.privateKey, alg: 'ES256' }; jwtKeys.set(slot, k); }
  return k;
}

/** The leaf issuer for a CA slot, built once per slot (the DER template is precomputed). */
function issuerFor<I>(cache: WeakMap<CaSlot, I>, slot: CaSlot, create: (ca: CaSigner) => I): I {
  let issue = cache.get(slot);
  if (!issue) {
    issue = create({ certificate: slot.certificate, privateKey: slot.privateKey, chain: slot.upstreamChain });
    cache.set(slot, issue);
  }
  return issue;
}

function checkUriSans(uriSans: string[], r: CsrSignRequest): void {
  const expect = r.expectUriSan;
  if (expect === undefined || uriSans.length === 0 || (uriSans.length === 1 && uriSans[0] === expect)) return;
  throw idMismatch(uriSans.join(', '), r);
}

const idMismatch = (got: string, r: CsrSignRequest): Error => permissionDenied('ERR_CSR_ID_MISMATCH',
  `csr URI SAN ${got.length > 256 ? `${got.slice(0, 256)}…` : got} is not ${r.expectedAs ?? 'the requested SPIFFE ID'} ${r.expectUriSan}`);

function checkCsrPresent(csr: Uint8Array, field: string): void {
  if (!csr || csr.length === 0) throw invalidArgument('ERR_CSR_MISSING', `${field} is required`);
}

function csrInvalid(e: unknown, field: string): Error {
  return invalidArgument('ERR_CSR_INVALID', `${field} is not a valid PKCS#10 request: ${(e as Error).message}`, e);
}

/** Serial numbers as compared by the server: lowercase hex without leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
