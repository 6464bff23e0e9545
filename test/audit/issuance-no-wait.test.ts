import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { agentId, TrustDomain } from '../../spiffe/id.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { AuditRecord } from '../../server/datastore/types.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { attestAgent } from '../../server/attestation/orchestrator.ts';
import { issuanceAuditStore } from '../../server/audit/issuance-store.ts';
import { decodeEvent } from '../../server/audit/events.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * Issuance acknowledges once its audit record is queued, not committed (docs/audit.md
 * "Durability per event kind"): the log's writer here is held shut until the test opens
 * it, so an SVID handed out while it is shut proves the path never waited for it.
 */
const td = TrustDomain.parse('example.org');
const tofu: NodeAttestorServer = {
  method: 'fake_tofu',
  async attest(payload, ctx) {
    return { agentId: agentId(ctx.trustDomain, 'fake_tofu', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: true };
  },
};

async function setup(t: import('ava').ExecutionContext) {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const real = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => real.close());
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store: real, clock, logger: silentLogger });
  const events: string[] = [];
  const writes: Promise<number>[] = [];
  let open!: () => void;
  const shut = new Promise<void>((r) => { open = r; });
  // The slow log writer: queued at once, written to the real store only once opened.
  const gated = {
    getAgent: real.getAgent.bind(real), recordAttestedAgent: real.recordAttestedAgent.bind(real), logRoom: real.logRoom.bind(real),
    appendAudit: async (): Promise<void> => { throw new Error('issuance must not take the committing path'); },
    appendAuditBatched: (rec: AuditRecord): Promise<number> => {
      events.push(`queued ${rec.event}`);
      const write = shut.then(() => real.appendAuditBatched(rec)).then((index) => { events.push(`committed ${rec.event}`); return index; });
      writes.push(write);
      return write;
    },
  };
  const store = issuanceAuditStore(gated, { logger: silentLogger });
  const deps = { trustDomain: td, methods: new Map([[tofu.method, tofu]]), store, signer: new SvidSigner(ca, clock), clock, logger: silentLogger, agentSvidTtlSeconds: 3600 };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr(privateKey, publicKey);
  return { real, deps, csr, events, writes, open };
}

test('an agent SVID is issued while its audit record is queued and not yet committed; the record lands once the writer runs', async (t) => {
  const { real, deps, csr, events, writes, open } = await setup(t);
  const issued = await attestAgent(deps, { method: 'fake_tofu', payload: Buffer.from('i-1'), csr }, { challenge: async () => new Uint8Array() });
  events.push('svid issued');
  t.deepEqual(events, ['queued agent.attested', 'svid issued']);
  open();
  await Promise.all(writes);
  t.deepEqual(events, ['queued agent.attested', 'svid issued', 'committed agent.attested']);
  // Not dropped: the audit row and the log leaf are both there.
  const rows = await real.listAudit({ event: 'agent.attested' });
  t.is(rows.length, 1);
  t.is(rows[0]!.subject, issued.agentId.toString());
  const leaves = await real.logLeaves(0, await real.logSize());
  t.true(leaves.some((l) => decodeEvent(l.data).type === 'agent.attested'));
});

test('with the log queue full, issuance waits for room and fails with ERR_AUDIT_BACKLOG rather than issue unaudited', async (t) => {
  const { deps, csr } = await setup(t);
  const full = issuanceAuditStore({
    ...deps.store, getAgent: deps.store.getAgent, recordAttestedAgent: deps.store.recordAttestedAgent,
    logRoom: async () => { throw Object.assign(new Error('the audit log is full'), { code: 'ERR_AUDIT_BACKLOG' }); },
    appendAuditBatched: async () => { throw new Error('must not be queued'); },
    appendAudit: async () => undefined,
  }, { logger: silentLogger });
  const e = await t.throwsAsync(attestAgent({ ...deps, store: full }, { method: 'fake_tofu', payload: Buffer.from('i-2'), csr }, { challenge: async () => new Uint8Array() }));
  t.is((e as { code?: string }).code, 'ERR_AUDIT_BACKLOG');
});
