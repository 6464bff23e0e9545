/**
 * Agent A: acts for a signed-in user. It exchanges the user's ID token for a
 * delegated token naming both the user (sub) and A (act), bound to A's X.509-SVID, and
 * hands it with a task to sub-agent B over mTLS. It prints each answer on stdout.
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock \
 *   TOKEN_ENDPOINT=https://127.0.0.1:8443/oauth2/token USER_TOKEN_FILE=./id_token \
 *   AUDIENCE=https://files.example.org SCOPE="files:read review:post" \
 *   SUB_AGENT_URL=https://127.0.0.1:9001 SUB_AGENT_ID=spiffe://example.org/agents/reviewer \
 *   COUNT=1 node --import tsx examples/delegation/agent-a.ts
 *
 * Exit status: 0 when every task was answered, 2 when one was refused (printed as
 * `refused by <who>: <status> <code>: <description>`), 1 when the exchange itself failed.
 */
import { readFileSync } from 'node:fs';
import { X509Source, exchangeToken, createMtlsAgent, authorizeID, DelegationError, TOKEN_TYPE } from 'tessera';
import { env, log, request } from './call.ts';

const userToken = process.env.USER_TOKEN ?? readFileSync(env('USER_TOKEN_FILE'), 'utf8').trim();
const source = await X509Source.create();                        // our SVID, from the Workload API
log('agent A identity', { id: source.getX509Svid().id.toString() });

let delegated;
try {
  delegated = await exchangeToken({
    tokenEndpoint: env('TOKEN_ENDPOINT'),
    subjectToken: userToken, subjectTokenType: TOKEN_TYPE.idToken,
    audience: [env('AUDIENCE')], scope: env('SCOPE', 'files:read').split(' '),
    x509Source: source, bundleSource: source,                      // mTLS as A; the server verified as an SVID
  });
} catch (err) {
  if (!(err instanceof DelegationError)) throw err;
  console.log(`refused by authorization server: ${err.status ?? '-'} ${err.code}: ${err.description ?? err.message}`);
  await source.close();
  process.exit(1);
}
log('delegated token', { scope: delegated.scope, expires_in: delegated.expiresIn });

// B is called by its SPIFFE ID only; it gets the token in the body, never as A's credential.
const agent = createMtlsAgent({ source, authorize: authorizeID(env('SUB_AGENT_ID')), agent: { keepAlive: true } });
const count = Number(env('COUNT', '1'));
for (let i = 0; i < count; i++) {
  const r = await request(`${env('SUB_AGENT_URL')}/task`, { agent, body: { task: `review #${i}`, subject_token: delegated.accessToken } });
  if (r.status !== 200) {
    console.log(`refused by ${r.body.from ?? 'sub-agent'}: ${r.status} ${r.body.code ?? r.body.error}: ${r.body.error_description ?? ''}`);
    process.exitCode = 2;
    break;
  }
  console.log(r.body.answer);
  if (i + 1 < count) await new Promise((res) => setTimeout(res, Number(env('INTERVAL_MS', '500'))));
}
agent.destroy();
await source.close();
