import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordAction, RecordActionError } from '../../spiffe/audit/record-action.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { openCheckpoint, parseVerifierKey } from '../../server/audit/checkpoint.ts';
import { decodeEvent } from '../../server/audit/events.ts';
import { leafHash, verifyInclusion } from '../../server/audit/merkle.ts';
import { ROOT } from '../helpers/proc.ts';
import { sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { makeRootCa, makeSvid } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The transparency log end to end (docs/audit.md): a real server and node agent, this
 * test process as the workload (attested by uid 0), receipts through the SDK, issuance
 * events, the admin CLI, and the offline verifier on the server's published key.
 */
const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;
const RUNNER = 'spiffe://example.org/runner';

test.before(async () => {
  srv = await startServer(scope, { config: { audit: { checkpoint_interval: '1s' } } });
  agent = await startAgent(scope, { server: srv });
  await createEntry(srv, agent.spiffeId, RUNNER, ['unix:uid:0']);
});
test.after.always(() => scope.cleanup());

const key = () => parseVerifierKey(readFileSync(join(srv.dataDir, 'audit-key.pub'), 'utf8'));
const svid = async () => {
  const client = new WorkloadApiClient({ address: agent.endpoint });
  try {
    const u = await client.fetchX509Svids({ timeoutMs: 60_000 });
    return u.svids.find((s) => s.spiffeId === RUNNER)!;
  } finally { client.close(); }
};
const tool = (args: string[], stdin?: string) => spawnSync(process.execPath, [join(ROOT, 'bin/tessera-audit.js'), ...args], { encoding: 'utf8', input: stdin });

test('a signed receipt is logged under the attested identity and comes back with a proof against a signed checkpoint', async (t) => {
  const s = await svid();
  const res = await recordAction({
    address: agent.endpoint, subject: 'alice', tool: 'github.create_issue', action: 'call', arguments: { title: 'bug' }, result: { id: 7 },
    decision: 'allow', correlationId: 'req-1',
    sign: { id: { toString: () => s.spiffeId }, certificates: s.certificates, privateKey: s.privateKey }, wait: true, waitTimeoutMs: 60_000,
  });
  const ev = decodeEvent(res.leaf);
  t.like(ev, { type: 'agent.action', actor: RUNNER, subject: 'alice', resource: 'github.create_issue', action: 'call', decision: 'allow', correlation_id: 'req-1' });
  t.regex(ev.instance ?? '', /^inst_/);
  t.like(ev.detail, { signed: true, uid: 0, agent: agent.spiffeId });
  t.truthy(res.proof, 'a checkpoint covered the record');
  const cp = openCheckpoint(res.proof!.checkpoint, [key()], 'example.org/tessera/audit');
  t.is(cp.size, res.proof!.treeSize);
  verifyInclusion(res.index, cp.size, leafHash(res.leaf), res.proof!.hashes, cp.root);
  t.pass();
});

test('a receipt signed by another key, or naming other fields than recorded, is refused', async (t) => {
  const s = await svid();
  const ca = await makeRootCa('example.org');
  const forged = makeSvid(ca, RUNNER);
  const e1 = await t.throwsAsync(recordAction({
    address: agent.endpoint, tool: 'x', sign: { id: { toString: () => RUNNER }, certificates: forged.certificates, privateKey: forged.pkcs8 },
  }), { instanceOf: RecordActionError });
  t.regex(e1!.message, /not a valid X\.509-SVID/);
  const other = await t.throwsAsync(recordAction({ address: agent.endpoint, spiffeId: 'spiffe://example.org/someone-else', tool: 'x' }), { instanceOf: RecordActionError });
  t.regex(other!.message, /not an identity of this caller/);
  void s;
});

test('issuance and receipts are queryable with the CLI; proofs and exports verify offline with the published key', async (t) => {
  await recordAction({ address: agent.endpoint, subject: 'bob', tool: 'files.read', action: 'call', arguments: 'a' });
  const issued = JSON.parse((await srv.cli(['audit', 'query', '--type', 'x509svid.issued', '--actor', agent.spiffeId, '--output', 'json'])).stdout) as { index: number; event: { resource: string; detail: { serial: string } } }[];
  t.true(issued.some((e) => e.event.resource === RUNNER && e.event.detail.serial.length > 0));
  const attested = JSON.parse((await srv.cli(['audit', 'query', '--type', 'agent.attested', '--output', 'json'])).stdout) as { event: { actor: string; detail: { evidence_sha256: string } } }[];
  t.true(attested.some((e) => e.event.actor === agent.spiffeId && e.event.detail.evidence_sha256.length === 64));
  const bob = JSON.parse((await srv.cli(['audit', 'query', '--subject', 'bob', '--output', 'json'])).stdout) as { index: number; event: { type: string } }[];
  t.is(bob.length, 1);
  t.is(bob[0]!.event.type, 'agent.action');

  const dir = tempDir(t);
  const cp = await srv.cli(['audit', 'checkpoint', '--create', '--output', 'json']);
  t.is(cp.code, 0, cp.stderr);
  t.true((JSON.parse(cp.stdout) as { size: number }).size > bob[0]!.index);
  const proof = await srv.cli(['audit', 'prove', '--index', String(bob[0]!.index), '--output', 'json']);
  t.is(proof.code, 0, proof.stderr);
  writeFileSync(join(dir, 'proof.json'), proof.stdout);
  const keyFile = join(srv.dataDir, 'audit-key.pub');
  const v = tool(['verify-proof', join(dir, 'proof.json'), '--key-file', keyFile]);
  t.is(v.status, 0, v.stderr + v.stdout);
  const tampered = JSON.parse(proof.stdout) as { index: number };
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...tampered, index: tampered.index + 1 }));
  t.is(tool(['verify-proof', join(dir, 'bad.json'), '--key-file', keyFile]).status, 1);

  const exp = await srv.cli(['audit', 'export', '--out', join(dir, 'log.jsonl')]);
  t.is(exp.code, 0, exp.stderr);
  const ok = tool(['verify', join(dir, 'log.jsonl'), '--key-file', keyFile, '--output', 'json']);
  t.is(ok.status, 0, ok.stderr + ok.stdout);
  t.true((JSON.parse(ok.stdout) as { leaves: number }).leaves >= 3);
  t.is(tool(['verify', join(dir, 'log.jsonl')]).status, 2, 'a trusted key is required');
});

test('kill -9 during heavy appending: after restart the log is intact, extends the last checkpoint and verifies', async (t) => {
  const own = await startServer(t, { config: { audit: { checkpoint_interval: '50ms' } } });
  // Admin writes (join tokens) each append an audit record: keep many in flight, kill mid-stream.
  let stop = false;
  const writers = Array.from({ length: 8 }, async () => { while (!stop) await own.joinToken().catch(() => undefined); });
  await until('checkpoints under load', () => /signed audit checkpoint[^\n]*"size":[1-9]\d{2,}/.test(own.proc.stderr()), 120_000, 20);
  process.kill(own.proc.child.pid!, 'SIGKILL');
  await own.proc.exited;
  stop = true;
  await Promise.all(writers);
  await own.restart();
  const cp = await own.cli(['audit', 'checkpoint', '--create', '--output', 'json']);
  t.is(cp.code, 0, cp.stderr);
  const dir = tempDir(t);
  t.is((await own.cli(['audit', 'export', '--out', join(dir, 'log.jsonl')])).code, 0);
  const v = tool(['verify', join(dir, 'log.jsonl'), '--key-file', join(own.dataDir, 'audit-key.pub'), '--output', 'json']);
  t.is(v.status, 0, v.stdout + v.stderr);
  const r = JSON.parse(v.stdout) as { leaves: number; checkpoints: number; uncovered: number };
  t.true(r.checkpoints >= 2);
  t.is(r.uncovered, 0);
});
