import test from 'ava';
import { createHash, randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { AGENT_CLAIMS_OID } from '../../spiffe/agent-claims.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { readTlv } from '../../spiffe/der.ts';
import { agentClaimsFromCertificate, encodeAgentClaimsExtension } from '../../spiffe/x509svid/claims-extension.ts';
import { OID } from '../../spiffe/x509svid/oids.ts';
import { createLeafIssuer, type LeafParams } from '../../spiffe/x509svid/template.ts';
import { keyPair, makeRootCa, type KeyKind, type TestCa } from '../helpers/pki.ts';

/**
 * Differential test of the single-allocation TBS writer (spiffe/x509svid/tbs-writer.ts):
 * for random leaf parameters, the TBSCertificate it signs must be byte-for-byte the one
 * @peculiar/asn1-x509's schema encoder produces from the same fields.
 */

const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789';
const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)]!;
const word = (n: number) => Array.from({ length: n }, () => pick([...ALPHA])).join('');
// Claim values: ASCII, quotes, multi-byte UTF-8 and astral characters, long enough for 2-byte DER lengths.
const claimText = () => Array.from({ length: randomInt(0, 300) }, () => pick(['a', 'Z', '"', 'é', '漢', '🤖', ' ', '\\'])).join('');

function randomDate(): Date {
  return new Date(Date.UTC(1950, 0, 1) + randomInt(0, 2 ** 47 - 1) % (Date.UTC(2100, 0, 1) - Date.UTC(1950, 0, 1)));
}

function randomIp(): string {
  if (randomInt(2) === 0) return Array.from({ length: 4 }, () => randomInt(256)).join('.');
  const groups = Array.from({ length: 8 }, () => randomInt(0x10000).toString(16));
  return randomInt(3) === 0 ? `${groups.slice(0, 3).join(':')}::${groups[7]}` : groups.join(':');
}

function randomParams(key: KeyObject): LeafParams {
  const [a, b] = [randomDate(), randomDate()].sort((x, y) => x.getTime() - y.getTime());
  const claims: AgentClaims = {};
  for (const k of ['agent_model', 'agent_provider', 'agent_version', 'agent_instance_id'] as const) if (randomInt(2)) claims[k] = claimText();
  const serial = randomBytes(randomInt(1, 21));
  if (randomInt(3) === 0) serial[0] = 0; // leading zero octets are dropped
  return {
    spiffeId: SpiffeId.parse(`spiffe://${word(randomInt(1, 20))}.org/${Array.from({ length: randomInt(1, 6) }, () => word(randomInt(1, 30))).join('/')}`),
    publicKey: randomInt(2) ? key : key.export({ type: 'spki', format: 'der' }),
    notBefore: a!, notAfter: new Date(b!.getTime() + 1000),
    dnsNames: Array.from({ length: randomInt(0, 4) }, () => `${word(randomInt(1, 12))}.${word(3)}`),
    ipAddresses: Array.from({ length: randomInt(0, 3) }, randomIp),
    claims: randomInt(4) ? claims : undefined,
    serial,
    subject: pick([undefined, {}, { organization: 'Tessera', commonName: word(randomInt(1, 64)) }, { organization: word(randomInt(1, 200)) }]),
  };
}

const ext = (id: string, critical: boolean, value: ArrayBuffer | Uint8Array) =>
  new asn.Extension({ extnID: id, critical, extnValue: new OctetString(value instanceof Uint8Array ? Uint8Array.from(value).buffer : value) });

function nameOf(s: LeafParams['subject']): asn.Name {
  const subject = s ?? { organization: 'Tessera' };
  const rdn = (type: string, v: string) => new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type, value: new asn.AttributeValue({ utf8String: v }) })]);
  return new asn.Name([
    ...(subject.organization ? [rdn(OID.organization, subject.organization)] : []),
    ...(subject.commonName ? [rdn(OID.commonName, subject.commonName)] : []),
  ]);
}

/** The same TBSCertificate built field by field with the asn1-schema encoder. */
function referenceTbs(ca: TestCa, p: LeafParams): Uint8Array {
  const caCert = AsnConvert.parse(ca.certificate, asn.Certificate);
  const spki = p.publicKey instanceof Uint8Array ? p.publicKey : p.publicKey.export({ type: 'spki', format: 'der' });
  const spkiAsn = AsnConvert.parse(spki, asn.SubjectPublicKeyInfo);
  let serial = Uint8Array.from(p.serial!);
  while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  if (serial[0]! & 0x80) serial = Uint8Array.of(0, ...serial);
  const caSki = caCert.tbsCertificate.extensions!.find((e) => e.extnID === OID.subjectKeyIdentifier)!;
  const name = nameOf(p.subject);
  const names = [
    new asn.GeneralName({ uniformResourceIdentifier: p.spiffeId.toString() }),
    ...(p.dnsNames ?? []).map((d) => new asn.GeneralName({ dNSName: d })),
    ...(p.ipAddresses ?? []).map((ip) => new asn.GeneralName({ iPAddress: ip })),
  ];
  const extensions = [
    ext(OID.basicConstraints, true, AsnConvert.serialize(new asn.BasicConstraints({}))),
    ext(OID.keyUsage, true, AsnConvert.serialize(new asn.KeyUsage(asn.KeyUsageFlags.digitalSignature | asn.KeyUsageFlags.keyEncipherment | asn.KeyUsageFlags.keyAgreement))),
    ext(OID.extKeyUsage, false, AsnConvert.serialize(new asn.ExtendedKeyUsage([OID.serverAuth, OID.clientAuth]))),
    ext(OID.subjectAltName, name.length === 0, AsnConvert.serialize(new asn.SubjectAlternativeName(names))),
    ext(OID.subjectKeyIdentifier, false, AsnConvert.serialize(new asn.SubjectKeyIdentifier(createHash('sha1').update(new Uint8Array(spkiAsn.subjectPublicKey)).digest()))),
    ext(OID.authorityKeyIdentifier, false, AsnConvert.serialize(new asn.AuthorityKeyIdentifier({ keyIdentifier: new asn.KeyIdentifier(AsnConvert.parse(caSki.extnValue, asn.SubjectKeyIdentifier)) }))),
  ];
  if (p.claims && Object.keys(p.claims).length > 0) extensions.push(ext(AGENT_CLAIMS_OID, false, encodeAgentClaimsExtension(p.claims)));
  const tbs = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: serial.buffer.slice(serial.byteOffset, serial.byteOffset + serial.length) as ArrayBuffer,
    signature: caCert.signatureAlgorithm,
    issuer: caCert.tbsCertificate.subject,
    validity: new asn.Validity({ notBefore: p.notBefore, notAfter: p.notAfter }),
    subject: name,
    subjectPublicKeyInfo: spkiAsn,
    extensions: new asn.Extensions(extensions),
  });
  return new Uint8Array(AsnConvert.serialize(tbs));
}

/** The TBS bytes as signed (asn1js re-encodes the 128-bit arc of the claims OID wrongly, so no parse + serialize). */
function tbsOf(certDer: Uint8Array): Uint8Array {
  const outer = readTlv(certDer, 0);
  const tbs = readTlv(certDer, outer.valueStart, outer.end);
  return certDer.subarray(tbs.start, tbs.end);
}

for (const [caKind, leafKind] of [['P-256', 'P-256'], ['P-256', 'P-384'], ['RSA', 'P-256']] as [KeyKind, KeyKind][]) {
  test(`the TBS writer matches the asn1-schema encoder byte for byte on random leaves (${caKind} CA, ${leafKind} keys)`, async (t) => {
    const ca = await makeRootCa('example.org', { key: caKind });
    const issue = createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey });
    const keys = Array.from({ length: 8 }, () => keyPair(leafKind).publicKey);
    for (let i = 0; i < 150; i++) {
      const p = randomParams(pick(keys));
      const cert = issue(p);
      const ours = tbsOf(cert);
      t.deepEqual(Buffer.from(ours), Buffer.from(referenceTbs(ca, p)), `case ${i}: ${JSON.stringify({ ...p, publicKey: undefined, serial: Buffer.from(p.serial!).toString('hex') })}`);
      if (p.claims && Object.keys(p.claims).length > 0) {
        const want = Object.fromEntries(Object.entries(p.claims).filter(([, v]) => v !== ''));
        t.deepEqual(agentClaimsFromCertificate(cert), want);
      }
    }
  });
}
