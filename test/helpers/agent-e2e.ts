import { startServer, type Scope, type TestServer } from './server.ts';
import { startAgent, type TestAgent } from './agent.ts';

/** Creates one entry through the server CLI and returns its id. */
export async function createEntry(srv: TestServer, parentId: string, spiffeId: string, selectors: string[], extra: string[] = []): Promise<string> {
  const r = await srv.cli(['entry', 'create', '--output', 'json', '--parent-id', parentId, '--spiffe-id', spiffeId,
    ...selectors.flatMap((s) => ['--selector', s]), ...extra]);
  if (r.code !== 0) throw new Error(`entry create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { entry: { id: string } }[])[0]!.entry.id;
}

export async function deleteEntry(srv: TestServer, id: string): Promise<void> {
  const r = await srv.cli(['entry', 'delete', id]);
  if (r.code !== 0) throw new Error(`entry delete failed: ${r.stderr}`);
}

/** Polls `fn` until it holds; `timeoutMs` only bounds a condition that never comes (generous on purpose). */
export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Workload uids/gids the tests run as (the test runs as root). */
export const ALICE = { uid: 1000, gid: 1000 };
export const BOB = { uid: 65534, gid: 65534 };

/** An entry for startAgentE2E: parented to the agent; `extra` are further `entry create` flags. */
export interface E2EEntry { spiffeId: string; selectors: string[]; extra?: string[] }

/**
 * A real server process and a real agent process attested to it, with `entries`
 * created through the server CLI under the agent: the start of every end-to-end test
 * whose workloads are separate processes.
 */
export async function startAgentE2E(scope: Scope, entries: E2EEntry[]): Promise<{ srv: TestServer; agent: TestAgent }> {
  const srv = await startServer(scope);
  const agent = await startAgent(scope, { server: srv });
  for (const e of entries) await createEntry(srv, agent.spiffeId, e.spiffeId, e.selectors, e.extra);
  return { srv, agent };
}
