import test from 'ava';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { agentClaimsFromCertificate } from '../../spiffe/x509svid/claims-extension.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { jwtKey, makeRootCa, type TestCa } from '../helpers/pki.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { SignParams } from '../../node-agent/bootstrap/server-api.ts';
import type { TrustBundle } from '../../node-agent/bootstrap/bundle.ts';
import type { Entry, Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import { parseSelector } from '../../spiffe/selector.ts';

/**
 * Tainted authorities (the bundle on the sync stream names them) and the
 * agent_instance_id rule, against a small real signer whose active CA and JWT key the
 * test switches, as a server does on activation.
 */
class Signer implements SvidSigner {
  calls = 0;
  jwtMints: { instanceId: string }[] = [];
  jwt = jwtKey('ES256', 'old-kid');
  constructor(public ca: TestCa, private readonly entries: Map<string, Entry__Output>, private readonly clock: FakeClock) {}
  async batchSignX509Svids(params: SignParams[]) {
    this.calls++;
    const issue = createLeafIssuer({ certificate: this.ca.certificate, privateKey: this.ca.privateKey });
    return params.map((p) => {
      const e = this.entries.get(p.entryId)!;
      const notAfter = Math.floor((this.clock.now() + 3_600_000) / 1000) * 1000;
      const claims = e.agent ? { ...e.agent, ...(p.instanceId ? { agent_instance_id: p.instanceId } : {}) } : undefined;
      const leaf = issue({ spiffeId: SpiffeId.parse(e.spiffe_id), publicKey: parseCsr(p.csr).spki, notBefore: new Date(this.clock.now()), notAfter: new Date(notAfter), claims });
      return { status: { code: 0, message: '' }, entry_id: p.entryId, cert_chain: [Buffer.from(leaf)], expires_at: notAfter / 1000 };
    });
  }
  async mintJwtSvid(p: { entryId: string; audience: string[]; instanceId: string }) {
    this.jwtMints.push({ instanceId: p.instanceId });
    const e = this.entries.get(p.entryId)!;
    const expiresAt = new Date(this.clock.now() + 300_000);
    // As the server does: the instance claim only when the agent sends an instance id.
    const token = await signJwtSvid({ id: SpiffeId.parse(e.spiffe_id), audience: p.audience, expiresAt, issuedAt: new Date(this.clock.now()),
      claims: { ...(e.agent ?? {}), agent_instance_id: p.instanceId }, key: this.jwt });
    return { token, expiresAt: Math.floor(expiresAt.getTime() / 1000) };
  }
}

const entry = (id: string, uid: number, more: Partial<Entry> = {}): Entry__Output => ({
  id, spiffe_id: `spiffe://example.org/${id}`, parent_id: 'spiffe://example.org/tessera/agent/join_token/x',
  selectors: [{ type: 'unix', value: `uid:${uid}` }], x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false,
  downstream: false, federates_with: [], expires_at: 0, revision: 1, agent: null, created_at: 1, ...more,
} as Entry__Output);

const workload = (uid: number, instance: string): AttestedWorkload =>
  ({ selectors: [parseSelector(`unix:uid:${uid}`)], instanceId: instance, pid: process.pid, uid, gid: 0 });

const ski = (ca: TestCa) => Buffer.from(readCertificate(ca.certificate).subjectKeyId!).toString('hex');
const aki = (der: Uint8Array) => Buffer.from(readCertificate(der).authorityKeyId!).toString('hex');

async function setup(t: import('ava').ExecutionContext) {
  const clock = new FakeClock(Date.now());
  const oldCa = await makeRootCa('example.org');
  const newCa = await makeRootCa('example.org');
  const wire = new Map<string, Entry__Output>();
  const entries = new EntryCache(silentLogger);
  const signer = new Signer(oldCa, wire, clock);
  const bundle: TrustBundle = { trustDomain: oldCa.trustDomain, x509Authorities: [oldCa.certificate, newCa.certificate], jwtAuthorities: [], sequence: 1, refreshHint: 300 };
  const cache = new SvidCache({ entries, signer, bundle, clock, logger: silentLogger, random: () => 0.5, processAlive: () => true });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  void cache.run(ac.signal);
  const sync = (list: Entry__Output[]) => {
    for (const e of list) wire.set(e.id, e);
    entries.apply({ full: true, upserted: list, deleted_ids: [], sequence: 1, bundle: null });
  };
  return { clock, oldCa, newCa, signer, cache, sync };
}

test('a tainted authority makes every X.509-SVID it signed re-minted at once, in one batch, and streams are told', async (t) => {
  const { oldCa, newCa, signer, cache, sync } = await setup(t);
  sync([entry('a', 1), entry('b', 1, { created_at: 2 }), entry('c', 2)]);
  const before = [...await cache.x509Svids(workload(1, 'inst_1')), ...await cache.x509Svids(workload(2, 'inst_2'))];
  t.true(before.every((s) => aki(s.certChain[0]!) === ski(oldCa)));
  const updated = new Promise<void>((resolve) => cache.watchX509Svids(workload(2, 'inst_2'), resolve));
  const callsBefore = signer.calls;

  signer.ca = newCa; // the server activated the new authority
  cache.setTaint([ski(oldCa)], []);
  await updated;
  const after = [...await cache.x509Svids(workload(1, 'inst_1')), ...await cache.x509Svids(workload(2, 'inst_2'))];
  t.deepEqual(after.map((s) => aki(s.certChain[0]!)), [ski(newCa), ski(newCa), ski(newCa)]);
  t.is(signer.calls, callsBefore + 1, 'one batch for all three');
  t.true(cache.signedByTainted(before[0]!.certChain[0]!));
  t.false(cache.signedByTainted(after[0]!.certChain[0]!));
});

test('a taint naming no authority in use changes nothing', async (t) => {
  const { newCa, signer, cache, sync } = await setup(t);
  sync([entry('a', 1)]);
  const [first] = await cache.x509Svids(workload(1, 'inst_1'));
  cache.setTaint([ski(newCa)], []);
  const [again] = await cache.x509Svids(workload(1, 'inst_1'));
  t.is(again!.certChain[0], first!.certChain[0]);
  t.is(signer.calls, 1);
});

test('a tainted JWT key drops the cached JWT-SVIDs it signed', async (t) => {
  const { signer, cache, sync } = await setup(t);
  sync([entry('a', 1)]);
  const [j1] = await cache.jwtSvids(workload(1, 'inst_1'), ['svc']);
  t.is((await cache.jwtSvids(workload(1, 'inst_1'), ['svc']))[0]!.token, j1!.token, 'cached');
  signer.jwt = jwtKey('ES256', 'new-kid');
  cache.setTaint([], ['old-kid']);
  const [j2] = await cache.jwtSvids(workload(1, 'inst_1'), ['svc']);
  t.not(j2!.token, j1!.token);
  t.is(JSON.parse(Buffer.from(j2!.token.split('.')[0]!, 'base64url').toString()).kid, 'new-kid');
});

test('an entry without agent metadata gives no agent_instance_id (X.509 or JWT); one with it does', async (t) => {
  const { signer, cache, sync } = await setup(t);
  sync([entry('shared', 1), entry('agentic', 2, { agent: { agent_model: 'm1', agent_provider: 'p', agent_version: '' } })]);
  const [x1] = await cache.x509Svids(workload(1, 'inst_AAAAAAAAAAAAAAAAAAAAAA'));
  t.deepEqual(agentClaimsFromCertificate(x1!.certChain[0]!), {});
  const [j1] = await cache.jwtSvids(workload(1, 'inst_AAAAAAAAAAAAAAAAAAAAAA'), ['svc']);
  t.is(parseJwtSvidInsecure(j1!.token).agentClaims.agent_instance_id, undefined);
  // Two instances share the entry's JWT-SVID: it names no instance.
  const [j1b] = await cache.jwtSvids(workload(1, 'inst_BBBBBBBBBBBBBBBBBBBBBB'), ['svc']);
  t.is(j1b!.token, j1!.token);
  t.deepEqual(signer.jwtMints, [{ instanceId: '' }]);

  const [x2] = await cache.x509Svids(workload(2, 'inst_CCCCCCCCCCCCCCCCCCCCCC'));
  t.is(agentClaimsFromCertificate(x2!.certChain[0]!).agent_instance_id, 'inst_CCCCCCCCCCCCCCCCCCCCCC');
  const [j2] = await cache.jwtSvids(workload(2, 'inst_CCCCCCCCCCCCCCCCCCCCCC'), ['svc']);
  t.is(parseJwtSvidInsecure(j2!.token).agentClaims.agent_instance_id, 'inst_CCCCCCCCCCCCCCCCCCCCCC');
  t.is(parseJwtSvidInsecure(j2!.token).agentClaims.agent_model, 'm1');
});
