import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { loadAdminProto } from '../../common/proto.ts';
import { createServer, connect, type Socket } from 'node:net';
import { adminCall, startServer, type TestServer } from '../helpers/server.ts';
import { startAgent, watchX509, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { dumpOnFailure, figure, findLine, linesAfter } from './lib.ts';

/**
 * A ban racing an agent's call that is already on its way: the call is held in the
 * network (a relay between agent and server holds everything the agent sends, while
 * the server's side still flows) at the moment the ban commits, and released after.
 * The server must refuse it, the agent must end up revoked, and the transparency log
 * must hold no SVID issued to the agent after the ban (docs/faults.md).
 *
 * "In flight" is a condition, not a window: from the hold on, the bytes the agent sends
 * are counted, and the ban goes out once a request's worth is held (a keepalive ping
 * or window update is ~40 bytes on the wire; a RenewAgent call with its CSR is several
 * hundred, a MintJWTSVID call a couple of hundred).
 */
const UID = process.getuid!();

interface Relay {
  port: number;
  /** Bytes the agent sent and the relay holds (not yet forwarded). */
  held(): number;
  /** Hold what the agent sends from now on (the server's side keeps flowing). */
  hold(): void;
  /** Forward what was held, in order, and everything after. */
  release(): void;
}

/** A TCP relay to the server that can hold the agent → server direction. */
async function holdingRelay(t: ExecutionContext, targetPort: number): Promise<Relay> {
  let holding = false;
  const pairs = new Set<{ upstream: Socket; queue: Buffer[] }>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { upstream, queue: [] as Buffer[] };
    pairs.add(pair);
    sockets.add(client).add(upstream);
    client.on('data', (d) => { if (holding) pair.queue.push(d); else upstream.write(d); });
    upstream.pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); pairs.delete(pair); };
    for (const s of [client, upstream]) { s.on('error', end); s.on('close', end); }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close(); });
  return {
    port: (server.address() as { port: number }).port,
    held: () => [...pairs].reduce((n, p) => n + p.queue.reduce((m, b) => m + b.length, 0), 0),
    hold: () => { holding = true; },
    release: () => {
      holding = false;
      for (const p of pairs) { for (const b of p.queue) p.upstream.write(b); p.queue = []; }
    },
  };
}

/** A server, and an agent that reaches it only through the relay. */
async function setup(t: ExecutionContext, serverConfig: Record<string, unknown> = {}): Promise<{ srv: TestServer; agent: TestAgent; relay: Relay }> {
  const srv = await startServer(t, { config: serverConfig });
  const relay = await holdingRelay(t, Number(srv.agentAddress.split(':')[1]));
  const agent = await startAgent(t, { server: { ...srv, agentAddress: `127.0.0.1:${relay.port}` } });
  dumpOnFailure(t, { agent: () => agent.proc, server: () => srv.proc });
  return { srv, agent, relay };
}

/** Holds what the agent sends; once `bytes` of a request are held, bans the agent, then releases. Returns the ban time (ms). */
async function banWhileHeld(t: ExecutionContext, s: { srv: TestServer; agent: TestAgent; relay: Relay }, what: string, bytes: number, start: () => void): Promise<number> {
  s.relay.hold();
  start();
  await until(`the ${what} held in the relay`, () => s.relay.held() >= bytes, 120_000, 10);
  const lostMark = s.agent.proc.stderr().length;
  const bannedAt = Date.now();
  await adminCall(s.srv.admin().agent, 'BanAgent', { spiffe_id: s.agent.spiffeId });
  // Had the agent given up on the held connection meanwhile, the call would not be in flight any more.
  t.falsy(findLine(s.agent.proc, 'server connection lost', lostMark), `the ${what} was still in flight when the ban committed`);
  figure(t, `${what}: bytes held when the ban committed`, s.relay.held(), 'B');
  s.relay.release();
  return bannedAt;
}

interface AuditRecord { index: string; time_ms: string; type: string; actor: string; subject: string; data: Buffer }

/** Transparency-log events by the agent (issuance, its attestation and renewals: actor) and its ban (resource; the actor is the admin). */
async function agentEvents(srv: TestServer, agentId: string): Promise<AuditRecord[]> {
  const p = loadAdminProto().tessera.v1;
  const client = new p.AuditAdmin(`unix://${srv.adminSocket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client;
  try {
    const [byActor, bans] = await Promise.all([
      adminCall<{ events: AuditRecord[] }>(client, 'ListAuditEvents', { actor: agentId, limit: 10_000 }),
      adminCall<{ events: AuditRecord[] }>(client, 'ListAuditEvents', { type: 'agent.banned', limit: 10_000 }),
    ]);
    const ofAgent = bans.events.filter((e) => (JSON.parse(Buffer.from(e.data).toString('utf8')) as { resource?: string }).resource === agentId);
    return [...byActor.events, ...ofAgent];
  } finally {
    client.close();
  }
}

/**
 * No SVID issued to the agent after the ban, from the log: issuance events (ms
 * timestamps) after `bannedAt`, the moment the ban was requested, and agent.* events
 * (second timestamps, appended through the same store queue as the ban) after the ban's leaf.
 * A marker entry written after the outcome makes sure everything before it is committed.
 */
async function assertNothingIssuedAfterBan(t: ExecutionContext, srv: TestServer, agentId: string, bannedAt: number): Promise<void> {
  await adminCall(srv.admin().entry, 'BatchCreateEntry', { entries: [{ spiffe_id: 'spiffe://example.org/faults/ban-race/marker', parent_id: agentId, selectors: [{ type: 'unix', value: 'uid:1' }] }] });
  let events = await agentEvents(srv, agentId);
  for (const end = Date.now() + 60_000; !events.some((e) => e.type === 'agent.banned'); events = await agentEvents(srv, agentId)) {
    if (Date.now() > end) throw new Error('timed out waiting for the ban in the transparency log');
    await new Promise((r) => setTimeout(r, 100));
  }
  const ban = events.find((e) => e.type === 'agent.banned')!;
  const issued = events.filter((e) => /\.issued$/.test(e.type));
  const agentSvids = events.filter((e) => e.type === 'agent.attested' || e.type === 'agent.renewed');
  t.true(agentSvids.length > 0, 'the agent was issued its SVID before the ban');
  const after = [
    ...issued.filter((e) => Number(e.time_ms) > bannedAt),
    ...agentSvids.filter((e) => Number(e.index) > Number(ban.index)),
  ];
  t.deepEqual(after.map((e) => `${e.type}@${e.time_ms}`), [], 'no SVID issued to the agent after the ban');
  figure(t, 'SVIDs issued to the agent before the ban (log events)', issued.length + agentSvids.length);
}

/** The agent logged its revocation (the renewal refused as banned), and serves no new SVIDs. */
async function assertRevoked(t: ExecutionContext, agent: TestAgent, mark: number): Promise<void> {
  const refused = await until('the agent to log the refused renewal', () => findLine(agent.proc, /^server refused to renew the agent SVID/, mark), 120_000, 50);
  t.is(refused.reason, 'this agent is banned');
  await until('the agent to log its revocation', () => findLine(agent.proc, /agent identity revoked by the server/, mark), 60_000, 50);
  t.is(agent.proc.child.exitCode, null, 'the agent process keeps running (serving what is cached until it expires)');
}

test.serial('a ban while the agent\'s renewal is in flight: the server refuses it, the agent is revoked, no SVID is issued after the ban', async (t) => {
  t.timeout(300_000);
  // Agent SVIDs of 20 s, renewed at half-life. The hold starts right after one renewal
  // has completed and the entry sync is connected again on the new connection (the
  // agent reconnects with each new SVID), so the next thing the agent sends is the next
  // renewal, ~10 s later: before its first keepalive ping (15 s) could time out.
  const s = await setup(t, { svid: { agent_ttl: 20 } });
  const renewed = await until('a first renewal', () => linesAfter(s.agent.proc).findIndex((l) => l.msg === 'agent SVID renewed') + 1, 120_000, 10);
  await until('the entry sync connected on the renewed SVID', () => linesAfter(s.agent.proc).slice(renewed).some((l) => l.msg === 'entry sync connected'), 60_000, 5);
  const mark = s.agent.proc.stderr().length;
  const bannedAt = await banWhileHeld(t, s, 'renewal', 300, () => undefined);
  await assertRevoked(t, s.agent, mark);
  t.falsy(findLine(s.agent.proc, 'agent SVID renewed', mark), 'the held renewal did not succeed');
  figure(t, 'ban → agent logs the refused renewal', Date.parse(findLine(s.agent.proc, /^server refused to renew/, mark)!.time!) - bannedAt, 'ms');
  await assertNothingIssuedAfterBan(t, s.srv, s.agent.spiffeId, bannedAt);
});

test.serial('a ban while an SVID mint is in flight: the server refuses it, the agent is revoked, no SVID is issued after the ban', async (t) => {
  t.timeout(300_000);
  const s = await setup(t);
  await createEntry(s.srv, s.agent.spiffeId, 'spiffe://example.org/faults/ban-race/workload', [`unix:uid:${UID}`]);
  const w = watchX509(t, s.agent.socketPath);
  await until('the workload\'s first X.509-SVID', () => w.updates().length >= 1, 60_000);
  const client = new WorkloadApiClient({ address: s.agent.endpoint });
  t.teardown(() => client.close());
  const mark = s.agent.proc.stderr().length;
  // A JWT-SVID is minted on request: the workload's fetch sends MintJWTSVID into the stalled connection.
  let fetched: Promise<unknown> = Promise.resolve();
  const bannedAt = await banWhileHeld(t, s, 'JWT-SVID mint', 120, () => {
    fetched = client.fetchJwtSvids({ audience: ['ban-race'], timeoutMs: 60_000 });
    fetched.catch(() => undefined);
  });
  const err = await t.throwsAsync(fetched as Promise<unknown>);
  t.log(`workload's FetchJWTSVID: ${err?.message}`);
  await assertRevoked(t, s.agent, mark);
  await assertNothingIssuedAfterBan(t, s.srv, s.agent.spiffeId, bannedAt);
});
