import test from 'ava';
import { startServer, type TestServer } from '../helpers/server.ts';
import { startAgent, watchX509 } from '../helpers/agent.ts';
import { createEntry, until, ALICE } from '../helpers/agent-e2e.ts';

/**
 * CA rotation by hand under a live Workload API stream, as an operator does it after a
 * key compromise, with real server and agent processes, the tessera-server CLI, and a
 * workload process (`tessera-agent api watch`, uid 1000) holding a FetchX509SVID stream
 * open the whole time: prepare → activate → taint the old authority → the stream gets
 * an SVID signed by the new one → revoke the old one → the stream's bundle drops it.
 */
interface Authority { authority_id: string; state: string; tainted: boolean; revoked: boolean }
interface Update { update: number; svids: { serial: string; authority_id: string }[]; bundle_authority_ids: string[] }

async function cliJson<T>(srv: TestServer, args: string[]): Promise<T> {
  const r = await srv.cli([...args, '--output', 'json']);
  if (r.code !== 0) throw new Error(`tessera-server ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('prepare, activate, taint and revoke an X.509 authority while a workload streams its SVID', async (t) => {
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  const w = watchX509(t, agent.socketPath, ALICE);
  const updates = () => w.updates() as unknown as Update[];
  const latest = () => updates().at(-1);
  await until('the first SVID on the stream', () => latest()?.svids.length === 1);

  const [active] = await cliJson<Authority[]>(srv, ['localauthority', 'x509', 'show']);
  const oldId = active!.authority_id;
  t.is(active!.state, 'active');
  t.is(latest()!.svids[0]!.authority_id, oldId, 'the SVID names the active authority');
  const firstSerial = latest()!.svids[0]!.serial;

  const prepared = await cliJson<Authority>(srv, ['localauthority', 'x509', 'prepare']);
  t.is(prepared.state, 'prepared');
  const newId = prepared.authority_id;
  // Published at once: the workload's bundle has the new CA before it signs anything.
  await until('the prepared CA in the stream\'s bundle', () => latest()?.bundle_authority_ids.includes(newId));
  t.is(latest()!.svids[0]!.serial, firstSerial, 'preparing re-mints nothing');

  // Activating needs the prepared authority's ID; another ID is refused.
  const wrong = await srv.cli(['localauthority', 'x509', 'activate', '--authority-id', oldId]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /is not the prepared one/);
  t.is((await cliJson<Authority>(srv, ['localauthority', 'x509', 'activate', '--authority-id', newId])).state, 'active');

  // The active authority can be neither tainted nor revoked; an untainted one cannot be revoked.
  t.regex((await srv.cli(['localauthority', 'x509', 'taint', '--authority-id', newId])).stderr, /is active/);
  t.regex((await srv.cli(['localauthority', 'x509', 'revoke', '--authority-id', oldId])).stderr, /only a tainted authority can be revoked/);

  const mark = agent.proc.stderr().length;
  const before = updates().length;
  const tainted = await cliJson<Authority>(srv, ['localauthority', 'x509', 'taint', '--authority-id', oldId]);
  t.true(tainted.tainted);
  // At once, not at half-life (1 h SVIDs): the stream gets an SVID from the new authority.
  const fresh = await until('an SVID signed by the new authority on the stream', () => {
    const u = latest();
    return u && updates().length > before && u.svids[0]?.authority_id === newId ? u : undefined;
  });
  t.not(fresh.svids[0]!.serial, firstSerial);
  t.true(fresh.bundle_authority_ids.includes(oldId), 'a tainted authority is still trusted');
  // The agent's own SVID, signed by the tainted authority too, is renewed before the old CA goes.
  await until('the agent SVID renewed after the taint', () => agent.proc.stderr().slice(mark).includes('"msg":"agent SVID renewed"'));

  const revoked = await cliJson<Authority>(srv, ['localauthority', 'x509', 'revoke', '--authority-id', oldId]);
  t.true(revoked.revoked);
  await until('the revoked CA gone from the stream\'s bundle', () => {
    const u = latest();
    return u && !u.bundle_authority_ids.includes(oldId) && u.bundle_authority_ids.includes(newId);
  });
  t.is(srv.readBundle().der.length, 1, 'bundle.pem holds only the new CA');

  const after = await cliJson<Authority[]>(srv, ['localauthority', 'x509', 'show']);
  t.deepEqual(after.map((a) => [a.authority_id, a.state, a.tainted, a.revoked]), [[newId, 'active', false, false], [oldId, 'old', true, true]]);
  // The workload's stream stayed open throughout, and the agent is still serving.
  t.is(w.child.exitCode, null);
  t.is(agent.proc.child.exitCode, null);
});
