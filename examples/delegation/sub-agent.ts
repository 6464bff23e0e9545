/**
 * Sub-agent B (or C): takes tasks from one parent agent over mTLS. For each, it
 * exchanges the parent's delegated token (subject_token) for a narrower one of its own
 * (fewer scopes; the authorization server checks the parent may delegate to it), then
 * either calls the resource server with it or hands it on to a further sub-agent.
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock PORT=9001 \
 *   PARENT_ID=spiffe://example.org/agents/planner TOKEN_ENDPOINT=https://127.0.0.1:8443/oauth2/token \
 *   AUDIENCE=https://files.example.org SCOPE=files:read \
 *   RESOURCE_URL=https://127.0.0.1:9443/files RESOURCE_ID=spiffe://example.org/services/files \
 *   node --import tsx examples/delegation/sub-agent.ts
 *   (or NEXT_URL + NEXT_ID instead of RESOURCE_URL + RESOURCE_ID: hand on to another sub-agent)
 *
 * A refusal is answered with the refuser's status and `{from, error, code, error_description}`.
 */
import {
  X509Source, createMtlsHttpsServer, createMtlsAgent, authorizeID, exchangeToken, getPeer, DelegationError, TOKEN_TYPE,
} from 'tessera';
import { env, log, readJson, request, type Reply } from './call.ts';

const source = await X509Source.create();
const me = source.getX509Svid().id.toString();
const next = process.env.NEXT_URL
  ? { url: `${process.env.NEXT_URL}/task`, id: env('NEXT_ID'), name: 'sub-agent' }
  : { url: env('RESOURCE_URL'), id: env('RESOURCE_ID'), name: 'resource server' };
const agent = createMtlsAgent({ source, authorize: authorizeID(next.id), agent: { keepAlive: true } });

// Our narrowed token per parent token, reused until shortly before it expires.
const narrowed = new Map<string, { token: string; until: number }>();
async function narrow(parentToken: string): Promise<string> {
  const hit = narrowed.get(parentToken);
  if (hit && hit.until > Date.now()) return hit.token;
  const r = await exchangeToken({
    tokenEndpoint: env('TOKEN_ENDPOINT'),
    subjectToken: parentToken, subjectTokenType: TOKEN_TYPE.accessToken,
    audience: [env('AUDIENCE')], scope: env('SCOPE', 'files:read').split(' '),
    x509Source: source, bundleSource: source,
  });
  narrowed.set(parentToken, { token: r.accessToken, until: Date.now() + (r.expiresIn - 5) * 1000 });
  log('narrowed token', { scope: r.scope, expires_in: r.expiresIn });
  return r.accessToken;
}

const server = createMtlsHttpsServer({ source, authorize: authorizeID(env('PARENT_ID')) }, (req, res) => {
  const reply = (r: Reply) => { res.writeHead(r.status, { 'content-type': 'application/json' }); res.end(JSON.stringify(r.body)); };
  void (async () => {
    const { task, subject_token: parentToken } = await readJson(req);
    if (typeof parentToken !== 'string') return reply({ status: 400, body: { from: me, error: 'invalid_request', error_description: 'subject_token is required' } });
    log('task', { task, from: getPeer(req)?.id.toString() });
    let token: string;
    try { token = await narrow(parentToken); } catch (err) {
      if (!(err instanceof DelegationError)) throw err;
      return reply({ status: 403, body: { from: `authorization server (exchange by ${me})`, error: err.oauthError, code: err.code, error_description: err.description ?? err.message } });
    }
    const r = process.env.NEXT_URL
      ? await request(next.url, { agent, body: { task, subject_token: token } })
      : await request(next.url, { agent, headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 200 && r.body.from === undefined) r.body.from = next.name;
    reply(r);
  })().catch((err: Error) => { log('task failed', { error: err.message }); reply({ status: 502, body: { from: me, error: 'server_error', error_description: err.message } }); });
});
server.listen(Number(env('PORT', '0')), '127.0.0.1', () => log('listening', { id: me, address: server.address() }));
process.once('SIGTERM', () => { server.close(); agent.destroy(); void source.close(); });
