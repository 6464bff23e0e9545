import { deflateSync, inflateSync } from 'node:zlib';
import { AttestationError } from '../../../common/errors.ts';
import { HASHES, MAX_PCR, hashAlgByName } from './constants.ts';
import { EVENT_LOG_MAX_BYTES } from './eventlog.ts';
import type { PcrValue } from './verify-quote.ts';

/**
 * The TPM method's messages inside the attestation stream. One challenge round:
 *
 *   agent  -> payload   { v, ek_cert?, ek_public, ak_public }
 *   server -> challenge { v, credential_blob, encrypted_secret, nonce }
 *   agent  -> response  { v, secret, quote, signature, pcrs[], event_log? }
 *
 * JSON (UTF-8) with base64 for TPM structures, which stay in TPM wire format
 * (TPM2B_PUBLIC, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET, TPMS_ATTEST, TPMT_SIGNATURE).
 * One round is enough: the quote is only trusted after the returned secret proves the AK
 * lives in the EK's TPM, and both arrive together.
 *
 * `event_log` (optional, added within v1: older servers ignore it, older agents omit it)
 * is the TCG PC Client binary event log, zlib-compressed (RFC 1950) then base64: real
 * logs shrink 2-4x, which keeps them inside the attestation stream's message limit.
 */
export const PROTOCOL_VERSION = 1;

/** The method name, shared by both halves: agent IDs, selectors and the attestation stream. */
export const METHOD = 'tpm';

export interface TpmPayload {
  /** EK certificate DER; absent when the TPM has none (then the server needs an EK hash allow-list). */
  ekCert?: Uint8Array;
  /** TPM2B_PUBLIC of the EK. */
  ekPublic: Uint8Array;
  /** TPM2B_PUBLIC of the AK. */
  akPublic: Uint8Array;
}

export interface TpmChallenge {
  credentialBlob: Uint8Array;
  encryptedSecret: Uint8Array;
  /** Quote qualifying data: fresh per attestation. */
  nonce: Uint8Array;
}

export interface TpmResponse {
  /** The credential ActivateCredential recovered. */
  secret: Uint8Array;
  /** TPMS_ATTEST. */
  quote: Uint8Array;
  /** TPMT_SIGNATURE. */
  signature: Uint8Array;
  pcrs: PcrValue[];
  /** TCG PC Client binary event log (uncompressed), when the agent has one. */
  eventLog?: Uint8Array;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const enc = (o: object) => new Uint8Array(Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ...o })));

export const encodePayload = (p: TpmPayload): Uint8Array =>
  enc({ ek_cert: p.ekCert ? b64(p.ekCert) : undefined, ek_public: b64(p.ekPublic), ak_public: b64(p.akPublic) });

export const encodeChallenge = (c: TpmChallenge): Uint8Array =>
  enc({ credential_blob: b64(c.credentialBlob), encrypted_secret: b64(c.encryptedSecret), nonce: b64(c.nonce) });

export const encodeResponse = (r: TpmResponse): Uint8Array =>
  enc({
    secret: b64(r.secret), quote: b64(r.quote), signature: b64(r.signature),
    pcrs: r.pcrs.map((p) => ({ bank: HASHES[p.hashAlg]?.name ?? p.hashAlg, index: p.index, value: Buffer.from(p.value).toString('hex') })),
    event_log: r.eventLog ? b64(compressEventLog(r.eventLog)) : undefined,
  });

/** The wire form of an event log (zlib); the agent checks its size against the stream limit. */
export const compressEventLog = (log: Uint8Array): Buffer => deflateSync(log);

/** Which message a decode failure is about, for the error message. */
type Msg = 'payload' | 'challenge' | 'response';

function decodeObject(bytes: Uint8Array, what: Msg): Record<string, unknown> {
  let o: unknown;
  try { o = JSON.parse(Buffer.from(bytes).toString('utf8')); } catch {
    throw malformed(what, 'is not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw malformed(what, 'is not a JSON object');
  const v = (o as Record<string, unknown>).v;
  if (v !== PROTOCOL_VERSION) throw malformed(what, `has version ${JSON.stringify(v)}, want ${PROTOCOL_VERSION}`);
  return o as Record<string, unknown>;
}

function bytesField(o: Record<string, unknown>, key: string, what: Msg, optional = false): Uint8Array | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw malformed(what, `lacks ${key}`);
  }
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw malformed(what, `field ${key} is not base64`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function malformed(what: Msg, msg: string): AttestationError {
  return new AttestationError('invalid_argument', `ERR_TPM_${what.toUpperCase()}_MALFORMED`, `TPM attestation ${what} ${msg}`);
}

export function decodePayload(bytes: Uint8Array): TpmPayload {
  const o = decodeObject(bytes, 'payload');
  return { ekCert: bytesField(o, 'ek_cert', 'payload', true), ekPublic: bytesField(o, 'ek_public', 'payload')!, akPublic: bytesField(o, 'ak_public', 'payload')! };
}

export function decodeChallenge(bytes: Uint8Array): TpmChallenge {
  const o = decodeObject(bytes, 'challenge');
  return {
    credentialBlob: bytesField(o, 'credential_blob', 'challenge')!,
    encryptedSecret: bytesField(o, 'encrypted_secret', 'challenge')!,
    nonce: bytesField(o, 'nonce', 'challenge')!,
  };
}

/**
 * `eventLogMaxBytes` bounds the decompressed log: inflation stops there, so a small
 * compressed message cannot make the server allocate more.
 */
export function decodeResponse(bytes: Uint8Array, opts: { eventLogMaxBytes?: number } = {}): TpmResponse {
  const o = decodeObject(bytes, 'response');
  if (!Array.isArray(o.pcrs)) throw malformed('response', 'lacks the pcrs list');
  const pcrs = o.pcrs.map((p: unknown, i: number): PcrValue => {
    const e = p as { bank?: unknown; index?: unknown; value?: unknown } | null;
    const hashAlg = typeof e?.bank === 'string' ? hashAlgByName(e.bank) : undefined;
    if (hashAlg === undefined) throw malformed('response', `pcrs[${i}].bank is not a known PCR bank`);
    if (typeof e!.index !== 'number' || !Number.isInteger(e!.index) || e!.index < 0 || e!.index > MAX_PCR) throw malformed('response', `pcrs[${i}].index is not a PCR index`);
    if (typeof e!.value !== 'string' || !/^([0-9a-f]{2})+$/.test(e!.value)) throw malformed('response', `pcrs[${i}].value is not lowercase hex`);
    return { hashAlg, index: e!.index, value: new Uint8Array(Buffer.from(e!.value, 'hex')) };
  });
  return {
    secret: bytesField(o, 'secret', 'response')!,
    quote: bytesField(o, 'quote', 'response')!,
    signature: bytesField(o, 'signature', 'response')!,
    pcrs,
    eventLog: inflateEventLog(bytesField(o, 'event_log', 'response', true), opts.eventLogMaxBytes ?? EVENT_LOG_MAX_BYTES),
  };
}

function inflateEventLog(wire: Uint8Array | undefined, maxBytes: number): Uint8Array | undefined {
  if (wire === undefined) return undefined;
  try {
    return new Uint8Array(inflateSync(wire, { maxOutputLength: maxBytes }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new AttestationError('invalid_argument', 'ERR_TPM_EVENTLOG_TOO_LARGE', `event log is larger than the ${maxBytes} bytes accepted (node_attestors.tpm.event_log.max_bytes)`);
    }
    throw malformed('response', `field event_log is not zlib-compressed data (${(e as Error).message})`);
  }
}
