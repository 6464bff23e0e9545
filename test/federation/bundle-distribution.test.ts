import test from 'ava';
import { memoryLogger, silentLogger } from '../../common/logger.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { FederatedBundleCache, withFederatedBundles } from '../../node-agent/sync/federated-bundles.ts';
import type { AttestedWorkload, IdentityProvider } from '../../node-agent/workload-api/provider.ts';
import type { BundleRecord } from '../../server/datastore/types.ts';
import { FederatedBundlePush } from '../../server/federation/agent-push.ts';
import { toWireBundle } from '../../server/entries/wire.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { jwtKey, makeRootCa } from '../helpers/pki.ts';

/**
 * How foreign bundles travel (docs/federation.md "Reaching workloads"): the server
 * pushes an agent the bundles its entries federate with, as a complete set, when that
 * set or one of its bundles changes; the agent gives each workload only those its own
 * entries name, never merged into another trust domain's bundle.
 */
const OWN = TrustDomain.parse('a.test');

function foreignSource() {
  const bundles = new Map<string, BundleRecord>();
  const listeners = new Set<(td: string) => void>();
  return {
    get: (td: string) => bundles.get(td),
    onChange: (l: (td: string) => void) => { listeners.add(l); return () => listeners.delete(l); },
    set(b: BundleRecord) { bundles.set(b.trustDomain.name, b); for (const l of listeners) l(b.trustDomain.name); },
  };
}
const record = (td: string, root: Uint8Array, sequence: number): BundleRecord => ({ trustDomain: TrustDomain.parse(td), x509Authorities: [root], jwtAuthorities: [], sequence, refreshHint: 60 });

test('server: an agent gets the bundles its entries federate with, again only when that set or a bundle in it changes', async (t) => {
  const b = await makeRootCa('b.test');
  const c = await makeRootCa('c.test');
  const foreign = foreignSource();
  foreign.set(record('b.test', b.root, 1));
  foreign.set(record('c.test', c.root, 1));
  let entries: { federatesWith: TrustDomain[] }[] = [{ federatesWith: [] }];
  const push = new FederatedBundlePush(foreign, () => entries);
  const sent: string[][] = [];
  push.follow((s) => sent.push(s.bundles!.map((x) => `${x.trust_domain}@${x.sequence}`)));

  t.deepEqual(push.initial().bundles, [], 'the first message carries the (empty) set');
  foreign.set(record('b.test', b.root, 2));
  t.deepEqual(sent, [], 'no entry federates with b.test yet');
  t.is(push.afterEntries(), undefined, 'entries unchanged');
  entries = [{ federatesWith: [TrustDomain.parse('b.test')] }];
  t.deepEqual(push.afterEntries()!.bundles!.map((x) => x.trust_domain), ['b.test']);
  foreign.set(record('c.test', c.root, 2));
  foreign.set(record('b.test', b.root, 3));
  t.deepEqual(sent, [['b.test@3']], 'a change of c.test is not sent; one of b.test is');
  entries = [];
  t.deepEqual(push.afterEntries()!.bundles, [], 'the set shrinks to nothing: an empty set replaces it');
});

test('agent: each workload gets only the foreign bundles its own entries federate with', async (t) => {
  const b = await makeRootCa('b.test');
  const c = await makeRootCa('c.test');
  const key = jwtKey('ES256', 'b-key');
  const entries = new EntryCache(silentLogger);
  const entry = (id: string, uid: number, federates: string[]) => ({
    id, spiffe_id: `spiffe://a.test/${id}`, parent_id: 'spiffe://a.test/tessera/agent/x', revision: 1,
    selectors: [parseSelector(`unix:uid:${uid}`)].map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false, downstream: false, federates_with: federates,
    expires_at: 0, agent: null, created_at: 1,
  }) as Entry__Output;
  entries.apply({ full: true, upserted: [entry('fed', 1000, ['b.test']), entry('plain', 1001, [])], deleted_ids: [], sequence: 1, bundle: null });
  const cache = new FederatedBundleCache(OWN, memoryLogger());
  const withKey: BundleRecord = { ...record('b.test', b.root, 4), jwtAuthorities: [{ kid: key.kid, publicKey: new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' })), expiresAt: 0 }] };
  cache.replace([toWireBundle(withKey), toWireBundle(record('c.test', c.root, 1)), toWireBundle(record('a.test', c.root, 1))]);
  t.is(cache.size, 2, 'a bundle for the agent\'s own trust domain is ignored');

  const own = new Map([['spiffe://a.test', [new Uint8Array([1])]]]);
  const inner = {
    x509Bundles: () => own, jwtBundles: () => new Map([['spiffe://a.test', new Uint8Array([2])]]),
    onChange: () => () => {}, validateJwtSvid: async () => ({ spiffeId: 'inner', claims: {} }),
  } as unknown as IdentityProvider;
  let changes = 0;
  const provider = withFederatedBundles(inner, entries, cache, () => Date.now());
  provider.onChange(() => changes++);
  const workload = (uid: number): AttestedWorkload => ({ selectors: [parseSelector(`unix:uid:${uid}`)], instanceId: 'i', pid: 1, uid, gid: uid });

  t.deepEqual([...provider.x509FederatedBundles!(workload(1000)).keys()], ['spiffe://b.test']);
  t.deepEqual([...provider.x509FederatedBundles!(workload(1001)).keys()], []);
  t.deepEqual([...provider.x509Bundles(workload(1000)).keys()], ['spiffe://a.test', 'spiffe://b.test']);
  t.deepEqual([...provider.x509Bundles(workload(1001)).keys()], ['spiffe://a.test']);
  const jwks = SpiffeBundle.parseJwks(TrustDomain.parse('b.test'), provider.jwtBundles(workload(1000)).get('spiffe://b.test')!);
  t.deepEqual([...jwks.jwtAuthorities.keys()], ['b-key']);
  t.is(jwks.x509Authorities.length, 0, 'JWT bundles carry no X.509 authorities');

  // ValidateJWTSVID: a b.test token verifies with b.test's JWT keys; an own one goes to the SVID cache.
  const token = await signJwtSvid({ id: TrustDomain.parse('b.test').id('svc'), audience: ['x'], expiresAt: new Date(Date.now() + 60_000), key });
  t.is((await provider.validateJwtSvid(token, 'x')).spiffeId, 'spiffe://b.test/svc');
  const ownToken = await signJwtSvid({ id: OWN.id('me'), audience: ['x'], expiresAt: new Date(Date.now() + 60_000), key });
  t.is((await provider.validateJwtSvid(ownToken, 'x')).spiffeId, 'inner');

  cache.replace([]);
  t.is(changes, 1, 'streams are told when the set changes');
  t.deepEqual([...provider.x509FederatedBundles!(workload(1000)).keys()], []);
});
