import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * An agent action receipt (docs/audit.md "Receipts"): what a workload did, for whom, as
 * the claims a workload may sign with its own X.509-SVID key. The signature (a compact
 * JWS whose `x5c` header carries the SVID chain) lets anyone holding the trust bundle
 * check, long after, that this workload and nobody else — not even its node agent —
 * made the record.
 */
export interface ActionReceipt {
  /** The workload's SPIFFE ID that acted (one of its own identities). */
  spiffeId: string;
  /** The user acted for, if any. */
  subject?: string;
  /** Tool or resource acted on. */
  tool?: string;
  action?: string;
  /** SHA-256 of the arguments / of the result. */
  argumentsDigest?: Uint8Array;
  resultDigest?: Uint8Array;
  decision?: 'allow' | 'deny';
  correlationId?: string;
}

export const RECEIPT_JWS_TYPE = 'tessera-receipt+jws';

/** The JWS payload: fixed claim names, empty fields left out, digests base64url. */
export function receiptClaims(r: ActionReceipt, iat: number): Record<string, string | number> {
  const out: Record<string, string | number> = { spiffe_id: r.spiffeId, iat };
  if (r.subject) out.sub = r.subject;
  if (r.tool) out.tool = r.tool;
  if (r.action) out.action = r.action;
  if (r.argumentsDigest?.length) out.args_sha256 = Buffer.from(r.argumentsDigest).toString('base64url');
  if (r.resultDigest?.length) out.result_sha256 = Buffer.from(r.resultDigest).toString('base64url');
  if (r.decision) out.decision = r.decision;
  if (r.correlationId) out.correlation_id = r.correlationId;
  return out;
}

function algFor(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') {
    const crv = key.asymmetricKeyDetails?.namedCurve;
    if (crv === 'prime256v1') return 'ES256';
    if (crv === 'secp384r1') return 'ES384';
    throw new TypeError(`receipts cannot be signed with an EC key on curve ${crv}`);
  }
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  throw new TypeError(`receipts cannot be signed with a ${key.asymmetricKeyType} key`);
}

/** Signs a receipt with the SVID's private key (PKCS#8 DER or KeyObject); `chain` is the SVID, leaf first (DER). */
export async function signReceipt(r: ActionReceipt, svid: { chain: readonly Uint8Array[]; privateKey: Uint8Array | KeyObject }, now = Date.now()): Promise<string> {
  const key = svid.privateKey instanceof Uint8Array ? createPrivateKey({ key: Buffer.from(svid.privateKey), format: 'der', type: 'pkcs8' }) : svid.privateKey;
  const payload = Buffer.from(JSON.stringify(receiptClaims(r, Math.floor(now / 1000))), 'utf8');
  return new CompactSign(payload)
    .setProtectedHeader({ alg: algFor(key), typ: RECEIPT_JWS_TYPE, x5c: svid.chain.map((c) => Buffer.from(c).toString('base64')) })
    .sign(key);
}

export class ReceiptError extends Error {
  readonly code = 'ERR_RECEIPT_INVALID';
}

const ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

/**
 * Checks a receipt JWS's signature against its own leaf certificate and returns the
 * chain (DER) and claims. The caller verifies the chain against its trust bundle and
 * compares the claims with what it records.
 */
export async function openReceipt(jws: string): Promise<{ chain: Uint8Array[]; claims: Record<string, unknown> }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try { header = decodeProtectedHeader(jws); } catch (e) { throw new ReceiptError(`jws is not a compact JWS: ${(e as Error).message}`); }
  if (!header.alg || !ALGS.includes(header.alg)) throw new ReceiptError(`jws alg ${String(header.alg)} is not one of ${ALGS.join(', ')}`);
  if (!Array.isArray(header.x5c) || header.x5c.length === 0) throw new ReceiptError('jws has no x5c header (the signer\'s X.509-SVID chain)');
  const chain = header.x5c.map((c) => new Uint8Array(Buffer.from(String(c), 'base64')));
  let key: KeyObject;
  try { key = new X509Certificate(chain[0]!).publicKey; } catch (e) { throw new ReceiptError(`jws x5c[0] is not a certificate: ${(e as Error).message}`); }
  try {
    const { payload } = await compactVerify(jws, key, { algorithms: [header.alg] });
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new ReceiptError('jws payload is not a JSON object');
    return { chain, claims: claims as Record<string, unknown> };
  } catch (e) {
    if (e instanceof ReceiptError) throw e;
    throw new ReceiptError(`jws signature does not verify with the key of its x5c certificate: ${(e as Error).message}`);
  }
}
