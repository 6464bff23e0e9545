import test from 'ava';
import { join } from 'node:path';
import { startServer, sharedScope, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { makeRootCa, writePem } from '../helpers/pki.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { b64, derCerts, envoyClient, keyMatches, pemCerts, type SecretJson } from './sds-envoy-client.ts';

/**
 * Envoy's SDS v3 on the agent's Workload API socket, end to end: real server and agent
 * processes, and a separate process playing Envoy (the Envoy API protos of
 * @grpc/grpc-js-xds, no Workload API header) under its own uid, attested by the kernel.
 */
const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;
let foreignPem: Buffer[];
const ENVOY = { uid: 5101, gid: 5101 };
const OTHER = { uid: 5102, gid: 5102 };
const NOBODY = { uid: 5103, gid: 5103 };
const ENVOY_ID = 'spiffe://example.org/envoy';
const SPIFFE_VALIDATOR = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig';

test.before(async () => {
  srv = await startServer(scope);
  agent = await startAgent(scope, { server: srv, config: { metrics: { listen: '127.0.0.1:0' } } });
  // A foreign trust domain whose bundle the server holds (its endpoint is never reached).
  const foreign = await makeRootCa('b.test');
  foreignPem = [Buffer.from(foreign.certificate)];
  const dir = mkdtempSync(join(tmpdir(), 'tsds-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writePem(dir, 'b.pem', foreign.certificate);
  const fed = await srv.cli(['federation', 'create', '--trust-domain', 'b.test', '--bundle-endpoint-url', 'https://127.0.0.1:9/bundle',
    '--bundle-endpoint-profile', 'https_web', '--trust-domain-bundle-path', file]);
  if (fed.code !== 0) throw new Error(`federation create: ${fed.stderr}`);
  await createEntry(srv, agent.spiffeId, ENVOY_ID, [`unix:uid:${ENVOY.uid}`], ['--federates-with', 'b.test']);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/other', [`unix:uid:${OTHER.uid}`]);
});
test.after.always(() => scope.cleanup());

const byName = (rs: SecretJson[] | undefined, name: string) => rs?.find((r) => r.name === name);

test.serial('StreamSecrets serves the caller\'s SVID by SPIFFE ID and as "default", the same key and chain the Workload API gives it', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'wapi', id: 'w' });
  const wapi = (await e.event('w')).svids!;
  t.deepEqual(wapi.map((s) => s.spiffe_id), [ENVOY_ID]);
  e.send({ op: 'open', id: 's', names: [ENVOY_ID, 'default'] });
  const r = (await e.event('s')).response!;
  t.is(r.type_url, 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
  t.is(r.version_info, '1');
  t.regex(r.nonce, /^[0-9a-f]{16}$/);
  t.deepEqual(r.resources!.map((x) => x.name).sort(), [ENVOY_ID, 'default'].sort());
  for (const name of [ENVOY_ID, 'default']) {
    const s = byName(r.resources, name)!;
    t.is(s['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
    const chain = pemCerts(b64(s.tls_certificate!.certificate_chain.inline_bytes).toString());
    t.deepEqual(chain, derCerts(b64(wapi[0]!.x509_svid)), `${name}: the Workload API's chain`);
    const keyPem = b64(s.tls_certificate!.private_key.inline_bytes).toString();
    t.regex(keyPem, /^-----BEGIN PRIVATE KEY-----/);
    t.true(keyMatches(keyPem, chain[0]!));
    t.deepEqual(b64(keyPem.replace(/-----[A-Z ]+-----|\s/g, '')), b64(wapi[0]!.x509_svid_key), `${name}: the Workload API's key`);
  }
});

test.serial('ROOTCA, the trust domain ID and ALL are SPIFFE certificate validator configs; ALL adds the federated bundle', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'wapi', id: 'w' });
  const ownBundle = derCerts(b64((await e.event('w')).svids![0]!.bundle));
  e.send({ op: 'open', id: 's', names: ['ROOTCA', 'spiffe://example.org', 'ALL', 'spiffe://b.test'] });
  const rs = (await e.event('s')).response!.resources!;
  t.deepEqual(rs.map((r) => r.name).sort(), ['ALL', 'ROOTCA', 'spiffe://b.test', 'spiffe://example.org']);
  const domains = (name: string) => {
    const v = byName(rs, name)!.validation_context!;
    t.is(v.trusted_ca, undefined);
    t.is(v.custom_validator_config!.name, 'envoy.tls.cert_validator.spiffe');
    t.is(v.custom_validator_config!.typed_config['@type'], SPIFFE_VALIDATOR);
    return v.custom_validator_config!.typed_config.trust_domains.map((d) => [d.name, pemCerts(b64(d.trust_bundle.inline_bytes).toString())]);
  };
  t.deepEqual(domains('ROOTCA'), [['example.org', ownBundle]]);
  t.deepEqual(domains('spiffe://example.org'), [['example.org', ownBundle]]);
  t.deepEqual(domains('spiffe://b.test'), [['b.test', foreignPem]]);
  t.deepEqual(domains('ALL'), [['b.test', foreignPem], ['example.org', ownBundle]]);
});

test.serial('plain trusted_ca for Envoy < 1.18 or when node metadata disables the SPIFFE validator; ALL then fails', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  const old = { id: 'e', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 17, patch: 0 } } };
  // google.protobuf.Value's fields are camelCase in protobufjs (its bundled struct.proto).
  const off = { id: 'e', metadata: { fields: { disable_spiffe_cert_validation: { boolValue: true } } } };
  const offText = { id: 'e', metadata: { fields: { disable_spiffe_cert_validation: { stringValue: 'true' } } } };
  for (const [id, node] of [['old', old], ['off', off], ['off-text', offText]] as const) {
    e.send({ op: 'fetch', id, names: ['ROOTCA'], node });
    const v = byName((await e.event(id)).response!.resources, 'ROOTCA')!.validation_context!;
    t.is(v.custom_validator_config, undefined, id);
    t.true(pemCerts(b64(v.trusted_ca!.inline_bytes).toString()).length >= 1, id);
  }
  e.send({ op: 'fetch', id: 'all', names: ['ALL'], node: off });
  const s = await e.event('all');
  t.is(s.code, 9); // FAILED_PRECONDITION
  t.regex(s.details!, /SPIFFE certificate validator/);
});

test.serial('FetchSecrets answers once, without version or nonce; no names = everything the caller has', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'fetch', id: 'f', names: ['default'] });
  const r = (await e.event('f')).response!;
  t.is(r.version_info ?? '', '');
  t.is(r.nonce ?? '', '');
  t.deepEqual(r.resources!.map((x) => x.name), ['default']);
  e.send({ op: 'fetch', id: 'all' });
  t.deepEqual((await e.event('all')).response!.resources!.map((x) => x.name).sort(), [ENVOY_ID, 'spiffe://b.test', 'spiffe://example.org'].sort());
});

test.serial('an ACK is not answered; a NACK is logged once per interval and the rejected version is not resent; stale nonces are ignored', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'open', id: 's', names: ['default'] });
  const first = (await e.event('s', 0)).response!;
  e.send({ op: 'ack', id: 's' });
  // A change of subscription is answered: anything sent for the ACK would arrive before it.
  e.send({ op: 'request', id: 's', names: ['default', 'ROOTCA'] });
  const second = (await e.event('s', 1)).response!;
  t.deepEqual(second.resources!.map((r) => r.name).sort(), ['ROOTCA', 'default']);
  t.is(second.version_info, '2');
  t.not(second.nonce, first.nonce);

  const mark = agent.proc.stderr().length;
  e.send({ op: 'nack', id: 's', message: 'test NACK: bad secret' });
  e.send({ op: 'nack', id: 's', message: 'test NACK: bad secret' });
  // A request naming an old nonce is stale: ignored, even with new names.
  e.send({ op: 'request', id: 's', names: ['ROOTCA'], nonce: first.nonce });
  e.send({ op: 'request', id: 's', names: ['default'] });
  const third = (await e.event('s', 2)).response!;
  t.deepEqual(third.resources!.map((r) => r.name), ['default'], 'the answer to the last request, nothing for the NACKs or the stale one');
  t.is(third.version_info, '3');
  await until('the NACK in the agent log', () => agent.proc.stderr().slice(mark).includes('test NACK: bad secret'));
  t.is(agent.proc.stderr().slice(mark).split('\n').filter((l) => l.includes('Envoy rejected secrets (NACK)')).length, 1, 'rate-limited');
  t.is(e.count('s'), 3);
});

test.serial('names the caller has nothing for are refused with InvalidArgument, another workload\'s SVID included', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'open', id: 's', names: ['default', 'spiffe://example.org/other'] });
  const s = await e.event('s');
  t.is(s.ev, 'status');
  t.is(s.code, 3);
  t.regex(s.details!, /not authorized for the requested identities \["spiffe:\/\/example.org\/other"\]/);
  e.send({ op: 'fetch', id: 'f', names: ['spiffe://c.test'] });
  t.is((await e.event('f')).code, 3);
});

test.serial('a caller without a registration entry is refused with PermissionDenied, as by the Workload API', async (t) => {
  const e = await envoyClient(t, agent.socketPath, NOBODY);
  e.send({ op: 'open', id: 's', names: ['default'] });
  e.send({ op: 'fetch', id: 'f', names: ['ROOTCA'] });
  e.send({ op: 'wapi', id: 'w' });
  for (const id of ['s', 'f', 'w']) t.is((await e.event(id)).code, 7, id);
});

test.serial('DeltaSecrets is Unimplemented, as in SPIRE; SDS calls are counted in the Workload API metrics', async (t) => {
  const e = await envoyClient(t, agent.socketPath, ENVOY);
  e.send({ op: 'delta', id: 'd' });
  t.is((await e.event('d')).code, 12);
  const addr = readFileSync(join(agent.dataDir, 'metrics.addr'), 'utf8').trim();
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  t.regex(text, /tessera_agent_workload_api_requests_total\{method="FetchSecrets",status="OK"\} [1-9]/);
  t.regex(text, /tessera_agent_workload_api_requests_total\{method="StreamSecrets",status="OK"\} [1-9]/);
  t.regex(text, /tessera_agent_workload_api_requests_total\{method="DeltaSecrets",status="UNIMPLEMENTED"\} 1/);
});
