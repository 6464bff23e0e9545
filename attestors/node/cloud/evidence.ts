import { AttestationError } from '../../../common/errors.ts';
import { agentId, type SpiffeId, type TrustDomain } from '../../../spiffe/id.ts';
import { makeSelector, type Selector } from '../../../spiffe/selector.ts';

/** Small parsing helpers shared by the cloud server halves: evidence is untrusted input. */

const MAX_PAYLOAD_BYTES = 64 * 1024;
const SEGMENT = /^[a-zA-Z0-9._-]+$/;

/** Parses an agent payload that must be a JSON object. */
export function decodeJsonObject(bytes: Uint8Array, code: string, what: string): Record<string, unknown> {
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new AttestationError('invalid_argument', code, `${what} is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  let v: unknown;
  try { v = JSON.parse(Buffer.from(bytes).toString('utf8')); } catch (e) {
    throw new AttestationError('invalid_argument', code, `${what} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AttestationError('invalid_argument', code, `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** A required non-empty string field of an untrusted object. */
export function requireString(obj: Record<string, unknown>, key: string, code: string, what: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw new AttestationError('invalid_argument', code, `${what} field "${key}" is missing or not a string`);
  return v;
}

export function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Strict base64 (whitespace tolerated): Buffer.from would silently skip bad characters. */
export function decodeBase64(s: string, code: string, what: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new AttestationError('invalid_argument', code, `${what} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/**
 * `spiffe://<td>/tessera/agent/<method>/<parts...>`. Each part comes from signed
 * evidence but is still checked to be a plain path segment, so a signed value with
 * "/" or ".." can never shape someone else's ID.
 */
export function cloudAgentId(td: TrustDomain, method: string, parts: [field: string, value: string][]): SpiffeId {
  for (const [field, value] of parts) {
    if (!SEGMENT.test(value) || value === '.' || value === '..') {
      throw new AttestationError('invalid_argument', `ERR_${method.toUpperCase()}_ID_INVALID`,
        `${method}: ${field} ${JSON.stringify(value)} cannot be a SPIFFE ID path segment`);
    }
  }
  return agentId(td, method, ...parts.map(([, v]) => v));
}

/** `<method>:<key>:<value>` selectors, skipping absent values. */
export function cloudSelectors(method: string, pairs: [key: string, value: string | undefined][]): Selector[] {
  return pairs.filter((p): p is [string, string] => typeof p[1] === 'string' && p[1] !== '')
    .map(([k, v]) => makeSelector(method, `${k}:${v}`));
}
