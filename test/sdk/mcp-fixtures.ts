/**
 * A real MCP server (McpServer + StreamableHTTPServerTransport, stateless, on node:https
 * with the MCP server's SVID, client certificates requested) behind McpResourceServer,
 * a revocation feed the test writes to, and an MCP SDK Client on nodeFetch over an
 * agent's mTLS connection.
 */
import type { ExecutionContext } from 'ava';
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { RevocationFeed } from '../../spiffe/delegation/revocation-feed.ts';
import type { RevocationRecord } from '../../spiffe/delegation/types.ts';
import { callerOf, requireScopes } from '../../spiffe/mcp/auth-info.ts';
import { nodeFetch, type FetchLike } from '../../spiffe/mcp/fetch.ts';
import { createMcpResourceServer, type McpResourceServerOptions, type McpResourceServer } from '../../spiffe/mcp/resource-server.ts';
import type { StaticX509Source } from '../../spiffe/source/static.ts';
import { authorizeID, authorizeMemberOf } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';
import { createMtlsHttpsServer } from '../../spiffe/tls/server.ts';
import { ISSUER, pki, tlsOf, until, type Pki, type SigningKey } from './delegation-fixtures.ts';
import { close, listen, source } from './fixtures.ts';
import { makeSvid } from '../helpers/pki.ts';

export const TOOLS_ID = 'spiffe://example.org/tools';

/** The MCP server's tools: whoami (who the handler sees), write_file (needs files:write), admin (checked inside only). */
function mcpServer(rs: McpResourceServer): McpServer {
  const server = new McpServer({ name: 'tools', version: '1.0.0' });
  server.registerTool('whoami', { description: 'the caller as the tool handler sees it' }, async (extra) => {
    const c = callerOf(extra.authInfo);
    const body = { user: c?.user, agent: c?.agent, chain: c?.chain, scopes: c?.scopes, clientId: extra.authInfo?.clientId, resource: extra.authInfo?.resource?.href };
    return { content: [{ type: 'text', text: JSON.stringify(body) }] };
  });
  server.registerTool('write_file', { description: 'writes a file', inputSchema: { path: z.string() } },
    rs.requireScopes('write_file', ['files:write'], async ({ path }, extra) => ({ content: [{ type: 'text', text: `wrote ${path} for ${callerOf(extra.authInfo)?.user}` }] })));
  server.registerTool('admin', { description: 'checks its scope inside' }, async (extra) => {
    requireScopes(extra.authInfo, 'admin');
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  return server;
}

export interface McpTestServer {
  rs: McpResourceServer;
  resource: string;
  port: number;
  pki: Pki;
  /** Adds a revocation record to the test's feed. */
  revoke(r: Omit<RevocationRecord, 'seq' | 'at' | 'expiresAt'>): Promise<void>;
  feed: RevocationFeed;
}

export interface McpServerOptions extends Partial<McpResourceServerOptions> {
  /** Verify with this key (static key source) unless `keys` is given. */
  key?: SigningKey;
  pki?: Pki;
  /** The server's TLS certificate and key (PEM); default an SVID spiffe://example.org/tools of `pki`. */
  tls?: { cert: string; key: string };
}

/** Stateless Streamable HTTP, one McpServer per request (the SDK's stateless pattern); a revocation feed the test writes unless `revocations` is given. */
export async function startMcpServer(t: ExecutionContext, o: McpServerOptions = {}): Promise<McpTestServer> {
  const p = o.pki ?? await pki();
  let feed: RevocationFeed | undefined;
  let feedSrv: Awaited<ReturnType<typeof feedServer>> | undefined;
  if (!o.revocations) {
    feedSrv = await feedServer(t, p);
    feed = new RevocationFeed({ issuer: o.issuer ?? ISSUER, url: `${feedSrv.url}/oauth2/revocations`, source: source(p.ca, 'tools', p.bundles), backoff: { initialMs: 10, maxMs: 50 } });
    t.teardown(() => feed!.close());
  }
  let rs!: McpResourceServer;
  const handler = (req: IncomingMessage, res: ServerResponse) => rs.handler(async (rq, rp) => {
    const server = mcpServer(rs);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    rp.on('close', () => { void transport.close(); void server.close(); });
    await server.connect(transport);
    await transport.handleRequest(rq, rp, (rq as { body?: unknown }).body);
  })(req, res);
  const httpsServer = https.createServer({ ...(o.tls ?? tlsOf(makeSvid(p.ca, 'tools'))), requestCert: true, rejectUnauthorized: false }, handler);
  const port = await listen(httpsServer);
  t.teardown(() => close(httpsServer));
  const resource = `https://127.0.0.1:${port}/mcp`;
  const { key, pki: _p, tls: _t, ...rest } = o;
  const keys = o.keys ?? createStaticDelegationKeys([{ kid: key!.kid, key: key!.publicKey }]);
  rs = createMcpResourceServer({
    resource, issuer: ISSUER, requiredScopes: ['files:read'], toolScopes: { write_file: ['files:write'] },
    ...(feed ? { revocations: feed } : {}), ...rest, keys,
  });
  let seq = 0;
  if (feedSrv && feed) {
    await until(() => feedSrv.conns.length > 0, 'the revocation feed to connect');
    feedSrv.send({ event: 'snapshot', data: { seq: 0, revocations: [] } });
    await feed.ready();
  }
  return {
    rs, resource, port, pki: p, feed: feed!,
    async revoke(r) {
      if (!feedSrv || !feed) throw new Error('this MCP server uses the revocations it was given');
      const now = Math.floor(Date.now() / 1000);
      const rec = { seq: ++seq, kind: r.kind, value: r.value, at: now, expires_at: now + 600 };
      feedSrv.send({ event: 'revocation', data: rec });
      await until(() => feed.seq === rec.seq, 'the revocation to arrive');
    },
  };
}

async function feedServer(t: ExecutionContext, p: Pki) {
  const conns: ServerResponse[] = [];
  const server = createMtlsHttpsServer({ source: source(p.ca, 'tessera/server', p.bundles), authorize: authorizeMemberOf('example.org') }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    conns.push(res);
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  return {
    url: `https://127.0.0.1:${port}`, conns,
    send(e: { event: string; data: unknown }) { for (const c of conns) c.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`); },
  };
}

/** A fetch over `agent`'s mTLS connection to the MCP server (verified as spiffe://example.org/tools). */
export function agentFetch(t: ExecutionContext, agent: StaticX509Source, p: Pki): FetchLike {
  const a = createMtlsAgent({ source: agent, bundles: p.bundles, authorize: authorizeID(TOOLS_ID), agent: { keepAlive: true } });
  t.teardown(() => a.destroy());
  return nodeFetch(() => a);
}

/** A connected MCP SDK Client sending `token` (or driven by `authProvider`). */
export async function mcpClient(t: ExecutionContext, resource: string, fetch: FetchLike, o: { token?: string; authProvider?: OAuthClientProvider } = {}): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(resource), {
    fetch,
    ...(o.token ? { requestInit: { headers: { authorization: `Bearer ${o.token}` } } } : {}),
    ...(o.authProvider ? { authProvider: o.authProvider } : {}),
  });
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(transport);
  t.teardown(() => client.close());
  return client;
}

export const textOf = (r: unknown): string => ((r as { content: { text: string }[] }).content[0]!.text);
