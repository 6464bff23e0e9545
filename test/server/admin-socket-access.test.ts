import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedScope, startServer, type CliResult, type TestServer } from '../helpers/server.ts';

/**
 * A user who may not use a running server's admin socket (0700 directory owned by the
 * server's user) is told so, with who may, instead of "is tessera-server running?".
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NOBODY = { uid: 65534, gid: 65534 };

const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

function cliAs(ids: { uid: number; gid: number }, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: tmpdir() }, ...ids,
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test.serial('another uid is told permission denied and who owns the admin socket directory, not "is tessera-server running?"', async (t) => {
  const socketDir = dirname(srv.adminSocket);
  t.is(statSync(socketDir).mode & 0o777, 0o700);
  // The data dir (a 0700 temp dir here) refuses first.
  const r1 = await cliAs(NOBODY, ['entry', 'list', '--socket', srv.adminSocket]);
  t.is(r1.code, 1, r1.stderr);
  t.regex(r1.stderr, new RegExp(`permission denied on admin socket ${srv.adminSocket}: directory ${srv.dataDir} \\(mode 0700\\) belongs to root \\(uid 0\\)`));
  t.regex(r1.stderr, /this command runs as nobody \(uid 65534\)/);
  t.notRegex(r1.stderr, /does not exist|is tessera-server running/);
  // As installed: a traversable data dir, the 0700 admin directory refuses.
  chmodSync(srv.dataDir, 0o755);
  t.teardown(() => chmodSync(srv.dataDir, 0o700));
  const r2 = await cliAs(NOBODY, ['entry', 'list', '--output', 'json', '--socket', srv.adminSocket]);
  t.is(r2.code, 1, r2.stderr);
  const err = JSON.parse(r2.stderr.trim().split('\n').at(-1)!);
  t.is(err.code, 'ERR_ADMIN_SOCKET_ACCESS');
  t.regex(err.error, new RegExp(`directory ${socketDir} \\(mode 0700\\) belongs to root \\(uid 0\\); only that user or root may use the admin API`));
});

test.serial('the owner (root) still uses the socket, and a missing socket still says the server is not running', async (t) => {
  const ok = await cliAs({ uid: 0, gid: 0 }, ['entry', 'list', '--output', 'json', '--socket', srv.adminSocket]);
  t.is(ok.code, 0, ok.stderr);
  const missing = await cliAs(NOBODY, ['entry', 'list', '--socket', join(tmpdir(), 'no-such-dir', 'admin.sock')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /does not exist: is tessera-server running\?/);
});
