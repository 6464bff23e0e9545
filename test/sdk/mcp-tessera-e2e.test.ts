import test from 'ava';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { createRemoteDelegationKeys } from '../../spiffe/delegation/jwks-remote.ts';
import { RevocationFeed } from '../../spiffe/delegation/revocation-feed.ts';
import { TOKEN_TYPE } from '../../spiffe/delegation/exchange.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { SpiffeMcpClientProvider } from '../../spiffe/mcp/client-provider.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { loginWithCode } from '../helpers/oidc-flow.ts';
import { startMcpEnv, type McpEnv } from '../oauth/mcp-harness.ts';
import type { Workload } from '../oauth/harness.ts';
import { mcpClient, startMcpServer, textOf, TOOLS_ID } from './mcp-fixtures.ts';

/**
 * The whole MCP path against a real Tessera: an in-process server with the `oauth`
 * section (and the MCP authorization-code flow, so its metadata is what MCP clients
 * expect), its JWKS and revocation feed feeding the MCP server's middleware, and an
 * agent whose SpiffeMcpClientProvider exchanges a user's ID token (from the real test
 * OpenID Provider) at Tessera's token endpoint over mTLS.
 */
const sourceOf = (env: McpEnv, w: Workload): StaticX509Source => {
  const bundles = new BundleSet([new SpiffeBundle(TrustDomain.parse(env.td), { x509Authorities: env.server.ca.x509Authorities() })]);
  return new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles });
};

test('an agent acting for a user: 401 → discovery → token exchange at Tessera → tool call; step-up to files:write', async (t) => {
  const env = await startMcpEnv(t);
  const tools = env.svid('/tools');
  const toolsSource = sourceOf(env, tools);
  const feed = new RevocationFeed({ issuer: env.issuer, source: toolsSource });
  t.teardown(() => feed.close());
  await feed.ready();
  const keys = createRemoteDelegationKeys({ issuer: env.issuer, bundleSource: toolsSource });
  t.teardown(() => keys.close());
  const mcp = await startMcpServer(t, {
    issuer: env.issuer, keys, revocations: feed, requireBinding: true, scopesSupported: ['files:read'],
    tls: { cert: certificatesToPem(tools.chain), key: tools.key.export({ type: 'pkcs8', format: 'pem' }) as string },
  });
  await env.policy({
    actors: ['spiffe://example.org/agents/researcher'], subjectIssuer: env.op.issuer,
    audiences: [mcp.resource], scopes: ['files:read', 'files:write'], maxTtl: 300,
  });
  const { idToken } = await loginWithCode(env.op, { user: 'alice' });

  const provider = new SpiffeMcpClientProvider({
    serverUrl: mcp.resource, x509Source: sourceOf(env, env.svid('/agents/researcher')),
    subjectToken: idToken, subjectTokenType: TOKEN_TYPE.idToken, mcpServer: { authorize: authorizeID(TOOLS_ID) },
  });
  t.teardown(() => provider.close());
  const client = await mcpClient(t, mcp.resource, provider.fetch, { authProvider: provider });
  const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))) as Record<string, unknown>;
  t.like(seen, { user: `${env.op.issuer}#alice`, agent: 'spiffe://example.org/agents/researcher', chain: ['spiffe://example.org/agents/researcher'], scopes: ['files:read'] });

  t.is(textOf(await client.callTool({ name: 'write_file', arguments: { path: '/r' } })), `wrote /r for ${env.op.issuer}#alice`);
  t.deepEqual(provider.requestedScopes, ['files:read', 'files:write']);
});

test('a sub-agent proving itself with a JWT-SVID actor_token extends a delegated chain at Tessera; the tool sees both agents', async (t) => {
  const env = await startMcpEnv(t);
  const tools = env.svid('/tools');
  const toolsSource = sourceOf(env, tools);
  const keys = createRemoteDelegationKeys({ issuer: env.issuer, bundleSource: toolsSource });
  t.teardown(() => keys.close());
  const feed = new RevocationFeed({ issuer: env.issuer, source: toolsSource });
  t.teardown(() => feed.close());
  await feed.ready();
  const mcp = await startMcpServer(t, {
    issuer: env.issuer, keys, revocations: feed, scopesSupported: ['files:read'],
    tls: { cert: certificatesToPem(tools.chain), key: tools.key.export({ type: 'pkcs8', format: 'pem' }) as string },
  });
  await env.policy({
    actors: ['spiffe://example.org/agents/researcher'], subjectIssuer: env.op.issuer, audiences: [mcp.resource],
    scopes: ['files:read'], maxTtl: 300, maxDepth: 2, mayDelegateTo: ['spiffe://example.org/agents/sub-agent'],
  });
  await env.policy({ actors: ['spiffe://example.org/agents/sub-agent'], subjectIssuer: env.op.issuer, audiences: [mcp.resource], scopes: ['files:read'], maxTtl: 300, maxDepth: 2 });
  const { idToken } = await loginWithCode(env.op, { user: 'alice' });
  // The parent agent's own token for the MCP server (mTLS), then handed to the sub-agent.
  const parent = new SpiffeMcpClientProvider({
    serverUrl: mcp.resource, x509Source: sourceOf(env, env.svid('/agents/researcher')),
    subjectToken: idToken, subjectTokenType: TOKEN_TYPE.idToken, mcpServer: { authorize: authorizeID(TOOLS_ID) },
  });
  t.teardown(() => parent.close());
  await (await mcpClient(t, mcp.resource, parent.fetch, { authProvider: parent })).listTools();
  const parentToken = (await parent.tokens())!.access_token;

  const sub = new SpiffeMcpClientProvider({
    serverUrl: mcp.resource, x509Source: sourceOf(env, env.svid('/agents/sub-agent')), authMethod: 'jwt-svid',
    jwtSource: { fetchJwtSvid: async ({ audience }) => parseJwtSvidInsecure(await env.jwtSvid('/agents/sub-agent', [audience].flat())) },
    subjectToken: parentToken, mcpServer: { authorize: authorizeID(TOOLS_ID) },
  });
  t.teardown(() => sub.close());
  const client = await mcpClient(t, mcp.resource, sub.fetch, { authProvider: sub });
  const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))) as Record<string, unknown>;
  t.like(seen, {
    user: `${env.op.issuer}#alice`, agent: 'spiffe://example.org/agents/sub-agent',
    chain: ['spiffe://example.org/agents/sub-agent', 'spiffe://example.org/agents/researcher'],
  });
});
