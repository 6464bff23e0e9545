import { createHash, createHmac } from 'node:crypto';
import { HASHES } from './constants.ts';
import { u32 } from './wire.ts';

const labelBytes = (label: string): Buffer => Buffer.concat([Buffer.from(label, 'latin1'), Buffer.from([0])]);

function hashOf(alg: number): { name: string; size: number } {
  const h = HASHES[alg];
  if (!h) throw new Error(`unsupported hash algorithm 0x${alg.toString(16)}`);
  return h;
}

/** KDFa (TPM 2.0 Part 1, 11.4.10.2): SP800-108 counter mode with HMAC; the label carries its NUL. */
export function kdfa(hashAlg: number, key: Uint8Array, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const h = hashOf(hashAlg);
  const out: Buffer[] = [];
  for (let i = 1, len = 0; len < bits / 8; i++, len += h.size) {
    out.push(createHmac(h.name, key).update(u32(i)).update(labelBytes(label)).update(contextU).update(contextV).update(u32(bits)).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

/** KDFe (Part 1, 11.4.10.3): SP800-56A concatenation KDF over the ECDH shared x-coordinate Z. */
export function kdfe(hashAlg: number, z: Uint8Array, label: string, partyU: Uint8Array, partyV: Uint8Array, bits: number): Buffer {
  const h = hashOf(hashAlg);
  const out: Buffer[] = [];
  for (let i = 1, len = 0; len < bits / 8; i++, len += h.size) {
    out.push(createHash(h.name).update(u32(i)).update(z).update(labelBytes(label)).update(partyU).update(partyV).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}
