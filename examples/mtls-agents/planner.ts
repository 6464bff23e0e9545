/**
 * Agent A, "planner": calls the tool service over SPIFFE mTLS. It only talks to the
 * tool service's SPIFFE ID, and logs the server's SPIFFE ID and agent claims.
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock SERVICE_URL=https://127.0.0.1:8443 \
 *   SERVICE_ID=spiffe://example.org/tools COUNT=5 node --import tsx examples/mtls-agents/planner.ts
 */
import * as https from 'node:https';
import { X509Source, createMtlsAgent, authorizeID, getPeer, type Peer } from 'tessera';

const log = (msg: string, fields: Record<string, unknown> = {}) => console.log(JSON.stringify({ msg, ...fields }));

const source = await X509Source.create();
const me = source.getX509Svid();
log('planner identity', { id: me.id.toString(), claims: me.claims });

const agent = createMtlsAgent({
  source,
  authorize: authorizeID(process.env.SERVICE_ID ?? 'spiffe://example.org/tools'),
  agent: { keepAlive: true },
});

const call = (path: string) => new Promise<{ server: Peer | undefined; body: unknown }>((resolve, reject) => {
  https.get(new URL(path, process.env.SERVICE_URL ?? 'https://127.0.0.1:8443'), { agent }, (res) => {
    const server = getPeer(res);                                 // verified before the request was sent
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve({ server, body: JSON.parse(body) }));
  }).on('error', reject);
});

const count = Number(process.env.COUNT ?? 5);
for (let i = 0; i < count; i++) {
  const { server, body } = await call(`/tools/search?q=${i}`);
  log('tool service answered', { server: server?.id.toString(), server_claims: server?.claims, body });
  await new Promise((r) => setTimeout(r, Number(process.env.INTERVAL_MS ?? 500)));
}
agent.destroy();
await source.close();
