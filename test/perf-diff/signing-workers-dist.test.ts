import test from 'ava';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { run, type RunResult } from '../package/consumer.ts';
import { spawnNode } from '../package/node-proc.ts';

/**
 * ca.signing_workers in the compiled server: the sign-worker entry must be in dist/ and
 * the pool must load it as .mjs with plain node (no tsx), or the first CSR batch fails.
 */
const FALLBACK = /dist\/ is not built/;

const node = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
  run(process.execPath, args, { cwd: ROOT, env: { NODE_OPTIONS: '', ...env }, timeoutMs: 60_000 });

test.before(async () => {
  const r = await run('npm', ['run', '--silent', 'build'], { cwd: ROOT, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
});

test('the built server with ca.signing_workers signs workload X.509-SVIDs on its worker threads', async (t) => {
  const dir = tempDir(t, 'tsw-');
  chmodSync(dir, 0o755);
  const serverYaml = join(dir, 'server.yaml');
  writeFileSync(serverYaml, JSON.stringify({
    trust_domain: 'example.org', data_dir: join(dir, 'srv'), log_level: 'info',
    agent_api: { listen: '127.0.0.1:0' }, node_attestors: { join_token: {} }, ca: { signing_workers: 2 },
  }));
  const server = spawnNode(['bin/tessera-server.js', 'run', '--config', serverYaml]);
  t.teardown(() => server.stop());
  const pool = JSON.parse(await server.waitFor(/\{[^\n]*"msg":"signing pool started"[^\n]*\}/)) as { signing_workers: number };
  t.is(pool.signing_workers, 2);
  const started = JSON.parse(await server.waitFor(/\{[^\n]*"msg":"tessera server started"[^\n]*\}/)) as { admin_socket: string };
  t.notRegex(server.stderr(), FALLBACK);
  const admin = { TESSERA_ADMIN_SOCKET: started.admin_socket };

  const token = await node(['bin/tessera-server.js', 'token', 'generate', '--output', 'json'], admin);
  t.is(token.code, 0, token.stderr);
  const agentYaml = join(dir, 'agent.yaml');
  const socket = join(dir, 'agent.sock');
  writeFileSync(agentYaml, JSON.stringify({
    server_address: readFileSync(join(dir, 'srv', 'agent-api.addr'), 'utf8').trim(), trust_domain: 'example.org',
    trust_bundle_path: join(dir, 'srv', 'bundle.pem'), data_dir: join(dir, 'agent'), socket_path: socket, log_level: 'info',
    node_attestor: { method: 'join_token', join_token: { token: (JSON.parse(token.stdout) as { token: string }).token } },
  }));
  const agent = spawnNode(['bin/tessera-agent.js', 'run', '--config', agentYaml]);
  t.teardown(() => agent.stop());
  const ready = JSON.parse(await agent.waitFor(/\{[^\n]*"msg":"agent ready"[^\n]*\}/)) as { spiffe_id: string };

  // Several entries at once: the agent sends one CSR batch, which the pool splits across its threads.
  const ids = Array.from({ length: 6 }, (_, i) => `spiffe://example.org/pooled/${i}`);
  for (const id of ids) {
    const entry = await node(['bin/tessera-server.js', 'entry', 'create', '--output', 'json', '--parent-id', ready.spiffe_id,
      '--spiffe-id', id, '--selector', `unix:uid:${process.getuid!()}`], admin);
    t.is(entry.code, 0, entry.stderr);
  }
  let svids: { spiffe_id: string; x509_svid?: string }[] = [];
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) { // bounds a sync that never comes only
    const fetched = await node(['bin/tessera-agent.js', 'api', 'fetch', 'x509', '--output', 'json', '--socket', socket]);
    if (fetched.code === 0) {
      svids = (JSON.parse(fetched.stdout) as { svids: typeof svids }).svids;
      if (svids.length === ids.length) break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.deepEqual(svids.map((s) => s.spiffe_id).sort(), [...ids].sort());
  t.notRegex(server.stderr(), /ERR_SIGNING_WORKER|signing worker/);

  // Each leaf chains to the server's CA: signed by the worker with the CA key it was sent.
  const bundle = new X509Certificate(readFileSync(join(dir, 'srv', 'bundle.pem')));
  const out = join(dir, 'out');
  const written = await node(['bin/tessera-agent.js', 'api', 'fetch', 'x509', '--write', out, '--socket', socket]);
  t.is(written.code, 0, written.stderr);
  const leaf = new X509Certificate(readFileSync(join(out, 'svid.pem')));
  t.true(leaf.verify(bundle.publicKey));
  t.true(ids.some((id) => leaf.subjectAltName === `URI:${id}`), leaf.subjectAltName);
});
