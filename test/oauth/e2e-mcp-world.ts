import type { ExecutionContext } from 'ava';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry } from '../helpers/agent-e2e.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { freePort, spawnTs, type Proc } from '../helpers/proc.ts';
import { startServer, type Scope, type TestServer } from '../helpers/server.ts';

/**
 * The world of the examples/mcp/ end-to-end tests (e2e-mcp, e2e-mcp-interactive): a
 * real OpenID Provider, a tessera-server with `oauth` + `login`, a tessera-agent, and
 * two MCP servers (files, billing) running examples/mcp/mcp-server.ts as separate
 * processes under their own uids with SVIDs from the Workload API.
 */
export const TD = 'example.org';
export const ID = {
  agent: `spiffe://${TD}/agents/researcher`,
  sub: `spiffe://${TD}/agents/summarizer`,
  files: `spiffe://${TD}/mcp/files`,
  billing: `spiffe://${TD}/mcp/billing`,
};
export const UID = { agent: 1301, sub: 1302, files: 1303, billing: 1304 };

export interface McpWorld {
  op: OpenIdProvider;
  srv: TestServer;
  agent: TestAgent;
  /** Tessera's authorization server. */
  issuer: string;
  /** World-writable scratch directory for tokens handed between the workloads. */
  dir: string;
  files: { proc: Proc; url: string };
  billing: { proc: Proc; url: string };
  /** An examples/mcp script as workload `who`, stopped with scope `s`. */
  run(s: Scope, script: string, who: keyof typeof UID, env: Record<string, string>): Proc;
  /** examples/mcp/agent.ts as the agent or the sub-agent, pointed at the files server. */
  runAgent(s: Scope, who: 'agent' | 'sub', env: Record<string, string>): Proc;
  /** Runs `tessera-server delegation create` and throws on failure. */
  policy(args: string[]): Promise<void>;
}

export async function startMcpWorld(scope: Scope, o: { oauth?: Record<string, unknown> } = {}): Promise<McpWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'emcp-'));
  chmodSync(dir, 0o777); // the workloads (other uids) read and write tokens here
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort(); // part of the redirect URI registered at the OP
  const issuer = `https://127.0.0.1:${port}`;
  const secret = randomBytes(16).toString('base64url');
  const op = await startOpenIdProvider(scope, { clients: [{ clientId: 'tessera', clientSecret: secret, redirectUris: [`${issuer}/oauth2/callback`] }] });
  const srv = await startServer(scope, {
    config: {
      oauth: {
        listen: `127.0.0.1:${port}`,
        trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
        login: { issuer: op.issuer, client_id: 'tessera', client_secret: secret, ca_file: op.caFile },
        scopes_supported: ['files:read', 'files:write'],
        ...o.oauth,
      },
    },
  });
  const agent = await startAgent(scope, { server: srv, logLevel: 'info' });
  await createEntry(srv, agent.spiffeId, ID.agent, [`unix:uid:${UID.agent}`], ['--agent-model', 'researcher-1', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, ID.sub, [`unix:uid:${UID.sub}`], ['--agent-model', 'summarizer-1', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, ID.files, [`unix:uid:${UID.files}`]);
  await createEntry(srv, agent.spiffeId, ID.billing, [`unix:uid:${UID.billing}`]);

  const run = (s: Scope, script: string, who: keyof typeof UID, env: Record<string, string>): Proc => {
    const p = spawnTs(undefined, `examples/mcp/${script}`, [], {
      uid: UID[who], gid: UID[who],
      env: { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint, ...env },
    });
    s.teardown(() => p.stop());
    return p;
  };
  const mcpServer = async (who: 'files' | 'billing', path: string, tools: string) => {
    const proc = run(scope, 'mcp-server.ts', who, { ISSUER: issuer, PORT: '0', RESOURCE_PATH: path, TOOLS: tools, REQUIRED_SCOPE: 'files:read' });
    const port = Number(/"port":(\d+)/.exec(await proc.waitFor(/"msg":"listening".*"port":\d+/, 90_000))![1]);
    return { proc, url: `https://127.0.0.1:${port}${path}` };
  };
  const [files, billing] = await Promise.all([mcpServer('files', '/mcp', 'whoami summarize'), mcpServer('billing', '/billing', 'invoice')]);
  return {
    op, srv, agent, issuer, dir, files, billing, run,
    runAgent: (s, who, env) => run(s, 'agent.ts', who, { MCP_URL: files.url, MCP_ID: ID.files, ...env }),
    policy: async (args) => {
      const r = await srv.cli(['delegation', 'create', ...args]);
      if (r.code !== 0) throw new Error(`delegation create ${args.join(' ')} failed: ${r.stderr}`);
    },
  };
}

/**
 * The rest of alice's story once the agent holds her token (written to agentTokenFile)
 * and reported what the billing server said to it (`other`): billing refused it for its
 * audience (401 invalid_token pointing at billing's metadata, nothing served), and the
 * sub-agent exchanges it for files:read only and reaches the third tool, summarize.
 */
export async function billingRefusesAndSubAgentNarrows(t: ExecutionContext, w: McpWorld, other: string | undefined, agentTokenFile: string): Promise<void> {
  const billingMeta = `${new URL(w.billing.url).origin}/.well-known/oauth-protected-resource/billing`;
  t.regex(other ?? '', new RegExp(`^other server: 401 Bearer error="invalid_token", error_description="[^"]*audience[^"]*", resource_metadata="${esc(billingMeta)}", scope="files:read"$`));
  t.notRegex(w.billing.proc.stderr(), /"msg":"served"/);

  const subFile = join(w.dir, 'sub-subject-token');
  writeFileSync(subFile, readFileSync(agentTokenFile, 'utf8'), { mode: 0o600 });
  chownSync(subFile, UID.sub, UID.sub);
  const b = w.runAgent(t, 'sub', { TOOL: 'summarize', SUBJECT_TOKEN_FILE: subFile, SCOPE: 'files:read' });
  const exit = await b.exited;
  t.is(exit.code, 0, `${b.stdout()}\n${b.stderr()}`);
  t.is(b.stdout().trim(), `user ${w.op.issuer}#alice via agent ${ID.sub} via ${ID.agent}, scope files:read`);
  t.regex(w.files.proc.stderr(), /"msg":"served","tool":"summarize"/);
}

export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
