import test from 'ava';
import { statSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../helpers/server.ts';
import { freePort } from '../helpers/proc.ts';
import { startAgent, agentCli, watchX509 } from '../helpers/agent.ts';
import { createEntry, until, ALICE } from '../helpers/agent-e2e.ts';

const fetchSerials = async (socket: string) => {
  const r = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', socket], ALICE);
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { svids: { spiffe_id: string; serial: string }[] }).svids;
};

test('an agent restart resumes from its data dir without re-attesting (0700 dir, 0600 files)', async (t) => {
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv });
  t.false(agent.resumed);
  t.is(statSync(agent.dataDir).mode & 0o777, 0o700);
  for (const f of readdirSync(agent.dataDir)) t.is(statSync(join(agent.dataDir, f)).mode & 0o777, 0o600, f);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  const before = agent.spiffeId;
  await agent.restart();
  t.true(agent.resumed);
  t.is(agent.spiffeId, before);
  t.notRegex(agent.proc.stderr(), /"msg":"agent attested"/);
  t.deepEqual((await fetchSerials(agent.socketPath)).map((s) => s.spiffe_id), ['spiffe://example.org/alice']);
  const agents = JSON.parse((await srv.cli(['agent', 'list', '--output', 'json'])).stdout) as unknown[];
  t.is(agents.length, 1, 'still one attested agent');
});

test('with the server stopped the agent keeps serving cached SVIDs, and catches up when it returns', async (t) => {
  const port = await freePort();
  const srv = await startServer(t, { config: { agent_api: { listen: `127.0.0.1:${port}` } } });
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  const w = watchX509(t, agent.socketPath, ALICE);
  await until('first update', () => w.updates().length >= 1);
  const cached = (await fetchSerials(agent.socketPath))[0]!;

  await srv.stop();
  await until('agent noticed', () => /entry sync disconnected/.test(agent.proc.stderr()));
  const during = (await fetchSerials(agent.socketPath))[0]!;
  t.is(during.serial, cached.serial, 'cached SVID served while the server is down');
  t.is(w.child.exitCode, null, 'open stream stays open');

  await srv.restart();
  t.is(srv.agentAddress, `127.0.0.1:${port}`);
  const mark = agent.proc.stderr().length;
  await until('sync reconnected', () => /"msg":"entry sync connected"/.test(agent.proc.stderr().slice(mark)), 20_000);
  // Caught up: an entry created now reaches the still-open stream.
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice-2', [`unix:uid:${ALICE.uid}`]);
  await until('new entry after reconnect', () => w.updates().some((u) => u.svids.some((s) => s.spiffe_id.endsWith('/alice-2'))));
  t.pass();
});

test('first contact by pinned CA fingerprint attests and serves', async (t) => {
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv, trust: 'fingerprint' });
  t.regex(agent.proc.stderr(), /server CA matched pinned fingerprint/);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  t.deepEqual((await fetchSerials(agent.socketPath)).map((s) => s.spiffe_id), ['spiffe://example.org/alice']);
});

test('a wrong pinned fingerprint stops the agent before it sends its join token', async (t) => {
  const srv = await startServer(t);
  const token = await srv.joinToken();
  t.teardown(() => { rmSync(`/tmp/tag-wrongfp-${process.pid}`, { recursive: true, force: true }); });
  const agentRun = agentCli(['run', '--server-address', srv.agentAddress, '--trust-domain', 'example.org',
    '--ca-fingerprint', 'sha256:' + '00'.repeat(32), '--data-dir', `/tmp/tag-wrongfp-${process.pid}`, '--socket-path', `/tmp/tas-wrongfp-${process.pid}.sock`,
    '--join-token', token]);
  const r = await agentRun;
  t.is(r.code, 1);
  t.regex(r.stderr, /pinned CA fingerprint/);
  // The token was never presented, so it still works.
  const again = await startAgent(t, { server: srv, joinToken: token });
  t.regex(again.spiffeId, /join_token/);
});
