import test from 'ava';
import { createHash } from 'node:crypto';
import { WorkloadAttestationComposer } from '../../node-agent/attestation/composer.ts';
import { composerFromConfig } from '../../node-agent/attestation/from-config.ts';
import { agentInstanceId } from '../../node-agent/attestation/instance-id.ts';
import { unixWorkloadAttestorFactory } from '../../attestors/workload/unix.ts';
import { INSTANCE_STRENGTH, type WorkloadAttestation, type WorkloadAttestor, type WorkloadProcess } from '../../attestors/workload/types.ts';
import { makeSelector, formatSelector } from '../../spiffe/selector.ts';
import { AttestationError, ConfigError } from '../../common/errors.ts';
import { FakeClock, systemClock } from '../../common/clock.ts';
import { memoryLogger, silentLogger } from '../../common/logger.ts';
import { within } from '../helpers/wait.ts';

const proc: WorkloadProcess = { pid: 10, uid: 1000, gid: 1000, startTime: 5n };

/** A small real attestor: answers from a function, counting calls. */
function attestor(name: string, answer: (p: WorkloadProcess, signal?: AbortSignal) => Promise<WorkloadAttestation>): WorkloadAttestor & { calls: number } {
  const a = { name, calls: 0, attest: (p: WorkloadProcess, s?: AbortSignal) => { a.calls++; return answer(p, s); } };
  return a;
}
const unix = () => attestor('unix', async (p) => ({
  selectors: [makeSelector('unix', `uid:${p.uid}`)], instance: { strength: INSTANCE_STRENGTH.process, key: `unix:b:${p.pid}:${p.startTime}` },
}));

test('selectors are the union of every attestor; the strongest instance claim wins', async (t) => {
  const docker = attestor('docker', async () => ({
    selectors: [makeSelector('docker', 'image_id:abc'), makeSelector('unix', 'uid:1000')],
    instance: { strength: INSTANCE_STRENGTH.container, key: 'docker:abc123' },
  }));
  const c = new WorkloadAttestationComposer({ unix: unix(), attestors: [docker] });
  const r = await c.attest(proc);
  t.deepEqual(r.selectors.map(formatSelector), ['docker:image_id:abc', 'unix:uid:1000']);
  t.deepEqual(r.instance, { strength: 20, key: 'docker:abc123' });
});

test('a failing or hanging non-unix attestor is logged with its reason and does not block', async (t) => {
  const logs = memoryLogger();
  const broken = attestor('k8s', async () => { throw new Error('kubelet unreachable'); });
  const hanging = attestor('docker', (_p, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))));
  // The composer's clock: the hanging attestor's timeout passes when the test says so.
  const clock = new FakeClock();
  const c = new WorkloadAttestationComposer({ unix: unix(), attestors: [broken, hanging], timeoutMs: 50, logger: logs, clock });
  const attesting = c.attest(proc);
  clock.advance(50);
  // `hanging` never settles on its own: the result can only come from its timeout.
  const r = await within(attesting, 'attestation once the hanging attestor timed out');
  t.deepEqual(r.selectors.map(formatSelector), ['unix:uid:1000']);
  const reasons = logs.records.filter((x) => x.msg === 'workload attestor failed; continuing without its selectors').map((x) => `${x.attestor}: ${x.reason}`);
  t.deepEqual(reasons.sort(), ['docker: docker attestor timed out after 50 ms', 'k8s: kubelet unreachable']);
});

test('if the unix attestor cannot read the process, the caller is denied', async (t) => {
  const dead = attestor('unix', async () => { throw new AttestationError('permission_denied', 'ERR_UNIX_PROC', 'cannot read /proc/10/status'); });
  const other = attestor('docker', async () => ({ selectors: [makeSelector('docker', 'x:y')] }));
  const c = new WorkloadAttestationComposer({ unix: dead, attestors: [other] });
  const e = await t.throwsAsync(c.attest(proc), { instanceOf: AttestationError });
  t.is(e!.kind, 'permission_denied');
  t.regex(e!.message, /cannot read \/proc\/10\/status/);
});

test('attestation is cached per (pid, start time) briefly, shared by concurrent callers, and failures are not cached', async (t) => {
  const clock = new FakeClock();
  const u = unix();
  const c = new WorkloadAttestationComposer({ unix: u, cacheTtlMs: 1000, clock });
  await Promise.all([c.attest(proc), c.attest(proc), c.attest(proc)]);
  t.is(u.calls, 1);
  await c.attest({ ...proc, startTime: 6n }); // same pid, new process instance
  t.is(u.calls, 2);
  clock.advance(1000);
  await c.attest(proc);
  t.is(u.calls, 3);

  let fail = true;
  const flaky = attestor('unix', async () => { if (fail) throw new Error('transient'); return { selectors: [] }; });
  const c2 = new WorkloadAttestationComposer({ unix: flaky, clock });
  await t.throwsAsync(c2.attest(proc));
  fail = false;
  await t.notThrowsAsync(c2.attest(proc));
});

test('agent_instance_id is inst_ + base64url(SHA-256(agent ID ‖ "\\n" ‖ claim key))[:22]', (t) => {
  const agent = 'spiffe://example.org/tessera/agent/join_token/n1';
  const claim = { strength: 10, key: 'unix:boot:42:1000' };
  const want = 'inst_' + createHash('sha256').update(`${agent}\n${claim.key}`).digest('base64url').slice(0, 22);
  t.is(agentInstanceId(agent, claim), want);
  t.is(agentInstanceId(agent, claim), agentInstanceId(agent, { ...claim }));
  t.not(agentInstanceId(agent, { strength: 10, key: 'unix:boot:42:1001' }), want);
  t.not(agentInstanceId('spiffe://example.org/tessera/agent/join_token/n2', claim), want);
});

test('composerFromConfig enables unix always and rejects unknown attestor names', (t) => {
  const deps = { logger: silentLogger, clock: systemClock };
  const c = composerFromConfig(undefined, deps);
  t.deepEqual(c.attestorNames, ['unix']);
  const e = t.throws(() => composerFromConfig({ dockr: {} }, deps), { instanceOf: ConfigError });
  t.regex(e!.message, /workload_attestors\.dockr/);
  const withDocker = composerFromConfig({ docker: {} }, { ...deps, factories: [unixWorkloadAttestorFactory, {
    name: 'docker', config: { describe: 'object', parse: () => ({}) }, create: () => attestor('docker', async () => ({ selectors: [] })),
  }] });
  t.deepEqual(withDocker.attestorNames, ['unix', 'docker']);
  t.throws(() => composerFromConfig({ unix: { discover_workload_path: 'yes' } }, deps), { instanceOf: ConfigError });
});
