import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../helpers/server.ts';
import { startAgent, agentCli, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until, ALICE, BOB } from '../helpers/agent-e2e.ts';

/**
 * Ban and eviction with real server and agent processes: the server refuses the
 * agent's sync stream and renewal with PermissionDenied; the agent says so in one
 * clear error line, forgets its SVID, stops syncing and mints nothing new.
 */
const fetchX509 = (agent: TestAgent, who: { uid: number; gid: number }) =>
  agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', agent.socketPath], who);

/** Log lines (JSON) of the agent from `mark` on. */
const logsSince = (agent: TestAgent, mark: number) => agent.proc.stderr().slice(mark).split('\n').filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: string });

async function revokedAgent(t: import('ava').ExecutionContext, verb: 'ban' | 'evict') {
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  // Known to the agent but never fetched, so never minted: after the ban it must stay so.
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/bob', [`unix:uid:${BOB.uid}`]);
  const before = await fetchX509(agent, ALICE);
  t.is(before.code, 0, before.stderr);
  await until('both entries synced', () => /"msg":"entry sync (connected|update)"/.test(agent.proc.stderr()));

  const mark = agent.proc.stderr().length;
  const r = await srv.cli(['agent', verb, agent.spiffeId]);
  t.is(r.code, 0, r.stderr);
  // The bound is for a stuck agent only (the default of until()).
  const refused = await until('the agent logs the refusal', () => logsSince(agent, mark).find((l) => l.msg.startsWith('server refused to renew the agent SVID')));
  // Logged after the SVID files are deleted and minting is stopped (the refusal line comes just before).
  await until('the agent applied the revocation', () => logsSince(agent, mark).some((l) => l.msg.startsWith('agent identity revoked by the server')));
  // The sync stream is not retried forever against a server that will refuse it: the
  // loop ends for good and says why; nothing of it can run after this line.
  const stopped = await until('the entry sync stopped', () => logsSince(agent, mark).find((l) => l.msg === 'entry sync stopped'));
  return { srv, agent, mark, refused, stopped };
}

/** Sync activity logged after the sync loop said it stopped (must be none). */
const syncAfterStop = (agent: TestAgent, mark: number) => {
  const logs = logsSince(agent, mark);
  return logs.slice(logs.findIndex((l) => l.msg === 'entry sync stopped') + 1)
    .filter((l) => l.msg === 'entry sync disconnected; reconnecting' || l.msg === 'entry sync connected').map((l) => l.msg);
};

test('a banned agent is refused with PermissionDenied, logs it clearly, forgets its SVID and mints nothing new', async (t) => {
  const { agent, mark, refused, stopped } = await revokedAgent(t, 'ban');
  t.is(refused.level, 'error');
  t.regex(refused.msg, /this agent is banned/);
  t.is((refused.err as { code?: string }).code, 'ERR_AGENT_BANNED');
  const logs = logsSince(agent, mark);
  t.true(logs.some((l) => l.msg === 'entry sync disconnected; reconnecting' && /PERMISSION_DENIED/.test(JSON.stringify(l.err))), 'the sync stream was refused');
  t.true(logs.some((l) => l.msg.startsWith('agent identity revoked by the server')));
  t.false(existsSync(join(agent.dataDir, 'agent-svid.pem')), 'SVID deleted from the data dir');
  t.false(existsSync(join(agent.dataDir, 'agent-key.pem')));

  // An entry the agent knew but had not minted yet: refused, and no signing call is made.
  // (The server also withdraws a banned agent's entries over sync before ending the
  // stream; either way the workload gets PermissionDenied.)
  const bob = await fetchX509(agent, BOB);
  t.is(bob.code, 1);
  t.regex(bob.stderr, /PERMISSION_DENIED/);
  t.false(logsSince(agent, mark).some((l) => l.msg === 'signed X.509-SVIDs'), 'nothing minted after the ban');

  // The sync loop stopped for good because of the ban (not a shutdown), and nothing of
  // it ran while the workload above was served.
  t.is(stopped.level, 'warn');
  t.regex(String(stopped.reason), /agent was banned or evicted: this agent is banned/);
  t.deepEqual(syncAfterStop(agent, mark), [], 'no sync reconnects after revocation');
  t.is(agent.proc.child.exitCode, null, 'the agent keeps running (its socket answers PermissionDenied)');
});

test('an evicted agent is refused likewise, and a new join token re-attests it', async (t) => {
  const { srv, agent, mark, refused, stopped } = await revokedAgent(t, 'evict');
  t.regex(refused.msg, /was evicted/);
  t.is((refused.err as { code?: string }).code, 'ERR_AGENT_NOT_ATTESTED');
  t.regex(String(stopped.reason), /agent was banned or evicted: this agent was evicted/);
  t.false(existsSync(join(agent.dataDir, 'agent-svid.pem')));
  const bob = await fetchX509(agent, BOB);
  t.is(bob.code, 1);
  t.regex(bob.stderr, /PERMISSION_DENIED/);
  t.false(logsSince(agent, mark).some((l) => l.msg === 'signed X.509-SVIDs'), 'nothing minted after the eviction');
  t.deepEqual(syncAfterStop(agent, mark), [], 'no sync reconnects after the eviction');

  // Restarting with the used-up token cannot resume (SVID gone) nor attest again; a new token does.
  const oldId = agent.spiffeId;
  await agent.restart({ joinToken: await srv.joinToken() });
  t.false(agent.resumed);
  t.regex(agent.proc.stderr(), /"msg":"attesting to the server"[^\n]*"reason":"no saved agent SVID"/);
  t.regex(agent.proc.stderr(), /"msg":"agent attested"/);
  t.not(agent.spiffeId, oldId);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice-again', [`unix:uid:${ALICE.uid}`]);
  const again = await fetchX509(agent, ALICE);
  t.is(again.code, 0, again.stderr);
  t.deepEqual((JSON.parse(again.stdout) as { svids: { spiffe_id: string }[] }).svids.map((s) => s.spiffe_id), ['spiffe://example.org/alice-again']);
  const listed = JSON.parse((await srv.cli(['agent', 'list', '--output', 'json'])).stdout) as unknown[];
  t.is(listed.length, 1, 'only the re-attested agent is on record');
});
