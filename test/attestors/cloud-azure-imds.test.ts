import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverFactory } from '../../attestors/node/azure-imds/server.ts';
import { agentFactory } from '../../attestors/node/azure-imds/agent.ts';
import { AttestationError } from '../../common/errors.ts';
import { context, deps, rejects, selectorStrings } from '../fakes/cloud-context.ts';
import { deadAddress } from '../fakes/cloud-http.ts';
import {
  SUBSCRIPTION, TENANT, VM_ID, attestedAnswer, attestedContent, makeAzurePki, startFakeAzureImds, type AzurePki,
} from '../fakes/cloud-azure.ts';
import { makeCert } from '../fakes/cloud-pki.ts';

let pki: AzurePki, foreign: AzurePki, wrongName: AzurePki;
test.before(async () => {
  [pki, foreign] = await Promise.all([makeAzurePki(), makeAzurePki(undefined, 'Test Impostor Root')]);
  const signer = await makeCert({ subject: 'CN=metadata.azure.com.evil.example', issuer: pki.intermediate, dnsNames: ['metadata.azure.com.evil.example'] });
  wrongName = { ...pki, signer };
});

function server(extra: Record<string, unknown> = {}) {
  const config = serverFactory.config.parse({
    roots: pki.root.pem, intermediates: pki.intermediate.pem, subscription_tenants: { [SUBSCRIPTION]: TENANT }, ...extra,
  }, 'node_attestors.azure_imds');
  return serverFactory.create(config, deps());
}
function agent(url: string, extra: Record<string, unknown> = {}) {
  return agentFactory.create(agentFactory.config.parse({ metadata_url: url, backoff: '10ms', ...extra }, 'node_attestor.azure_imds'), deps());
}
/** A context whose challenge answers with `make(nonce)` instead of asking IMDS. */
const answering = (make: (nonce: string) => Uint8Array) => context(async (c) => make(Buffer.from(c).toString()));

test('attests with a nonce-bound attested document: agent ID and selectors, no TOFU', async (t) => {
  const imds = await startFakeAzureImds(t, { pki });
  const a = agent(imds.url);
  const ctx = context((c) => a.respond!(c));
  const r = await server().attest(await a.payload(), ctx);
  t.is(r.agentId.toString(), `spiffe://example.org/tessera/agent/azure_imds/${TENANT}/${SUBSCRIPTION}/${VM_ID}`);
  t.false(r.trustOnFirstUse);
  t.deepEqual(selectorStrings(r), [
    'azure_imds:sku:22_04-lts-gen2', `azure_imds:subscription-id:${SUBSCRIPTION}`, `azure_imds:tenant-id:${TENANT}`, `azure_imds:vm-id:${VM_ID}`,
  ]);
  const nonce = Buffer.from(ctx.challenges[0]).toString();
  t.regex(nonce, /^[0-9a-f]{32}$/);
  const q = imds.requests[0];
  t.is(q.path, '/metadata/attested/document');
  t.is(q.headers['metadata'], 'true');
  t.is(q.query.get('nonce'), nonce);
  t.truthy(q.query.get('api-version'));
});

test('each attestation uses a fresh nonce', async (t) => {
  const imds = await startFakeAzureImds(t, { pki });
  const a = agent(imds.url);
  const s = server();
  const c1 = context((c) => a.respond!(c)), c2 = context((c) => a.respond!(c));
  await s.attest(await a.payload(), c1);
  await s.attest(await a.payload(), c2);
  t.notDeepEqual(c1.challenges[0], c2.challenges[0]);
});

test('rejects a document bound to another nonce (replayed)', async (t) => {
  const old = attestedAnswer(attestedContent({ nonce: 'aaaabbbbccccddddeeeeffff00001111' }), pki.signer);
  await rejects(t, server().attest(new Uint8Array(), answering(() => old)), 'ERR_AZURE_IMDS_NONCE_MISMATCH', /nonce "aaaabbbbccccddddeeeeffff00001111" is not the nonce this server sent/);
});

test('rejects a signer certificate that does not chain to the configured roots', async (t) => {
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n }), foreign.signer))),
    'ERR_CHAIN_UNTRUSTED', /"metadata.azure.com" .* does not chain to a configured root/);
});

test('rejects a chaining signer certificate for another name', async (t) => {
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n }), wrongName.signer))),
    'ERR_AZURE_IMDS_SIGNER_NAME', /not metadata.azure.com/);
});

test('rejects a signature by an untrusted key under the genuine certificate', async (t) => {
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n }), pki.signer, { signWith: foreign.signer }))),
    'ERR_PKCS7_SIGNATURE_INVALID', /does not verify/);
});

test('rejects a document altered after signing', async (t) => {
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(
    attestedContent({ nonce: n, vmId: '11111111-2222-3333-4444-555555555555' }), pki.signer, { signOver: attestedContent({ nonce: n }) }))),
  'ERR_PKCS7_DIGEST_MISMATCH', /content was altered/);
});

test('rejects a subscription outside subscription_tenants', async (t) => {
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n, subscriptionId: 'ffffffff-0000-0000-0000-000000000000' }), pki.signer))),
    'ERR_AZURE_IMDS_SUBSCRIPTION_NOT_ALLOWED', /subscription ffffffff-0000-0000-0000-000000000000 is not in subscription_tenants/);
});

test('rejects an expired attested document', async (t) => {
  const createdOn = new Date(Date.now() - 8 * 3600_000);
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n, createdOn }), pki.signer))),
    'ERR_AZURE_IMDS_EXPIRED', /expired at/);
});

test('rejects an expired signer certificate', async (t) => {
  const old = await makeCert({ subject: 'CN=metadata.azure.com', issuer: pki.intermediate, dnsNames: ['metadata.azure.com'],
    notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
  await rejects(t, server().attest(new Uint8Array(), answering((n) => attestedAnswer(attestedContent({ nonce: n }), old))),
    'ERR_CHAIN_UNTRUSTED', /"metadata.azure.com" expired at/);
});

test('rejects answers that are not pkcs7 attested data', async (t) => {
  const s = server();
  await rejects(t, s.attest(new Uint8Array(), answering(() => new TextEncoder().encode('{"encoding":"base64","signature":"AA=="}'))),
    'ERR_AZURE_IMDS_RESPONSE_MALFORMED', /encoding "base64" is not pkcs7/, 'invalid_argument');
  await rejects(t, s.attest(new Uint8Array(), answering(() => new TextEncoder().encode('<html>'))),
    'ERR_AZURE_IMDS_RESPONSE_MALFORMED', /not JSON/, 'invalid_argument');
});

test('verifies attested data produced by an independent CMS implementation (openssl cms)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-cms-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cert.pem'), pki.signer.pem);
  writeFileSync(join(dir, 'key.pem'), pki.signer.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const make = (nonce: string, noattr: boolean) => {
    writeFileSync(join(dir, 'doc.json'), attestedContent({ nonce }));
    try {
      execFileSync('openssl', ['cms', '-sign', '-binary', '-nodetach', '-outform', 'DER', '-md', 'sha256', '-in', join(dir, 'doc.json'),
        '-signer', join(dir, 'cert.pem'), '-inkey', join(dir, 'key.pem'), '-out', join(dir, 'sig.der'), ...(noattr ? ['-noattr'] : [])], { stdio: 'pipe' });
    } catch (e) { throw new Error(`openssl cms failed: ${(e as Error).message}`); }
    return new TextEncoder().encode(JSON.stringify({ encoding: 'pkcs7', signature: readFileSync(join(dir, 'sig.der')).toString('base64') }));
  };
  try { execFileSync('openssl', ['version'], { stdio: 'pipe' }); } catch { t.log('openssl not installed'); t.pass(); return; }
  for (const noattr of [false, true]) {
    const r = await server().attest(new Uint8Array(), answering((n) => make(n, noattr)));
    t.regex(r.agentId.toString(), new RegExp(`azure_imds/${TENANT}/${SUBSCRIPTION}/${VM_ID}$`));
  }
});

test('agent refuses a nonce IMDS would not accept', async (t) => {
  const a = agent('http://127.0.0.1:9');
  await t.throwsAsync(a.respond!(new TextEncoder().encode('../../metadata/identity?x=')), { instanceOf: AttestationError, message: /1-32 alphanumeric/ });
});

test('agent reports a clear error when IMDS is down, without crashing', async (t) => {
  const a = agent(await deadAddress(), { attempts: 3 });
  const err = await t.throwsAsync(server().attest(await a.payload(), context((c) => a.respond!(c))), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_METADATA_UNAVAILABLE');
  t.regex(err!.message, /azure_imds: instance metadata service at .* is unavailable after 3 attempts: ECONNREFUSED/);
});

test('server config requires roots and subscription_tenants', (t) => {
  t.throws(() => serverFactory.config.parse({ subscription_tenants: { [SUBSCRIPTION]: TENANT } }, 'node_attestors.azure_imds'), { message: /roots: must be PEM text or a file path/ });
  t.throws(() => serverFactory.config.parse({ roots: pki.root.pem, subscription_tenants: {} }, 'node_attestors.azure_imds'), { message: /must map at least one subscription/ });
});
