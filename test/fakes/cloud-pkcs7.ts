import { execFileSync } from 'node:child_process';
import { createHash, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// ------------------------------------------------------------- openssl-made messages

/**
 * The same messages made by OpenSSL, as real signers write them. `ber` streams
 * (`-stream`): indefinite lengths and the content as a constructed OCTET STRING in
 * chunks of up to 4096 bytes, as AWS's rsa2048 documents are; `der` is OpenSSL's
 * default definite-length output. Made at test time from the test keys, never stored.
 */
export interface OpensslPkcs7Options {
  content: Uint8Array;
  signer: { pem: string; privateKey: KeyObject };
  form: 'ber' | 'der';
  /** `openssl cms` (default) or the older `openssl smime` front end. */
  tool?: 'cms' | 'smime';
  /** Embed the signer certificate (Azure does; AWS does not). */
  embedSigner?: boolean;
  /** No signed attributes: the signature covers the content itself. */
  noattr?: boolean;
}

export function opensslPkcs7(o: OpensslPkcs7Options): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'ts-p7-'));
  try {
    writeFileSync(join(dir, 'content'), o.content);
    writeFileSync(join(dir, 'cert.pem'), o.signer.pem);
    writeFileSync(join(dir, 'key.pem'), o.signer.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const args = [o.tool ?? 'cms', '-sign', '-binary', '-nodetach', '-outform', 'DER', '-md', 'sha256',
      '-in', join(dir, 'content'), '-signer', join(dir, 'cert.pem'), '-inkey', join(dir, 'key.pem'), '-out', join(dir, 'p7')];
    if (o.form === 'ber') args.push('-stream');
    if (o.embedSigner === false) args.push('-nocerts');
    if (o.noattr) args.push('-noattr');
    openssl(args);
    return new Uint8Array(readFileSync(join(dir, 'p7')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl cms -verify` of a message against `cert` alone (no chain building): OpenSSL's verdict. */
export function opensslVerifies(p7: Uint8Array, cert: { pem: string }): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'ts-p7-'));
  try {
    writeFileSync(join(dir, 'p7'), p7);
    writeFileSync(join(dir, 'cert.pem'), cert.pem);
    openssl(['cms', '-verify', '-inform', 'DER', '-in', join(dir, 'p7'), '-certfile', join(dir, 'cert.pem'), '-noverify', '-out', join(dir, 'out')]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * How the encapsulated content is encoded, read by `openssl asn1parse` (an independent
 * reader): whether it is a constructed indefinite-length OCTET STRING, and its chunks.
 */
export function contentEncoding(p7: Uint8Array): { constructed: boolean; indefinite: boolean; chunks: number } {
  const dir = mkdtempSync(join(tmpdir(), 'ts-p7-'));
  let lines: string[];
  try {
    writeFileSync(join(dir, 'p7'), p7);
    lines = openssl(['asn1parse', '-inform', 'DER', '-in', join(dir, 'p7')]).split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // pkcs7-data's OID line, then [0], then the content OCTET STRING.
  const at = lines.findIndex((l) => /OBJECT\s+:pkcs7-data/.test(l));
  const line = lines.slice(at + 1).filter((l) => /^\s*\d+:d=/.test(l))[1] ?? '';
  const depth = Number(/d=(\d+)/.exec(line)?.[1]);
  if (!/OCTET STRING/.test(line)) throw new Error(`no encapsulated content in:\n${lines.slice(0, at + 3).join('\n')}`);
  let chunks = 0;
  for (const l of lines.slice(at + 3)) {
    // Printable content spills onto lines of its own: only "offset:d=N" lines are TLVs.
    const m = /^\s*\d+:d=(\d+)/.exec(l);
    if (!m) continue;
    const d = Number(m[1]);
    if (d <= depth) break;
    if (d === depth + 1 && /prim:\s+OCTET STRING/.test(l)) chunks++;
  }
  return { constructed: /cons:\s+OCTET STRING/.test(line), indefinite: /l=inf/.test(line), chunks };
}

/** `buf` with its one occurrence of `from` overwritten by `to` (same length): content altered in place. */
export function replaceOnce(buf: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  if (from.length !== to.length) throw new Error('replaceOnce: lengths differ');
  const b = Buffer.from(buf);
  const i = b.indexOf(from);
  if (i < 0 || b.indexOf(from, i + 1) >= 0) throw new Error('replaceOnce: needle must occur exactly once');
  b.set(to, i);
  return new Uint8Array(b);
}

function openssl(args: string[]): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr || err.message}`);
  }
}
