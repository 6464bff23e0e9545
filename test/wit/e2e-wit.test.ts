import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { sharedScope, type TestServer } from '../helpers/server.ts';
import type { TestAgent } from '../helpers/agent.ts';
import { startAgentE2E, ALICE } from '../helpers/agent-e2e.ts';
import { spawnTs } from '../helpers/proc.ts';
import { WITSource } from '../../spiffe/wit/source.ts';
import { getWitPeer, witMiddleware } from '../../spiffe/wit/middleware.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';

/**
 * Server, agent and the calling workload as separate processes: the workload (uid
 * ALICE) gets its WIT-SVID and key from the agent's WIT-SVID profile and calls a
 * node:http resource server (this process, its bundles from the same agent) with a
 * Workload Proof Token.
 */
const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;

test.before(async () => {
  ({ srv, agent } = await startAgentE2E(scope, [
    { spiffeId: 'spiffe://example.org/wit-caller', selectors: [`unix:uid:${ALICE.uid}`], extra: ['--agent-model', 'claude-test', '--agent-provider', 'anthropic', '--agent-version', '1.0'] },
    // The resource server (this test process) is a workload too: its WIT bundles come from the agent.
    { spiffeId: 'spiffe://example.org/resource', selectors: [`unix:uid:${process.getuid!()}`] },
  ]));
});
test.after.always(() => scope.cleanup());

test.serial('a workload process fetches a WIT-SVID and calls a node:http server with a proof; the replay is refused', async (t) => {
  const bundles = await WITSource.create({ address: `unix://${agent.socketPath}`, timeoutMs: 60_000 });
  t.teardown(() => bundles.close());
  const seen: string[] = [];
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => { res.writeHead(503).end(); };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  // The configured origin (never the request's Host) names the port the workload calls.
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${origin}/invoices/42`;
  const mw = witMiddleware({ bundles, origins: origin, authorize: authorizeID('spiffe://example.org/wit-caller') });
  handle = (req, res) => mw(req, res, () => {
    const p = getWitPeer(req)!;
    seen.push(p.id.toString());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ caller: p.id.toString(), claims: p.claims }));
  });

  const proc = spawnTs(t, 'test/wit/workload-client.ts', [agent.socketPath, url], { uid: ALICE.uid, gid: ALICE.gid, env: { ...process.env, HOME: tmpdir() } });
  const line = await proc.waitFor(/^\{.*\}$/m, 120_000);
  const out = JSON.parse(line) as {
    spiffe_id: string; cnf_alg: string; key_type: string; kid: string; agent_claims: Record<string, string>;
    first: { status: number; body: { caller?: string; claims?: Record<string, string> } }; replay: { status: number; body: { code?: string } };
  };
  t.is(out.spiffe_id, 'spiffe://example.org/wit-caller');
  t.is(out.cnf_alg, 'ES256');
  t.is(out.key_type, 'ec');
  t.regex(out.kid, /^wit-/);
  t.like(out.agent_claims, { agent_model: 'claude-test', agent_provider: 'anthropic', agent_version: '1.0' });
  t.regex(out.agent_claims.agent_instance_id!, /^inst_/);
  t.is(out.first.status, 200, JSON.stringify(out.first.body));
  t.is(out.first.body.caller, 'spiffe://example.org/wit-caller');
  t.is(out.first.body.claims!.agent_instance_id, out.agent_claims.agent_instance_id);
  t.is(out.replay.status, 400);
  t.is(out.replay.body.code, 'ERR_WPT_REPLAYED');
  t.deepEqual(seen, ['spiffe://example.org/wit-caller']);
});
