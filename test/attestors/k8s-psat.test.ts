import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../common/config.ts';
import { ConfigError } from '../../common/errors.ts';
import { systemClock } from '../../common/clock.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { agentFactory } from '../../attestors/node/k8s_psat/agent.ts';
import { serverFactory } from '../../attestors/node/k8s_psat/server.ts';
import { FakeKubeApiServer } from '../fakes/kube-apiserver.ts';
import { context, deps, rejects, selectorStrings } from '../fakes/cloud-context.ts';
import { deadAddress } from '../fakes/cloud-http.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * k8s_psat, both halves in-process, against a fake kube-apiserver over TLS with bearer
 * authentication speaking the real TokenReview/Pod/Node JSON, and a real SQLite store
 * for the single-use record. The server code is the production code, configured with
 * the fake's address, CA and caller token only.
 */
const NODE_UID = '5dbb7b21-65fe-41e9-b1b0-0800277ac80f';
const POD_UID = '79261129-6b60-41e9-9054-0800277ac80f';
const AGENT_POD = 'tessera-agent-v5wgr';

async function setup(t: ExecutionContext, cluster: Record<string, unknown> = {}) {
  const api = await FakeKubeApiServer.start(t);
  api.nodes.push({ name: 'node-1', uid: NODE_UID, labels: { 'topology.kubernetes.io/zone': 'eu-west-1a', pool: 'agents' } });
  api.pods.push({
    uid: POD_UID, name: AGENT_POD, namespace: 'tessera', serviceAccount: 'tessera-agent', nodeName: 'node-1',
    labels: { app: 'tessera-agent', 'controller-revision-hash': '7c9d8f' }, containers: [{ name: 'agent', id: 'ab'.repeat(32), image: 'tessera:dev' }],
  });
  const store = await SqliteDatastore.open({ path: join(tempDir(t, 'kps-'), 'ds.sqlite3'), clock: systemClock });
  t.teardown(() => store.close());
  const section = {
    clusters: {
      'test-cluster': {
        api_server: api.url, ca_file: api.caPath, token_file: api.tokenPath,
        service_account_allow_list: ['tessera:tessera-agent'], ...cluster,
      },
    },
  };
  const server = serverFactory.create(parseConfig(serverFactory.config, section), { ...deps(), usedTokens: store } as Parameters<typeof serverFactory.create>[1]);
  const mint = (o: Partial<Parameters<FakeKubeApiServer['mintToken']>[0]> = {}) =>
    api.mintToken({ namespace: 'tessera', serviceAccount: 'tessera-agent', pod: AGENT_POD, ...o });
  const payload = (token: string, clusterName = 'test-cluster') => new TextEncoder().encode(JSON.stringify({ cluster: clusterName, token }));
  return { api, store, server, mint, payload };
}

test('attests the agent pod\'s node as spiffe://<td>/tessera/agent/k8s_psat/<cluster>/<node uid> with SPIRE\'s selectors', async (t) => {
  const { api, server, mint, payload } = await setup(t, { allowed_node_label_keys: ['topology.kubernetes.io/zone'], allowed_pod_label_keys: ['app'] });
  const r = await server.attest(payload(await mint()), context());
  t.is(r.agentId.toString(), `spiffe://example.org/tessera/agent/k8s_psat/test-cluster/${NODE_UID}`);
  t.false(r.trustOnFirstUse);
  t.deepEqual(selectorStrings(r), [
    'k8s_psat:agent_node_ip:10.0.0.11',
    'k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-west-1a',
    'k8s_psat:agent_node_name:node-1',
    `k8s_psat:agent_node_uid:${NODE_UID}`,
    'k8s_psat:agent_ns:tessera',
    `k8s_psat:agent_pod_label:app:tessera-agent`,
    `k8s_psat:agent_pod_name:${AGENT_POD}`,
    `k8s_psat:agent_pod_uid:${POD_UID}`,
    'k8s_psat:agent_sa:tessera-agent',
    'k8s_psat:cluster:test-cluster',
  ]);
  t.like(r.audit, { cluster: 'test-cluster', namespace: 'tessera', pod_uid: POD_UID, node_uid: NODE_UID });
  // One review, then the pod the token is bound to, then its node: every selector comes from the API.
  t.deepEqual(api.requests, [
    'POST /apis/authentication.k8s.io/v1/tokenreviews',
    `GET /api/v1/namespaces/tessera/pods/${AGENT_POD}`,
    'GET /api/v1/nodes/node-1',
  ]);
});

test('the agent half sends the cluster and the token file as it is at each attestation (the kubelet rotates it)', async (t) => {
  const dir = tempDir(t, 'kpa-');
  const path = join(dir, 'token');
  writeFileSync(path, 'first.jwt.token\n');
  const agent = agentFactory.create(parseConfig(agentFactory.config, { cluster: 'prod', token_path: path }), deps());
  t.deepEqual(JSON.parse(new TextDecoder().decode(await agent.payload())), { cluster: 'prod', token: 'first.jwt.token' });
  writeFileSync(path, 'second.jwt.token');
  t.deepEqual(JSON.parse(new TextDecoder().decode(await agent.payload())), { cluster: 'prod', token: 'second.jwt.token' });
  const missing = t.throws(() => agentFactory.create(parseConfig(agentFactory.config, { cluster: 'prod', token_path: join(dir, 'nope') }), deps()), { instanceOf: ConfigError });
  t.regex(missing!.message, /node_attestor\.k8s_psat\.token_path: cannot read .*nope: ENOENT/);
  t.regex(t.throws(() => parseConfig(agentFactory.config, {}), { instanceOf: ConfigError })!.message, /cluster: is required/);
});

test('the server config names the key of each mistake', async (t) => {
  const dir = tempDir(t, 'kpc-');
  const ca = join(dir, 'ca.crt');
  writeFileSync(ca, 'x');
  const parse = (clusters: unknown) => () => parseConfig(serverFactory.config, { clusters });
  const ok = { ca_file: ca, token_file: ca, service_account_allow_list: ['tessera:tessera-agent'] };
  t.regex(t.throws(parse({}), { instanceOf: ConfigError })!.message, /clusters: configure at least one cluster/);
  t.regex(t.throws(parse({ c: { ca_file: ca } }), { instanceOf: ConfigError })!.message, /clusters\.c\.service_account_allow_list: is required/);
  t.regex(t.throws(parse({ c: { ...ok, service_account_allow_list: ['tessera-agent'] } }), { instanceOf: ConfigError })!.message,
    /clusters\.c\.service_account_allow_list\[0\]: "tessera-agent" is not namespace:name/);
  t.regex(t.throws(parse({ c: { ...ok, audience: [] } }), { instanceOf: ConfigError })!.message, /clusters\.c\.audience: must list at least one audience/);
  t.regex(t.throws(parse({ 'a/b': ok }), { instanceOf: ConfigError })!.message, /clusters\.a\/b: cluster name must match/);
  t.regex(t.throws(parse({ c: { ...ok, api_server: 'http://10.0.0.1' } }), { instanceOf: ConfigError })!.message, /clusters\.c\.api_server: "http:\/\/10\.0\.0\.1" does not match/);
  const noCa = parseConfig(serverFactory.config, { clusters: { c: { ...ok, ca_file: join(dir, 'missing.crt') } } });
  t.regex(t.throws(() => serverFactory.create(noCa, { ...deps(), usedTokens: { useTokenOnce: async () => true } } as never), { instanceOf: ConfigError })!.message,
    /node_attestors\.k8s_psat\.clusters\.c\.ca_file: cannot read .*missing\.crt: ENOENT/);
});

test('each token is accepted once; a fresh token for the same node attests it again', async (t) => {
  const { server, mint, payload } = await setup(t);
  const token = await mint();
  const first = await server.attest(payload(token), context());
  await rejects(t, server.attest(payload(token), context()), 'ERR_K8S_PSAT_TOKEN_REUSED',
    new RegExp(`already used to attest ${first.agentId}; each token is accepted once`));
  const again = await server.attest(payload(await mint()), context());
  t.is(again.agentId.toString(), first.agentId.toString());
});

test('refuses expired tokens and tokens for another audience before asking the API server', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  await rejects(t, server.attest(payload(await mint({ expiresIn: -5 })), context()), 'ERR_K8S_PSAT_TOKEN_EXPIRED', /^k8s_psat: token expired at \S+Z \(now \S+Z\)$/);
  await rejects(t, server.attest(payload(await mint({ audience: ['vault'] })), context()), 'ERR_K8S_PSAT_AUDIENCE_MISMATCH',
    /token is for audience \["vault"\], not \["tessera-server"\] \(project the agent's token with audience tessera-server\)/);
  t.deepEqual(api.requests, []);
});

test('refuses what TokenReview refuses, with the API server\'s reason', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  const forged = await mint({ signingKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
  await rejects(t, server.attest(payload(forged), context()), 'ERR_K8S_PSAT_TOKEN_REJECTED',
    /cluster "test-cluster": TokenReview did not authenticate the token: \[invalid bearer token, square\/go-jose: error in cryptographic primitive\]/);
  // Deleting the pod invalidates every token bound to it.
  const token = await mint();
  api.pods.splice(0, 1);
  await rejects(t, server.attest(payload(token), context()), 'ERR_K8S_PSAT_TOKEN_REJECTED', /\[invalid bearer token, service account token has been invalidated\]/);
});

test('refuses service accounts outside the allow list and tokens bound to no pod', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  api.pods.push({ uid: '0f1e2d3c-4b5a-4968-8776-655443322110', name: 'web-0', namespace: 'default', serviceAccount: 'web', containers: [] });
  await rejects(t, server.attest(payload(await mint({ namespace: 'default', serviceAccount: 'web', pod: 'web-0' })), context()),
    'ERR_K8S_PSAT_SERVICE_ACCOUNT_NOT_ALLOWED', /cluster "test-cluster": service account "default:web" is not in service_account_allow_list/);
  await rejects(t, server.attest(payload(await mint({ pod: undefined })), context()), 'ERR_K8S_PSAT_NOT_BOUND',
    /token of "tessera:tessera-agent" is not bound to a pod .*mount a projected service account token/);
});

test('refuses a pod whose node the API server does not know', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  api.pods[0]!.nodeName = 'node-9';
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_NODE_NOT_FOUND', /cluster "test-cluster": node node-9 of the agent's pod does not exist/);
});

test('an API server that does not check audiences is not trusted', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  api.audienceUnaware = true;
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_AUDIENCE_UNVERIFIED',
    /TokenReview returned audiences null, not a subset of the requested \["tessera-server"\]; the API server did not check the audience/);
});

test('refuses bad payloads and unknown clusters', async (t) => {
  const { server, mint, payload } = await setup(t);
  await rejects(t, server.attest(new TextEncoder().encode('nope'), context()), 'ERR_K8S_PSAT_PAYLOAD_MALFORMED', /k8s_psat: payload is not JSON/, 'invalid_argument');
  await rejects(t, server.attest(payload('not-a-jwt'), context()), 'ERR_K8S_PSAT_PAYLOAD_MALFORMED', /token is not a JWT/, 'invalid_argument');
  await rejects(t, server.attest(payload(await mint(), 'other'), context()), 'ERR_K8S_PSAT_CLUSTER_UNKNOWN',
    /cluster "other" is not configured on this server \(configured: test-cluster\)/);
});

test('the server\'s own credentials and RBAC failures are internal; an API server that is down is unavailable', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  writeFileSync(api.tokenPath, 'stale-token');
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_UNAUTHORIZED',
    /kube-apiserver https:\/\/127\.0\.0\.1:\d+\/apis\/authentication\.k8s\.io\/v1\/tokenreviews: HTTP 401: the kube-apiserver rejected the server's credentials \(token_file .*\): Unauthorized/, 'internal');
  // The token file is re-read per request: a rotated token is used without a restart.
  writeFileSync(api.tokenPath, api.callerToken);
  api.failWith = 403;
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_FORBIDDEN',
    /HTTP 403: the server's service account may not create tokenreviews .*cannot create resource "tokenreviews"/, 'internal');
  api.failWith = 503;
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_HTTP', /HTTP 503: the server is currently unable to handle the request/, 'unavailable');
  api.failWith = undefined;
  t.truthy(await server.attest(payload(await mint()), context()));
});

test('an unreachable API server, or one whose certificate the CA does not sign, is unavailable', async (t) => {
  const dead = (await deadAddress()).replace('http:', 'https:');
  const { server, mint, payload } = await setup(t, { api_server: dead });
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_UNAVAILABLE', /kube-apiserver https:\/\/127\.0\.0\.1:\d+\/apis\/.*: ECONNREFUSED/, 'unavailable');
  const other = await FakeKubeApiServer.start(t);
  const wrongCa = await setup(t, { ca_file: other.caPath });
  await rejects(t, wrongCa.server.attest(wrongCa.payload(await wrongCa.mint()), context()), 'ERR_K8S_PSAT_API_UNAVAILABLE', /certificate/i, 'unavailable');
});

test('an answer that is not a TokenReview, or larger than the 4 MiB bound, is refused as internal', async (t) => {
  const { api, server, mint, payload } = await setup(t);
  api.rawAnswer = { status: 201, body: Buffer.from('<html>proxy error</html>') };
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_MALFORMED_RESPONSE', /tokenreviews: response is not JSON/, 'internal');
  api.rawAnswer = { status: 201, body: Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1' })) };
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_MALFORMED_RESPONSE', /unexpected response: expected a TokenReview with a status/, 'internal');
  api.rawAnswer = { status: 201, body: Buffer.alloc(5 << 20, 0x20) };
  await rejects(t, server.attest(payload(await mint()), context()), 'ERR_K8S_PSAT_API_RESPONSE_TOO_LARGE', /response larger than 4194304 bytes/, 'internal');
});
