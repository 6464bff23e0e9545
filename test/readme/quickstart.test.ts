import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { pemToDer } from '../../spiffe/pem.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { freePort, ROOT } from '../helpers/proc.ts';

/**
 * The README's "Using it" section, run as a new user would: its ```sh blocks, in
 * order, as one bash script (-e: the first failing command fails the test). Only
 * what must differ on a test machine is replaced: the /tmp/tessera directory (a temp
 * dir), port 8081 (a free one) and `npx tessera-…` (wrappers on PATH that run the
 * TypeScript sources, so the test checks this tree, never a stale dist/ build).
 */
function usingItScript(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Using it\n');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

test('the README "Using it" commands run as written, in order, and end with the workload holding its SVIDs', async (t) => {
  t.timeout(10 * 60_000, 'a server, an agent and about a dozen CLI processes on a busy machine');
  const script = usingItScript();
  t.regex(script, /tessera-server run --config/, 'the README says how to start the server');
  t.regex(script, /tessera-agent run --config/, 'the README says how to start the agent');
  t.notRegex(script, /^SPIFFE_ENDPOINT_SOCKET=\S+ /m, 'no variable set inline for one command only');

  const dir = mkdtempSync(join(tmpdir(), 'trd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const loader = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
  for (const [name, main] of [['tessera-server', 'server/cli/main.ts'], ['tessera-agent', 'node-agent/cli/main.ts']]) {
    writeFileSync(join(bin, name!), `#!/bin/sh\nexec "${process.execPath}" --import "${loader}" "${join(ROOT, main!)}" "$@"\n`);
    chmodSync(join(bin, name!), 0o755);
  }
  const work = join(dir, 'w');
  const port = await freePort();
  const run = script.replaceAll('/tmp/tessera', work).replaceAll('127.0.0.1:8081', `127.0.0.1:${port}`).replace(/\bnpx (tessera-(server|agent))\b/g, '$1');
  writeFileSync(join(dir, 'using-it.sh'), run);

  const child = spawn('bash', ['-e', '-o', 'pipefail', join(dir, 'using-it.sh')], {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, TESSERA_ADMIN_SOCKET: '', SPIFFE_ENDPOINT_SOCKET: '' },
  });
  // The script starts the server and the agent in the background: if it fails half-way,
  // they are ended with it (its own process group, by the pid we started).
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* all gone */ } });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? -1)));
  const logs = ['server.log', 'agent.log'].map((f) => join(work, f)).filter(existsSync).map((f) => `--- ${f}\n${readFileSync(f, 'utf8').slice(-3000)}`);
  t.is(code, 0, `the README script failed:\n${stderr.slice(-3000)}\n${logs.join('\n')}`);

  // Step 4 wrote the workload's X.509-SVID: the README's entry, verifying against the bundle.
  const chain = pemToDer(readFileSync(join(work, 'svid', 'svid.pem'), 'utf8'));
  const bundle = pemToDer(readFileSync(join(work, 'svid', 'bundle.pem'), 'utf8'));
  const svid = verifyX509Svid(chain, { getX509BundleForTrustDomain: () => new X509Bundle(TrustDomain.parse('example.org'), bundle) });
  t.is(svid.id.toString(), 'spiffe://example.org/agents/researcher');
  t.is(svid.claims.agent_model, 'claude-sonnet-4');
  t.regex(stdout, /token:\s+eyJ/, 'a JWT-SVID was printed');
  t.regex(stdout, /"jwt-svid"/, 'the bundle was printed as a SPIFFE bundle');
});
