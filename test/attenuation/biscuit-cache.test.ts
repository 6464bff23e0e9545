import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { attenuate } from '../../spiffe/biscuit/attenuate.ts';
import { createStaticBiscuitKeys } from '../../spiffe/biscuit/keys.ts';
import { mintBiscuit } from '../../spiffe/biscuit/mint.ts';
import { verifyBiscuit } from '../../spiffe/biscuit/verify.ts';
import { biscuitVerifyCache } from '../../spiffe/biscuit/verify-cache.ts';
import type { AuthorityClaims } from '../../spiffe/biscuit/vocabulary.ts';
import { loadBiscuit } from '../../spiffe/biscuit/wasm.ts';
import { RevocationIndex } from '../../spiffe/delegation/revocation-index.ts';

/**
 * The per-token verification cache (spiffe/biscuit/verify-cache.ts, docs/attenuation.md
 * "Verification cost"): a token verified once is verified again from memory, and every
 * request-dependent rule still holds on the cached path. Serial: the cache is per process.
 */
function rootKey(id: number) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = (k: ReturnType<typeof generateKeyPairSync>['privateKey'], type: 'pkcs8' | 'spki') => new Uint8Array(k.export({ format: 'der', type }).subarray(-32));
  return { rootKeyId: id, privateKey: raw(privateKey, 'pkcs8'), publicKey: raw(publicKey, 'spki') };
}
const key = rootKey(77);
const keys = createStaticBiscuitKeys([{ id: key.rootKeyId, publicKey: key.publicKey }]);
const now = Math.floor(Date.now() / 1000);
const at = (s: number) => new Date(s * 1000);
const A = 'spiffe://example.org/agents/researcher';
const B = 'spiffe://example.org/agents/sub/one';
const TOOLS = 'https://tools';

const authority = (over: Partial<AuthorityClaims> = {}): AuthorityClaims => ({
  issuer: 'https://127.0.0.1:1', jti: `tok_${Math.random().toString(36).slice(2)}`, grantId: 'grt_g', chain: [],
  subject: { iss: 'https://idp.example.org', sub: 'alice', groups: [] }, actors: [{ spiffeId: A, claims: {} }],
  scopes: ['files:read', 'review:post'], audiences: [TOOLS, 'https://other'], issuedAt: now, expiresAt: now + 300,
  budgets: {}, bound: true, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/sub/*'], ...over,
});
const code = async (p: Promise<unknown>) => {
  try { await p; } catch (e) { return (e as { code?: string }).code; }
  return 'verified';
};

/** Verifies once (filling the cache) and checks that the next call is a hit. */
async function cached(token: string, peer: string): Promise<void> {
  await verifyBiscuit(token, { rootKeys: keys, audience: TOOLS, peerId: peer, requiredScopes: ['files:read'], now: at(now) });
  const before = biscuitVerifyCache.stats();
  await verifyBiscuit(token, { rootKeys: keys, audience: TOOLS, peerId: peer, requiredScopes: ['files:read'], now: at(now) });
  const after = biscuitVerifyCache.stats();
  if (after.hits !== before.hits + 1 || after.datalogSkipped !== before.datalogSkipped + 1) throw new Error('second verification was not served from the cache');
}

test.serial('a cached token is still refused when expired, for another audience, from another peer, or once revoked', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const t1 = await attenuate(token, { rootKeys: keys, delegateTo: B, scopes: ['files:read'] });
  await cached(t1, B);
  const o = { rootKeys: keys, audience: TOOLS, peerId: B, requiredScopes: ['files:read'] };

  t.is(await code(verifyBiscuit(t1, { ...o, now: at(now + 301) })), 'ERR_DELEGATION_EXPIRED');
  t.is(await code(verifyBiscuit(t1, { ...o, audience: 'https://elsewhere', now: at(now) })), 'ERR_DELEGATION_AUDIENCE');
  t.is(await code(verifyBiscuit(t1, { ...o, peerId: A, now: at(now) })), 'ERR_DELEGATION_BINDING');
  t.is(await code(verifyBiscuit(t1, { ...o, peerId: undefined, now: at(now) })), 'ERR_DELEGATION_BINDING');
  t.is(await code(verifyBiscuit(t1, { ...o, requiredScopes: ['review:post'], now: at(now) })), 'ERR_DELEGATION_SCOPE');

  const rootRid = (await verifyBiscuit(t1, { ...o, now: at(now) })).biscuitRevocationIds![0]!;
  const index = new RevocationIndex();
  const revocations = { revocationOf: (tok: Parameters<RevocationIndex['match']>[0]) => index.match(tok, now) };
  t.is(await code(verifyBiscuit(t1, { ...o, revocations, now: at(now) })), 'verified');
  index.add({ seq: 1, kind: 'biscuit', value: rootRid, at: now, expiresAt: now + 600 });
  t.is(await code(verifyBiscuit(t1, { ...o, revocations, now: at(now) })), 'ERR_DELEGATION_REVOKED');
  t.true(biscuitVerifyCache.stats().size >= 1, 'the refusals above came from cached entries');
});

test.serial('a cached token whose root key is no longer trusted is refused (the key is re-checked on every hit)', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  await cached(token, A);
  const rotated = createStaticBiscuitKeys([{ id: 78, publicKey: rootKey(78).publicKey }]);
  const e = await t.throwsAsync(verifyBiscuit(token, { rootKeys: rotated, audience: TOOLS, peerId: A, now: at(now) }));
  t.is((e as { reason?: string }).reason, 'key_not_found');
  const impostor = createStaticBiscuitKeys([{ id: 77, publicKey: rootKey(77).publicKey }]);
  t.is(await code(verifyBiscuit(token, { rootKeys: impostor, audience: TOOLS, peerId: A, now: at(now) })), 'ERR_DELEGATION_INVALID');
});

/** Appends a block of raw Datalog, as any holder may (the SDK's attenuate only writes the vocabulary). */
async function withBlock(token: string, datalog: string): Promise<string> {
  const lib = await loadBiscuit();
  const b = lib.Biscuit.fromBase64WithProvider(token, () => lib.PublicKey.fromBytes(key.publicKey, lib.SignatureAlgorithm.Ed25519));
  const blk = new lib.BlockBuilder();
  blk.addCode(datalog);
  const out = b.appendBlock(blk).toBase64();
  b.free();
  return out;
}
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

test.serial("a holder's own time check without an expires fact still ends a cached token at its date", async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const short = await withBlock(token, `check if time($t), $t < ${iso(now + 60)};`);
  await cached(short, A);
  const o = { rootKeys: keys, audience: TOOLS, peerId: A, requiredScopes: ['files:read'] };
  t.is(await code(verifyBiscuit(short, { ...o, now: at(now + 59) })), 'verified');
  t.is(await code(verifyBiscuit(short, { ...o, now: at(now + 61) })), 'ERR_DELEGATION_UNAUTHORIZED');
});

test.serial('a not-before check is evaluated against now on every call (no Datalog outcome is reused)', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const later = await withBlock(token, `check if time($t), $t > ${iso(now + 100)};`);
  const o = { rootKeys: keys, audience: TOOLS, peerId: A, requiredScopes: ['files:read'] };
  t.is(await code(verifyBiscuit(later, { ...o, now: at(now + 200) })), 'verified');
  t.is(await code(verifyBiscuit(later, { ...o, now: at(now + 200) })), 'verified');
  const skipped = biscuitVerifyCache.stats().datalogSkipped;
  t.is(await code(verifyBiscuit(later, { ...o, now: at(now) })), 'ERR_DELEGATION_UNAUTHORIZED');
  t.is(biscuitVerifyCache.stats().datalogSkipped, skipped);
});
