import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { unavailable } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { agentClaimsFromCertificate } from '../../spiffe/x509svid/claims-extension.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { makeRootCa, jwtKey, type TestCa } from '../helpers/pki.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { SignParams } from '../../node-agent/bootstrap/server-api.ts';
import type { TrustBundle } from '../../node-agent/bootstrap/bundle.ts';
import type { Entry } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { within } from '../helpers/wait.ts';

/** A small real signing server: the production leaf template under a test CA, counting calls. */
class FakeSigner implements SvidSigner {
  batches: SignParams[][] = [];
  jwtMints = 0;
  down = false;
  readonly jwt = jwtKey('ES256', 'k1');
  constructor(private readonly ca: TestCa, private readonly entries: () => Map<string, Entry__Output>, private readonly clock: FakeClock, private readonly ttlMs = 3_600_000) {}
  async batchSignX509Svids(params: SignParams[]) {
    if (this.down) throw unavailable('ERR_SERVER_UNREACHABLE', 'server down');
    this.batches.push(params);
    const issue = createLeafIssuer({ certificate: this.ca.certificate, privateKey: this.ca.privateKey });
    return params.map((p) => {
      const e = this.entries().get(p.entryId)!;
      const ttl = e.x509_svid_ttl ? e.x509_svid_ttl * 1000 : this.ttlMs;
      const notAfter = Math.floor((this.clock.now() + ttl) / 1000) * 1000;
      const claims = e.agent ? { ...e.agent, ...(p.instanceId ? { agent_instance_id: p.instanceId } : {}) } : undefined;
      const leaf = issue({ spiffeId: SpiffeId.parse(e.spiffe_id), publicKey: parseCsr(p.csr).spki, notBefore: new Date(this.clock.now()), notAfter: new Date(notAfter), claims });
      return { status: { code: 0, message: '' }, entry_id: p.entryId, cert_chain: [Buffer.from(leaf)], expires_at: notAfter / 1000 };
    });
  }
  async mintJwtSvid(p: { entryId: string; audience: string[]; instanceId: string }) {
    if (this.down) throw unavailable('ERR_SERVER_UNREACHABLE', 'server down');
    this.jwtMints++;
    const e = this.entries().get(p.entryId)!;
    const expiresAt = new Date(this.clock.now() + 300_000);
    const token = await signJwtSvid({ id: SpiffeId.parse(e.spiffe_id), audience: p.audience, expiresAt, issuedAt: new Date(this.clock.now()), claims: { agent_instance_id: p.instanceId }, key: this.jwt });
    return { token, expiresAt: Math.floor(expiresAt.getTime() / 1000) };
  }
}

function entry(id: string, selectors: string[], more: Partial<Entry> = {}): Entry__Output {
  return {
    id, spiffe_id: `spiffe://example.org/${id}`, parent_id: 'spiffe://example.org/tessera/agent/join_token/x',
    selectors: selectors.map((s) => { const p = parseSelector(s); return { type: p.type, value: p.value }; }),
    x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false, downstream: false, federates_with: [],
    expires_at: 0, revision: 1, agent: null, created_at: 1, ...more,
  } as Entry__Output;
}

const workload = (uid: number, instance = `inst_${uid}`, pid = process.pid): AttestedWorkload =>
  ({ selectors: [parseSelector(`unix:uid:${uid}`), parseSelector('unix:gid:0')], instanceId: instance, pid, uid, gid: 0 });

async function setup(t: import('ava').ExecutionContext, o: { ttlMs?: number } = {}) {
  const clock = new FakeClock(Date.now());
  const ca = await makeRootCa('example.org');
  const wire = new Map<string, Entry__Output>();
  const entries = new EntryCache(silentLogger);
  const signer = new FakeSigner(ca, () => wire, clock, o.ttlMs);
  const bundle: TrustBundle = { trustDomain: ca.trustDomain, x509Authorities: [ca.certificate], jwtAuthorities: [{ kid: 'k1', publicKey: new Uint8Array(signer.jwt.publicKey.export({ type: 'spki', format: 'der' })), expiresAt: 0 }], sequence: 1, refreshHint: 300 };
  const cache = new SvidCache({ entries, signer, bundle, clock, logger: silentLogger, random: () => 0.5, processAlive: () => true });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const running = cache.run(ac.signal);
  /** Moves the fake clock and waits until the cache's loop has done the work that fell due. */
  const advance = async (ms: number) => { clock.advance(ms); await within(cache.idle(), 'the SVID cache loop to finish its due work'); };
  const sync = (full: boolean, upserted: Entry__Output[], deleted: string[] = []) => {
    for (const e of upserted) wire.set(e.id, e);
    for (const d of deleted) wire.delete(d);
    entries.apply({ full, upserted, deleted_ids: deleted, sequence: 1, bundle: null });
  };
  return { clock, ca, entries, signer, cache, sync, running, advance };
}


test('a caller gets SVIDs only for entries whose selectors are all among its own', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1000']), entry('b', ['unix:uid:1000', 'unix:gid:5']), entry('c', ['unix:uid:2000'])]);
  const svids = await cache.x509Svids(workload(1000));
  t.deepEqual(svids.map((s) => s.spiffeId), ['spiffe://example.org/a']);
  t.deepEqual((await cache.x509Svids(workload(2000))).map((s) => s.spiffeId), ['spiffe://example.org/c']);
  t.deepEqual(await cache.x509Svids(workload(3000)), []);
  t.false(cache.hasIdentity(workload(3000)));
});

test('each SVID has its own key, and the certificate is for that key', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1000']), entry('b', ['unix:uid:1000'], { created_at: 2 })]);
  const [a, b] = await cache.x509Svids(workload(1000));
  t.notDeepEqual(Buffer.from(a!.privateKey), Buffer.from(b!.privateKey));
  const { createPrivateKey } = await import('node:crypto');
  t.true(new X509Certificate(a!.certChain[0]!).checkPrivateKey(createPrivateKey({ key: Buffer.from(a!.privateKey), format: 'der', type: 'pkcs8' })));
});

test('the oldest matching entry is the default identity (first in the list)', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('new', ['unix:uid:1'], { created_at: 50 }), entry('old', ['unix:uid:1'], { created_at: 10 })]);
  t.deepEqual((await cache.x509Svids(workload(1))).map((s) => s.spiffeId), ['spiffe://example.org/old', 'spiffe://example.org/new']);
});

test('SVIDs needed at once are signed in one batch call', async (t) => {
  const { cache, sync, signer } = await setup(t);
  sync(true, Array.from({ length: 20 }, (_, i) => entry(`e${i}`, ['unix:uid:7'], { created_at: i })));
  const svids = await cache.x509Svids(workload(7));
  t.is(svids.length, 20);
  t.is(signer.batches.length, 1);
  t.is(signer.batches[0]!.length, 20);
});

test('entries without agent metadata share one SVID; entries with it get one per instance, carrying the instance id', async (t) => {
  const { cache, sync, signer } = await setup(t);
  sync(true, [entry('shared', ['unix:uid:1']), entry('agentic', ['unix:uid:2'], { agent: { agent_model: 'm1', agent_provider: 'p', agent_version: '1' } })]);
  const s1 = await cache.x509Svids(workload(1, 'inst_a'));
  const s2 = await cache.x509Svids(workload(1, 'inst_b'));
  t.deepEqual(s1[0]!.certChain, s2[0]!.certChain);
  const a1 = await cache.x509Svids(workload(2, 'inst_a'));
  const a2 = await cache.x509Svids(workload(2, 'inst_b'));
  t.notDeepEqual(Buffer.from(a1[0]!.certChain[0]!), Buffer.from(a2[0]!.certChain[0]!));
  t.is(agentClaimsFromCertificate(a1[0]!.certChain[0]!).agent_instance_id, 'inst_a');
  t.is(a2[0]!.claims.agent_instance_id, 'inst_b');
  t.is(a2[0]!.claims.agent_model, 'm1');
  t.is(signer.batches.flat().length, 3);
});

test('concurrent fetches for one SVID mint it once', async (t) => {
  const { cache, sync, signer } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1'])]);
  const all = await Promise.all(Array.from({ length: 10 }, () => cache.x509Svids(workload(1))));
  t.is(signer.batches.flat().length, 1);
  t.true(all.every((s) => s[0]!.certChain[0] === all[0]![0]!.certChain[0]));
});

test('SVIDs rotate at half their lifetime, in one batch, and watchers of those SVIDs hear about it', async (t) => {
  const { cache, sync, signer, advance } = await setup(t, { ttlMs: 100_000 });
  sync(true, [entry('a', ['unix:uid:1']), entry('b', ['unix:uid:1'])]);
  const before = await cache.x509Svids(workload(1));
  let changes = 0;
  cache.watchX509Svids(workload(1), () => changes++);
  await advance(0);
  await advance(40_000);
  t.is(signer.batches.length, 1, 'not yet due at 40% of the lifetime');
  await advance(11_000);
  t.is(signer.batches.length, 2);
  t.is(signer.batches[1]!.length, 2);
  t.true(changes >= 1);
  const after = await cache.x509Svids(workload(1));
  t.notDeepEqual(Buffer.from(after[0]!.certChain[0]!), Buffer.from(before[0]!.certChain[0]!));
});

test('while the server is down, still-valid SVIDs keep being served; rotation catches up when it returns', async (t) => {
  const { cache, sync, signer, advance } = await setup(t, { ttlMs: 100_000 });
  sync(true, [entry('a', ['unix:uid:1'])]);
  const first = await cache.x509Svids(workload(1));
  await advance(0);
  signer.down = true;
  await advance(60_000);
  const during = await cache.x509Svids(workload(1));
  t.deepEqual(during[0]!.certChain, first[0]!.certChain, 'old SVID still served');
  signer.down = false;
  await advance(5_000);
  const after = await cache.x509Svids(workload(1));
  t.notDeepEqual(Buffer.from(after[0]!.certChain[0]!), Buffer.from(first[0]!.certChain[0]!));
});

test('an SVID is no longer served once it expired and could not be renewed', async (t) => {
  const { cache, sync, signer, advance } = await setup(t, { ttlMs: 100_000 });
  sync(true, [entry('a', ['unix:uid:1'])]);
  await cache.x509Svids(workload(1));
  signer.down = true;
  await advance(101_000);
  await t.throwsAsync(cache.x509Svids(workload(1)), { message: /server down/ });
});

test('a deleted entry drops its SVIDs and fires onChange', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1']), entry('b', ['unix:uid:1'], { created_at: 2 })]);
  await cache.x509Svids(workload(1));
  const changed = new Promise<void>((resolve) => cache.onChange(resolve));
  sync(false, [], ['a']);
  await within(changed, 'onChange after the entry was deleted');
  t.deepEqual((await cache.x509Svids(workload(1))).map((s) => s.spiffeId), ['spiffe://example.org/b']);
  t.is(cache.stats.x509, 1);
});

test('a changed entry (new revision) gets a new SVID', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1'])]);
  const [before] = await cache.x509Svids(workload(1));
  sync(false, [entry('a', ['unix:uid:1'], { revision: 2, spiffe_id: 'spiffe://example.org/renamed' })]);
  const [after] = await cache.x509Svids(workload(1));
  t.is(after!.spiffeId, 'spiffe://example.org/renamed');
  t.notDeepEqual(Buffer.from(after!.certChain[0]!), Buffer.from(before!.certChain[0]!));
});

test('per-instance SVIDs of exited processes are dropped', async (t) => {
  const { cache, sync, advance } = await setup(t);
  let alive = true;
  (cache as unknown as { o: { processAlive: (pid: number) => boolean } }).o.processAlive = () => alive;
  sync(true, [entry('agentic', ['unix:uid:2'], { agent: { agent_model: 'm', agent_provider: '', agent_version: '' } })]);
  await cache.x509Svids(workload(2, 'inst_x', 4242));
  t.is(cache.stats.x509, 1);
  alive = false;
  await advance(31_000);
  t.is(cache.stats.x509, 0);
});

test('JWT-SVIDs are cached per (entry, audience, instance) until half their lifetime', async (t) => {
  const { cache, sync, signer, clock } = await setup(t);
  // With agent metadata: per instance (without, one per entry: test/node-agent/cache-taint.test.ts).
  sync(true, [entry('a', ['unix:uid:1'], { agent: { agent_model: 'm', agent_provider: '', agent_version: '' } })]);
  const j1 = await cache.jwtSvids(workload(1, 'inst_1'), ['svc']);
  const j2 = await cache.jwtSvids(workload(1, 'inst_1'), ['svc']);
  t.is(j1[0]!.token, j2[0]!.token);
  t.is(signer.jwtMints, 1);
  await cache.jwtSvids(workload(1, 'inst_2'), ['svc']);
  await cache.jwtSvids(workload(1, 'inst_1'), ['other']);
  t.is(signer.jwtMints, 3);
  clock.advance(151_000);
  const j3 = await cache.jwtSvids(workload(1, 'inst_1'), ['svc']);
  t.not(j3[0]!.token, j1[0]!.token);
  t.is(signer.jwtMints, 4);
});

test('JWT-SVIDs validate against the bundle, and a wrong audience is refused', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1'])]);
  const [j] = await cache.jwtSvids(workload(1), ['svc']);
  const ok = await cache.validateJwtSvid(j!.token, 'svc');
  t.is(ok.spiffeId, 'spiffe://example.org/a');
  await t.throwsAsync(cache.validateJwtSvid(j!.token, 'not-svc'), { code: 'ERR_JWTSVID_AUDIENCE' } as never);
});

test('a JWT-SVID request naming a SPIFFE ID gets only that identity', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1']), entry('b', ['unix:uid:1'])]);
  const r = await cache.jwtSvids(workload(1), ['svc'], 'spiffe://example.org/b');
  t.deepEqual(r.map((x) => x.spiffeId), ['spiffe://example.org/b']);
  t.deepEqual(await cache.jwtSvids(workload(1), ['svc'], 'spiffe://example.org/zzz'), []);
});

test('JWT bundles are SPIFFE JWKS with jwt-svid keys only', async (t) => {
  const { cache } = await setup(t);
  const jwks = JSON.parse(Buffer.from(cache.jwtBundles().get('spiffe://example.org')!).toString());
  t.is(jwks.keys.length, 1);
  t.is(jwks.keys[0].use, 'jwt-svid');
  t.is(jwks.keys[0].kid, 'k1');
  t.is(jwks.keys[0].kty, 'EC');
  t.is(jwks.keys[0].x5c, undefined, 'no X.509 authorities in a JWT bundle');
  t.is(jwks.spiffe_sequence, 1);
  t.is(jwks.spiffe_refresh_hint, 300);
  t.is(cache.x509Bundles().get('spiffe://example.org')!.length, 1);
});

test('a new bundle replaces the JWKS and the keys ValidateJWTSVID uses; an unnumbered bundle has no spiffe_sequence', async (t) => {
  const { cache, ca } = await setup(t);
  const before = cache.jwtBundles().get('spiffe://example.org')!;
  cache.setBundle({ trustDomain: ca.trustDomain, x509Authorities: [ca.certificate], jwtAuthorities: [], sequence: 0, refreshHint: 0 });
  const jwks = JSON.parse(Buffer.from(cache.jwtBundles().get('spiffe://example.org')!).toString());
  t.notDeepEqual(cache.jwtBundles().get('spiffe://example.org'), before);
  t.deepEqual(jwks, { keys: [] });
});

test('a minted SVID\'s certificates and key are exact copies, independent of the server\'s response buffers', async (t) => {
  const { packSvid } = await import('../../node-agent/cache/x509-minter.ts');
  const leaf = Buffer.from([1, 2, 3]);
  const inter = Buffer.from([4, 5]);
  const key = new Uint8Array([9, 9, 9, 9]);
  const p = packSvid([leaf, inter], key);
  leaf.fill(0); key.fill(0);
  t.deepEqual([...p.certChain[0]!], [1, 2, 3]);
  t.deepEqual([...p.certChain[1]!], [4, 5]);
  t.deepEqual([...p.privateKey], [9, 9, 9, 9]);
  t.is(p.certChain[0]!.buffer, p.privateKey.buffer, 'one backing store per SVID');
});

test('after the agent is revoked, no new SVIDs are minted', async (t) => {
  const { cache, sync } = await setup(t);
  sync(true, [entry('a', ['unix:uid:1'])]);
  cache.stopIssuing('banned');
  await t.throwsAsync(cache.x509Svids(workload(1)), { code: 'ERR_AGENT_REVOKED' } as never);
});
