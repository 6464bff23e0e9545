/**
 * TPM 2.0 numbers this method uses (TCG TPM 2.0 Library Part 2), shared by the agent
 * binding and the TPM-free server half.
 */

/** TPM_ALG_ID values. */
export const ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  AES: 0x0006,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECC: 0x0023,
  CFB: 0x0043,
} as const;

/** TPM_ECC_CURVE values with their JWK names. */
export const ECC_CURVES: Readonly<Record<number, { jwk: 'P-256' | 'P-384' | 'P-521'; bytes: number }>> = {
  0x0003: { jwk: 'P-256', bytes: 32 },
  0x0004: { jwk: 'P-384', bytes: 48 },
  0x0005: { jwk: 'P-521', bytes: 66 },
};

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Hash algorithms by TPM_ALG_ID: node:crypto name and digest size. */
export const HASHES: Readonly<Record<number, { name: HashName; size: number }>> = {
  [ALG.SHA1]: { name: 'sha1', size: 20 },
  [ALG.SHA256]: { name: 'sha256', size: 32 },
  [ALG.SHA384]: { name: 'sha384', size: 48 },
  [ALG.SHA512]: { name: 'sha512', size: 64 },
};

export function hashAlgByName(name: string): number | undefined {
  for (const [alg, h] of Object.entries(HASHES)) if (h.name === name) return Number(alg);
  return undefined;
}

/** TPMA_OBJECT bits. */
export const OBJECT_ATTR = {
  fixedTPM: 0x0000_0002,
  stClear: 0x0000_0004,
  fixedParent: 0x0000_0010,
  sensitiveDataOrigin: 0x0000_0020,
  userWithAuth: 0x0000_0040,
  adminWithPolicy: 0x0000_0080,
  noDA: 0x0000_0400,
  encryptedDuplication: 0x0000_0800,
  restricted: 0x0001_0000,
  decrypt: 0x0002_0000,
  sign: 0x0004_0000,
} as const;

/** TPM_GENERATED_VALUE: every TPMS_ATTEST the TPM signs starts with it. */
export const TPM_GENERATED_VALUE = 0xff54_4347;
/** TPM_ST_ATTEST_QUOTE. */
export const TPM_ST_ATTEST_QUOTE = 0x8018;

/** TCG EK Credential Profile locations. */
export const EK_NV_INDEX = { rsa2048: 0x01c0_0002, ecc256: 0x01c0_000a, ecc384: 0x01c0_0016 } as const;
export const EK_PERSISTENT_HANDLE = { rsa: 0x8101_0001, ecc384: 0x8101_0016 } as const;

/** Highest PCR index of a PC-client TPM (24 PCRs). */
export const MAX_PCR = 23;
