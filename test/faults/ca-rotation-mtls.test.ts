import test from 'ava';
import { tmpdir } from 'node:os';
import { startServer, type TestServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { ALICE, createEntry, until } from '../helpers/agent-e2e.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { dumpOnFailure, figure, findLine } from './lib.ts';

/**
 * CA rotation by hand (localauthority x509 prepare → activate → taint → revoke, the
 * operator's key-compromise drill) while 200 SDK mTLS clients, in 4 processes with
 * their own X509Source each, keep opening fresh mTLS connections to an SDK mTLS
 * service (another process, another uid). Every step waits for what an operator waits
 * for (the new CA in every bundle before activating; every SVID from the new CA before
 * revoking). Outcome: 0 failed handshakes, on either side, across the whole drill.
 * (test/node-agent/e2e-authority-rotation.test.ts checks the steps' rules with one stream.)
 */
const PROCESSES = 4;
const PER_PROCESS = 50;
const SERVICE_ID = 'spiffe://example.org/faults/service';

interface ClientStatus { at: string; ok: number; failed: number; ok_min: number; svids: Record<string, number>; bundles: Record<string, number>; failure?: string }
interface ServiceStatus { at: string; svid: string; bundle: string[]; accepted: number; failed: number; errors: Record<string, number>; failure?: string; listening?: number }

const jsonLines = <T>(p: Proc) => p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
const latest = <T extends { failure?: string }>(p: Proc): T | undefined => jsonLines<T & { ok?: number; svid?: string }>(p).filter((l) => l.ok !== undefined || l.svid !== undefined).at(-1);

async function authority<T>(srv: TestServer, args: string[]): Promise<T> {
  const r = await srv.cli(['localauthority', 'x509', ...args, '--output', 'json']);
  if (r.code !== 0) throw new Error(`localauthority x509 ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('CA rotation prepare → activate → taint → revoke under 200 mTLS clients: 0 failed handshakes', async (t) => {
  t.timeout(600_000);
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv, logLevel: 'info' });
  dumpOnFailure(t, { agent: () => agent.proc, server: () => srv.proc });
  await createEntry(srv, agent.spiffeId, SERVICE_ID, [`unix:uid:${ALICE.uid}`]);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/faults/client', [`unix:uid:${process.getuid!()}`]);

  const env = { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint };
  const service = spawnTs(t, 'test/faults/fixtures/mtls-service.ts', [], { env, uid: ALICE.uid, gid: ALICE.gid });
  const port = Number(/"listening":(\d+)/.exec(await service.waitFor(/"listening":\d+/, 120_000))![1]);
  const clients = Array.from({ length: PROCESSES }, () =>
    spawnTs(t, 'test/faults/fixtures/mtls-clients.ts', [String(PER_PROCESS), String(port), SERVICE_ID, '2000'], { env }));
  const everyClient = (what: string, ok: (s: ClientStatus) => boolean) =>
    until(what, () => clients.every((c) => { const s = latest<ClientStatus>(c); return s !== undefined && ok(s); }), 240_000, 200);
  const serviceHolds = (what: string, ok: (s: ServiceStatus) => boolean) =>
    until(what, () => { const s = latest<ServiceStatus>(service); return s !== undefined && ok(s); }, 240_000, 200);

  await everyClient('every client to complete a handshake', (s) => s.ok_min >= 1);
  const [active] = await authority<{ authority_id: string }[]>(srv, ['show']);
  const oldId = active!.authority_id;
  const steps: Record<string, number> = {};
  /** Runs an admin step (a CLI process), then times how long its effect takes to reach every workload. */
  const step = async (name: string, run: () => Promise<unknown>, settled: () => Promise<unknown>) => {
    await run();
    const at = Date.now();
    await settled();
    steps[name] = Date.now() - at;
  };

  let newId = '';
  await step('prepare → new CA in every workload\'s bundle', async () => { newId = (await authority<{ authority_id: string }>(srv, ['prepare'])).authority_id; }, async () => {
    await serviceHolds('the new CA in the service\'s bundle', (s) => s.bundle.includes(newId));
    await everyClient('the new CA in every client\'s bundle', (s) => s.bundles[newId] === PER_PROCESS);
  });
  await authority(srv, ['activate', '--authority-id', newId]);
  const taintMark = agent.proc.stderr().length;
  await step('taint old → every SVID (service, 200 clients, agent) from the new CA', () => authority(srv, ['taint', '--authority-id', oldId]), async () => {
    await serviceHolds('the service\'s SVID from the new CA', (s) => s.svid === newId);
    await everyClient('every client\'s SVID from the new CA', (s) => s.svids[newId] === PER_PROCESS);
    await until('the agent SVID renewed', () => findLine(agent.proc, 'agent SVID renewed', taintMark), 240_000, 200);
  });
  let okAtRevoke: number[] = [];
  await step('revoke old → old CA gone from every bundle', () => authority(srv, ['revoke', '--authority-id', oldId]), async () => {
    await serviceHolds('the old CA gone from the service\'s bundle', (s) => !s.bundle.includes(oldId));
    await everyClient('the old CA gone from every client\'s bundle', (s) => !s.bundles[oldId]);
    okAtRevoke = clients.map((c) => latest<ClientStatus>(c)!.ok_min);
  });
  // Every client keeps connecting with only the new CA trusted.
  await until('two more handshakes by every client after the revoke', () => clients.every((c, i) => latest<ClientStatus>(c)!.ok_min >= okAtRevoke[i]! + 2), 240_000, 200);

  for (const c of clients) await c.stop();
  await service.stop();
  const finals = clients.map((c) => latest<ClientStatus>(c)!);
  const svc = latest<ServiceStatus>(service)!;
  const failures = [...clients.flatMap((c) => jsonLines<ClientStatus>(c).filter((l) => l.failure).map((l) => l.failure!)),
    ...jsonLines<ServiceStatus>(service).filter((l) => l.failure).map((l) => `service: ${l.failure}`)];
  t.deepEqual(failures.slice(0, 10), [], 'no failed handshake (first ten shown)');
  t.is(finals.reduce((n, s) => n + s.failed, 0), 0, 'client-side failed handshakes');
  t.is(svc.failed, 0, 'service-side failed handshakes');
  const ok = finals.reduce((n, s) => n + s.ok, 0);
  t.true(ok >= PROCESSES * PER_PROCESS * 3, 'every client made handshakes before, during and after');
  figure(t, `mTLS handshakes by ${PROCESSES * PER_PROCESS} clients across the drill`, ok);
  figure(t, 'service-side handshakes accepted', svc.accepted);
  figure(t, 'failed handshakes', finals.reduce((n, s) => n + s.failed, 0) + svc.failed);
  for (const [name, ms] of Object.entries(steps)) figure(t, name, ms, 'ms');
});
