import { createHash, timingSafeEqual } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';
import { makeSelector, type Selector } from '../../../spiffe/selector.ts';
import { HASHES } from './constants.ts';
import { EFI_GLOBAL_VARIABLE, EV, PCR_BOOT_MANAGER, PCR_SECURE_BOOT_POLICY, eventTypeName } from './eventlog-constants.ts';
import type { EventLog, TcgEvent } from './eventlog.ts';
import { isVerified, type ReplayCheck } from './eventlog-replay.ts';
import { METHOD } from './protocol.ts';

/**
 * What a replayed log says about the boot, read only from events in PCRs the quote
 * verified: a fact from an unquoted PCR, or from event data its digest does not cover,
 * could be anything the agent wrote.
 */
export interface EventLogFacts {
  /** SecureBoot variable measured into PCR 7; unknown when PCR 7 is not verified or has no such event. */
  secureBoot: 'enabled' | 'disabled' | 'unknown';
  /**
   * EV_EFI_BOOT_SERVICES_APPLICATION digests (the images' Authenticode hashes) in PCR 4,
   * in load order, per bank in which PCR 4 is verified: the first is the boot loader the
   * firmware started (shim, systemd-boot, GRUB), later ones what it loaded through
   * LoadImage (GRUB, an EFI-stub kernel, a UKI).
   */
  bootApps: Map<string, string[]>;
  /** Event types of the events in verified PCRs, with their counts. */
  eventTypes: Record<string, number>;
}

const eventDataError = (e: TcgEvent, msg: string) =>
  new AttestationError('permission_denied', 'ERR_TPM_EVENTLOG_EVENT_DATA', `event log event ${e.num} (${eventTypeName(e.type)}, PCR ${e.pcr}): ${msg}`);

/** Banks in which `pcr` is verified, as TPM_ALG_IDs of banks the log carries. */
function verifiedBanks(log: EventLog, check: ReplayCheck, pcr: number): number[] {
  return log.header.algorithms.map((a) => a.hashAlg).filter((alg) => HASHES[alg] && isVerified(check, alg, pcr));
}

export function eventLogFacts(log: EventLog, check: ReplayCheck): EventLogFacts {
  const eventTypes: Record<string, number> = {};
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION || verifiedBanks(log, check, e.pcr).length === 0) continue;
    const name = eventTypeName(e.type);
    eventTypes[name] = (eventTypes[name] ?? 0) + 1;
  }
  const bootApps = new Map<string, string[]>();
  for (const alg of verifiedBanks(log, check, PCR_BOOT_MANAGER)) {
    const digests = log.events
      .filter((e) => e.pcr === PCR_BOOT_MANAGER && e.type === EV.EFI_BOOT_SERVICES_APPLICATION)
      .map((e) => Buffer.from(e.digests.find((d) => d.hashAlg === alg)!.digest).toString('hex'));
    bootApps.set(HASHES[alg]!.name, digests);
  }
  return { secureBoot: secureBootState(log, check), bootApps, eventTypes };
}

/**
 * Secure Boot state from the EV_EFI_VARIABLE_DRIVER_CONFIG event of EFI_GLOBAL_VARIABLE
 * "SecureBoot" in PCR 7. Its digest is H(UEFI_VARIABLE_DATA) (PFP §10.4.4), so the event
 * data is checked against the digest in every bank where PCR 7 is verified before the
 * value is believed.
 */
function secureBootState(log: EventLog, check: ReplayCheck): EventLogFacts['secureBoot'] {
  const banks = verifiedBanks(log, check, PCR_SECURE_BOOT_POLICY);
  if (banks.length === 0) return 'unknown';
  const values = new Set<number>();
  for (const e of log.events) {
    if (e.pcr !== PCR_SECURE_BOOT_POLICY || e.type !== EV.EFI_VARIABLE_DRIVER_CONFIG) continue;
    const v = parseUefiVariable(e);
    if (!EFI_GLOBAL_VARIABLE.equals(v.guid) || v.name !== 'SecureBoot') continue;
    for (const alg of banks) {
      const d = e.digests.find((x) => x.hashAlg === alg)!.digest;
      const want = createHash(HASHES[alg]!.name).update(e.data).digest();
      if (!timingSafeEqual(want, d)) throw eventDataError(e, `the SecureBoot variable data does not hash to the event's ${HASHES[alg]!.name} digest`);
    }
    if (v.data.length !== 1 || v.data[0]! > 1) throw eventDataError(e, `SecureBoot holds ${Buffer.from(v.data).toString('hex') || 'nothing'}, not one byte 00 or 01`);
    values.add(v.data[0]!);
  }
  if (values.size > 1) throw new AttestationError('permission_denied', 'ERR_TPM_EVENTLOG_EVENT_DATA', 'event log measures SecureBoot both enabled and disabled into PCR 7');
  if (values.size === 0) return 'unknown';
  return values.has(1) ? 'enabled' : 'disabled';
}

/** UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength and VariableDataLength (UINT64 LE), UTF-16 name, data. */
function parseUefiVariable(e: TcgEvent): { guid: Uint8Array; name: string; data: Uint8Array } {
  const b = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  if (b.length < 32) throw eventDataError(e, `event data has ${b.length} bytes, too short for UEFI_VARIABLE_DATA (32 + name + data)`);
  const nameLen = b.readBigUInt64LE(16), dataLen = b.readBigUInt64LE(24);
  if (32n + nameLen * 2n + dataLen !== BigInt(b.length)) {
    throw eventDataError(e, `UEFI_VARIABLE_DATA lengths (name ${nameLen} characters, data ${dataLen} bytes) do not fill its ${b.length} bytes`);
  }
  const nameEnd = 32 + Number(nameLen) * 2;
  return { guid: b.subarray(0, 16), name: b.subarray(32, nameEnd).toString('utf16le'), data: b.subarray(nameEnd) };
}

/**
 * Selectors, all under `tpm:`: `secure_boot:enabled|disabled`; `boot_loader:<bank>:<hex>`
 * (first boot application in PCR 4); `boot_app:<bank>:<hex>` (every boot application in
 * PCR 4, the boot loader included).
 */
export function eventLogSelectors(facts: EventLogFacts): Selector[] {
  const out: Selector[] = [];
  if (facts.secureBoot !== 'unknown') out.push(makeSelector(METHOD, `secure_boot:${facts.secureBoot}`));
  for (const [bank, digests] of facts.bootApps) {
    if (digests.length > 0) out.push(makeSelector(METHOD, `boot_loader:${bank}:${digests[0]}`));
    for (const d of new Set(digests)) out.push(makeSelector(METHOD, `boot_app:${bank}:${d}`));
  }
  return out;
}
