import { TAG, oid, seq, set, tlv, utf8String } from '../der.ts';
import { X509SvidError } from '../errors.ts';
import { OID } from './oids.ts';

export interface NameParams {
  organization?: string;
  commonName?: string;
  /** X.520 serialNumber attribute: keeps CA subjects distinct across rotations, as SPIRE does. */
  serialNumber?: string;
}

/** Name with one RDN per attribute in the order O, CN, serialNumber; UTF8String values (RFC 5280 4.1.2.6). */
export function encodeName(s: NameParams): Uint8Array {
  const rdns: Uint8Array[] = [];
  if (s.organization) rdns.push(set(seq(oid(OID.organization), utf8String(s.organization))));
  if (s.commonName) {
    if (s.commonName.length > 64) throw new X509SvidError('ERR_X509SVID_INVALID', 'invalid_parameter', 'commonName exceeds 64 characters');
    rdns.push(set(seq(oid(OID.commonName), utf8String(s.commonName))));
  }
  if (s.serialNumber) {
    // X.520 requires PrintableString for serialNumber.
    if (!/^[A-Za-z0-9 '()+,\-./:=?]{1,64}$/.test(s.serialNumber)) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'invalid_parameter', 'serialNumber attribute must be a PrintableString of 1-64 characters');
    }
    rdns.push(set(seq(oid(OID.serialNumber), tlv(TAG.PRINTABLE_STRING, Buffer.from(s.serialNumber, 'latin1')))));
  }
  return seq(...rdns);
}
