/**
 * Simulated node agents, many per process, speaking the real agent API
 * (tessera.v1.AgentService over mTLS): each attests with its own join token (Attest
 * stream, its own key and CSR), then holds one SyncEntries stream on its own TLS
 * connection with its own client certificate, as a tessera-agent does: the server sees
 * one identity, one connection and one stream per agent. What is shared is only what
 * carries no identity: the anonymous channel Attest runs on (one per process) and the
 * parsed bundle. No workload API, no SVID minting: the server side of a fleet is what
 * this measures. Driven over IPC by bench/scale/run.ts and bench/scale/churn.ts:
 *
 *   → { cmd: 'attest', server: { agentAddress, trustDomain, bundlePem }, tokens: string[] }
 *   ← { attested: { index, id }[], ms }
 *   → { cmd: 'sync' }
 *   ← { synced: { index, ms, entries }[] }       batched every 100 ms
 *   ← { updates: { index, ids, at }[] }           every later sync message, batched
 *   → { cmd: 'reconnect', count }                 close `count` agents' connections, open new ones (same identity)
 *   ← { reconnected: count, ms }                  once each new stream has its snapshot
 *   → { cmd: 'stop' }
 */
import * as grpc from '@grpc/grpc-js';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { AgentServiceClient } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { AttestResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestResponse.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { agentClient, type AgentIdentity, type TestServer } from '../../test/helpers/server.ts';

type Server = Pick<TestServer, 'agentAddress' | 'trustDomain' | 'bundlePem'>;
type Msg =
  | { cmd: 'attest'; server: Server; tokens: string[] }
  | { cmd: 'sync' }
  | { cmd: 'reconnect'; count: number }
  | { cmd: 'stop' };

const ATTEST_CONCURRENCY = 16;
let server: Server;
const identities: AgentIdentity[] = [];
const clients: AgentServiceClient[] = [];
const streams: (grpc.ClientReadableStream<SyncEntriesResponse__Output> | undefined)[] = [];
let synced: { index: number; ms: number; entries: number }[] = [];
let updates: { index: number; ids: string[]; at: number }[] = [];
const send = (m: unknown) => process.send!(m);

setInterval(() => {
  if (synced.length) { send({ synced }); synced = []; }
  if (updates.length) { send({ updates }); updates = []; }
}, 100).unref();

/** One join-token attestation on the shared anonymous channel; the agent's own key and CSR. */
async function attestOne(anon: AgentServiceClient, token: string): Promise<{ id: string; identity: AgentIdentity }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr(privateKey, createPublicKey(privateKey));
  const result = await new Promise<NonNullable<AttestResponse__Output['result']>>((resolve, reject) => {
    const stream = anon.Attest();
    let done = false;
    stream.on('data', (msg: AttestResponse__Output) => {
      if (msg.step === 'result' && msg.result) { done = true; resolve(msg.result); stream.end(); }
    });
    stream.on('error', (e) => { if (!done) reject(e); });
    stream.on('end', () => { if (!done) reject(new Error('attest stream ended without a result')); });
    stream.write({ params: { method: 'join_token', payload: Buffer.from(token), csr: Buffer.from(csr) } });
  });
  return { id: result.spiffe_id, identity: { key: privateKey, chain: result.svid_chain.map((c) => new Uint8Array(c)) } };
}

async function attestAll(tokens: string[]): Promise<void> {
  const started = Date.now();
  const anon = agentClient(server as TestServer);
  const out: { index: number; id: string }[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: ATTEST_CONCURRENCY }, async () => {
    while (next < tokens.length) {
      const index = next++;
      const a = await attestOne(anon, tokens[index]!);
      identities[index] = a.identity;
      // Its own channel: grpc-js shares subchannels between channels with equal
      // credentials and options, so the agent's identity keeps each one separate.
      clients[index] = agentClient(server as TestServer, a.identity);
      out.push({ index, id: a.id });
    }
  }));
  anon.close();
  send({ attested: out, ms: Date.now() - started });
}

function openStream(index: number, onSnapshot?: () => void): void {
  const opened = Date.now();
  let first = true;
  const s = clients[index]!.SyncEntries({});
  s.on('data', (m: SyncEntriesResponse__Output) => {
    if (first) { first = false; synced.push({ index, ms: Date.now() - opened, entries: m.upserted.length }); onSnapshot?.(); return; }
    if (m.upserted.length) updates.push({ index, ids: m.upserted.map((e) => e.id), at: Date.now() });
  });
  s.on('error', (e: grpc.ServiceError) => { if (!stopping && e.code !== grpc.status.CANCELLED) send({ error: `agent ${index}: ${e.message}` }); });
  streams[index] = s;
}

/** `count` random agents drop their connection and come back on a new one (same SVID), as after an agent restart. */
async function reconnect(count: number): Promise<void> {
  const started = Date.now();
  const picked = new Set<number>();
  while (picked.size < Math.min(count, clients.length)) picked.add(Math.floor(Math.random() * clients.length));
  await Promise.all([...picked].map((i) => new Promise<void>((resolve) => {
    streams[i]?.cancel();
    clients[i]!.close();
    clients[i] = agentClient(server as TestServer, identities[i]);
    openStream(i, resolve);
  })));
  send({ reconnected: picked.size, ms: Date.now() - started });
}

let stopping = false;
process.on('message', (m: Msg) => {
  if (m.cmd === 'attest') { server = m.server; attestAll(m.tokens).catch((e) => send({ error: (e as Error).message })); }
  else if (m.cmd === 'sync') clients.forEach((_, i) => openStream(i));
  else if (m.cmd === 'reconnect') reconnect(m.count).catch((e) => send({ error: (e as Error).message }));
  else if (m.cmd === 'stop') {
    stopping = true;
    for (const s of streams) s?.cancel();
    for (const c of clients) c.close();
    process.exit(0);
  }
});
