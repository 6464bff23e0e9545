import test from 'ava';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminCall, sharedScope, startServer, type TestServer } from '../helpers/server.ts';

/**
 * `tessera-server entry list --output json | head`: when the reader goes away the CLI
 * ends quietly (status 0 or 141, as a Unix tool killed by SIGPIPE), never with an
 * unhandled EPIPE stack trace.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scope = sharedScope();
let srv: TestServer;
test.before(async () => {
  srv = await startServer(scope);
  // Far more JSON than a pipe buffers (64 KiB), so the CLI is still writing when the reader leaves.
  for (let b = 0; b < 4; b++) {
    await adminCall(srv.admin().entry, 'BatchCreateEntry', {
      entries: Array.from({ length: 250 }, (_, i) => ({
        spiffe_id: `spiffe://${srv.trustDomain}/pipe/b${b}-w${i}`, parent_id: `spiffe://${srv.trustDomain}/tessera/server`,
        selectors: [{ type: 'unix', value: `uid:${b * 1000 + i}` }, { type: 'unix', value: `gid:${b * 1000 + i}` }],
      })),
    });
  }
});
test.after.always(() => scope.cleanup());

/** Runs a CLI whose stdout is a pipe that this test closes after the first bytes arrive. */
function runUntilFirstBytes(bin: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; first: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TESSERA_ADMIN_SOCKET: srv.adminSocket },
    });
    let stderr = '', first = 0;
    child.stdout.once('data', (d: Buffer) => { first = d.length; child.stdout.destroy(); });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stderr, first }));
  });
}

test('tessera-server entry list --output json | head: quiet exit, no stack trace', async (t) => {
  const r = await runUntilFirstBytes('server/cli/main.ts', ['entry', 'list', '--output', 'json']);
  t.true(r.first > 0, 'the CLI wrote before the pipe closed');
  t.true(r.code === 0 || r.code === 141, `exit status ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
  t.notRegex(r.stderr, /EPIPE|Error|\n\s+at /, r.stderr);
});
