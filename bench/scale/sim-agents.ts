/**
 * Simulated node agents, many per process, speaking the real agent API
 * (tessera.v1.AgentService over mTLS): each attests with its own join token (Attest
 * stream, its own key and CSR), then holds one SyncEntries stream on its own TLS
 * connection, as a tessera-agent does. No workload API, no SVID minting: the server
 * side of a fleet is what this measures. Driven over IPC by bench/scale/run.ts:
 *
 *   → { cmd: 'attest', server: { agentAddress, trustDomain, bundlePem }, tokens: string[] }
 *   ← { attested: { index, id }[], ms }
 *   → { cmd: 'sync' }
 *   ← { synced: { index, ms, entries }[] }       batched every 100 ms
 *   ← { updates: { index, ids, at }[] }           every later sync message, batched
 *   → { cmd: 'stop' }
 */
import type * as grpc from '@grpc/grpc-js';
import type { AgentServiceClient } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import { attestJoinToken, type TestServer } from '../../test/helpers/server.ts';

type Msg =
  | { cmd: 'attest'; server: Pick<TestServer, 'agentAddress' | 'trustDomain' | 'bundlePem'>; tokens: string[] }
  | { cmd: 'sync' }
  | { cmd: 'stop' };

const ATTEST_CONCURRENCY = 16;
const clients: AgentServiceClient[] = [];
const streams: grpc.ClientReadableStream<SyncEntriesResponse__Output>[] = [];
let synced: { index: number; ms: number; entries: number }[] = [];
let updates: { index: number; ids: string[]; at: number }[] = [];
const send = (m: unknown) => process.send!(m);

setInterval(() => {
  if (synced.length) { send({ synced }); synced = []; }
  if (updates.length) { send({ updates }); updates = []; }
}, 100).unref();

async function attestAll(server: Pick<TestServer, 'agentAddress' | 'trustDomain' | 'bundlePem'>, tokens: string[]): Promise<void> {
  const started = Date.now();
  const out: { index: number; id: string }[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: ATTEST_CONCURRENCY }, async () => {
    while (next < tokens.length) {
      const index = next++;
      const a = await attestJoinToken(server as TestServer, tokens[index]!);
      clients[index] = a.client;
      out.push({ index, id: a.id });
    }
  }));
  send({ attested: out, ms: Date.now() - started });
}

function syncAll(): void {
  clients.forEach((client, index) => {
    const opened = Date.now();
    let first = true;
    const s = client.SyncEntries({});
    s.on('data', (m: SyncEntriesResponse__Output) => {
      if (first) { first = false; synced.push({ index, ms: Date.now() - opened, entries: m.upserted.length }); return; }
      if (m.upserted.length) updates.push({ index, ids: m.upserted.map((e) => e.id), at: Date.now() });
    });
    s.on('error', (e) => { if (!stopping) send({ error: `agent ${index}: ${e.message}` }); });
    streams.push(s);
  });
}

let stopping = false;
process.on('message', (m: Msg) => {
  if (m.cmd === 'attest') attestAll(m.server, m.tokens).catch((e) => send({ error: (e as Error).message }));
  else if (m.cmd === 'sync') syncAll();
  else if (m.cmd === 'stop') {
    stopping = true;
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  }
});
