import { AttestationError } from '../../../common/errors.ts';
import { ALG, HASHES, MAX_PCR, hashAlgByName } from './constants.ts';
import { pcrLabel, type PcrValue } from './verify-quote.ts';

/** A PCR in a policy: bank + index. */
export interface PcrRef { hashAlg: number; index: number }

/**
 * Which platform states the server accepts. `required`: each listed PCR must hold one
 * of its values. `allowedSets`: the PCRs must match at least one set entirely (e.g. one
 * set per approved firmware build). Both may be given; both must then hold.
 */
export interface PcrPolicy {
  required: { pcr: PcrRef; values: string[] }[];
  allowedSets: { pcr: PcrRef; value: string }[][];
}

/** Parses a policy PCR key: "7" (sha256 bank) or "sha1:7". Throws Error naming the problem. */
export function parsePcrRef(key: string): PcrRef {
  const m = /^(?:([a-z0-9]+):)?(\d+)$/.exec(key.trim());
  if (!m) throw new Error(`"${key}" is not a PCR ("7" or "sha256:7")`);
  const hashAlg = m[1] === undefined ? ALG.SHA256 : hashAlgByName(m[1]);
  if (hashAlg === undefined) throw new Error(`unknown PCR bank "${m[1]}"`);
  const index = Number(m[2]);
  if (index > MAX_PCR) throw new Error(`PCR index ${index} is above ${MAX_PCR}`);
  return { hashAlg, index };
}

/** Parses a PCR digest written in hex for bank `hashAlg`; returns lowercase hex. */
export function parsePcrDigest(hex: string, hashAlg: number): string {
  const v = hex.trim().toLowerCase().replace(/^0x/, '');
  const size = HASHES[hashAlg]!.size;
  if (!/^[0-9a-f]*$/.test(v) || v.length !== size * 2) throw new Error(`"${hex}" is not a ${size}-byte hex digest`);
  return v;
}

const violation = (msg: string) => new AttestationError('permission_denied', 'ERR_TPM_PCR_POLICY', msg);

/** Rejects the node when the verified PCR values break the policy; the message names the PCR. */
export function enforcePcrPolicy(policy: PcrPolicy, pcrs: readonly PcrValue[]): void {
  const have = new Map(pcrs.map((p) => [`${p.hashAlg}:${p.index}`, Buffer.from(p.value).toString('hex')]));
  const lookup = (r: PcrRef) => have.get(`${r.hashAlg}:${r.index}`);

  for (const { pcr, values } of policy.required) {
    const v = lookup(pcr);
    const label = pcrLabel(pcr.hashAlg, pcr.index);
    if (v === undefined) throw violation(`PCR ${label} is required by the PCR policy but was not quoted; add it to the agent's pcrs`);
    if (!values.includes(v)) throw violation(`PCR ${label} is ${v}; the PCR policy allows ${values.join(' or ')}`);
  }

  if (policy.allowedSets.length > 0) {
    const misses: string[] = [];
    for (const [i, set] of policy.allowedSets.entries()) {
      const bad = set.find(({ pcr, value }) => lookup(pcr) !== value);
      if (!bad) return;
      const v = lookup(bad.pcr);
      misses.push(`set ${i + 1}: PCR ${pcrLabel(bad.pcr.hashAlg, bad.pcr.index)} is ${v ?? 'not quoted'}, want ${bad.value}`);
    }
    throw violation(`PCR values match none of the allowed sets (${misses.join('; ')})`);
  }
}
