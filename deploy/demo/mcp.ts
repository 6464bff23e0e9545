/**
 * The demo's MCP step (docs/mcp.md): examples/mcp/mcp-server.ts (the MCP SDK's server
 * behind Tessera's resource-server middleware) and examples/mcp/agent.ts (the MCP SDK's
 * client with SpiffeMcpClientProvider) as real processes with their own SVIDs. A call
 * without a token gets 401 and the protected resource metadata's address; the agent
 * follows it to Tessera, authenticates with its SVID (no client secret anywhere), and
 * calls the tool, first for itself (client_credentials), then for alice (her ID token
 * exchanged for a token naming her and the agent).
 */
import { writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { spawnTs, type Proc } from '../../test/helpers/proc.ts';
import { ID as DELEGATION_ID, type DelegationDemo } from './delegation.ts';

const MCP_ID = 'spiffe://example.org/mcp/files';

export interface McpDemo extends DelegationDemo {
  /** Scratch directory (the user's token is handed to the agent through a 0600 file here). */
  dir: string;
  /** PEM bundle of the trust domain (written by step 4), to show the 401 from outside. */
  bundlePem: string;
}

export async function showMcp(d: McpDemo, idToken: string): Promise<void> {
  await d.admin(['entry', 'create', '--parent-id', d.agentId, '--spiffe-id', MCP_ID, '--selector', `unix:uid:${d.uid}`]);
  const issuer = `https://${d.authServer}`;
  const server = workload(d, 'mcp-server.ts', MCP_ID, { ISSUER: issuer, PORT: '0', RESOURCE_PATH: '/mcp', TOOLS: 'whoami', REQUIRED_SCOPE: 'files:read' });
  const port = Number(/"port":(\d+)/.exec(await server.waitFor(/"msg":"listening"[^\n]*"port":\d+/))![1]);
  const url = `https://127.0.0.1:${port}/mcp`;
  d.detail(`MCP server ${MCP_ID} at ${url} (MCP SDK + createMcpResourceServer)`);

  const anonymous = await post(url, d.bundlePem);
  d.detail(`POST ${url} without a token: ${anonymous.status} WWW-Authenticate: ${anonymous.challenge}`);

  const planner = DELEGATION_ID.a;
  await d.admin(['delegation', 'create', '--id', 'pol_mcp_self', '--issuer', issuer, '--actor', planner, '--audience', url, '--scope', 'files:read', '--max-ttl', '5m']);
  await d.admin(['delegation', 'create', '--id', 'pol_mcp_user', '--issuer', d.op.issuer, '--group', 'eng', '--actor', planner, '--audience', url, '--scope', 'files:read', '--max-ttl', '5m']);
  d.detail(`policies: ${planner} may call it for itself, and for users in group eng (files:read)`);

  const self = await callTool(d, url, {});
  d.detail(`agent for itself (client_credentials, mTLS, token bound to its SVID): "${self}"`);

  const tokenFile = join(d.dir, 'alice-id-token');
  writeFileSync(tokenFile, idToken, { mode: 0o600 });
  const forAlice = await callTool(d, url, { SUBJECT_TOKEN_FILE: tokenFile });
  d.detail(`agent for alice (her ID token exchanged, RFC 8693):               "${forAlice}"`);
}

/** The example agent, as the planner, calling `whoami`; resolves with the tool's answer. */
async function callTool(d: McpDemo, url: string, env: Record<string, string>): Promise<string> {
  const a = workload(d, 'agent.ts', DELEGATION_ID.a, { MCP_URL: url, MCP_ID, TOOL: 'whoami', SCOPE: 'files:read', ...env });
  const { code } = await a.exited;
  if (code !== 0) throw new Error(`the MCP agent exited with ${code}: ${a.stdout()}\n${a.stderr().slice(-2000)}`);
  return a.stdout().trim();
}

/** An examples/mcp program as a separate process, as `id` (see as-workload.ts), stopped at cleanup. */
function workload(d: McpDemo, program: string, id: string, env: Record<string, string>): Proc {
  const p = spawnTs(undefined, 'deploy/demo/as-workload.ts', [`examples/mcp/${program}`], {
    env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: `unix://${d.socket}`, DEMO_SPIFFE_ID: id, ...env },
  });
  d.scope.teardown(() => p.stop());
  return p;
}

/** An MCP initialize request with no credentials, over TLS verified against the trust domain's bundle. */
function post(url: string, ca: string): Promise<{ status: number; challenge: string }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl-like', version: '1' } } });
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: 'POST', ca,
      // The server's certificate names a SPIFFE ID, not 127.0.0.1; the bundle check is what matters here.
      checkServerIdentity: () => undefined,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
