/**
 * Shared Signals revocation latency (docs/shared-signals.md): from the revocation's
 * write (store.addRevocation returned) to the refusal of the revoked delegated token by
 * an SDK validator that hears of revocations ONLY through SSF, for push (RFC 8935, a
 * node:http receiver with createPushReceiver) and poll (RFC 8936, SsfPollClient long
 * polling over mTLS). Each round mints a fresh token (its own grant), verifies it,
 * revokes the grant, and stops the clock when verifyDelegatedToken throws
 * ERR_DELEGATION_REVOKED on the SET's arrival. Goal: p99 < 1 s.
 *
 * Real parts: an in-process tessera server (SQLite, real HTTPS listener, real signing
 * keys), tokens from its token endpoint (mTLS actor, ID token from the test IdP).
 *
 *   node --import tsx bench/ssf-latency.ts [--rounds 100]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DelegationError } from '../spiffe/delegation/errors.ts';
import { createStaticDelegationKeys } from '../spiffe/delegation/keys.ts';
import { verifyDelegatedToken } from '../spiffe/delegation/verify.ts';
import { SsfPollClient } from '../spiffe/ssf/poll.ts';
import { createPushReceiver } from '../spiffe/ssf/push.ts';
import { SsfRevocations } from '../spiffe/ssf/revocations.ts';
import { startAuthzenEnv, TOOLS } from '../test/authzen/authzen-harness.ts';
import { sharedScope } from '../test/helpers/server.ts';
import { ID_TOKEN, payloadOf, type Workload } from '../test/oauth/harness.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const ROUNDS = arg('rounds', 100);
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

const scope = sharedScope();
const env = await startAuthzenEnv(scope);
const keys = createStaticDelegationKeys((await env.request('GET', '/oauth2/jwks')).json as { keys: unknown[] });
const agent = env.svid('/agents/researcher', { agent_model: 'claude-sonnet-4' });

async function token(as: Workload): Promise<string> {
  const r = await env.exchange({ subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }), subject_token_type: ID_TOKEN, audience: TOOLS, scope: 'files:read' }, as);
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

async function stream(receiver: Workload, delivery: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await env.request('POST', '/ssf/stream', { as: receiver, contentType: 'application/json', body: JSON.stringify({ delivery, events_requested: [SESSION_REVOKED] }) });
  if (r.status !== 201) throw new Error(r.text);
  return r.json;
}

/** One round per token: write the revocation, wait for the refusal. */
async function measure(revocations: SsfRevocations): Promise<number[]> {
  const out: number[] = [];
  const opts = { issuer: env.issuer, keys, audience: TOOLS, revocations, peerCertificate: agent.chain[0]! };
  for (let i = 0; i < ROUNDS; i++) {
    const t = await token(agent);
    await verifyDelegatedToken(t, opts);
    const grant = payloadOf(t).grant_id as string;
    const refused = new Promise<number>((resolve) => {
      const off = revocations.onRevocation((r) => {
        if (r.value !== grant) return;
        off();
        verifyDelegatedToken(t, opts).then(() => { throw new Error('revoked token verified'); }, (e: unknown) => {
          if (!(e instanceof DelegationError) || e.code !== 'ERR_DELEGATION_REVOKED') throw e;
          resolve(performance.now());
        });
      });
    });
    const now = Math.floor(Date.now() / 1000);
    await env.server.store.addRevocation({ kind: 'grant', value: grant, at: now, expiresAt: now + 3600, by: 'bench' });
    const t0 = performance.now();
    out.push((await refused) - t0);
  }
  return out;
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!; };
const report = (name: string, xs: number[]) => console.log(`${name.padEnd(34)} ${String(xs.length).padStart(6)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 99).toFixed(1).padStart(8)} ${Math.max(...xs).toFixed(1).padStart(8)}`);

console.log(`ssf revocation → refusal, ${ROUNDS} rounds each; ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`${'delivery'.padEnd(34)} ${'rounds'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);

// Push: a node:http receiver on loopback.
{
  const receiver = env.svid('/receivers/push');
  const revocations = new SsfRevocations();
  const srv = createServer(createPushReceiver({ keys, issuer: env.issuer, audience: receiver.id, revocations }));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const s = await stream(receiver, { method: 'urn:ietf:rfc:8935', endpoint_url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/events` });
  report('push (RFC 8935)', await measure(revocations));
  await env.request('DELETE', `/ssf/stream?stream_id=${s.stream_id as string}`, { as: receiver });
  srv.closeAllConnections(); srv.close();
}

// Poll: a long-polling SDK client over mTLS.
{
  const receiver = env.svid('/receivers/poll');
  const revocations = new SsfRevocations();
  const s = await stream(receiver, { method: 'urn:ietf:rfc:8936' });
  const client = new SsfPollClient({
    endpoint: (s.delivery as { endpoint_url: string }).endpoint_url, source: env.sourceOf(receiver), bundleSource: env.bundles,
    keys, issuer: env.issuer, audience: receiver.id, revocations,
  });
  report('poll (RFC 8936, long poll)', await measure(revocations));
  await client.close();
}

await scope.cleanup();
process.exit(0);
