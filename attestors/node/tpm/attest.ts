import { ALG, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE } from './constants.ts';
import { readPcrSelection, type PcrSelection } from './pcr-selection.ts';
import { WireError, WireReader } from './wire.ts';

/** A parsed TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE. */
export interface QuoteAttest {
  magic: number;
  type: number;
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clock: { clock: bigint; resetCount: number; restartCount: number; safe: boolean };
  firmwareVersion: bigint;
  pcrSelect: PcrSelection;
  pcrDigest: Uint8Array;
}

/**
 * Parses the header of any TPMS_ATTEST and the TPMS_QUOTE_INFO body. Magic and type are
 * returned, not checked: the verifier rejects them with its own error codes.
 */
export function parseQuoteAttest(attest: Uint8Array): QuoteAttest {
  const r = new WireReader(attest, 'TPMS_ATTEST');
  const magic = r.u32();
  const type = r.u16();
  const qualifiedSigner = r.tpm2b();
  const extraData = r.tpm2b();
  const clock = { clock: r.u64(), resetCount: r.u32(), restartCount: r.u32(), safe: r.u8() === 1 };
  const firmwareVersion = r.u64();
  if (magic !== TPM_GENERATED_VALUE || type !== TPM_ST_ATTEST_QUOTE) {
    // Not a quote: the body has another shape, so stop here.
    return { magic, type, qualifiedSigner, extraData, clock, firmwareVersion, pcrSelect: [], pcrDigest: new Uint8Array() };
  }
  const pcrSelect = readPcrSelection(r);
  const pcrDigest = r.tpm2b();
  r.end();
  return { magic, type, qualifiedSigner, extraData, clock, firmwareVersion, pcrSelect, pcrDigest };
}

/** A parsed TPMT_SIGNATURE. */
export type TpmSignature =
  | { alg: typeof ALG.RSASSA | typeof ALG.RSAPSS; hash: number; sig: Uint8Array }
  | { alg: typeof ALG.ECDSA; hash: number; r: Uint8Array; s: Uint8Array };

export function parseSignature(wire: Uint8Array): TpmSignature {
  const rd = new WireReader(wire, 'TPMT_SIGNATURE');
  const alg = rd.u16();
  const hash = rd.u16();
  let out: TpmSignature;
  if (alg === ALG.RSASSA || alg === ALG.RSAPSS) out = { alg, hash, sig: rd.tpm2b() };
  else if (alg === ALG.ECDSA) out = { alg, hash, r: rd.tpm2b(), s: rd.tpm2b() };
  else throw new WireError(`TPMT_SIGNATURE: unsupported signature algorithm 0x${alg.toString(16)}`);
  rd.end();
  return out;
}
