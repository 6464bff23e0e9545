import { createHash, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, AlgorithmIdentifier, Time } from '@peculiar/asn1-x509';
import {
  Attribute, CertificateChoices, CertificateSet, ContentInfo, DigestAlgorithmIdentifiers, EncapsulatedContent,
  EncapsulatedContentInfo, IssuerAndSerialNumber, SignedData, SignerIdentifier, SignerInfo, SignerInfos, UnprotectedAttributes, id_data, id_signedData,
} from '@peculiar/asn1-cms';

/**
 * Builds CMS SignedData the way AWS (rsa2048) and Azure (attested document) do, with
 * @peculiar/asn1-cms, plus knobs to produce the bad variants tests need.
 */
export interface Pkcs7Options {
  content: Uint8Array;
  privateKey: KeyObject;
  /** Certificate named as the signer (issuer + serial). */
  signerCertDer: Uint8Array;
  /** Certificates to embed (Azure embeds the signer; AWS embeds none). */
  embed?: Uint8Array[];
  signedAttributes?: boolean;
  signingTime?: Date;
  detached?: boolean;
  /** Digest OID put in digestAlgorithm (Azure uses sha256WithRSAEncryption's OID here). */
  digestOid?: string;
  /** Sign this instead of `content` while embedding `content` (a tampered message). */
  signOver?: Uint8Array;
}

const SHA256 = '2.16.840.1.101.3.4.2.1';
const RSA = '1.2.840.113549.1.1.1';

function oidDer(oid: string): ArrayBuffer {
  // SEQUENCE { OID } → the OID TLV (short-form length: fits for these OIDs).
  const seq = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: oid })));
  return seq.slice(2).buffer;
}

export function signPkcs7(o: Pkcs7Options): Uint8Array {
  const signedOver = o.signOver ?? o.content;
  const cert = AsnConvert.parse(o.signerCertDer, Certificate);
  const digestOid = o.digestOid ?? SHA256;
  const signer = new SignerInfo({
    version: 1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: cert.tbsCertificate.issuer, serialNumber: cert.tbsCertificate.serialNumber }) }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithm: digestOid, parameters: null }),
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: RSA, parameters: null }),
    signature: new OctetString(new Uint8Array(1)),
  });
  if (o.signedAttributes !== false) {
    signer.signedAttrs = [
      new Attribute({ attrType: '1.2.840.113549.1.9.3', attrValues: [oidDer(id_data)] }),
      new Attribute({ attrType: '1.2.840.113549.1.9.5', attrValues: [AsnConvert.serialize(new Time(o.signingTime ?? new Date()))] }),
      new Attribute({ attrType: '1.2.840.113549.1.9.4', attrValues: [AsnConvert.serialize(new OctetString(createHash('sha256').update(signedOver).digest()))] }),
    ];
    const tbs = new Uint8Array(AsnConvert.serialize(new UnprotectedAttributes(signer.signedAttrs)));
    signer.signature = new OctetString(sign('sha256', tbs, o.privateKey));
  } else {
    signer.signature = new OctetString(sign('sha256', signedOver, o.privateKey));
  }
  const sd = new SignedData({
    version: 1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new AlgorithmIdentifier({ algorithm: digestOid, parameters: null })]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: id_data,
      eContent: o.detached ? undefined : new EncapsulatedContent({ single: new OctetString(o.content) }),
    }),
    signerInfos: new SignerInfos([signer]),
  });
  if (o.embed?.length) sd.certificates = new CertificateSet(o.embed.map((d) => new CertificateChoices({ certificate: AsnConvert.parse(d, Certificate) })));
  return new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(sd) })));
}
