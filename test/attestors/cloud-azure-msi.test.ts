import test from 'ava';
import { serverFactory } from '../../attestors/node/azure-msi/server.ts';
import { agentFactory } from '../../attestors/node/azure-msi/agent.ts';
import { AttestationError } from '../../common/errors.ts';
import { context, deps, rejects, selectorStrings } from '../fakes/cloud-context.ts';
import { deadAddress } from '../fakes/cloud-http.ts';
import { makeJwtKey, mintJwt, nowSec, type TestJwtKey } from '../fakes/cloud-jwt.ts';
import { PRINCIPAL, SUBSCRIPTION, TENANT, msiClaims, startFakeAzureAd, startFakeAzureImds, type FakeAzureAd } from '../fakes/cloud-azure.ts';

const RESOURCE = 'https://management.azure.com/';
let entra: TestJwtKey, rogue: TestJwtKey;
test.before(() => { entra = makeJwtKey('entra-key-1'); rogue = makeJwtKey('rogue'); });

function server(ad: FakeAzureAd, extra: Record<string, unknown> = {}) {
  const config = serverFactory.config.parse({ discovery_url: ad.discoveryUrl, tenants: [TENANT], ...extra }, 'node_attestors.azure_msi');
  return serverFactory.create(config, deps());
}
const payload = (token: string) => new TextEncoder().encode(JSON.stringify({ token }));

test('attests with a managed identity token from IMDS: agent ID and selectors', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const imds = await startFakeAzureImds(t, { msiToken: (resource) => mintJwt(entra, msiClaims(ad.issuerBase, resource)) });
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: imds.url }, 'node_attestor.azure_msi'), deps());
  const r = await server(ad).attest(await agent.payload(), context());
  t.is(r.agentId.toString(), `spiffe://example.org/tessera/agent/azure_msi/${TENANT}/${PRINCIPAL}`);
  t.true(r.trustOnFirstUse);
  t.deepEqual(selectorStrings(r), [
    `azure_msi:principal-id:${PRINCIPAL}`, 'azure_msi:resource-group:agents-rg', `azure_msi:subscription-id:${SUBSCRIPTION}`,
    `azure_msi:tenant-id:${TENANT}`, 'azure_msi:vm-name:agent-vm-1',
  ]);
  const q = imds.requests[0];
  t.is(q.path, '/metadata/identity/oauth2/token');
  t.is(q.headers['metadata'], 'true');
  t.is(q.query.get('resource'), RESOURCE);
  t.is(q.query.get('api-version'), '2018-02-01');
});

test('rejects a tenant that is not configured, before fetching anything', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(entra, msiClaims(ad.issuerBase, RESOURCE, { tid: '00000000-1111-2222-3333-444444444444' }));
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_TENANT_NOT_ALLOWED', /tenant "00000000-1111-2222-3333-444444444444" is not in tenants/);
  t.is(ad.requests.length, 0);
});

test('rejects a token signed by a key that is not the tenant\'s', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(rogue, msiClaims(ad.issuerBase, RESOURCE), { kid: entra.kid });
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_SIGNATURE_INVALID', /does not verify with trusted key "entra-key-1"/);
});

test('rejects a tampered token', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const [h, , s] = (await mintJwt(entra, msiClaims(ad.issuerBase, RESOURCE))).split('.');
  const edited = Buffer.from(JSON.stringify(msiClaims(ad.issuerBase, RESOURCE, { sub: 'someone-else' }))).toString('base64url');
  await rejects(t, server(ad).attest(payload(`${h}.${edited}.${s}`), context()), 'ERR_AZURE_MSI_SIGNATURE_INVALID', /forged or altered/);
});

test('rejects a token for another resource (audience)', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(entra, msiClaims(ad.issuerBase, 'https://vault.azure.net'));
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_AUDIENCE_MISMATCH', /aud "https:\/\/vault.azure.net" is not the configured audience "https:\/\/management.azure.com\/"/);
});

test('rejects a token whose issuer is not the tenant\'s', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(entra, msiClaims(ad.issuerBase, RESOURCE, { iss: 'https://sts.windows.net/00000000-1111-2222-3333-444444444444/' }));
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_ISSUER_MISMATCH', new RegExp(`is not the expected issuer "https://sts.windows.net/${TENANT}/"`));
});

test('rejects an expired token', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(entra, msiClaims(ad.issuerBase, RESOURCE, { iat: nowSec() - 90000, nbf: nowSec() - 90000, exp: nowSec() - 3600 }));
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_EXPIRED', /token expired at/);
});

test('rejects a token that is not valid yet', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const token = await mintJwt(entra, msiClaims(ad.issuerBase, RESOURCE, { nbf: nowSec() + 3600 }));
  await rejects(t, server(ad).attest(payload(token), context()), 'ERR_AZURE_MSI_NOT_YET_VALID', /not valid before/);
});

test('reports tenant discovery being unreachable as unavailable', async (t) => {
  const config = serverFactory.config.parse({ discovery_url: `${await deadAddress()}/{tenant}/.well-known/openid-configuration`, tenants: [TENANT] }, 'x');
  const token = await mintJwt(entra, msiClaims('https://sts.windows.net', RESOURCE));
  await rejects(t, serverFactory.create(config, deps()).attest(payload(token), context()), 'ERR_AZURE_MSI_DISCOVERY_UNAVAILABLE', /ECONNREFUSED/, 'unavailable');
});

test('agent retries while IMDS says the identity is not assigned yet (404), then succeeds', async (t) => {
  const ad = await startFakeAzureAd(t, [entra]);
  const imds = await startFakeAzureImds(t, { msiToken: (resource) => mintJwt(entra, msiClaims(ad.issuerBase, resource)) });
  const d = deps();
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: imds.url, backoff: '10ms' }, 'x'), d);
  imds.failNext(2, 404);
  const r = await server(ad).attest(await agent.payload(), context());
  t.is(imds.requests.length, 3);
  t.regex(String(d.logger.records[0].reason), /HTTP 404/);
  t.regex(r.agentId.toString(), /azure_msi\//);
});

test('agent reports a clear error when IMDS is down, without crashing', async (t) => {
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: await deadAddress(), attempts: 2, backoff: '10ms' }, 'x'), deps());
  const err = await t.throwsAsync(agent.payload(), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_METADATA_UNAVAILABLE');
  t.regex(err!.message, /azure_msi: instance metadata service at .* is unavailable after 2 attempts: ECONNREFUSED/);
});

test('server config requires tenants and a {tenant} discovery template', (t) => {
  t.throws(() => serverFactory.config.parse({}, 'node_attestors.azure_msi'), { message: /tenants: is required/ });
  t.throws(() => serverFactory.config.parse({ tenants: [TENANT], discovery_url: 'https://login.example/x' }, 'node_attestors.azure_msi'), { message: /must contain \{tenant\}/ });
});
