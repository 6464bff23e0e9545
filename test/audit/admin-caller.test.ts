import test from 'ava';
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnTs } from '../helpers/proc.ts';
import { attestNewAgent, sharedScope, startServer, type TestServer } from '../helpers/server.ts';

/**
 * Admin changes name their caller (docs/audit.md "Admin changes"): the real CLI, a
 * separate process, changes things over the admin socket, and the transparency log
 * records the kernel's uid and pid of that process, not anything the CLI says.
 */
const scope = sharedScope();
let srv: TestServer;

test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

interface Leaf { index: number; event: { type: string; actor?: string; resource?: string; detail?: Record<string, unknown> } }

/** Runs `tessera-server <args>` as its own process (optionally as another user); resolves with its pid and stdout. */
async function cliAs(t: import('ava').ExecutionContext, args: string[], user?: { uid: number; gid: number }): Promise<{ pid: number; stdout: string }> {
  const p = spawnTs(t, 'server/cli/main.ts', args, { env: { ...process.env, TESSERA_ADMIN_SOCKET: srv.adminSocket }, ...user });
  const { code } = await p.exited;
  t.is(code, 0, p.stderr());
  return { pid: p.child.pid!, stdout: p.stdout() };
}

async function logged(type: string, resource: string): Promise<Leaf> {
  const r = await srv.cli(['audit', 'query', '--type', type, '--output', 'json']);
  const leaf = (JSON.parse(r.stdout) as Leaf[]).find((l) => l.event.resource === resource);
  if (!leaf) throw new Error(`no ${type} event for ${resource} in the log: ${r.stdout}${r.stderr}`);
  return leaf;
}

test('an entry created by the CLI as root is logged with admin_uid 0 and the CLI process pid', async (t) => {
  const cli = await cliAs(t, ['entry', 'create', '--output', 'json', '--spiffe-id', 'spiffe://example.org/admin-caller/root',
    '--parent-id', 'spiffe://example.org/spire/agent/x', '--selector', 'unix:uid:4242']);
  const entry = (JSON.parse(cli.stdout) as { entry: { id: string } }[])[0]!.entry;
  // Admin changes wait for the commit: the event is in the log as soon as the CLI has its answer.
  const { event } = await logged('entry.created', entry.id);
  t.is(event.actor, 'admin:uid:0');
  t.like(event.detail, { admin_uid: 0, admin_gid: 0, admin_pid: cli.pid });
});

test('a ban by the CLI names the admin as the actor, not the banned agent', async (t) => {
  const agent = await attestNewAgent(t, srv);
  const id = agent.id;
  const cli = await cliAs(t, ['agent', 'ban', id]);
  const { event } = await logged('agent.banned', id);
  t.is(event.actor, 'admin:uid:0');
  t.like(event.detail, { admin_uid: 0, admin_pid: cli.pid });
});

test('the CLI run as uid 1000 on a socket open to it is logged with admin_uid 1000', async (t) => {
  if (process.getuid?.() !== 0) { t.pass('needs root to run the CLI as another user'); return; }
  // The server refuses a socket directory others can enter only at start: open it now, for this test's caller.
  const socketDir = dirname(srv.adminSocket);
  for (const d of [dirname(socketDir), socketDir]) chmodSync(d, 0o711);
  chmodSync(srv.adminSocket, 0o666);
  t.teardown(() => { for (const d of [dirname(socketDir), socketDir]) chmodSync(d, 0o700); chmodSync(srv.adminSocket, 0o600); });
  const cli = await cliAs(t, ['entry', 'create', '--output', 'json', '--spiffe-id', 'spiffe://example.org/admin-caller/alice',
    '--parent-id', 'spiffe://example.org/spire/agent/x', '--selector', 'unix:uid:4243'], { uid: 1000, gid: 1000 });
  const entry = (JSON.parse(cli.stdout) as { entry: { id: string } }[])[0]!.entry;
  const { event } = await logged('entry.created', entry.id);
  t.is(event.actor, 'admin:uid:1000');
  t.like(event.detail, { admin_uid: 1000, admin_gid: 1000, admin_pid: cli.pid });
});
