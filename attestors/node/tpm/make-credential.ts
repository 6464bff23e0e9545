import { constants, createCipheriv, createHmac, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { ALG, ECC_CURVES, HASHES } from './constants.ts';
import { kdfa, kdfe } from './kdf.ts';
import type { PublicArea } from './public-area.ts';
import { tpm2b } from './wire.ts';

/** TPM2_MakeCredential output, as wire bytes the agent hands to TPM2_ActivateCredential. */
export interface CredentialBlob {
  /** TPM2B_ID_OBJECT */
  credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET */
  encryptedSecret: Buffer;
}

/**
 * TPM2_MakeCredential in software (Part 1 §24 and Annex B/C): protects `credential` so
 * only the TPM holding the EK's private key, with an object named `objectName` loaded,
 * can recover it. `ekKey` is the trusted EK key (from the EK certificate); `ek` supplies
 * the EK's nameAlg and symmetric parameters (a lie there only makes activation fail).
 */
export function makeCredential(ekKey: KeyObject, ek: PublicArea, objectName: Uint8Array, credential: Uint8Array): CredentialBlob {
  const hash = HASHES[ek.nameAlg];
  if (!hash) throw new Error(`EK nameAlg 0x${ek.nameAlg.toString(16)} is not supported`);
  if (credential.length > hash.size) throw new Error(`credential of ${credential.length} bytes exceeds the EK nameAlg digest size ${hash.size}`);
  if (!ek.symmetric || ek.symmetric.alg !== ALG.AES || ek.symmetric.mode !== ALG.CFB) {
    throw new Error('EK must be a storage key with AES-CFB symmetric parameters');
  }

  const { seed, encryptedSecret } = ek.type === 'rsa' ? rsaSeed(ekKey, hash.name, hash.size) : eccSeed(ekKey, ek, hash.size);

  const symBits = ek.symmetric.keyBits;
  const symKey = kdfa(ek.nameAlg, seed, 'STORAGE', objectName, new Uint8Array(), symBits);
  const cipher = createCipheriv(`aes-${symBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(credential)), cipher.final()]);
  const hmacKey = kdfa(ek.nameAlg, seed, 'INTEGRITY', new Uint8Array(), new Uint8Array(), hash.size * 8);
  const outerHmac = createHmac(hash.name, hmacKey).update(encIdentity).update(objectName).digest();
  return {
    credentialBlob: tpm2b(Buffer.concat([tpm2b(outerHmac), encIdentity])),
    encryptedSecret: tpm2b(encryptedSecret),
  };
}

/** RSA EK: a random seed, OAEP-encrypted with label "IDENTITY\0" (Annex B.10.3). */
function rsaSeed(ekKey: KeyObject, hashName: string, size: number): { seed: Buffer; encryptedSecret: Buffer } {
  const seed = randomBytes(size);
  const encryptedSecret = publicEncrypt({
    key: ekKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hashName, oaepLabel: Buffer.from('IDENTITY\0', 'latin1'),
  }, seed);
  return { seed, encryptedSecret };
}

/** ECC EK: ephemeral ECDH on the EK's curve; seed = KDFe(Z, "IDENTITY", Qe.x, Qek.x) (Annex C.6.4). */
function eccSeed(ekKey: KeyObject, ek: PublicArea, size: number): { seed: Buffer; encryptedSecret: Buffer } {
  const curve = ECC_CURVES[ek.ecc!.curve]!;
  const eph = generateKeyPairSync('ec', { namedCurve: curve.jwk });
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: ekKey });
  const jwk = eph.publicKey.export({ format: 'jwk' });
  const ex = Buffer.from(jwk.x!, 'base64url'), ey = Buffer.from(jwk.y!, 'base64url');
  const ekX = Buffer.from(ekKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = kdfe(ek.nameAlg, z, 'IDENTITY', ex, ekX, size * 8);
  return { seed, encryptedSecret: Buffer.concat([tpm2b(ex), tpm2b(ey)]) };
}
