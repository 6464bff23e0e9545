import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigner, signerPem, verifierKeyText } from '../../server/audit/checkpoint.ts';
import { ROOT } from '../helpers/proc.ts';
import { postgresTestDatabase, startServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * Two tessera-server processes on one PostgreSQL database append to one linear log:
 * every event of both lands once, at a dense index, in one tree both sign checkpoints of
 * (with the shared audit key), and the export verifies offline.
 */
test('two servers appending concurrently build one log with no fork, no gap and no duplicate', async (t) => {
  const cs = await postgresTestDatabase(t, 'tessera_tlog_srv');
  if (!cs) return t.pass('PostgreSQL not reachable');
  const dir = tempDir(t);
  const signer = generateSigner('example.org/tessera/audit');
  const keyFile = join(dir, 'audit-key.pem');
  writeFileSync(keyFile, signerPem(signer), { mode: 0o600 });
  const config = { datastore: { kind: 'postgres', connection: cs }, audit: { key_file: keyFile, checkpoint_interval: '200ms' } };
  const a = await startServer(t, { config });
  const b = await startServer(t, { config });

  // Each join token is one audit record (appendAudit → the log), on both servers at once.
  const per = 150;
  const tokens = await Promise.all([a, b].map(async (srv) => {
    const out: string[] = [];
    await Promise.all(Array.from({ length: 6 }, async () => { while (out.length < per) out.push(await srv.joinToken()); }));
    return out.length;
  }));
  const total = tokens[0]! + tokens[1]!;

  for (const srv of [a, b]) t.is((await srv.cli(['audit', 'checkpoint', '--create'])).code, 0);
  const events = JSON.parse((await a.cli(['audit', 'query', '--type', 'join_token.created', '--from', '0', '--limit', '10000', '--output', 'json'])).stdout) as { index: number }[];
  t.is(events.length, total, 'every record of both servers is in the log once');
  const fromB = JSON.parse((await b.cli(['audit', 'query', '--type', 'join_token.created', '--from', '0', '--limit', '10000', '--output', 'json'])).stdout) as { index: number }[];
  t.deepEqual(fromB.map((e) => e.index), events.map((e) => e.index), 'both servers read the same log');

  const file = join(dir, 'log.jsonl');
  t.is((await b.cli(['audit', 'export', '--out', file])).code, 0);
  const pub = join(dir, 'audit-key.pub');
  writeFileSync(pub, verifierKeyText(signer) + '\n');
  const v = spawnSync(process.execPath, [join(ROOT, 'bin/tessera-audit.js'), 'verify', file, '--key-file', pub, '--output', 'json'], { encoding: 'utf8' });
  t.is(v.status, 0, v.stdout + v.stderr);
  const r = JSON.parse(v.stdout) as { leaves: number; checkpoints: number };
  t.true(r.leaves >= total);
  t.true(r.checkpoints >= 2);
});
