import { AttestationError } from '../../../common/errors.ts';
import { decodeJsonObject, optionalString, requireString } from '../cloud/evidence.ts';

/** The signed content of an Azure attested document. */
export interface AttestedDocument {
  nonce: string;
  vmId: string;
  subscriptionId: string;
  sku?: string;
  createdOn: Date;
  expiresOn: Date;
}

const CODE = 'ERR_AZURE_IMDS_DOCUMENT_MALFORMED';
const WHAT = 'azure_imds: attested document';

export function parseAttestedDocument(bytes: Uint8Array): AttestedDocument {
  const o = decodeJsonObject(bytes, CODE, WHAT);
  const ts = o.timeStamp;
  if (typeof ts !== 'object' || ts === null) throw new AttestationError('invalid_argument', CODE, `${WHAT} has no timeStamp`);
  const t = ts as Record<string, unknown>;
  return {
    nonce: requireString(o, 'nonce', CODE, WHAT),
    vmId: requireString(o, 'vmId', CODE, WHAT),
    subscriptionId: requireString(o, 'subscriptionId', CODE, WHAT),
    sku: optionalString(o, 'sku'),
    createdOn: parseImdsTime(requireString(t, 'createdOn', CODE, `${WHAT} timeStamp`), 'createdOn'),
    expiresOn: parseImdsTime(requireString(t, 'expiresOn', CODE, `${WHAT} timeStamp`), 'expiresOn'),
  };
}

/** IMDS writes times as "MM/DD/YY HH:MM:SS -0000". */
export function parseImdsTime(s: string, field: string): Date {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) throw new AttestationError('invalid_argument', CODE, `${WHAT} timeStamp.${field} ${JSON.stringify(s)} is not "MM/DD/YY HH:MM:SS -0000"`);
  const [, mo, d, y, h, mi, se, sign, oh, om] = m;
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return new Date(Date.UTC(2000 + Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)) - offsetMs);
}

/** The inverse, for fakes and tests. */
export function formatImdsTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} -0000`;
}
