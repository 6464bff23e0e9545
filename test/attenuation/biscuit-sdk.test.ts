import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { attenuate } from '../../spiffe/biscuit/attenuate.ts';
import { createStaticBiscuitKeys } from '../../spiffe/biscuit/keys.ts';
import { mintBiscuit } from '../../spiffe/biscuit/mint.ts';
import { verifyBiscuit } from '../../spiffe/biscuit/verify.ts';
import type { AuthorityClaims } from '../../spiffe/biscuit/vocabulary.ts';
import { RevocationIndex } from '../../spiffe/delegation/revocation-index.ts';

// SDK-level rules of docs/attenuation.md with a locally minted authority block; the
// token-endpoint path is covered by e2e-biscuit.test.ts.

function rootKey(id: number) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = (k: ReturnType<typeof generateKeyPairSync>['privateKey'], type: 'pkcs8' | 'spki') => new Uint8Array(k.export({ format: 'der', type }).subarray(-32));
  return { rootKeyId: id, privateKey: raw(privateKey, 'pkcs8'), publicKey: raw(publicKey, 'spki') };
}
const key = rootKey(4242);
const keys = createStaticBiscuitKeys([{ id: key.rootKeyId, publicKey: key.publicKey }]);
const now = Math.floor(Date.now() / 1000);
const A = 'spiffe://example.org/agents/researcher';
const B = 'spiffe://example.org/agents/sub/one';
const C = 'spiffe://example.org/agents/sub/two';

const authority = (over: Partial<AuthorityClaims> = {}): AuthorityClaims => ({
  issuer: 'https://127.0.0.1:1', jti: 'tok_root', grantId: 'grt_g', chain: [],
  subject: { iss: 'https://idp.example.org', sub: 'alice', groups: ['eng'] },
  actors: [{ spiffeId: A, claims: { agent_model: 'm1' } }],
  scopes: ['files:read', 'review:post'], audiences: ['https://tools', 'https://other'],
  issuedAt: now, expiresAt: now + 300, budgets: { 'read:files': 15 }, bound: true, maxDepth: 3,
  mayDelegateTo: ['spiffe://example.org/agents/sub/*'], ...over,
});

test('two offline attenuations narrow scopes, audiences, expiry and budgets and extend the actor chain', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const t1 = await attenuate(token, { rootKeys: keys, scopes: ['files:read'], delegateTo: B, budgets: { 'read:files': 5 } });
  const t2 = await attenuate(t1, { rootKeys: keys, audiences: ['https://tools'], ttl: 60, delegateTo: C, now: new Date(now * 1000) });
  const v = await verifyBiscuit(t2, { rootKeys: keys, audience: 'https://tools', peerId: C, requiredScopes: ['files:read'] });
  t.deepEqual(v.actors.map((a) => a.id.toString()), [C, B, A]);
  t.is(v.actors[2]!.claims.agent_model, 'm1');
  t.deepEqual(v.scopes, ['files:read']);
  t.deepEqual(v.audience, ['https://tools']);
  t.is(v.expiresAt.getTime(), (now + 60) * 1000);
  t.deepEqual(v.budgets, { 'read:files': 5 });
  t.is(v.subject, 'https://idp.example.org#alice');
  t.is(v.clientId, C);
  t.is(v.biscuitRevocationIds!.length, 3);
});

test('the holder must present the last delegateTo identity', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const t1 = await attenuate(token, { rootKeys: keys, delegateTo: B });
  const e1 = await t.throwsAsync(verifyBiscuit(t1, { rootKeys: keys, audience: 'https://tools', peerId: A }));
  t.is((e1 as { code?: string }).code, 'ERR_DELEGATION_BINDING');
  const e2 = await t.throwsAsync(verifyBiscuit(t1, { rootKeys: keys, audience: 'https://tools' }));
  t.is((e2 as { code?: string }).code, 'ERR_DELEGATION_BINDING');
});

test('a block adding a scope grants nothing', async (t) => {
  const { token } = await mintBiscuit(authority({ scopes: ['files:read'] }), key);
  const wide = await attenuate(token, { rootKeys: keys, scopes: ['files:read', 'admin:all'] });
  const v = await verifyBiscuit(wide, { rootKeys: keys, audience: 'https://tools', peerId: A });
  t.deepEqual(v.scopes, ['files:read']);
  const e = await t.throwsAsync(verifyBiscuit(wide, { rootKeys: keys, audience: 'https://tools', peerId: A, requiredScopes: ['admin:all'] }));
  t.is((e as { code?: string }).code, 'ERR_DELEGATION_SCOPE');
});

test('delegation outside may_delegate_to or beyond max_depth is refused', async (t) => {
  const { token } = await mintBiscuit(authority({ maxDepth: 2 }), key);
  const evil = await attenuate(token, { rootKeys: keys, delegateTo: 'spiffe://example.org/evil' });
  const e1 = await t.throwsAsync(verifyBiscuit(evil, { rootKeys: keys, audience: 'https://tools', peerId: 'spiffe://example.org/evil' }));
  t.is((e1 as { code?: string }).code, 'ERR_DELEGATION_INVALID');
  const deep = await attenuate(await attenuate(token, { rootKeys: keys, delegateTo: B }), { rootKeys: keys, delegateTo: C });
  const e2 = await t.throwsAsync(verifyBiscuit(deep, { rootKeys: keys, audience: 'https://tools', peerId: C }));
  t.regex((e2 as Error).message, /depth 3 > max_depth 2/);
});

test('expired, wrong audience, unknown root key and revoked blocks are refused', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const later = new Date((now + 301) * 1000);
  t.is((await t.throwsAsync(verifyBiscuit(token, { rootKeys: keys, audience: 'https://tools', peerId: A, now: later })) as { code?: string }).code, 'ERR_DELEGATION_EXPIRED');
  t.is((await t.throwsAsync(verifyBiscuit(token, { rootKeys: keys, audience: 'https://nope', peerId: A })) as { code?: string }).code, 'ERR_DELEGATION_AUDIENCE');
  const other = createStaticBiscuitKeys([{ id: 1, publicKey: rootKey(1).publicKey }]);
  t.is((await t.throwsAsync(verifyBiscuit(token, { rootKeys: other, audience: 'https://tools', peerId: A })) as { reason?: string }).reason, 'key_not_found');
  const t1 = await attenuate(token, { rootKeys: keys, delegateTo: B });
  const t2 = await attenuate(t1, { rootKeys: keys, delegateTo: C });
  const rootRid = (await verifyBiscuit(token, { rootKeys: keys, audience: 'https://tools', peerId: A })).biscuitRevocationIds![0]!;
  const index = new RevocationIndex();
  index.add({ seq: 1, kind: 'biscuit', value: rootRid, at: now, expiresAt: now + 600 });
  const revocations = { revocationOf: (tok: Parameters<RevocationIndex['match']>[0]) => index.match(tok, Math.floor(Date.now() / 1000)) };
  const e = await t.throwsAsync(verifyBiscuit(t2, { rootKeys: keys, audience: 'https://tools', peerId: C, revocations }));
  t.is((e as { code?: string }).code, 'ERR_DELEGATION_REVOKED');
});

test('a tampered token does not verify', async (t) => {
  const { token } = await mintBiscuit(authority(), key);
  const bytes = Buffer.from(token, 'base64url');
  bytes[bytes.length - 40] ^= 1;
  const e = await t.throwsAsync(verifyBiscuit(bytes.toString('base64url'), { rootKeys: keys, audience: 'https://tools', peerId: A }));
  t.is((e as { code?: string }).code, 'ERR_DELEGATION_INVALID');
});
