import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attest, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { agentCli, startAgent } from '../helpers/agent.ts';
import { until } from '../helpers/wait.ts';
import { FakeKubeApiServer, type MintOptions } from '../fakes/kube-apiserver.ts';

/**
 * k8s_psat end to end: a real tessera-server process verifies projected tokens through
 * the fake kube-apiserver (TLS, bearer auth, real TokenReview/Pod/Node JSON), and a
 * real tessera-agent process attests with the token file the kubelet would project.
 * Refusals go through the real server's Attest stream and are checked by gRPC status,
 * message and tessera error code.
 */
const NODE_UID = '2b7c1e04-9d3f-4a8e-b6c5-1f0e9d8c7b6a';
const AGENT_POD = 'tessera-agent-x7k2p';
const AGENT_ID = `spiffe://example.org/tessera/agent/k8s_psat/prod/${NODE_UID}`;

const scope = sharedScope();
let srv: TestServer;
let api: FakeKubeApiServer;
let dir: string;

test.before(async () => {
  api = await FakeKubeApiServer.start(scope);
  api.nodes.push({ name: 'worker-a', uid: NODE_UID, labels: { 'node.kubernetes.io/instance-type': 'm7i.large' } });
  api.pods.push({
    uid: 'c0ffee00-1d2e-4f3a-8b4c-5d6e7f8a9b0c', name: AGENT_POD, namespace: 'tessera', serviceAccount: 'tessera-agent',
    nodeName: 'worker-a', labels: { app: 'tessera-agent' }, containers: [{ name: 'agent', id: 'cd'.repeat(32), image: 'tessera:dev' }],
  });
  api.pods.push({ uid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', name: 'web-0', namespace: 'default', serviceAccount: 'web', nodeName: 'worker-a', containers: [] });
  dir = mkdtempSync(join(tmpdir(), 'kpe-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  srv = await startServer(scope, {
    config: {
      node_attestors: {
        k8s_psat: {
          clusters: {
            prod: {
              api_server: api.url, ca_file: api.caPath, token_file: api.tokenPath,
              service_account_allow_list: ['tessera:tessera-agent'], allowed_node_label_keys: ['node.kubernetes.io/instance-type'],
            },
          },
        },
      },
    },
  });
});
test.after.always(() => scope.cleanup());

const mint = (o: Partial<MintOptions> = {}) => api.mintToken({ namespace: 'tessera', serviceAccount: 'tessera-agent', pod: AGENT_POD, ...o });
const payload = (token: string, cluster = 'prod') => new TextEncoder().encode(JSON.stringify({ cluster, token }));

function tokenFile(token: string): string {
  const path = join(mkdtempSync(join(dir, 't-')), 'tessera-agent');
  writeFileSync(path, token);
  return path;
}

const agentConfig = (path: string) => ({ node_attestor: { method: 'k8s_psat', k8s_psat: { cluster: 'prod', token_path: path } } });

async function refused(t: ExecutionContext, token: string, code: grpc.status, errCode: string, details: RegExp): Promise<void> {
  const e = await t.throwsAsync(attest(srv, 'k8s_psat', payload(token))) as grpc.ServiceError;
  t.is(e.code, code, e.details);
  t.regex(e.details, details);
  t.deepEqual(e.metadata.get('tessera-error-code'), [errCode]);
}

test.serial('a real agent attests with its projected token; the server records the node\'s selectors', async (t) => {
  const token = await mint();
  const agent = await startAgent(t, { server: srv, config: agentConfig(tokenFile(token)) });
  t.is(agent.spiffeId, AGENT_ID);
  const shown = JSON.parse((await srv.cli(['agent', 'show', AGENT_ID, '--output', 'json'])).stdout);
  t.is(shown.attestation_type, 'k8s_psat');
  const selectors = JSON.stringify(shown.selectors);
  for (const s of ['cluster', 'prod', 'agent_ns', 'agent_sa', 'tessera-agent', AGENT_POD, 'worker-a', NODE_UID, 'node.kubernetes.io/instance-type:m7i.large']) {
    t.true(selectors.includes(s), `${s} in ${selectors}`);
  }

  // A node alias on the cluster selector serves every k8s_psat node of the cluster: a
  // workload entry under it reaches this agent, and a caller of that uid gets the SVID.
  const alias = `spiffe://example.org/k8s/prod`;
  const node = await srv.cli(['entry', 'create', '--node', '--spiffe-id', alias, '--selector', 'k8s_psat:cluster:prod']);
  t.is(node.code, 0, node.stderr);
  const workload = await srv.cli(['entry', 'create', '--spiffe-id', 'spiffe://example.org/agents/researcher', '--parent-id', alias, '--selector', 'unix:uid:1717']);
  t.is(workload.code, 0, workload.stderr);
  const fetched = await until(async () => {
    const r = await agentCli(['api', 'fetch', 'x509', '--socket', agent.socketPath, '--output', 'json'], { uid: 1717, gid: 1717 });
    return r.stdout.includes('spiffe://example.org/agents/researcher') && r;
  }, 'the workload entry to reach the agent through the node alias');
  t.is(fetched.code, 0, fetched.stderr);

  // The same token, replayed: refused by the real server ...
  await refused(t, token, grpc.status.PERMISSION_DENIED, 'ERR_K8S_PSAT_TOKEN_REUSED',
    new RegExp(`^k8s_psat: this service account token was already used to attest ${AGENT_ID}; each token is accepted once`));
  // ... and by a second real agent process presenting it with an empty data dir.
  const err = await t.throwsAsync(startAgent(t, { server: srv, config: agentConfig(tokenFile(token)) }));
  t.regex(err!.message, /process exited before .*already used to attest/s);
});

test.serial('a fresh token for the same node attests it again (the agent lost its SVID)', async (t) => {
  const r = await attest(srv, 'k8s_psat', payload(await mint()));
  t.is(r.id, AGENT_ID);
  t.true(r.selectors.some((s) => s.type === 'k8s_psat' && s.value === `agent_node_uid:${NODE_UID}`));
  r.client.close();
});

test('a token for another audience is PermissionDenied', async (t) => {
  await refused(t, await mint({ audience: ['https://kubernetes.default.svc.cluster.local'] }), grpc.status.PERMISSION_DENIED, 'ERR_K8S_PSAT_AUDIENCE_MISMATCH',
    /^k8s_psat: token is for audience \["https:\/\/kubernetes\.default\.svc\.cluster\.local"\], not \["tessera-server"\]/);
});

test('an expired token is PermissionDenied', async (t) => {
  await refused(t, await mint({ expiresIn: -60 }), grpc.status.PERMISSION_DENIED, 'ERR_K8S_PSAT_TOKEN_EXPIRED', /^k8s_psat: token expired at /);
});

test('a token TokenReview does not authenticate is PermissionDenied with the API server\'s reason', async (t) => {
  const forged = await mint({ signingKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
  await refused(t, forged, grpc.status.PERMISSION_DENIED, 'ERR_K8S_PSAT_TOKEN_REJECTED',
    /^k8s_psat: cluster "prod": TokenReview did not authenticate the token: \[invalid bearer token, square\/go-jose: error in cryptographic primitive\]$/);
});

test('a service account outside the allow list is PermissionDenied', async (t) => {
  await refused(t, await mint({ namespace: 'default', serviceAccount: 'web', pod: 'web-0' }), grpc.status.PERMISSION_DENIED, 'ERR_K8S_PSAT_SERVICE_ACCOUNT_NOT_ALLOWED',
    /^k8s_psat: cluster "prod": service account "default:web" is not in service_account_allow_list$/);
});

test('a cluster the server does not know is PermissionDenied; a payload that is no token is InvalidArgument', async (t) => {
  const e = await t.throwsAsync(attest(srv, 'k8s_psat', payload(await mint(), 'staging'))) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /^k8s_psat: cluster "staging" is not configured on this server \(configured: prod\)$/);
  await refused(t, 'not-a-jwt', grpc.status.INVALID_ARGUMENT, 'ERR_K8S_PSAT_PAYLOAD_MALFORMED', /^k8s_psat: token is not a JWT/);
});
