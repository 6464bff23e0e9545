/**
 * An agent as MCP client: the MCP SDK's Client + StreamableHTTPClientTransport with
 * SpiffeMcpClientProvider, its identity the X.509-SVID from the Workload API. The SDK
 * gets the 401, discovers Tessera from the server's RFC 9728 metadata and asks the
 * provider for a token, which Tessera issues to this SVID (mTLS client auth, bound
 * with cnf):
 *  - no SUBJECT_TOKEN_FILE: the agent acts for itself (grant client_credentials);
 *  - SUBJECT_TOKEN_FILE: it acts for whoever that token names (a user's token from the
 *    authorization-code flow, or a parent agent's token, for a sub-agent): token
 *    exchange, the new token names this agent as the current actor;
 *  - INTERACTIVE=1: it is itself the OAuth client of a person's consent (authorization
 *    code + PKCE; its SPIFFE ID pre-registered as client_id with the redirect URI
 *    http://127.0.0.1:<CALLBACK_PORT>/callback). It listens there, logs
 *    {"msg":"authorize","url":…} on stderr for the person to open, checks the browser's
 *    return (state, iss), redeems the code with its SVID and reconnects.
 * It calls TOOL and prints the answer on stdout.
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock \
 *   MCP_URL=https://127.0.0.1:9443/mcp MCP_ID=spiffe://example.org/mcp/tools TOOL=whoami \
 *   [SUBJECT_TOKEN_FILE=./user_token | INTERACTIVE=1 CALLBACK_PORT=8976] [SCOPE="files:read"] [TOKEN_OUT=./for_sub_agent] \
 *   [OTHER_URL=https://127.0.0.1:9444/mcp OTHER_ID=spiffe://example.org/mcp/billing] \
 *   node --import tsx examples/mcp/agent.ts
 *
 * TOKEN_OUT writes the token (0600) for a sub-agent to exchange. OTHER_URL presents
 * the same token to another MCP server and prints its answer:
 * `other server: <status> <WWW-Authenticate>` (a token for one resource is no good at another).
 * Exit status: 0 answered, 2 refused (printed as `refused: <error>`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { X509Source, authorizeID, createMtlsAgent } from 'tessera';
import { SpiffeMcpClientProvider } from '../../spiffe/mcp/index.ts';
import { env, log } from './log.ts';
import { loopbackCallback } from './loopback.ts';

const url = env('MCP_URL');
const source = await X509Source.create();
log('agent identity', { id: source.getX509Svid().id.toString() });
const subjectFile = process.env.SUBJECT_TOKEN_FILE;
const callback = process.env.INTERACTIVE === '1'
  ? await loopbackCallback(Number(env('CALLBACK_PORT', '8976')), (u) => auth.completeAuthorization(u))
  : undefined;
const grant = callback ? 'authorization_code' : subjectFile ? 'token-exchange' : 'client_credentials';

const auth = await SpiffeMcpClientProvider.create({
  serverUrl: url, x509Source: source,
  ...(subjectFile ? { subjectToken: () => readFileSync(subjectFile, 'utf8').trim() } : {}),
  ...(callback ? { authorizationCode: { redirectUrl: callback.redirectUrl, open: (u: URL) => log('authorize', { url: u.href }) } } : {}),
  ...(process.env.SCOPE ? { scope: process.env.SCOPE.split(' ').filter(Boolean) } : {}),
  mcpServer: { authorize: authorizeID(env('MCP_ID')) },             // the MCP server is verified as an SVID
});
let client = new Client({ name: 'example-agent', version: '1.0.0' });
try {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: auth, fetch: auth.fetch });
  try {
    await client.connect(transport);
  } catch (err) {
    if (!callback || !(err instanceof UnauthorizedError)) throw err;
    // The SDK sent the person to the authorization URL; the browser comes back to the loopback listener.
    await transport.finishAuth(await callback.code);
    await client.close();
    client = new Client({ name: 'example-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: auth, fetch: auth.fetch }));
  }
  const r = await client.callTool({ name: env('TOOL', 'whoami'), arguments: {} }) as { content: { text: string }[]; isError?: boolean };
  if (r.isError) throw new Error(r.content[0]?.text ?? 'tool error');
  const token = (await auth.tokens())!.access_token;
  log('token', { grant, scope: auth.requestedScopes });
  console.log(r.content[0]!.text);
  if (process.env.TOKEN_OUT) writeFileSync(process.env.TOKEN_OUT, token, { mode: 0o600 });
  if (process.env.OTHER_URL) {
    const other = await presentTo(process.env.OTHER_URL, env('OTHER_ID'), token);
    console.log(`other server: ${other.status} ${other.challenge}`);
  }
} catch (err) {
  console.log(`refused: ${(err as Error).message}`);
  process.exitCode = 2;
} finally {
  callback?.close();
  await client.close();
  await auth.close();
  await source.close();
}

/** An MCP initialize request with `token` to another server (over mTLS as this agent): its status and challenge. */
function presentTo(target: string, id: string, token: string): Promise<{ status: number; challenge: string }> {
  const agent = createMtlsAgent({ source, authorize: authorizeID(id) });
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'example-agent', version: '1.0.0' } } });
  return new Promise((resolve, reject) => {
    const req = https.request(target, {
      method: 'POST', agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    }, (res) => {
      res.resume();
      res.on('end', () => { agent.destroy(); resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate'] ?? '') }); });
    });
    req.on('error', (e) => { agent.destroy(); reject(e); });
    req.end(body);
  });
}
