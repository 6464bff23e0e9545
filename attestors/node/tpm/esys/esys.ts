import { ALG } from '../constants.ts';
import { WireReader, tpm2b, u16, u32, unwrapTpm2b } from '../wire.ts';
import { check, marshalOut, native, TssError, unmarshalIn, type CPtr } from './ffi.ts';

/** ESYS_TR constants. */
export const TR = {
  NONE: 0xfff,
  PASSWORD: 0x0ff,
  RH_OWNER: 0x101,
  RH_ENDORSEMENT: 0x10b,
} as const;

const TPM2_SE_POLICY = 0x01;
const TPM2_SU_CLEAR = 0x0000;
const TPM_RC_INITIALIZE = 0x100;
const EMPTY_SENSITIVE = Buffer.from('000400000000', 'hex'); // TPM2B_SENSITIVE_CREATE: empty auth + data
const EMPTY_DATA = Buffer.from('0000', 'hex');
const EMPTY_PCR_SELECTION = Buffer.from('00000000', 'hex');

/**
 * How to authorise use of the EK: TCG default EKs only allow PolicySecret(endorsement)
 * (userWithAuth clear); some (swtpm's P-384 EK) also take the empty password.
 */
export type EkAuth = { kind: 'password' } | { kind: 'policy'; hashAlg: number };
const DEFAULT_EK_AUTH: EkAuth = { kind: 'policy', hashAlg: ALG.SHA256 };

/** True for TPM_RC_HANDLE (format-one), what the TPM says for an absent persistent handle or NV index. */
export function isMissingHandle(e: unknown): boolean {
  return e instanceof TssError && (e.rc & 0x80) !== 0 && (e.rc & 0x3f) === 0x0b;
}

/**
 * A synchronous ESAPI context over one TCTI. Thin: one method per TPM command we use,
 * wire bytes in and out. Not thread-safe; the TPM worker owns exactly one.
 */
export class Esys {
  private constructor(private ctx: CPtr, private tcti: CPtr) {}

  /** `tcti` in tctildr form: "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321". */
  static open(tcti: string): Esys {
    const t: CPtr[] = [null];
    check(`Tss2_TctiLdr_Initialize(${tcti})`, native.TctiLdr_Initialize(tcti, t));
    const c: CPtr[] = [null];
    try {
      check('Esys_Initialize', native.Initialize(c, t[0], null));
    } catch (e) {
      native.TctiLdr_Finalize([t[0]]);
      throw e;
    }
    const esys = new Esys(c[0]!, t[0]!);
    // A TPM that was already started answers TPM_RC_INITIALIZE: fine.
    const rc = Number(native.Startup(esys.ctx, TPM2_SU_CLEAR));
    if (rc !== 0 && rc !== TPM_RC_INITIALIZE) { esys.close(); check('Esys_Startup', rc); }
    return esys;
  }

  close(): void {
    if (this.ctx !== null) native.Finalize([this.ctx]);
    if (this.tcti !== null) native.TctiLdr_Finalize([this.tcti]);
    this.ctx = null;
    this.tcti = null;
  }

  trFromPublic(tpmHandle: number): number {
    const o = [0];
    check(`Esys_TR_FromTPMPublic(0x${tpmHandle.toString(16)})`, native.TR_FromTPMPublic(this.ctx, tpmHandle, TR.NONE, TR.NONE, TR.NONE, o));
    return o[0]!;
  }

  /** Forgets an ESYS_TR without touching the TPM object (for persistent handles and NV indices). */
  trClose(tr: number): void { native.TR_Close(this.ctx, [tr]); }

  /** TPM2B_PUBLIC of a loaded or persistent object. */
  readPublic(tr: number): Buffer {
    const pub: CPtr[] = [null];
    check('Esys_ReadPublic', native.ReadPublic(this.ctx, tr, TR.NONE, TR.NONE, TR.NONE, pub, null, null));
    return marshalOut('TPM2B_PUBLIC', pub[0]!);
  }

  flush(tr: number): void { check('Esys_FlushContext', native.FlushContext(this.ctx, tr)); }

  /** Whole contents of an NV index, read in chunks (NV buffer max is 1024 on swtpm; EK certs can be larger). */
  nvReadAll(nvIndex: number, chunk = 1024): Buffer {
    const nv = this.trFromPublic(nvIndex);
    try {
      const pub: CPtr[] = [null], name: CPtr[] = [null];
      check('Esys_NV_ReadPublic', native.NV_ReadPublic(this.ctx, nv, TR.NONE, TR.NONE, TR.NONE, pub, name));
      const nvPublic = new WireReader(unwrapTpm2b(marshalOut('TPM2B_NV_PUBLIC', pub[0]!), 'TPM2B_NV_PUBLIC'), 'TPMS_NV_PUBLIC');
      marshalOut('TPM2B_NAME', name[0]!);
      // TPMS_NV_PUBLIC: nvIndex u32, nameAlg u16, attributes u32, authPolicy TPM2B, dataSize u16
      nvPublic.u32(); nvPublic.u16(); nvPublic.u32(); nvPublic.tpm2b();
      const dataSize = nvPublic.u16();
      const parts: Buffer[] = [];
      for (let off = 0; off < dataSize; off += chunk) {
        const out: CPtr[] = [null];
        check('Esys_NV_Read', native.NV_Read(this.ctx, TR.RH_OWNER, nv, TR.PASSWORD, TR.NONE, TR.NONE, Math.min(chunk, dataSize - off), off, out));
        parts.push(Buffer.from(unwrapTpm2b(marshalOut('TPM2B_MAX_NV_BUFFER', out[0]!), 'TPM2B_MAX_NV_BUFFER')));
      }
      return Buffer.concat(parts);
    } finally {
      this.trClose(nv);
    }
  }

  createPrimary(hierarchy: number, template: Uint8Array): { handle: number; publicArea: Buffer } {
    const h = [0], pub: CPtr[] = [null];
    check('Esys_CreatePrimary', native.CreatePrimary(this.ctx, hierarchy, TR.PASSWORD, TR.NONE, TR.NONE,
      unmarshalIn('TPM2B_SENSITIVE_CREATE', EMPTY_SENSITIVE), unmarshalIn('TPM2B_PUBLIC', template),
      unmarshalIn('TPM2B_DATA', EMPTY_DATA), unmarshalIn('TPML_PCR_SELECTION', EMPTY_PCR_SELECTION),
      h, pub, null, null, null));
    return { handle: h[0]!, publicArea: marshalOut('TPM2B_PUBLIC', pub[0]!) };
  }

  /**
   * A policy session satisfying the default EK policy, PolicySecret(TPM_RH_ENDORSEMENT),
   * hashed with the EK's nameAlg. Each use consumes it: one per command, flushed after.
   */
  ekPolicySession(hashAlg: number = ALG.SHA256): number {
    const s = [0];
    check('Esys_StartAuthSession', native.StartAuthSession(this.ctx, TR.NONE, TR.NONE, TR.NONE, TR.NONE, TR.NONE,
      null, TPM2_SE_POLICY, unmarshalIn('TPMT_SYM_DEF', u16(ALG.NULL)), hashAlg, s));
    try {
      check('Esys_PolicySecret', native.PolicySecret(this.ctx, TR.RH_ENDORSEMENT, s[0]!, TR.PASSWORD, TR.NONE, TR.NONE,
        null, null, null, 0, null, null));
    } catch (e) {
      this.flush(s[0]!);
      throw e;
    }
    return s[0]!;
  }

  /** Runs `f` with the EK's authorisation: its (empty) password, or a fresh policy session flushed after. */
  private withEkAuth<T>(auth: EkAuth, f: (session: number) => T): T {
    if (auth.kind === 'password') return f(TR.PASSWORD);
    const s = this.ekPolicySession(auth.hashAlg);
    try { return f(s); } finally { this.flush(s); }
  }

  /** Creates and loads a child of the EK. */
  createUnderEk(ek: number, template: Uint8Array, auth: EkAuth = DEFAULT_EK_AUTH): { handle: number; publicArea: Buffer } {
    const priv: CPtr[] = [null], pub: CPtr[] = [null];
    this.withEkAuth(auth, (s) => check('Esys_Create', native.Create(this.ctx, ek, s, TR.NONE, TR.NONE,
      unmarshalIn('TPM2B_SENSITIVE_CREATE', EMPTY_SENSITIVE), unmarshalIn('TPM2B_PUBLIC', template),
      unmarshalIn('TPM2B_DATA', EMPTY_DATA), unmarshalIn('TPML_PCR_SELECTION', EMPTY_PCR_SELECTION),
      priv, pub, null, null, null)));
    const privateArea = marshalOut('TPM2B_PRIVATE', priv[0]!);
    const publicArea = marshalOut('TPM2B_PUBLIC', pub[0]!);
    const h = [0];
    this.withEkAuth(auth, (s) => check('Esys_Load', native.Load(this.ctx, ek, s, TR.NONE, TR.NONE,
      unmarshalIn('TPM2B_PRIVATE', privateArea), unmarshalIn('TPM2B_PUBLIC', publicArea), h)));
    return { handle: h[0]!, publicArea };
  }

  /** TPM2_ActivateCredential: the AK authorises with its (empty) password, the EK with `auth`. */
  activateCredential(ak: number, ek: number, credentialBlob: Uint8Array, encryptedSecret: Uint8Array, auth: EkAuth = DEFAULT_EK_AUTH): Buffer {
    const out: CPtr[] = [null];
    this.withEkAuth(auth, (s) => check('Esys_ActivateCredential', native.ActivateCredential(this.ctx, ak, ek, TR.PASSWORD, s, TR.NONE,
      unmarshalIn('TPM2B_ID_OBJECT', credentialBlob), unmarshalIn('TPM2B_ENCRYPTED_SECRET', encryptedSecret), out)));
    return Buffer.from(unwrapTpm2b(marshalOut('TPM2B_DIGEST', out[0]!), 'TPM2B_DIGEST'));
  }

  /** TPM2_Quote with the key's own scheme; returns TPMS_ATTEST and TPMT_SIGNATURE bytes. */
  quote(ak: number, nonce: Uint8Array, pcrSelection: Uint8Array): { attest: Buffer; signature: Buffer } {
    const q: CPtr[] = [null], sig: CPtr[] = [null];
    check('Esys_Quote', native.Quote(this.ctx, ak, TR.PASSWORD, TR.NONE, TR.NONE,
      unmarshalIn('TPM2B_DATA', tpm2b(nonce)), unmarshalIn('TPMT_SIG_SCHEME', u16(ALG.NULL)),
      unmarshalIn('TPML_PCR_SELECTION', pcrSelection), q, sig));
    return {
      attest: Buffer.from(unwrapTpm2b(marshalOut('TPM2B_ATTEST', q[0]!), 'TPM2B_ATTEST')),
      signature: marshalOut('TPMT_SIGNATURE', sig[0]!),
    };
  }

  /** One TPM2_PCR_Read: the TPM returns at most 8 digests and says which PCRs they are. */
  pcrRead(pcrSelection: Uint8Array): { selection: Buffer; digests: Buffer[] } {
    const cnt = [0], sel: CPtr[] = [null], vals: CPtr[] = [null];
    check('Esys_PCR_Read', native.PCR_Read(this.ctx, TR.NONE, TR.NONE, TR.NONE, unmarshalIn('TPML_PCR_SELECTION', pcrSelection), cnt, sel, vals));
    const selection = marshalOut('TPML_PCR_SELECTION', sel[0]!);
    const list = new WireReader(marshalOut('TPML_DIGEST', vals[0]!), 'TPML_DIGEST');
    const digests = Array.from({ length: list.u32() }, () => Buffer.from(list.tpm2b()));
    list.end();
    return { selection, digests };
  }

  /** TPM2_PCR_Extend of one bank (platform auth: empty password on swtpm). */
  pcrExtend(pcr: number, hashAlg: number, digest: Uint8Array): void {
    const values = Buffer.concat([u32(1), u16(hashAlg), digest]);
    check('Esys_PCR_Extend', native.PCR_Extend(this.ctx, pcr, TR.PASSWORD, TR.NONE, TR.NONE, unmarshalIn('TPML_DIGEST_VALUES', values)));
  }
}
