import test from 'ava';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { run, type RunResult } from './consumer.ts';
import { spawnNode } from './node-proc.ts';

/**
 * The one place tests run the compiled server and agent (dist/, `npm run build`)
 * through bin/*.js with plain node; every other test spawns the TypeScript sources.
 */
const FALLBACK = /dist\/ is not built/;

const node = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
  run(process.execPath, args, { cwd: ROOT, env: { NODE_OPTIONS: '', ...env }, timeoutMs: 60_000 });

test.before(async () => {
  const r = await run('npm', ['run', '--silent', 'build'], { cwd: ROOT, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
});

test('the build holds JavaScript only: no .ts module is imported or started as a worker', (t) => {
  const files = readdirSync(join(ROOT, 'dist'));
  t.true(files.includes('tessera-server.mjs') && files.includes('tessera-agent.mjs') && files.includes('tpm-worker.mjs'), files.join(', '));
  for (const f of files.filter((n) => n.endsWith('.mjs'))) {
    const code = readFileSync(join(ROOT, 'dist', f), 'utf8');
    t.notRegex(code, /(?:from |import\(|new URL\()\s*["'`][^"'`]*\.ts["'`]/, f);
  }
});

test('tessera-server --help and tessera-agent --help run from dist with plain node', async (t) => {
  for (const [bin, usage] of [['bin/tessera-server.js', 'Usage: tessera-server'], ['bin/tessera-agent.js', 'Usage: tessera-agent']] as const) {
    const r = await node([bin, '--help']);
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith(usage), r.stdout);
    t.notRegex(r.stderr, FALLBACK);
  }
});

test('the built server and agent start, and a workload gets its SVID through the built agent CLI', async (t) => {
  const dir = tempDir(t, 'tbin-');
  chmodSync(dir, 0o755);
  const serverYaml = join(dir, 'server.yaml');
  writeFileSync(serverYaml, JSON.stringify({
    trust_domain: 'example.org', data_dir: join(dir, 'srv'), log_level: 'info',
    agent_api: { listen: '127.0.0.1:0' }, node_attestors: { join_token: {} },
  }));
  const server = spawnNode(['bin/tessera-server.js', 'run', '--config', serverYaml]);
  t.teardown(() => server.stop());
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

  const entry = await node(['bin/tessera-server.js', 'entry', 'create', '--output', 'json', '--parent-id', ready.spiffe_id,
    '--spiffe-id', 'spiffe://example.org/built', '--selector', `unix:uid:${process.getuid!()}`], admin);
  t.is(entry.code, 0, entry.stderr);
  // The entry reaches the agent asynchronously: until then the caller is refused (PermissionDenied).
  let fetched: RunResult | undefined;
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) { // bounds a sync that never comes only
    fetched = await node(['bin/tessera-agent.js', 'api', 'fetch', 'x509', '--output', 'json', '--socket', socket]);
    if (fetched.code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(fetched!.code, 0, fetched!.stderr);
  const svids = (JSON.parse(fetched!.stdout) as { svids: { spiffe_id: string }[] }).svids;
  t.deepEqual(svids.map((s) => s.spiffe_id), ['spiffe://example.org/built']);
  t.notRegex(agent.stderr(), FALLBACK);
});
