/**
 * Biscuit attenuation figures (docs/attenuation.md), all measured in this run:
 * - offline attenuations per second in the SDK (one block appended, root keys cached);
 * - Biscuit verifications per second (a 3-block token) against raw Ed25519 signature
 *   verifications per second, the ratio being the figure, twice: a token seen for the
 *   first time (signatures, parsing, Datalog; the verification cache emptied before each
 *   call) and a token verified again (verify-cache.ts: cheap checks only). Measured in
 *   alternating rounds, so a busy machine slows all three alike;
 * - /oauth2/consume round trip p50/p99 against a real in-process server (SQLite, mTLS).
 * Bounded: fixed iteration counts, loopback only.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { attenuate } from '../spiffe/biscuit/attenuate.ts';
import { createStaticBiscuitKeys } from '../spiffe/biscuit/keys.ts';
import { mintBiscuit } from '../spiffe/biscuit/mint.ts';
import { verifyBiscuit } from '../spiffe/biscuit/verify.ts';
import { biscuitVerifyCache } from '../spiffe/biscuit/verify-cache.ts';
import { loadBiscuit } from '../spiffe/biscuit/wasm.ts';
import { ID_TOKEN, startEnv } from '../test/oauth/harness.ts';

const N_ATT = 300;
const ROUNDS = 4;
const N_VERIFY_FIRST = 150;
const N_VERIFY_AGAIN = 5000;
const N_RAW = 5000;
const N_CONSUME = 300;

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const raw = (k: typeof privateKey, type: 'pkcs8' | 'spki') => new Uint8Array(k.export({ format: 'der', type }).subarray(-32));
const rootKeys = createStaticBiscuitKeys([{ id: 7, publicKey: raw(publicKey, 'spki') }]);
const now = Math.floor(Date.now() / 1000);
const A = 'spiffe://example.org/agents/a';
const B = 'spiffe://example.org/agents/sub/b';
const C = 'spiffe://example.org/agents/sub/c';

await loadBiscuit();
const { token } = await mintBiscuit({
  issuer: 'https://127.0.0.1', jti: 'tok_x', grantId: 'grt_x', chain: [], subject: { iss: 'https://idp', sub: 'alice', groups: [] },
  actors: [{ spiffeId: A, claims: {} }], scopes: ['files:read', 'review:post'], audiences: ['https://tools'], issuedAt: now, expiresAt: now + 3600,
  budgets: { 'read:files': 15 }, bound: true, maxDepth: 4, mayDelegateTo: ['spiffe://example.org/agents/sub/*'],
}, { rootKeyId: 7, privateKey: raw(privateKey, 'pkcs8') });

let t0 = performance.now();
let last = token;
for (let i = 0; i < N_ATT; i++) last = await attenuate(token, { rootKeys, scopes: ['files:read'], delegateTo: B });
const attPerSec = N_ATT / ((performance.now() - t0) / 1000);

const three = await attenuate(await attenuate(token, { rootKeys, delegateTo: B, budgets: { 'read:files': 5 } }), { rootKeys, delegateTo: C, scopes: ['files:read'] });
const verifyThree = () => verifyBiscuit(three, { rootKeys, audience: 'https://tools', peerId: C, requiredScopes: ['files:read'] });
for (let i = 0; i < 50; i++) { biscuitVerifyCache.clear(); await verifyThree(); }
const msg = Buffer.from(last.slice(0, 200));
const sig = sign(null, msg, privateKey);
const ms = { first: 0, again: 0, raw: 0 };
for (let r = 0; r < ROUNDS; r++) {
  t0 = performance.now();
  for (let i = 0; i < N_VERIFY_FIRST; i++) { biscuitVerifyCache.clear(); await verifyThree(); }
  ms.first += performance.now() - t0;
  await verifyThree();
  t0 = performance.now();
  for (let i = 0; i < N_VERIFY_AGAIN; i++) await verifyThree();
  ms.again += performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < N_RAW; i++) verify(null, msg, publicKey, sig);
  ms.raw += performance.now() - t0;
}
const firstPerSec = (ROUNDS * N_VERIFY_FIRST) / (ms.first / 1000);
const againPerSec = (ROUNDS * N_VERIFY_AGAIN) / (ms.again / 1000);
const rawPerSec = (ROUNDS * N_RAW) / (ms.raw / 1000);

// Consume round trips against a real server.
const cleanups: (() => unknown)[] = [];
const env = await startEnv({ teardown: (fn) => { cleanups.push(fn); } });
await env.policy({ id: 'pol_bench', actors: [A], audiences: ['https://tools'], scopes: ['files:read'], budgets: { 'read:files': 1_000_000 } });
const subjectToken = await env.idp.token({ sub: 'alice' });
const ex = await env.exchange({ subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: 'https://tools' }, env.svid('/agents/a'));
const jwt = ex.json.access_token as string;
const rs = env.svid('/services/tools');
const lat: number[] = [];
for (let i = 0; i < N_CONSUME; i++) {
  const s = performance.now();
  const r = await env.request('POST', '/oauth2/consume', { as: rs, params: { token: jwt, operation: 'read:files' } });
  lat.push(performance.now() - s);
  if (r.json.allowed !== true) throw new Error(`consume refused: ${r.text}`);
}
for (const fn of cleanups.reverse()) await fn();
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;

console.log(JSON.stringify({
  attenuations_per_sec: Math.round(attPerSec),
  biscuit_verifications_per_sec: { first_sight: Math.round(firstPerSec), cached: Math.round(againPerSec) },
  raw_ed25519_verifications_per_sec: Math.round(rawPerSec),
  verify_ratio_vs_raw_ed25519: { first_sight: Number((firstPerSec / rawPerSec).toFixed(4)), cached: Number((againPerSec / rawPerSec).toFixed(4)) },
  consume_round_trip_ms: { p50: Number(pct(0.5).toFixed(2)), p99: Number(pct(0.99).toFixed(2)), n: N_CONSUME, note: 'new TLS connection per call (test helper, agent: false)' },
}, null, 2));
