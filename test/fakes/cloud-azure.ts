import type { JWTPayload } from 'jose';
import { formatImdsTime } from '../../attestors/node/azure-imds/document.ts';
import { sendJson, startHttpServer, type FakeHttpServer, type Scope } from './cloud-http.ts';
import { jwks, mintJwt, nowSec, type TestJwtKey } from './cloud-jwt.ts';
import { makeCert, type TestCert } from './cloud-pki.ts';
import { opensslPkcs7, signPkcs7 } from './cloud-pkcs7.ts';

/**
 * Fakes for Azure: the instance metadata service (managed identity tokens and
 * attested documents, `Metadata: true` required) and Microsoft Entra's per-tenant
 * OpenID discovery + keys. Attested documents are signed by a test "metadata.azure.com"
 * certificate under a test root and intermediate.
 */

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const SUBSCRIPTION = '8d10da13-8125-4ba9-a717-bf7490507b3d';
export const VM_ID = '02aab8a4-74ef-476e-8182-f6d2ba4166a6';
export const PRINCIPAL = 'b7c3a2d1-0f1e-4d5c-9b8a-7f6e5d4c3b2a';

export function msiClaims(issuerBase: string, aud: string, over: JWTPayload = {}): JWTPayload {
  const now = nowSec();
  const tid = (over.tid as string | undefined) ?? TENANT;
  return {
    aud, iss: `${issuerBase}/${tid}/`, iat: now - 5, nbf: now - 5, exp: now + 3600, aio: 'x', appid: 'c0ffee00-0000-4000-8000-000000000001',
    appidacr: '2', idp: `${issuerBase}/${tid}/`, oid: PRINCIPAL, rh: 'x', sub: PRINCIPAL, tid, uti: 'x', ver: '1.0',
    xms_mirid: `/subscriptions/${SUBSCRIPTION}/resourcegroups/agents-rg/providers/Microsoft.Compute/virtualMachines/agent-vm-1`,
    ...over,
  };
}

/** Entra ID stand-in: /<tenant>/.well-known/openid-configuration and /common/discovery/keys. */
export interface FakeAzureAd extends FakeHttpServer { discoveryUrl: string; issuerBase: string; setKeys(k: TestJwtKey[]): void }

export async function startFakeAzureAd(t: Scope, keys: TestJwtKey[]): Promise<FakeAzureAd> {
  let current = await jwks(keys);
  let pending: Promise<void> = Promise.resolve();
  const issuerBase = 'https://sts.windows.net';
  const srv = await startHttpServer(t, (req, _b, res) => {
    const m = /^\/([^/]+)\/\.well-known\/openid-configuration$/.exec(req.path);
    if (m) {
      sendJson(res, 200, { issuer: `${issuerBase}/${m[1]}/`, jwks_uri: `${srv.url}/common/discovery/keys`, id_token_signing_alg_values_supported: ['RS256'] });
      return;
    }
    if (req.path === '/common/discovery/keys') { void pending.then(() => sendJson(res, 200, current)); return; }
    res.writeHead(404).end();
  });
  return Object.assign(srv, {
    discoveryUrl: `${srv.url}/{tenant}/.well-known/openid-configuration`, issuerBase,
    setKeys: (k: TestJwtKey[]) => { pending = jwks(k).then((j) => { current = j; }); },
  });
}

export interface AzurePki { root: TestCert; intermediate: TestCert; signer: TestCert }

export async function makeAzurePki(signerNames = ['metadata.azure.com', 'eastus.metadata.azure.com'], rootName = 'Test Microsoft RSA Root CA'): Promise<AzurePki> {
  const root = await makeCert({ subject: `C=US, O=Test Microsoft, CN=${rootName}`, ca: true });
  const intermediate = await makeCert({ subject: 'C=US, O=Test Microsoft, CN=Test Microsoft Azure RSA TLS Issuing CA', ca: true, issuer: root });
  const signer = await makeCert({ subject: `C=US, O=Test Microsoft, CN=${signerNames[0]}`, issuer: intermediate, dnsNames: signerNames });
  return { root, intermediate, signer };
}

export interface AttestedOptions {
  nonce: string;
  subscriptionId?: string;
  vmId?: string;
  createdOn?: Date;
  expiresOn?: Date;
}

export function attestedContent(o: AttestedOptions): Uint8Array {
  const created = o.createdOn ?? new Date();
  return new TextEncoder().encode(JSON.stringify({
    licenseType: '', nonce: o.nonce, plan: { name: '', product: '', publisher: '' }, sku: '22_04-lts-gen2',
    subscriptionId: o.subscriptionId ?? SUBSCRIPTION,
    timeStamp: { createdOn: formatImdsTime(created), expiresOn: formatImdsTime(o.expiresOn ?? new Date(created.getTime() + 6 * 3600_000)) },
    vmId: o.vmId ?? VM_ID,
  }));
}

/** IMDS's answer: signed by `signer`, embedding only the signer certificate (as Azure does). */
export function attestedAnswer(content: Uint8Array, signer: TestCert, opts: { signWith?: TestCert; signOver?: Uint8Array; embed?: Uint8Array[] } = {}): Uint8Array {
  const p7 = signPkcs7({
    content, privateKey: (opts.signWith ?? signer).privateKey, signerCertDer: signer.der, embed: opts.embed ?? [signer.der],
    digestOid: '1.2.840.113549.1.1.11', signOver: opts.signOver,
  });
  return attestedAnswerOf(p7);
}

/** The same answer signed by `openssl cms -sign` (`ber`: streamed, chunked), embedding the signer certificate. */
export function attestedAnswerOpenssl(content: Uint8Array, signer: TestCert, form: 'ber' | 'der', tool: 'cms' | 'smime' = 'cms'): Uint8Array {
  return attestedAnswerOf(opensslPkcs7({ content, signer, form, tool }));
}

/** Wraps PKCS#7 bytes in IMDS's JSON answer. */
export function attestedAnswerOf(p7: Uint8Array): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ encoding: 'pkcs7', signature: Buffer.from(p7).toString('base64') }));
}

export interface FakeAzureImdsOptions {
  /** Mints the MSI access token for a resource. */
  msiToken?: (resource: string) => Promise<string>;
  pki?: AzurePki;
  /** Makes the attested document for the nonce IMDS was asked for (default: honest). */
  attested?: (nonce: string) => Uint8Array;
}

export async function startFakeAzureImds(t: Scope, o: FakeAzureImdsOptions): Promise<FakeHttpServer> {
  return startHttpServer(t, (req, _b, res) => {
    if (req.headers['metadata'] !== 'true') { sendJson(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' }); return; }
    if (!req.query.get('api-version')) { sendJson(res, 400, { error: 'Bad request. api-version was not specified in the request' }); return; }
    if (req.path === '/metadata/identity/oauth2/token' && o.msiToken) {
      const resource = req.query.get('resource');
      if (!resource) { sendJson(res, 400, { error: 'invalid_request', error_description: 'Required query variable resource is missing' }); return; }
      void o.msiToken(resource).then((token) => sendJson(res, 200, {
        access_token: token, client_id: 'c0ffee00-0000-4000-8000-000000000001', expires_in: '86399',
        expires_on: String(nowSec() + 86399), ext_expires_in: '86399', not_before: String(nowSec()), resource, token_type: 'Bearer',
      }));
      return;
    }
    if (req.path === '/metadata/attested/document' && o.pki) {
      const nonce = req.query.get('nonce') ?? formatImdsTime(new Date()).replace(/\D/g, '');
      const body = o.attested ? o.attested(nonce) : attestedAnswer(attestedContent({ nonce }), o.pki.signer);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
}
