import { createHash } from 'node:crypto';
import { HASHES, OBJECT_ATTR } from '../constants.ts';
import { parseQuoteAttest, parseSignature } from '../attest.ts';
import { decodePcrSelection, encodePcrSelection, type PcrSelection } from '../pcr-selection.ts';
import { EK_RSA_TEMPLATE, akRsaTemplate } from '../templates.ts';
import type { PcrValue } from '../verify-quote.ts';
import { Esys, TR, isMissingHandle, type EkAuth } from './esys.ts';
import { parsePublicArea } from '../public-area.ts';

export interface DeviceOptions {
  /** tctildr configuration string. */
  tcti: string;
  /** NV index of the EK certificate; 0 = the TPM has none. */
  ekCertNvIndex: number;
  /** Persistent EK handle used when present; otherwise the EK is created from template L-1. */
  ekHandle: number;
}

export interface DeviceIdentity {
  ekCert?: Buffer;
  ekPublic: Buffer;
  akPublic: Buffer;
}

export interface DeviceQuote {
  attest: Buffer;
  signature: Buffer;
  pcrs: PcrValue[];
}

/** How often a quote is retaken when a PCR changed between TPM2_Quote and TPM2_PCR_Read. */
const QUOTE_ATTEMPTS = 3;

/**
 * The TPM side of one attestation identity: EK (persistent or recreated), one AK kept
 * loaded for the agent's lifetime (so re-attestation costs one activation + one quote,
 * not a new RSA key), credential activation and quotes. Synchronous; lives in the worker.
 * Transients are flushed on close: raw swtpm has no resource manager and only 3 slots.
 */
export class AttestationDevice {
  private ek?: { tr: number; transient: boolean; publicArea: Buffer; auth: EkAuth };
  private ak?: { tr: number; publicArea: Buffer };
  private ekCert?: Buffer;

  private constructor(private readonly esys: Esys, private readonly opts: DeviceOptions) {}

  static open(opts: DeviceOptions): AttestationDevice {
    return new AttestationDevice(Esys.open(opts.tcti), opts);
  }

  identity(): DeviceIdentity {
    if (!this.ek) {
      if (this.opts.ekCertNvIndex !== 0) this.ekCert = this.esys.nvReadAll(this.opts.ekCertNvIndex);
      this.ek = this.loadEk();
    }
    if (!this.ak) {
      const { handle, publicArea } = this.esys.createUnderEk(this.ek.tr, akRsaTemplate(), this.ek.auth);
      this.ak = { tr: handle, publicArea };
    }
    return { ekCert: this.ekCert, ekPublic: this.ek.publicArea, akPublic: this.ak.publicArea };
  }

  /** The persisted EK when there is one (RSA or ECC), else the RSA EK recreated from template L-1. */
  private loadEk(): NonNullable<AttestationDevice['ek']> {
    let tr: number | undefined;
    try {
      tr = this.esys.trFromPublic(this.opts.ekHandle);
    } catch (e) {
      if (!isMissingHandle(e)) throw e;
    }
    if (tr !== undefined) {
      const publicArea = this.esys.readPublic(tr);
      return { tr, transient: false, publicArea, auth: ekAuth(publicArea) };
    }
    const { handle, publicArea } = this.esys.createPrimary(TR.RH_ENDORSEMENT, EK_RSA_TEMPLATE);
    return { tr: handle, transient: true, publicArea, auth: ekAuth(publicArea) };
  }

  activate(credentialBlob: Uint8Array, encryptedSecret: Uint8Array): Buffer {
    const { ek, ak } = this.requireKeys();
    return this.esys.activateCredential(ak.tr, ek.tr, credentialBlob, encryptedSecret, ek.auth);
  }

  /**
   * Quotes `selection` with `nonce` and reads the PCR values it covers. If a PCR is
   * extended in between (the read values no longer hash to the quoted digest), quote again.
   */
  quote(nonce: Uint8Array, selection: PcrSelection): DeviceQuote {
    const { ak } = this.requireKeys();
    const selWire = encodePcrSelection(selection);
    for (let attempt = 1; ; attempt++) {
      const { attest, signature } = this.esys.quote(ak.tr, nonce, selWire);
      const parsed = parseQuoteAttest(attest);
      const pcrs = this.readPcrs(parsed.pcrSelect);
      const h = createHash(HASHES[parseSignature(signature).hash]?.name ?? 'sha256');
      for (const p of pcrs) h.update(p.value);
      if (h.digest().equals(parsed.pcrDigest) || attempt >= QUOTE_ATTEMPTS) return { attest, signature, pcrs };
    }
  }

  /** Reads every PCR of `selection` (TPM2_PCR_Read returns at most 8 per call), in selection order. */
  private readPcrs(selection: PcrSelection): PcrValue[] {
    const got = new Map<string, Buffer>();
    let remaining = selection.map((b) => ({ hashAlg: b.hashAlg, pcrs: [...b.pcrs] })).filter((b) => b.pcrs.length > 0);
    while (remaining.length > 0) {
      const { selection: readSel, digests } = this.esys.pcrRead(encodePcrSelection(remaining));
      let i = 0;
      for (const bank of decodePcrSelection(readSel)) for (const pcr of bank.pcrs) got.set(`${bank.hashAlg}:${pcr}`, digests[i++]!);
      const next = remaining.map((b) => ({ hashAlg: b.hashAlg, pcrs: b.pcrs.filter((p) => !got.has(`${b.hashAlg}:${p}`)) })).filter((b) => b.pcrs.length > 0);
      if (i === 0) throw new Error(`TPM returned no values for PCRs ${JSON.stringify(next)} (bank not allocated?)`);
      remaining = next;
    }
    return selection.flatMap((b) => b.pcrs.map((index) => ({ hashAlg: b.hashAlg, index, value: got.get(`${b.hashAlg}:${index}`)! })));
  }

  private requireKeys(): { ek: NonNullable<AttestationDevice['ek']>; ak: NonNullable<AttestationDevice['ak']> } {
    if (!this.ek || !this.ak) this.identity();
    return { ek: this.ek!, ak: this.ak! };
  }

  close(): void {
    try {
      if (this.ak) this.esys.flush(this.ak.tr);
      if (this.ek) this.ek.transient ? this.esys.flush(this.ek.tr) : this.esys.trClose(this.ek.tr);
    } finally {
      this.ak = undefined;
      this.ek = undefined;
      this.esys.close();
    }
  }
}

/** Password when the EK allows it (userWithAuth), else PolicySecret(endorsement) in the EK's nameAlg. */
function ekAuth(publicArea: Buffer): EkAuth {
  const ek = parsePublicArea(publicArea, 'EK public area');
  return ek.attributes & OBJECT_ATTR.userWithAuth ? { kind: 'password' } : { kind: 'policy', hashAlg: ek.nameAlg };
}
