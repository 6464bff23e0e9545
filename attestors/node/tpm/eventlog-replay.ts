import { createHash, timingSafeEqual } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';
import { HASHES } from './constants.ts';
import { EV, STARTUP_LOCALITY } from './eventlog-constants.ts';
import { algName, type EventLog } from './eventlog.ts';
import { pcrLabel, type PcrValue } from './verify-quote.ts';

/**
 * Replays an event log into PCR values, bank by bank, and holds the replay against the
 * PCR values of a verified quote. A PCR the log extends must replay exactly to its quoted
 * value; only PCRs that do (`verified`) may feed selectors or policy.
 */

/** Replayed values: bank (TPM_ALG_ID) → PCR index → value, for every PCR the log extends. */
export type Replay = Map<number, Map<number, Buffer>>;

/** How each quoted PCR of a replayable bank relates to the log. */
export interface ReplayCheck {
  /**
   * Quoted PCRs the log explains, as "<alg>:<index>" keys: the log's events replay to the
   * quoted value, or the log never extends the PCR and it is still all zeros.
   */
  verified: Set<string>;
  /** Quoted PCRs the log never extends that moved anyway (e.g. IMA's PCR 10): their values stand unexplained. */
  unexplained: string[];
  /** PCRs the log extends that the quote does not cover: their events prove nothing. */
  unquoted: string[];
  /** Quoted PCRs that have log events and replayed to their value ("sha256:7"). */
  replayed: string[];
}

const key = (hashAlg: number, index: number) => `${hashAlg}:${index}`;

/**
 * Replays every bank of the log this server can hash. EV_NO_ACTION events are not
 * extended; a StartupLocality event (TPM2_Startup at locality 3) or an H-CRTM event
 * (locality 4) before PCR 0's first extend sets PCR 0's reset value, as the TPM does.
 */
export function replayEventLog(log: EventLog): Replay {
  const banks = log.header.algorithms.filter((a) => HASHES[a.hashAlg] !== undefined);
  if (banks.length === 0) {
    const declared = log.header.algorithms.map((a) => algName(a.hashAlg)).join(', ');
    throw new AttestationError('invalid_argument', 'ERR_TPM_EVENTLOG_DIGEST_ALG',
      `event log carries only digest algorithms this server cannot replay (${declared}); supported: ${Object.values(HASHES).map((h) => h.name).join(', ')}`);
  }
  const replay: Replay = new Map(banks.map((b) => [b.hashAlg, new Map()]));
  let pcr0Locality = 0;
  let pcr0Extended = false;
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) {
      if (e.pcr === 0 && e.data.length >= STARTUP_LOCALITY.length + 1 && STARTUP_LOCALITY.equals(e.data.subarray(0, STARTUP_LOCALITY.length))) {
        if (pcr0Extended) throw localityTooLate(e.num, 'StartupLocality');
        pcr0Locality = e.data[STARTUP_LOCALITY.length]!;
      }
      continue;
    }
    if (e.pcr === 0) {
      if (e.type === EV.EFI_HCRTM_EVENT) {
        if (pcr0Extended) throw localityTooLate(e.num, 'EV_EFI_HCRTM_EVENT');
        pcr0Locality = 4;
      }
      pcr0Extended = true;
    }
    for (const { hashAlg, digest } of e.digests) {
      const bank = replay.get(hashAlg);
      if (!bank) continue;
      const name = HASHES[hashAlg]!.name;
      const current = bank.get(e.pcr) ?? resetValue(HASHES[hashAlg]!.size, e.pcr, pcr0Locality);
      bank.set(e.pcr, createHash(name).update(current).update(digest).digest());
    }
  }
  return replay;
}

function localityTooLate(num: number, what: string): AttestationError {
  return new AttestationError('invalid_argument', 'ERR_TPM_EVENTLOG_MALFORMED',
    `event log is malformed: event ${num} (${what}) sets PCR 0's start locality after PCR 0 was extended`);
}

/** A PCR after TPM2_Startup: zeros; PCR 0 ends in the start locality (TPM 2.0 Part 1 §34.3). */
function resetValue(size: number, pcr: number, pcr0Locality: number): Buffer {
  const v = Buffer.alloc(size);
  if (pcr === 0) v[size - 1] = pcr0Locality;
  return v;
}

/**
 * Holds the replay against the quote's verified PCR values. Throws ERR_TPM_EVENTLOG_REPLAY
 * (permission_denied) naming every PCR whose replay differs, and ERR_TPM_EVENTLOG_UNVERIFIED
 * when the quote covers none of the PCRs the log extends (then the log proves nothing).
 */
export function checkReplay(replay: Replay, quoted: readonly PcrValue[]): ReplayCheck {
  const check: ReplayCheck = { verified: new Set(), unexplained: [], unquoted: [], replayed: [] };
  const mismatches: string[] = [];
  const quotedKeys = new Set<string>();
  for (const q of quoted) {
    const bank = replay.get(q.hashAlg);
    if (!bank) continue;
    quotedKeys.add(key(q.hashAlg, q.index));
    const label = pcrLabel(q.hashAlg, q.index);
    const replayed = bank.get(q.index);
    if (replayed === undefined) {
      if (q.value.every((b) => b === 0)) check.verified.add(key(q.hashAlg, q.index));
      else check.unexplained.push(label);
    } else if (replayed.length === q.value.length && timingSafeEqual(replayed, q.value)) {
      check.verified.add(key(q.hashAlg, q.index));
      check.replayed.push(label);
    } else {
      mismatches.push(`PCR ${label} replays to ${replayed.toString('hex')} but the quote shows ${Buffer.from(q.value).toString('hex')}`);
    }
  }
  if (mismatches.length > 0) {
    throw new AttestationError('permission_denied', 'ERR_TPM_EVENTLOG_REPLAY', `event log does not replay to the quoted PCRs: ${mismatches.join('; ')}`);
  }
  for (const [hashAlg, bank] of replay) {
    for (const index of bank.keys()) if (!quotedKeys.has(key(hashAlg, index))) check.unquoted.push(pcrLabel(hashAlg, index));
  }
  if (check.replayed.length === 0) {
    const logged = [...replay].flatMap(([alg, bank]) => [...bank.keys()].sort((a, b) => a - b).map((i) => pcrLabel(alg, i)));
    throw new AttestationError('permission_denied', 'ERR_TPM_EVENTLOG_UNVERIFIED',
      `the quote covers none of the PCRs the event log extends (${logged.join(', ') || 'the log extends none'}); add them to the agent's pcrs`);
  }
  return check;
}

/** True when PCR `index` of bank `hashAlg` replayed to its quoted value (or is provably untouched). */
export function isVerified(check: ReplayCheck, hashAlg: number, index: number): boolean {
  return check.verified.has(key(hashAlg, index));
}
