import { AttestationError } from '../../../common/errors.ts';
import { HASHES, MAX_PCR } from './constants.ts';
import { EV, SPEC_ID_EVENT00, SPEC_ID_EVENT03, eventTypeName } from './eventlog-constants.ts';

/**
 * Parser of the crypto-agile TCG PC Client event log (PFP §10.2): one TCG_PCClientPCREvent
 * carrying the "Spec ID Event03" header (which digest algorithms the log carries and
 * their sizes), then TCG_PCR_EVENT2 entries, each with one digest per declared algorithm.
 * The log comes from an unauthenticated agent: every length is checked against what
 * remains before it is used, and the whole log against a size limit.
 */

/** Default bound on a log's size; real firmware logs are 20-100 kB. */
export const EVENT_LOG_MAX_BYTES = 1024 * 1024;
/** More banks than any TPM has: bounds the header's algorithm loop. */
const MAX_ALGORITHMS = 16;
/** Largest digest a declared but unknown algorithm may have (SHA3-512/SHA-512 are 64). */
const MAX_DIGEST_SIZE = 64;

export interface SpecIdHeader {
  platformClass: number;
  specVersion: { major: number; minor: number; errata: number };
  uintnSize: number;
  /** Declared digest algorithms in header order; `size` is what each event's digest takes. */
  algorithms: { hashAlg: number; size: number }[];
  vendorInfo: Uint8Array;
}

export interface TcgDigest { hashAlg: number; digest: Uint8Array }

export interface TcgEvent {
  /** Position in the log, the Spec ID event being 0 (tpm2_eventlog's EventNum). */
  num: number;
  /** Byte offset of the event in the log. */
  offset: number;
  pcr: number;
  type: number;
  digests: TcgDigest[];
  data: Uint8Array;
}

export interface EventLog {
  header: SpecIdHeader;
  /** The events after the Spec ID event. */
  events: TcgEvent[];
  size: number;
}

const err = (code: string, msg: string) => new AttestationError('invalid_argument', code, msg);
const malformed = (msg: string) => err('ERR_TPM_EVENTLOG_MALFORMED', `event log is malformed: ${msg}`);
const hex = (n: number, w = 4) => `0x${n.toString(16).padStart(w, '0')}`;

/** Little-endian reader that names the event and field a short read is in. */
class Reader {
  private off = 0;
  private view: DataView;
  /** Which event is being read, for messages. */
  event = 0;
  eventStart = 0;

  /** `base`: where `buf` starts in the log, so messages give log offsets. */
  constructor(private readonly buf: Uint8Array, private readonly base = 0) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number { return this.off; }
  get remaining(): number { return this.buf.length - this.off; }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw err('ERR_TPM_EVENTLOG_MALFORMED', `event log is truncated: event ${this.event} (at byte ${this.eventStart}) needs ${n} bytes for ${field} at byte ${this.base + this.off}, only ${this.remaining} remain`);
    }
  }
  u8(field: string): number { this.need(1, field); return this.view.getUint8(this.off++); }
  u16(field: string): number { this.need(2, field); const v = this.view.getUint16(this.off, true); this.off += 2; return v; }
  u32(field: string): number { this.need(4, field); const v = this.view.getUint32(this.off, true); this.off += 4; return v; }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
}

/**
 * Parses a crypto-agile event log. Throws AttestationError (invalid_argument):
 * ERR_TPM_EVENTLOG_TOO_LARGE over `maxBytes`; ERR_TPM_EVENTLOG_DIGEST_ALG for a digest
 * algorithm the header does not declare, or declares with the wrong size;
 * ERR_TPM_EVENTLOG_MALFORMED for anything else (truncation, bad header, trailing bytes).
 */
export function parseEventLog(log: Uint8Array, opts: { maxBytes?: number } = {}): EventLog {
  const maxBytes = opts.maxBytes ?? EVENT_LOG_MAX_BYTES;
  if (log.length > maxBytes) {
    throw err('ERR_TPM_EVENTLOG_TOO_LARGE', `event log is ${log.length} bytes; at most ${maxBytes} are accepted`);
  }
  const r = new Reader(log);
  const header = readSpecIdEvent(r);
  const sizes = new Map(header.algorithms.map((a) => [a.hashAlg, a.size]));
  const events: TcgEvent[] = [];
  for (let num = 1; r.remaining > 0; num++) events.push(readEvent(r, num, sizes));
  return { header, events, size: log.length };
}

/** The first event: TCG_PCClientPCREvent (SHA-1 layout) whose data is TCG_EfiSpecIDEvent. */
function readSpecIdEvent(r: Reader): SpecIdHeader {
  const pcr = r.u32('PCRIndex');
  const type = r.u32('EventType');
  const digest = r.bytes(20, 'the SHA-1 digest');
  const size = r.u32('EventSize');
  if (pcr !== 0 || type !== EV.NO_ACTION || digest.some((b) => b !== 0)) {
    throw malformed(`it does not start with the Spec ID event (EV_NO_ACTION in PCR 0 with a zero digest; found ${eventTypeName(type)} in PCR ${pcr}): not a crypto-agile (TCG 2.0) log`);
  }
  const dataStart = r.offset;
  const d = new Reader(r.bytes(size, 'the Spec ID event data'), dataStart);
  const signature = d.bytes(16, 'the Spec ID signature');
  if (SPEC_ID_EVENT00.equals(signature)) {
    throw malformed('it is a SHA-1-only log ("Spec ID Event00"); only crypto-agile logs ("Spec ID Event03") are supported');
  }
  if (!SPEC_ID_EVENT03.equals(signature)) {
    throw malformed(`Spec ID event signature is ${JSON.stringify(Buffer.from(signature).toString('latin1'))}, not "Spec ID Event03"`);
  }
  const platformClass = d.u32('platformClass');
  const minor = d.u8('specVersionMinor');
  const major = d.u8('specVersionMajor');
  const errata = d.u8('specErrata');
  const uintnSize = d.u8('uintnSize');
  const count = d.u32('numberOfAlgorithms');
  if (count === 0 || count > MAX_ALGORITHMS) throw malformed(`Spec ID event declares ${count} digest algorithms (1-${MAX_ALGORITHMS} allowed)`);
  const algorithms: SpecIdHeader['algorithms'] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = d.u16('algorithmId');
    const digestSize = d.u16('digestSize');
    const known = HASHES[hashAlg];
    if (known && known.size !== digestSize) {
      throw err('ERR_TPM_EVENTLOG_DIGEST_ALG', `event log declares ${known.name} digests of ${digestSize} bytes; ${known.name} digests are ${known.size} bytes`);
    }
    if (digestSize === 0 || digestSize > MAX_DIGEST_SIZE) throw malformed(`Spec ID event declares algorithm ${hex(hashAlg)} with a ${digestSize}-byte digest`);
    if (algorithms.some((a) => a.hashAlg === hashAlg)) throw malformed(`Spec ID event declares algorithm ${algName(hashAlg)} twice`);
    algorithms.push({ hashAlg, size: digestSize });
  }
  const vendorInfo = d.bytes(d.u8('vendorInfoSize'), 'vendorInfo');
  if (d.remaining !== 0) throw malformed(`Spec ID event has ${d.remaining} bytes after vendorInfo`);
  return { platformClass, specVersion: { major, minor, errata }, uintnSize, algorithms, vendorInfo };
}

/** One TCG_PCR_EVENT2. */
function readEvent(r: Reader, num: number, sizes: ReadonlyMap<number, number>): TcgEvent {
  r.event = num;
  r.eventStart = r.offset;
  const offset = r.offset;
  const pcr = r.u32('PCRIndex');
  const type = r.u32('EventType');
  const where = `event ${num} (${eventTypeName(type)}, at byte ${offset})`;
  if (pcr > MAX_PCR) throw malformed(`${where} is for PCR ${pcr}; PCRs are 0-${MAX_PCR}`);
  const count = r.u32('the digest count');
  // Every extended event carries one digest per declared bank, so replay of any bank sees every extend.
  if (count > sizes.size || (type !== EV.NO_ACTION && count !== sizes.size)) {
    throw malformed(`${where} carries ${count} digests; the Spec ID event declares ${sizes.size} (${[...sizes.keys()].map(algName).join(', ')})`);
  }
  const digests: TcgDigest[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16('a digest algorithm');
    const size = sizes.get(hashAlg);
    if (size === undefined) {
      throw err('ERR_TPM_EVENTLOG_DIGEST_ALG', `event log ${where} has a digest of algorithm ${algName(hashAlg)}, which the Spec ID event does not declare (declared: ${[...sizes.keys()].map(algName).join(', ')})`);
    }
    if (digests.some((x) => x.hashAlg === hashAlg)) throw malformed(`${where} carries two ${algName(hashAlg)} digests`);
    digests.push({ hashAlg, digest: r.bytes(size, `its ${algName(hashAlg)} digest`) });
  }
  const data = r.bytes(r.u32('EventSize'), 'the event data');
  return { num, offset, pcr, type, digests, data };
}

/** Hash name when known, else the TPM_ALG_ID in hex. */
export function algName(hashAlg: number): string {
  return HASHES[hashAlg]?.name ?? hex(hashAlg);
}
