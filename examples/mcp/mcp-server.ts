/**
 * An MCP server protected by Tessera: McpServer + StreamableHTTPServerTransport (the
 * MCP SDK, stateless) on node:https with this workload's own X.509-SVID from the
 * Workload API, client certificates requested (a token bound to the agent's SVID is
 * only good on a connection showing it), behind createMcpResourceServer (RFC 9728
 * metadata, token verification against Tessera's keys and revocation feed, scopes).
 * Its one tool answers who is calling, from the verified token:
 *
 *   user <sub> via agent <current agent>[ via <delegator> …], scope <scopes>
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock PORT=9443 \
 *   ISSUER=https://127.0.0.1:8443 RESOURCE_PATH=/mcp TOOLS="whoami summarize" REQUIRED_SCOPE=files:read \
 *   node --import tsx examples/mcp/mcp-server.ts
 *
 * The resource (the `aud` a token must carry) is https://127.0.0.1:<port><RESOURCE_PATH>
 * unless RESOURCE names it.
 */
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { X509Source, createRemoteDelegationKeys, RevocationFeed } from 'tessera';
import { callerOf, createMcpResourceServer, type McpResourceServer } from '../../spiffe/mcp/index.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { env, log } from './log.ts';

const issuer = env('ISSUER');
const tools = env('TOOLS', 'whoami').split(' ').filter(Boolean);
const source = await X509Source.create();                         // our SVID, from the Workload API
const me = source.getX509Svid().id.toString();

const keys = createRemoteDelegationKeys({ issuer, bundleSource: source });
const revocations = new RevocationFeed({ issuer, source });
await revocations.ready();                                         // fail closed until the first snapshot

/** One McpServer per request (the SDK's stateless pattern); every tool answers from the caller's token. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: `tessera-example${env('RESOURCE_PATH', '/mcp')}`, version: '1.0.0' });
  for (const tool of tools) {
    server.registerTool(tool, { description: 'who calls, for whom, with which scopes' }, async (extra) => {
      const c = callerOf(extra.authInfo)!;
      const answer = `user ${c.user} via agent ${c.chain.join(' via ')}, scope ${c.scopes.join(' ')}`;
      log('served', { tool, answer, jti: c.delegation.jti });
      return { content: [{ type: 'text', text: answer }] };
    });
  }
  return server;
}

const tlsOf = () => {
  const svid = source.getX509Svid();
  return { cert: certificatesToPem(svid.certificates), key: svid.privateKey!.export({ type: 'pkcs8', format: 'pem' }) as string };
};

let rs: McpResourceServer | undefined;
const server = https.createServer({ ...tlsOf(), requestCert: true, rejectUnauthorized: false }, (req: IncomingMessage, res: ServerResponse) => {
  rs!.handler(async (rq, rp) => {
    const mcp = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    rp.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(rq, rp, (rq as { body?: unknown }).body);
  })(req, res);
});
// A rotated SVID: new connections get the new certificate.
source.onUpdate(() => server.setSecureContext(tlsOf()));

server.listen(Number(env('PORT', '0')), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const resource = process.env.RESOURCE ?? `https://127.0.0.1:${port}${env('RESOURCE_PATH', '/mcp')}`;
  rs = createMcpResourceServer({
    resource, issuer, keys, revocations,
    requiredScopes: env('REQUIRED_SCOPE', 'files:read').split(' ').filter(Boolean),
    ...(process.env.SCOPES_SUPPORTED ? { scopesSupported: process.env.SCOPES_SUPPORTED.split(' ') } : {}),
  });
  log('listening', { id: me, port, resource, tools });
});
process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); revocations.close(); keys.close(); void source.close(); });
