import test from 'ava';
import { serverFactory } from '../../attestors/node/gcp-iit/server.ts';
import { agentFactory } from '../../attestors/node/gcp-iit/agent.ts';
import { AttestationError } from '../../common/errors.ts';
import { FakeClock } from '../../common/clock.ts';
import { context, deps, rejects, selectorStrings } from '../fakes/cloud-context.ts';
import { deadAddress } from '../fakes/cloud-http.ts';
import { makeJwtKey, mintJwt, nowSec, startFakeJwks, type FakeJwks, type TestJwtKey } from '../fakes/cloud-jwt.ts';
import { gcpClaims, startFakeGcpMetadata } from '../fakes/cloud-gcp-metadata.ts';

const AUD = 'tessera-gcp-node-attestor';
let google: TestJwtKey, rogue: TestJwtKey;
test.before(() => { google = makeJwtKey('google-key-1'); rogue = makeJwtKey('rogue-key'); });

function server(jwksServer: FakeJwks, extra: Record<string, unknown> = {}, clock?: FakeClock) {
  const config = serverFactory.config.parse({ jwks_url: jwksServer.keysUrl, projects: ['tessera-prod'], ...extra }, 'node_attestors.gcp_iit');
  return serverFactory.create(config, deps(clock));
}
const payload = (token: string) => new TextEncoder().encode(JSON.stringify({ token }));

test('attests with an identity token from the metadata server: agent ID and selectors', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const md = await startFakeGcpMetadata(t, google);
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: md.url }, 'node_attestor.gcp_iit'), deps());
  const r = await server(jwksServer).attest(await agent.payload(), context());
  t.is(r.agentId.toString(), 'spiffe://example.org/tessera/agent/gcp_iit/tessera-prod/5551234567890123456');
  t.true(r.trustOnFirstUse);
  t.deepEqual(selectorStrings(r), [
    'gcp_iit:instance-name:agent-vm-1', 'gcp_iit:project-id:tessera-prod',
    'gcp_iit:sa:1234567890-compute@developer.gserviceaccount.com', 'gcp_iit:zone:us-central1-a',
  ]);
  const q = md.requests[0];
  t.is(q.path, '/computeMetadata/v1/instance/service-accounts/default/identity');
  t.is(q.headers['metadata-flavor'], 'Google');
  t.is(q.query.get('audience'), AUD);
  t.is(q.query.get('format'), 'full');
});

test('caches Google keys and refetches them when a token names an unknown kid (rotation)', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const clock = new FakeClock(Date.now());
  const s = server(jwksServer, { keys_min_refresh: '30s' }, clock);
  await s.attest(payload(await mintJwt(google, gcpClaims(AUD))), context());
  await s.attest(payload(await mintJwt(google, gcpClaims(AUD))), context());
  t.is(jwksServer.fetches(), 1, 'second attestation used the cached keys');
  const next = makeJwtKey('google-key-2');
  jwksServer.setKeys([google, next]);
  clock.advance(31_000);
  const r = await s.attest(payload(await mintJwt(next, gcpClaims(AUD))), context());
  t.regex(r.agentId.toString(), /gcp_iit\/tessera-prod\//);
  t.is(jwksServer.fetches(), 2);
});

test('rejects a token signed by an untrusted key under a trusted kid', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const forged = await mintJwt(rogue, gcpClaims(AUD), { kid: google.kid });
  await rejects(t, server(jwksServer).attest(payload(forged), context()), 'ERR_GCP_IIT_SIGNATURE_INVALID', /does not verify with trusted key "google-key-1"/);
});

test('rejects a token whose kid is not among Google\'s keys, after one refresh', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const s = server(jwksServer, { keys_min_refresh: '0s' });
  await rejects(t, s.attest(payload(await mintJwt(rogue, gcpClaims(AUD))), context()), 'ERR_GCP_IIT_KEY_UNKNOWN', /key id "rogue-key", which is not among the trusted keys/);
  t.is(jwksServer.fetches(), 2, 'first load + one refresh for the unknown kid');
});

test('rejects a tampered token (claims edited after signing)', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const [h, , sig] = (await mintJwt(google, gcpClaims(AUD))).split('.');
  const edited = Buffer.from(JSON.stringify(gcpClaims(AUD, {}, { project_id: 'tessera-prod', instance_id: '1' }))).toString('base64url');
  await rejects(t, server(jwksServer).attest(payload(`${h}.${edited}.${sig}`), context()), 'ERR_GCP_IIT_SIGNATURE_INVALID', /forged or altered/);
});

test('rejects an expired token', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims(AUD, { iat: nowSec() - 7200, exp: nowSec() - 3600 }));
  await rejects(t, server(jwksServer, { max_token_age: '1d' }).attest(payload(token), context()), 'ERR_GCP_IIT_EXPIRED', /token expired at/);
});

test('tolerates small clock skew on exp (leeway)', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims(AUD, { iat: nowSec() - 3620, exp: nowSec() - 20 }));
  const r = await server(jwksServer, { leeway: '60s', max_token_age: '2h' }).attest(payload(token), context());
  t.truthy(r.agentId);
});

test('rejects a token issued longer ago than max_token_age', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims(AUD, { iat: nowSec() - 1800 }));
  await rejects(t, server(jwksServer, { max_token_age: '10m' }).attest(payload(token), context()), 'ERR_GCP_IIT_TOO_OLD', /more than 600s before now/);
});

test('rejects a token for another audience', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims('https://some-other-service.example'));
  await rejects(t, server(jwksServer).attest(payload(token), context()), 'ERR_GCP_IIT_AUDIENCE_MISMATCH', /aud "https:\/\/some-other-service.example" is not the configured audience "tessera-gcp-node-attestor"/);
});

test('rejects a token from another issuer', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims(AUD, { iss: 'https://evil.example' }));
  await rejects(t, server(jwksServer).attest(payload(token), context()), 'ERR_GCP_IIT_ISSUER_MISMATCH', /iss "https:\/\/evil.example" is not the expected issuer "https:\/\/accounts.google.com"/);
});

test('rejects a project outside the projects allow-list', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const token = await mintJwt(google, gcpClaims(AUD, {}, { project_id: 'someone-else' }));
  await rejects(t, server(jwksServer).attest(payload(token), context()), 'ERR_GCP_IIT_PROJECT_NOT_ALLOWED', /project "someone-else" is not in projects/);
});

test('rejects algorithms other than RS256 before looking up keys', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const none = `${b64({ alg: 'none', kid: google.kid })}.${b64(gcpClaims(AUD))}.`;
  await rejects(t, server(jwksServer).attest(payload(none), context()), 'ERR_GCP_IIT_ALG_NOT_ALLOWED', /alg "none" is not allowed; only RS256/);
  const rs384 = await mintJwt(google, gcpClaims(AUD), { alg: 'RS384' });
  await rejects(t, server(jwksServer).attest(payload(rs384), context()), 'ERR_GCP_IIT_ALG_NOT_ALLOWED', /RS384/);
  t.is(jwksServer.fetches(), 0);
});

test('rejects a token without google.compute_engine claims (format=full missing)', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const claims = gcpClaims(AUD);
  delete claims.google;
  await rejects(t, server(jwksServer).attest(payload(await mintJwt(google, claims)), context()), 'ERR_GCP_IIT_CLAIMS_MISSING', /format=full/, 'invalid_argument');
});

test('rejects malformed payloads and tokens as invalid arguments', async (t) => {
  const jwksServer = await startFakeJwks(t, '/oauth2/v3/certs', [google]);
  const s = server(jwksServer);
  await rejects(t, s.attest(new TextEncoder().encode('[1]'), context()), 'ERR_GCP_IIT_PAYLOAD_MALFORMED', /JSON object/, 'invalid_argument');
  await rejects(t, s.attest(payload('not.a.jwt'), context()), 'ERR_GCP_IIT_TOKEN_MALFORMED', /not a JWT/, 'invalid_argument');
});

test('reports Google keys being unreachable as unavailable', async (t) => {
  const config = serverFactory.config.parse({ jwks_url: `${await deadAddress()}/oauth2/v3/certs`, projects: ['tessera-prod'] }, 'x');
  await rejects(t, serverFactory.create(config, deps()).attest(payload(await mintJwt(google, gcpClaims(AUD))), context()),
    'ERR_GCP_IIT_KEYS_UNAVAILABLE', /cannot fetch signing keys from .*ECONNREFUSED/, 'unavailable');
});

test('agent retries while the metadata server answers 503, then succeeds', async (t) => {
  const md = await startFakeGcpMetadata(t, google);
  md.failNext(1);
  const d = deps();
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: md.url, backoff: '10ms' }, 'x'), d);
  const body = JSON.parse(Buffer.from(await agent.payload()).toString()) as { token: string };
  t.is(body.token.split('.').length, 3);
  t.is(d.logger.records.filter((l) => l.msg === 'metadata service not available, retrying').length, 1);
});

test('agent reports a clear error when the metadata server is down, without crashing', async (t) => {
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: await deadAddress(), attempts: 2, backoff: '10ms' }, 'x'), deps());
  const err = await t.throwsAsync(agent.payload(), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_METADATA_UNAVAILABLE');
  t.regex(err!.message, /gcp_iit: metadata server at http:\/\/127\.0\.0\.1:\d+ is unavailable after 2 attempts: ECONNREFUSED/);
});

test('agent does not retry a request the metadata server rejects (HTTP 404)', async (t) => {
  const md = await startFakeGcpMetadata(t, google);
  const agent = agentFactory.create(agentFactory.config.parse({ metadata_url: `${md.url}/nothing-here`, backoff: '10ms' }, 'x'), deps());
  const err = await t.throwsAsync(agent.payload(), { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_METADATA_REQUEST_REJECTED');
  t.regex(err!.message, /HTTP 404/);
  t.is(md.requests.length, 1, 'no retry on 404');
});

test('server config requires a projects allow-list', (t) => {
  t.throws(() => serverFactory.config.parse({}, 'node_attestors.gcp_iit'), { message: /node_attestors\.gcp_iit\.projects: is required/ });
  t.throws(() => serverFactory.config.parse({ projects: [] }, 'node_attestors.gcp_iit'), { message: /must list at least one project ID/ });
});
