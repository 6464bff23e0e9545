import { ALG, OBJECT_ATTR as A } from './constants.ts';
import { tpm2b, u16, u32 } from './wire.ts';

/**
 * Public-area templates (TPM2B_PUBLIC wire bytes) the agent asks the TPM to create.
 */

/** PolicySecret(TPM_RH_ENDORSEMENT) digest: the authPolicy of every TCG default EK. */
const EK_POLICY_SHA256 = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');

/**
 * TCG EK Credential Profile template L-1: RSA 2048, SHA-256, AES-128-CFB, unique = 256
 * zero bytes. Recreating it yields the same key as the one in the EK certificate.
 */
export const EK_RSA_TEMPLATE: Buffer = tpm2b(Buffer.concat([
  u16(ALG.RSA), u16(ALG.SHA256),
  u32(A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.adminWithPolicy | A.restricted | A.decrypt),
  tpm2b(EK_POLICY_SHA256),
  u16(ALG.AES), u16(128), u16(ALG.CFB),
  u16(ALG.NULL),
  u16(2048), u32(0),
  tpm2b(Buffer.alloc(256)),
]));

/** The attributes an attestation key must have (and the server insists on). */
export const AK_ATTRIBUTES = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.restricted | A.sign;

/**
 * Restricted RSA-2048 signing key with RSASSA-SHA256 (like `tpm2_createak -G rsa -g sha256 -s rsassa`).
 * `attributes` is overridable so tests can make keys the server must refuse.
 */
export function akRsaTemplate(attributes: number = AK_ATTRIBUTES): Buffer {
  const restricted = (attributes & A.restricted) !== 0;
  return tpm2b(Buffer.concat([
    u16(ALG.RSA), u16(ALG.SHA256),
    u32(attributes),
    tpm2b(Buffer.alloc(0)),
    u16(ALG.NULL), // symmetric NULL: keyBits and mode are absent on the wire
    // A restricted signing key must name its scheme; an unrestricted one may leave it NULL.
    ...(restricted ? [u16(ALG.RSASSA), u16(ALG.SHA256)] : [u16(ALG.NULL)]),
    u16(2048), u32(0),
    tpm2b(Buffer.alloc(0)),
  ]));
}
