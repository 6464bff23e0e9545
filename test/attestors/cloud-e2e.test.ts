import test from 'ava';
import { startServer, sharedScope, attest, type TestServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { agentFactory as awsAgent } from '../../attestors/node/aws-iid/agent.ts';
import { agentFactory as gcpAgent } from '../../attestors/node/gcp-iit/agent.ts';
import { agentFactory as msiAgent } from '../../attestors/node/azure-msi/agent.ts';
import { agentFactory as imdsAgent } from '../../attestors/node/azure-imds/agent.ts';
import type { AgentAttestorFactory } from '../../attestors/node/types.ts';
import { deps } from '../fakes/cloud-context.ts';
import { makeAwsRegion, startFakeAwsImds } from '../fakes/cloud-aws-imds.ts';
import { makeJwtKey, mintJwt, startFakeJwks } from '../fakes/cloud-jwt.ts';
import { startFakeGcpMetadata } from '../fakes/cloud-gcp-metadata.ts';
import { PRINCIPAL, SUBSCRIPTION, TENANT, VM_ID, makeAzurePki, msiClaims, startFakeAzureAd, startFakeAzureImds } from '../fakes/cloud-azure.ts';

/**
 * Real tessera-server and tessera-agent processes against the fake metadata
 * services: the server halves are the production code, configured only with the
 * fakes' trust roots and addresses.
 */
const scope = sharedScope();
let srv: TestServer;
const urls: Record<string, string> = {};

/**
 * The fakes answer from this test process. On a busy machine an answer can take longer
 * than the methods' default 5 s fetch timeouts, and a failed key fetch is not retried
 * for keys_min_refresh (30 s): the agent then only logs "cannot attest …; retrying"
 * until it gives up. Generous per-fetch timeouts make slow mean slow, not unavailable.
 */
const SLOW_OK = { fetch_timeout: '60s' };
const agentAttestor = (method: string, section: Record<string, unknown>) =>
  ({ node_attestor: { method, [method]: { timeout: '60s', ...section } } });

test.before(async () => {
  const [aws, pki] = await Promise.all([makeAwsRegion('us-east-1'), makeAzurePki()]);
  const google = makeJwtKey('google-1'), entra = makeJwtKey('entra-1');
  const awsImds = await startFakeAwsImds(scope, aws);
  const jwks = await startFakeJwks(scope, '/oauth2/v3/certs', [google]);
  const gce = await startFakeGcpMetadata(scope, google);
  const ad = await startFakeAzureAd(scope, [entra]);
  const azure = await startFakeAzureImds(scope, { pki, msiToken: (resource) => mintJwt(entra, msiClaims(ad.issuerBase, resource)) });
  Object.assign(urls, { aws: awsImds.url, gce: gce.url, azure: azure.url });
  srv = await startServer(scope, {
    config: {
      node_attestors: {
        aws_iid: { rsa2048_certificates: { 'us-east-1': aws.rsa2048.pem }, rsa_sha256_certificates: { 'us-east-1': aws.rsa.pem } },
        gcp_iit: { jwks_url: jwks.keysUrl, projects: ['tessera-prod'], ...SLOW_OK },
        azure_msi: { discovery_url: ad.discoveryUrl, tenants: [TENANT], ...SLOW_OK },
        azure_imds: { roots: pki.root.pem, intermediates: pki.intermediate.pem, subscription_tenants: { [SUBSCRIPTION]: TENANT } },
      },
    },
  });
});
test.after.always(() => scope.cleanup());

/** The agent half run in-process, for a second attestation with fresh evidence from the same host. */
async function inProcessPayload<C>(f: AgentAttestorFactory<C>, section: Record<string, unknown>) {
  const a = f.create(f.config.parse({ timeout: '60s', ...section }, 'x'), deps());
  return { payload: await a.payload(), respond: a.respond?.bind(a) };
}

async function expectTofuDenied(t: import('ava').ExecutionContext, method: string, payload: Uint8Array, id: string) {
  const err = await t.throwsAsync(attest(srv, method, payload)) as Error & { code?: number; details?: string };
  t.is(err.code, 7, 'PERMISSION_DENIED');
  t.regex(err.details ?? err.message, new RegExp(`${id}.*already attested.*trust-on-first-use`));
}

test.serial('aws_iid: a real agent gets its SVID; the same instance cannot attest again until evicted', async (t) => {
  const agent = await startAgent(t, { server: srv, config: agentAttestor('aws_iid', { metadata_url: urls.aws }) });
  const id = 'spiffe://example.org/tessera/agent/aws_iid/123456789012/us-east-1/i-0123456789abcdef0';
  t.is(agent.spiffeId, id);
  const again = await inProcessPayload(awsAgent, { metadata_url: urls.aws });
  await expectTofuDenied(t, 'aws_iid', again.payload, id);
  const ev = await srv.cli(['agent', 'evict', id]);
  t.is(ev.code, 0, ev.stderr);
  const after = await attest(srv, 'aws_iid', again.payload);
  t.is(after.id, id);
  t.true(after.selectors.some((s) => s.type === 'aws_iid' && s.value === 'instance:id:i-0123456789abcdef0'));
});

test.serial('gcp_iit: a real agent gets its SVID; a second token for the same instance is refused (TOFU)', async (t) => {
  const agent = await startAgent(t, { server: srv, config: agentAttestor('gcp_iit', { metadata_url: urls.gce }) });
  const id = 'spiffe://example.org/tessera/agent/gcp_iit/tessera-prod/5551234567890123456';
  t.is(agent.spiffeId, id);
  await expectTofuDenied(t, 'gcp_iit', (await inProcessPayload(gcpAgent, { metadata_url: urls.gce })).payload, id);
});

test.serial('azure_msi: a real agent gets its SVID; a second token for the same principal is refused (TOFU)', async (t) => {
  const agent = await startAgent(t, { server: srv, config: agentAttestor('azure_msi', { metadata_url: urls.azure }) });
  const id = `spiffe://example.org/tessera/agent/azure_msi/${TENANT}/${PRINCIPAL}`;
  t.is(agent.spiffeId, id);
  await expectTofuDenied(t, 'azure_msi', (await inProcessPayload(msiAgent, { metadata_url: urls.azure })).payload, id);
});

test.serial('azure_imds: a real agent answers the nonce challenge and gets its SVID; nonce-bound, so it may attest again', async (t) => {
  const agent = await startAgent(t, { server: srv, config: agentAttestor('azure_imds', { metadata_url: urls.azure }) });
  const id = `spiffe://example.org/tessera/agent/azure_imds/${TENANT}/${SUBSCRIPTION}/${VM_ID}`;
  t.is(agent.spiffeId, id);
  const again = await inProcessPayload(imdsAgent, { metadata_url: urls.azure });
  const r = await attest(srv, 'azure_imds', again.payload, { respond: again.respond });
  t.is(r.id, id);
  t.true(r.selectors.some((s) => s.type === 'azure_imds' && s.value === `vm-id:${VM_ID}`));
});

test.serial('azure_imds: an answer bound to another nonce is refused by the real server', async (t) => {
  const again = await inProcessPayload(imdsAgent, { metadata_url: urls.azure });
  // Replays the document obtained for the first challenge against a second attestation.
  let captured: Uint8Array | undefined;
  await attest(srv, 'azure_imds', again.payload, { respond: async (c) => (captured = await again.respond!(c)) });
  const err = await t.throwsAsync(attest(srv, 'azure_imds', again.payload, { respond: () => captured! })) as Error & { code?: number; details?: string };
  t.is(err.code, 7);
  t.regex(err.details ?? '', /nonce .* is not the nonce this server sent/);
});
