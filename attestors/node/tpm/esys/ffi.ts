import koffi, { type LibraryHandle } from 'koffi';

/**
 * tpm2-tss through koffi. Every TPM structure crosses the FFI boundary as TPM wire bytes
 * and libtss2-mu converts them to and from C structs, so koffi only ever sees uint32
 * handles and return codes, opaque pointers and byte buffers: no struct layouts here.
 * Load only inside the TPM worker thread (calls block on TPM I/O).
 */

/** A C pointer as koffi 3 hands it out (number or bigint); null when absent. */
export type CPtr = number | bigint | null;
type Fn = (...args: unknown[]) => unknown;

const esys = koffi.load('libtss2-esys.so.0');
const tctildr = koffi.load('libtss2-tctildr.so.0');
const mu = koffi.load('libtss2-mu.so.0');
const rc = koffi.load('libtss2-rc.so.0');

const fn = (lib: LibraryHandle, decl: string) => lib.func(decl) as unknown as Fn;

// ESYS_TR and TSS2_RC are uint32_t; TPMI_ALG_HASH and TPM2_SU are uint16_t.
// Struct inputs are `const void *` (C structs built by Unmarshal), outputs `void **`.
export const native = {
  TctiLdr_Initialize: fn(tctildr, 'uint32_t Tss2_TctiLdr_Initialize(const char *conf, _Out_ void **ctx)'),
  TctiLdr_Finalize: fn(tctildr, 'void Tss2_TctiLdr_Finalize(_Inout_ void **ctx)'),
  RC_Decode: fn(rc, 'const char *Tss2_RC_Decode(uint32_t rc)'),
  Initialize: fn(esys, 'uint32_t Esys_Initialize(_Out_ void **ctx, void *tcti, void *abi)'),
  Finalize: fn(esys, 'void Esys_Finalize(_Inout_ void **ctx)'),
  Free: fn(esys, 'void Esys_Free(void *p)'),
  Startup: fn(esys, 'uint32_t Esys_Startup(void *ctx, uint16_t su)'),
  TR_FromTPMPublic: fn(esys, 'uint32_t Esys_TR_FromTPMPublic(void *ctx, uint32_t tpmHandle, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ uint32_t *obj)'),
  TR_Close: fn(esys, 'uint32_t Esys_TR_Close(void *ctx, _Inout_ uint32_t *h)'),
  ReadPublic: fn(esys, 'uint32_t Esys_ReadPublic(void *ctx, uint32_t obj, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **outPublic, void **name, void **qualifiedName)'),
  NV_ReadPublic: fn(esys, 'uint32_t Esys_NV_ReadPublic(void *ctx, uint32_t nv, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **nvPublic, _Out_ void **nvName)'),
  NV_Read: fn(esys, 'uint32_t Esys_NV_Read(void *ctx, uint32_t auth, uint32_t nv, uint32_t s1, uint32_t s2, uint32_t s3, uint16_t size, uint16_t offset, _Out_ void **data)'),
  CreatePrimary: fn(esys, 'uint32_t Esys_CreatePrimary(void *ctx, uint32_t primary, uint32_t s1, uint32_t s2, uint32_t s3, const void *inSensitive, const void *inPublic, const void *outsideInfo, const void *creationPCR, _Out_ uint32_t *obj, _Out_ void **outPublic, void **creationData, void **creationHash, void **creationTicket)'),
  Create: fn(esys, 'uint32_t Esys_Create(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, const void *inSensitive, const void *inPublic, const void *outsideInfo, const void *creationPCR, _Out_ void **outPrivate, _Out_ void **outPublic, void **creationData, void **creationHash, void **creationTicket)'),
  Load: fn(esys, 'uint32_t Esys_Load(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, const void *inPrivate, const void *inPublic, _Out_ uint32_t *obj)'),
  FlushContext: fn(esys, 'uint32_t Esys_FlushContext(void *ctx, uint32_t h)'),
  StartAuthSession: fn(esys, 'uint32_t Esys_StartAuthSession(void *ctx, uint32_t tpmKey, uint32_t bind, uint32_t s1, uint32_t s2, uint32_t s3, const void *nonceCaller, uint8_t sessionType, const void *symmetric, uint16_t authHash, _Out_ uint32_t *session)'),
  PolicySecret: fn(esys, 'uint32_t Esys_PolicySecret(void *ctx, uint32_t authHandle, uint32_t policySession, uint32_t s1, uint32_t s2, uint32_t s3, const void *nonceTPM, const void *cpHashA, const void *policyRef, int32_t expiration, void **timeout, void **ticket)'),
  ActivateCredential: fn(esys, 'uint32_t Esys_ActivateCredential(void *ctx, uint32_t activateHandle, uint32_t keyHandle, uint32_t s1, uint32_t s2, uint32_t s3, const void *credentialBlob, const void *secret, _Out_ void **certInfo)'),
  Quote: fn(esys, 'uint32_t Esys_Quote(void *ctx, uint32_t signHandle, uint32_t s1, uint32_t s2, uint32_t s3, const void *qualifyingData, const void *inScheme, const void *pcrSelect, _Out_ void **quoted, _Out_ void **signature)'),
  PCR_Read: fn(esys, 'uint32_t Esys_PCR_Read(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, const void *selIn, _Out_ uint32_t *updateCounter, _Out_ void **selOut, _Out_ void **values)'),
  PCR_Extend: fn(esys, 'uint32_t Esys_PCR_Extend(void *ctx, uint32_t pcr, uint32_t s1, uint32_t s2, uint32_t s3, const void *digests)'),
};

/** A tpm2-tss return code other than success, decoded to text. */
export class TssError extends Error {
  readonly rc: number;
  constructor(call: string, rc: number) {
    super(`${call} failed: 0x${rc.toString(16)} (${String(native.RC_Decode(rc))})`);
    this.name = 'TssError';
    this.rc = rc;
  }
}

export function check(call: string, rc: unknown): void {
  if (rc !== 0) throw new TssError(call, Number(rc));
}

// Tss2_MU_<T>_Marshal / _Unmarshal, declared on first use per type.
const muFns = new Map<string, { marshal: Fn; unmarshal: Fn }>();
function muFor(type: string): { marshal: Fn; unmarshal: Fn } {
  let m = muFns.get(type);
  if (!m) {
    m = {
      marshal: fn(mu, `uint32_t Tss2_MU_${type}_Marshal(const void *src, _Out_ uint8_t *buf, size_t size, _Inout_ size_t *offset)`),
      unmarshal: fn(mu, `uint32_t Tss2_MU_${type}_Unmarshal(const uint8_t *buf, size_t size, _Inout_ size_t *offset, void *dest)`),
    };
    muFns.set(type, m);
  }
  return m;
}

/** Room for any C struct we unmarshal into (largest used: TPM2B_ATTEST, 2306 bytes on x86-64). */
const STRUCT_ROOM = 4096;

/** ESAPI-owned C struct -> wire bytes; frees the struct. */
export function marshalOut(type: string, ptr: CPtr): Buffer {
  if (ptr === null || ptr === 0 || ptr === 0n) throw new Error(`${type}: ESAPI returned no value`);
  try {
    const buf = Buffer.alloc(8192);
    const off = [0];
    check(`Tss2_MU_${type}_Marshal`, muFor(type).marshal(ptr, buf, buf.length, off));
    return Buffer.from(buf.subarray(0, Number(off[0])));
  } finally {
    native.Free(ptr);
  }
}

/** Wire bytes -> C struct in a Node buffer, valid while the caller holds it (ESAPI calls are synchronous). */
export function unmarshalIn(type: string, wire: Uint8Array): Buffer {
  const dest = Buffer.alloc(STRUCT_ROOM);
  const off = [0];
  check(`Tss2_MU_${type}_Unmarshal`, muFor(type).unmarshal(wire, wire.length, off, dest));
  if (Number(off[0]) !== wire.length) throw new Error(`${type}: ${wire.length - Number(off[0])} trailing bytes`);
  return dest;
}
