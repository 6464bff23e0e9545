import { randomBytes, sign } from 'node:crypto';
import { makeCert, type TestCert } from './cloud-pki.ts';
import { opensslPkcs7, signPkcs7 } from './cloud-pkcs7.ts';
import { startHttpServer, type FakeHttpServer, type Scope } from './cloud-http.ts';

/**
 * A fake EC2 instance metadata service speaking IMDSv2: PUT /latest/api/token with
 * X-aws-ec2-metadata-token-ttl-seconds, then GETs that must carry
 * X-aws-ec2-metadata-token. Documents are signed by test "AWS" region keys.
 */

export interface AwsRegionKeys {
  region: string;
  /** Stands in for the AWS RSA-2048 certificate (PKCS#7 rsa2048). */
  rsa2048: TestCert;
  /** Stands in for the AWS RSA certificate (base64 RSA-SHA256 signature). */
  rsa: TestCert;
}

export async function makeAwsRegion(region: string): Promise<AwsRegionKeys> {
  const [rsa2048, rsa] = await Promise.all([
    makeCert({ subject: `C=US, O=Test Amazon Web Services LLC, CN=${region} rsa2048` }),
    makeCert({ subject: `C=US, O=Test Amazon Web Services LLC, CN=${region} rsa` }),
  ]);
  return { region, rsa2048, rsa };
}

export interface DocFields {
  accountId?: string; region?: string; availabilityZone?: string; instanceId?: string;
  instanceType?: string; imageId?: string; pendingTime?: string; [k: string]: unknown;
}

/** Document bytes in IMDS's own layout (pretty-printed, " : " separators). */
export function awsDocument(f: DocFields = {}): Uint8Array {
  const doc = {
    accountId: '123456789012', architecture: 'x86_64', availabilityZone: 'us-east-1a', billingProducts: null,
    devpayProductCodes: null, marketplaceProductCodes: null, imageId: 'ami-0abcdef1234567890',
    instanceId: 'i-0123456789abcdef0', instanceType: 't3.micro', kernelId: null,
    pendingTime: new Date(Date.now() - 600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    privateIp: '10.0.0.12', ramdiskId: null, region: 'us-east-1', version: '2017-09-30', ...f,
  };
  return new TextEncoder().encode(JSON.stringify(doc, null, 2).replace(/": /g, '" : '));
}

export function rsa2048Of(doc: Uint8Array, keys: AwsRegionKeys, extra: { signOver?: Uint8Array; content?: Uint8Array } = {}): string {
  return Buffer.from(signPkcs7({ content: extra.content ?? doc, privateKey: keys.rsa2048.privateKey, signerCertDer: keys.rsa2048.der, signOver: extra.signOver }))
    .toString('base64').replace(/(.{64})/g, '$1\n');
}

/** The PKCS#7 bytes as IMDS serves them (base64 in 64-column lines). */
export const imdsBase64 = (p7: Uint8Array): string => Buffer.from(p7).toString('base64').replace(/(.{64})/g, '$1\n');

/**
 * rsa2048 made by `openssl cms -sign` like a real instance's: `ber` is the streamed,
 * indefinite-length, chunked form EC2 serves; no certificates embedded.
 */
export function rsa2048Openssl(doc: Uint8Array, keys: AwsRegionKeys, form: 'ber' | 'der', tool: 'cms' | 'smime' = 'cms'): Uint8Array {
  return opensslPkcs7({ content: doc, signer: keys.rsa2048, form, tool, embedSigner: false });
}

export function signatureOf(doc: Uint8Array, keys: AwsRegionKeys): string {
  return sign('sha256', doc, keys.rsa.privateKey).toString('base64').replace(/(.{64})/g, '$1\n');
}

export interface FakeAwsImds extends FakeHttpServer {
  set(evidence: { document: Uint8Array; rsa2048: string; signature: string }): void;
}

export async function startFakeAwsImds(t: Scope, keys: AwsRegionKeys, doc = awsDocument()): Promise<FakeAwsImds> {
  let ev = { document: doc, rsa2048: rsa2048Of(doc, keys), signature: signatureOf(doc, keys) };
  const tokens = new Set<string>();
  const srv = await startHttpServer(t, (req, _body, res) => {
    if (req.method === 'PUT' && req.path === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) { res.writeHead(400).end(); return; }
      const token = randomBytes(24).toString('base64');
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) }).end(token);
      return;
    }
    if (req.method !== 'GET') { res.writeHead(405).end(); return; }
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) { res.writeHead(401).end(); return; }
    const leaf = /^\/latest\/dynamic\/instance-identity\/(document|rsa2048|signature)$/.exec(req.path)?.[1];
    if (!leaf) { res.writeHead(404).end(); return; }
    const body = leaf === 'document' ? ev.document : ev[leaf as 'rsa2048' | 'signature'];
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  return Object.assign(srv, { set: (e: typeof ev) => { ev = e; } });
}
