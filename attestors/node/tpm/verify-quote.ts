import { constants, createHash, timingSafeEqual, verify } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';
import { ALG, ECC_CURVES, HASHES, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE } from './constants.ts';
import { parseQuoteAttest, parseSignature, type QuoteAttest, type TpmSignature } from './attest.ts';
import type { PublicArea } from './public-area.ts';

/** One PCR value as the agent reports it next to the quote. */
export interface PcrValue {
  hashAlg: number;
  index: number;
  value: Uint8Array;
}

export interface QuoteEvidence {
  /** TPMS_ATTEST bytes, exactly as signed. */
  attest: Uint8Array;
  /** TPMT_SIGNATURE bytes. */
  signature: Uint8Array;
  pcrs: PcrValue[];
}

const deny = (code: string, msg: string) => new AttestationError('permission_denied', code, msg);

/**
 * Verifies a TPM2_Quote: signed by `ak`, a real quote (magic/type), bound to `nonce`,
 * and the reported PCR values hash to the signed pcrDigest. Returns the parsed quote and
 * the PCR values it covers, in quote order.
 */
export function verifyQuote(ak: PublicArea, evidence: QuoteEvidence, nonce: Uint8Array): { quote: QuoteAttest; pcrs: PcrValue[] } {
  let sig: TpmSignature, quote: QuoteAttest;
  try {
    sig = parseSignature(evidence.signature);
    quote = parseQuoteAttest(evidence.attest);
  } catch (e) {
    throw new AttestationError('invalid_argument', 'ERR_TPM_QUOTE_MALFORMED', `quote is malformed: ${(e as Error).message}`, { cause: e });
  }

  if (!signatureValid(ak, sig, evidence.attest)) {
    throw deny('ERR_TPM_QUOTE_SIGNATURE', 'quote signature does not verify with the attestation key that was credential-activated');
  }
  if (quote.magic !== TPM_GENERATED_VALUE) {
    throw deny('ERR_TPM_QUOTE_INVALID', `quote magic is 0x${quote.magic.toString(16)}, not TPM_GENERATED_VALUE: not produced by a TPM`);
  }
  if (quote.type !== TPM_ST_ATTEST_QUOTE) {
    throw deny('ERR_TPM_QUOTE_INVALID', `attestation type is 0x${quote.type.toString(16)}, not TPM_ST_ATTEST_QUOTE`);
  }
  if (quote.extraData.length !== nonce.length || !timingSafeEqual(quote.extraData, nonce)) {
    throw deny('ERR_TPM_QUOTE_NONCE', 'quote extraData is not this attestation\'s nonce (stale or replayed quote)');
  }

  // pcrDigest = H_sig(values of the selected PCRs, bank by bank in selection order, ascending index).
  const byKey = new Map<string, PcrValue>();
  for (const p of evidence.pcrs) {
    const k = `${p.hashAlg}:${p.index}`;
    if (byKey.has(k)) throw new AttestationError('invalid_argument', 'ERR_TPM_PCR_VALUES', `PCR ${pcrLabel(p.hashAlg, p.index)} is reported twice`);
    byKey.set(k, p);
  }
  const covered: PcrValue[] = [];
  const h = createHash(HASHES[sig.hash]!.name);
  for (const bank of quote.pcrSelect) {
    for (const index of bank.pcrs) {
      const p = byKey.get(`${bank.hashAlg}:${index}`);
      if (!p) throw new AttestationError('invalid_argument', 'ERR_TPM_PCR_VALUES', `quote covers PCR ${pcrLabel(bank.hashAlg, index)} but no value was reported for it`);
      const size = HASHES[bank.hashAlg]?.size;
      if (p.value.length !== size) throw new AttestationError('invalid_argument', 'ERR_TPM_PCR_VALUES', `PCR ${pcrLabel(bank.hashAlg, index)} value has ${p.value.length} bytes, want ${size}`);
      h.update(p.value);
      covered.push(p);
      byKey.delete(`${bank.hashAlg}:${index}`);
    }
  }
  if (byKey.size > 0) {
    const extra = [...byKey.values()].map((p) => pcrLabel(p.hashAlg, p.index)).join(', ');
    throw new AttestationError('invalid_argument', 'ERR_TPM_PCR_VALUES', `PCR values reported that the quote does not cover: ${extra}`);
  }
  const digest = h.digest();
  if (digest.length !== quote.pcrDigest.length || !timingSafeEqual(digest, quote.pcrDigest)) {
    throw deny('ERR_TPM_PCR_DIGEST', 'reported PCR values do not hash to the quoted PCR digest (a PCR value was altered)');
  }
  return { quote, pcrs: covered };
}

export function pcrLabel(hashAlg: number, index: number): string {
  return `${HASHES[hashAlg]?.name ?? `0x${hashAlg.toString(16)}`}:${index}`;
}

function signatureValid(ak: PublicArea, sig: TpmSignature, data: Uint8Array): boolean {
  const hash = HASHES[sig.hash];
  if (!hash) return false;
  try {
    if (sig.alg === ALG.RSASSA && ak.type === 'rsa') {
      return verify(hash.name, data, { key: ak.publicKey, padding: constants.RSA_PKCS1_PADDING }, sig.sig);
    }
    if (sig.alg === ALG.RSAPSS && ak.type === 'rsa') {
      return verify(hash.name, data, { key: ak.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig.sig);
    }
    if (sig.alg === ALG.ECDSA && ak.type === 'ecc') {
      const len = ECC_CURVES[ak.ecc!.curve]!.bytes;
      if (sig.r.length > len || sig.s.length > len) return false;
      const pad = (b: Uint8Array) => Buffer.concat([Buffer.alloc(len - b.length), b]);
      return verify(hash.name, data, { key: ak.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([pad(sig.r), pad(sig.s)]));
    }
  } catch {
    return false;
  }
  return false;
}
