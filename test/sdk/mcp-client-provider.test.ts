import test, { type ExecutionContext } from 'ava';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { JwtSvidSource } from '../../spiffe/source/types.ts';
import { McpClientError } from '../../spiffe/mcp/client-errors.ts';
import { SpiffeMcpClientProvider, type SpiffeMcpClientOptions } from '../../spiffe/mcp/client-provider.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { bundleSetOf, jwtKey, makeRootCa, makeSvid } from '../helpers/pki.ts';
import { IDP, RESEARCHER, SUB_AGENT, mint, payloadOf, signingKey, x5t, type Pki } from './delegation-fixtures.ts';
import { asStub, EXCHANGE, JWT_SPIFFE } from './mcp-as-stub.ts';
import { mcpClient, startMcpServer, textOf, TOOLS_ID } from './mcp-fixtures.ts';
import { source } from './fixtures.ts';

const key = signingKey('ES256', 'oauth-as');

/** Tessera-like authorization server stub + MCP server trusting it + the agent's sources. */
async function setup(t: ExecutionContext, o: { asPath?: string } = {}) {
  const ca = await makeRootCa('example.org');
  const jk = jwtKey('ES256');
  const p: Pki = { ca, bundles: bundleSetOf([ca], [{ td: ca.trustDomain, key: jk }]), server: makeSvid(ca, 'tessera/server') };
  const as = await asStub(t, { cert: o.asPath ? makeSvid(ca, o.asPath) : p.server, bundles: p.bundles, key });
  const mcp = await startMcpServer(t, { key, pki: p, issuer: as.issuer, scopesSupported: ['files:read'] });
  const agent = source(ca, 'agents/researcher', p.bundles);
  let jwtMinted = 0;
  const jwtSource: JwtSvidSource = {
    async fetchJwtSvid({ audience }) {
      jwtMinted++;
      const aud = typeof audience === 'string' ? [audience] : audience;
      const token = await signJwtSvid({ id: SpiffeId.parse(RESEARCHER), audience: aud, expiresAt: new Date(Date.now() + 300_000), key: jk });
      return parseJwtSvidInsecure(token, aud);
    },
  };
  const provider = (x: Partial<SpiffeMcpClientOptions> = {}) => {
    const pr = new SpiffeMcpClientProvider({ serverUrl: mcp.resource, x509Source: agent, mcpServer: { authorize: authorizeID(TOOLS_ID) }, ...x });
    t.teardown(() => pr.close());
    return pr;
  };
  const connect = (pr: SpiffeMcpClientProvider) => mcpClient(t, mcp.resource, pr.fetch, { authProvider: pr });
  return { p, as, mcp, agent, jwtSource, jwtMinted: () => jwtMinted, provider, connect };
}

const whoami = async (c: Awaited<ReturnType<typeof mcpClient>>) => JSON.parse(textOf(await c.callTool({ name: 'whoami', arguments: {} }))) as Record<string, unknown>;

test('client_credentials over mTLS from nothing but the server URL: 401 → metadata → token for resource=<canonical URI>, bound to the SVID, cached', async (t) => {
  const s = await setup(t);
  const client = await s.connect(s.provider());
  t.like(await whoami(client), { agent: RESEARCHER, clientId: RESEARCHER, scopes: ['files:read'] });
  await whoami(client);
  await client.listTools();
  t.is(s.as.tokenRequests.length, 1, 'one token for every request while it is fresh');
  const r = s.as.tokenRequests[0]!;
  t.is(r.via, 'mtls');
  t.like(r.form, { grant_type: 'client_credentials', resource: s.mcp.resource, client_id: RESEARCHER, scope: 'files:read' });
  t.is(r.form.client_secret, undefined);
  t.is(r.form.client_assertion, undefined);
  t.is(s.as.metadataRequests, 1);
});

test('JWT-SVID client assertion (jwt-spiffe, aud = the issuer alone, sub = client_id): a bearer token', async (t) => {
  const s = await setup(t);
  const pr = s.provider({ authMethod: 'jwt-svid', jwtSource: s.jwtSource });
  const client = await s.connect(pr);
  t.like(await whoami(client), { agent: RESEARCHER });
  const r = s.as.tokenRequests[0]!;
  t.is(r.via, 'client_assertion');
  t.is(r.form.client_assertion_type, JWT_SPIFFE);
  const assertion = payloadOf(r.form.client_assertion ?? "");
  t.deepEqual([assertion.aud].flat(), [s.as.issuer]);
  t.is(assertion.sub, RESEARCHER);
  t.is(r.form.client_id, RESEARCHER);
  const tokens = await pr.tokens();
  t.is(payloadOf(tokens!.access_token).cnf, undefined);
});

test('step-up: 403 insufficient_scope → a new token for the union of the scopes → the call succeeds', async (t) => {
  const s = await setup(t);
  const pr = s.provider();
  const client = await s.connect(pr);
  const r = await client.callTool({ name: 'write_file', arguments: { path: '/z' } });
  t.is(textOf(r), `wrote /z for ${s.as.issuer}#${RESEARCHER}`);
  t.deepEqual(s.as.tokenRequests.map((x) => x.form.scope), ['files:read', 'files:read files:write']);
  t.deepEqual(pr.requestedScopes, ['files:read', 'files:write']);
});

test('renews a token before it expires, without a 401 round trip', async (t) => {
  let now = Date.now();
  const s = await setup(t);
  s.as.set({ expiresIn: 120 });
  const client = await s.connect(s.provider({ now: () => now, renewBeforeSeconds: 30 }));
  await whoami(client);
  t.is(s.as.tokenRequests.length, 1);
  now += 60_000;
  await whoami(client);
  t.is(s.as.tokenRequests.length, 1, 'still fresh');
  now += 35_000;
  await whoami(client);
  t.is(s.as.tokenRequests.length, 2, 'renewed inside the margin');
  t.is(s.as.metadataRequests, 1, 'no second discovery: the renewal did not go through a 401');
});

test('acting for a user: the injected user-delegated token is exchanged; the tool sees the user and the chain', async (t) => {
  const s = await setup(t);
  const parentCert = source(s.p.ca, 'agents/researcher', s.p.bundles).getX509Svid().certificates[0]!;
  const userToken = await mint({ key, certificate: parentCert, claims: { iss: s.as.issuer, aud: [s.as.issuer], scope: 'files:read files:write' } });
  const sub = source(s.p.ca, 'agents/sub-agent', s.p.bundles);
  const pr = s.provider({ x509Source: sub, subjectToken: () => userToken });
  const client = await s.connect(pr);
  t.deepEqual(await whoami(client), {
    user: `${IDP}#alice`, agent: SUB_AGENT, chain: [SUB_AGENT, RESEARCHER], scopes: ['files:read'], clientId: SUB_AGENT, resource: s.mcp.resource,
  });
  const r = s.as.tokenRequests[0]!;
  t.like(r.form, { grant_type: EXCHANGE, subject_token: userToken, resource: s.mcp.resource, scope: 'files:read' });
  t.is(r.clientId, SUB_AGENT);
  t.is(r.via, 'mtls');
  const issued = payloadOf((await pr.tokens())!.access_token);
  t.deepEqual(issued.cnf, { 'x5t#S256': x5t(sub.getX509Svid().certificates[0]!) });
});

test('a sub-agent with a JWT-SVID proves itself with an actor_token for the token endpoint', async (t) => {
  const s = await setup(t);
  const userToken = await mint({ key, claims: { iss: s.as.issuer, aud: [s.as.issuer] } });
  const pr = s.provider({ authMethod: 'jwt-svid', jwtSource: s.jwtSource, subjectToken: userToken });
  await whoami(await s.connect(pr));
  const r = s.as.tokenRequests[0]!;
  t.is(r.via, 'actor_token');
  t.deepEqual([payloadOf(r.form.actor_token!).aud].flat(), [`${s.as.issuer}/oauth2/token`]);
});

test('refuses an authorization server whose metadata names another issuer, before any token request', async (t) => {
  const s = await setup(t);
  s.as.set({ metadataIssuer: 'https://127.0.0.1:1' });
  const err = await t.throwsAsync(s.connect(s.provider()));
  t.true(err instanceof McpClientError && err.code === 'ERR_MCP_ISSUER', String(err));
  t.is(s.as.tokenRequests.length, 0);
});

test('refuses a token whose iss is not the discovered authorization server', async (t) => {
  const s = await setup(t);
  s.as.set({ tokenIssuer: 'https://evil.example' });
  const err = await t.throwsAsync(s.connect(s.provider()));
  t.true(err instanceof McpClientError && err.code === 'ERR_MCP_ISSUER', String(err));
});

test('never talks to an authorization server that is not the trust domain\'s Tessera server (SVID checked before sending)', async (t) => {
  const s = await setup(t, { asPath: 'agents/impostor' });
  await t.throwsAsync(s.connect(s.provider()), { message: /tessera\/server/ });
  t.is(s.as.metadataRequests, 0);
  t.is(s.as.tokenRequests.length, 0);
});
