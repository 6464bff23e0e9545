import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerWorkloadAttestorFactory, type DockerAttestorConfig } from '../../attestors/workload/docker.ts';
import { INSTANCE_STRENGTH, type WorkloadProcess } from '../../attestors/workload/types.ts';
import { parseConfig } from '../../common/config.ts';
import { systemClock } from '../../common/clock.ts';
import { ConfigError, TesseraError } from '../../common/errors.ts';
import { memoryLogger } from '../../common/logger.ts';
import { until } from '../helpers/wait.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { WORKLOAD_ATTESTOR_FACTORIES } from '../../node-agent/attestation/workload-methods.ts';
import { FakeDockerEngine, type FakeContainer } from '../fakes/docker-engine.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The docker attestor against a fake Engine API, for what a real daemon cannot easily be
 * made to do: hang, answer malformed or oversized bodies, fail with a 500, report the
 * containerd image store (API >= 1.48), or log the requests it got. Behaviour against a
 * real daemon (labels, digests, exec, cgroup parents, env, control characters) is in
 * docker-daemon.test.ts.
 */

const cid = (name: string) => createHash('sha256').update(name).digest('hex');
const IMAGE_ID = `sha256:${cid('image-config')}`;
const PID = 4242;
const proc: WorkloadProcess = { pid: PID, uid: 1000, gid: 1000, startTime: 123n };

const researcher: FakeContainer = {
  id: cid('researcher'),
  name: 'researcher-1',
  image: 'ghcr.io/acme/researcher:2.1',
  imageId: IMAGE_ID,
  labels: { 'com.acme.role': 'researcher', team: 'agents' },
  env: ['PATH=/usr/bin', 'APP_ROLE=researcher', 'OPENAI_API_KEY=sk-secret', 'EMPTY='],
};

/** A /proc tree with one process whose cgroup file is `cgroup`. */
function procRoot(t: ExecutionContext, cgroup: string): string {
  const root = tempDir(t, 'pr-');
  mkdirSync(join(root, String(PID)));
  writeFileSync(join(root, String(PID), 'cgroup'), cgroup);
  return root;
}
const dockerCgroup = (id: string) => `0::/system.slice/docker-${id}.scope\n`;

function attestor(t: ExecutionContext, overrides: Record<string, unknown>) {
  const logger = memoryLogger();
  const config = parseConfig(dockerWorkloadAttestorFactory.config, overrides) as DockerAttestorConfig;
  return { a: dockerWorkloadAttestorFactory.create(config, { logger, clock: systemClock }), logger };
}

async function setup(t: ExecutionContext, extra: Record<string, unknown> = {}, cgroup = dockerCgroup(researcher.id)) {
  const engine = await FakeDockerEngine.start(t);
  engine.addContainer(researcher);
  const { a, logger } = attestor(t, { socket_path: engine.socketPath, proc_root: procRoot(t, cgroup), ...extra });
  return { engine, a, logger };
}

test('docker: the Docker 27 response shape (API 1.47, newer than the test daemon) gives the same selectors', async (t) => {
  const { a } = await setup(t);
  const r = await a.attest(proc);
  t.deepEqual(r.selectors.map(formatSelector).sort(), [
    'docker:container_name:researcher-1',
    'docker:image_config_digest:' + IMAGE_ID,
    'docker:image_id:ghcr.io/acme/researcher:2.1',
    'docker:label:com.acme.role:researcher',
    'docker:label:team:agents',
  ]);
  t.deepEqual(r.instance, { strength: INSTANCE_STRENGTH.container, key: `docker:${researcher.id}` });
});

test('docker: a host process gets no docker selectors and the daemon is not asked', async (t) => {
  const { a, engine } = await setup(t, {}, '0::/user.slice/user-1000.slice/session-2.scope\n');
  t.deepEqual(await a.attest(proc), { selectors: [] });
  t.deepEqual(engine.requests, []);
});

test('docker: a container of another runtime (cri-containerd) is not looked up in Docker', async (t) => {
  const { a, engine } = await setup(t, {}, `0::/kubepods.slice/kubepods-pod${'1'.repeat(8)}_2222_3333_4444_${'5'.repeat(12)}.slice/cri-containerd-${cid('c')}.scope\n`);
  t.deepEqual(await a.attest(proc), { selectors: [] });
  t.deepEqual(engine.requests, []);
});

test('docker: a missing socket is an unavailable error naming the socket', async (t) => {
  const missing = join(tempDir(t, 'dk-'), 'nope.sock');
  const { a } = attestor(t, { socket_path: missing, proc_root: procRoot(t, dockerCgroup(researcher.id)) });
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'unavailable');
  t.is(e.code, 'ERR_DOCKER_UNAVAILABLE');
  t.true(e.message.includes(missing));
  t.regex(e.message, /ENOENT/);
});

test('docker: an oversized response is cut off at the limit', async (t) => {
  const { a, engine } = await setup(t, { max_response_bytes: 64 * 1024 });
  engine.mode = { kind: 'oversized', bytes: 8 * 1024 * 1024 };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'resource_exhausted');
  t.is(e.code, 'ERR_DOCKER_RESPONSE_TOO_LARGE');
});

test('docker: malformed JSON is a typed error', async (t) => {
  const { a, engine } = await setup(t);
  engine.mode = { kind: 'malformed' };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_DOCKER_MALFORMED_RESPONSE');
});

test('docker: a daemon error status carries the daemon message', async (t) => {
  const { a, engine } = await setup(t);
  engine.mode = { kind: 'status', status: 500, message: 'devicemapper: thin pool exhausted' };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_DOCKER_HTTP');
  t.regex(e.message, /HTTP 500: devicemapper: thin pool exhausted/);
});

test('docker: a daemon that never answers hits the timeout', async (t) => {
  const { a, engine } = await setup(t, { timeout: '200ms' });
  engine.mode = { kind: 'hang' };
  // The daemon never answers: only the 200 ms timeout can end this, with this error.
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'deadline_exceeded');
  t.is(e.code, 'ERR_DOCKER_TIMEOUT');
});

test('docker: the caller abandoning the call aborts the request', async (t) => {
  const { a, engine } = await setup(t);
  engine.mode = { kind: 'hang' };
  const ac = new AbortController();
  // Abandoned while the engine holds the request (not before it was sent).
  void until(() => engine.requests.length > 0, 'the request at the engine').then(() => ac.abort());
  const e = await t.throwsAsync(a.attest(proc, ac.signal), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_DOCKER_ABORTED');
});

test('docker: on the containerd image store the image ID is not a config digest, so none is claimed', async (t) => {
  const engine = await FakeDockerEngine.start(t);
  engine.addContainer(researcher, { containerdStore: true });
  const { a } = attestor(t, { socket_path: engine.socketPath, proc_root: procRoot(t, dockerCgroup(researcher.id)) });
  const values = (await a.attest(proc)).selectors.map(formatSelector);
  t.false(values.some((s) => s.startsWith('docker:image_config_digest:')));
  t.true(values.includes('docker:image_id:ghcr.io/acme/researcher:2.1'));
});

test('docker: an image inspect that finds no image (404) drops only the digest selector', async (t) => {
  const { a, engine, logger } = await setup(t);
  engine.images.clear();
  const values = (await a.attest(proc)).selectors.map(formatSelector);
  t.false(values.some((s) => s.startsWith('docker:image_config_digest:')));
  t.true(values.includes('docker:container_name:researcher-1'));
  t.true(logger.records.some((r) => r.level === 'warn'));
});

test('docker: api_version pins the Engine API path', async (t) => {
  const { a, engine } = await setup(t, { api_version: '1.43' });
  await a.attest(proc);
  t.is(engine.requests[0], `GET /v1.43/containers/${researcher.id}/json`);
});

test('docker: config defaults, and bad keys are named', (t) => {
  const c = parseConfig(dockerWorkloadAttestorFactory.config, {}) as DockerAttestorConfig;
  t.is(c.socket_path, '/var/run/docker.sock');
  t.is(c.proc_root, '/proc');
  t.deepEqual(c.env_keys, []);
  t.throws(() => parseConfig(dockerWorkloadAttestorFactory.config, { socket: '/x' }), { instanceOf: ConfigError, message: /socket: unknown key/ });
  t.throws(() => parseConfig(dockerWorkloadAttestorFactory.config, { env_keys: ['A=B'] }), { instanceOf: ConfigError, message: /env_keys\[0\]/ });
});

test('docker: the agent registry knows the docker and k8s attestors', (t) => {
  const names = WORKLOAD_ATTESTOR_FACTORIES.map((f) => f.name);
  t.true(names.includes('docker'));
  t.true(names.includes('k8s'));
});
