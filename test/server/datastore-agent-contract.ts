import test from 'ava';
import { agentId } from '../../spiffe/id.ts';
import type { AgentRenewal } from '../../server/datastore/types.ts';
import { agent1, newAgent, td, type ContractFactory } from './datastore-contract.ts';

/**
 * The conditional agent writes (renewAgent, recordAttestedAgent) over two store objects
 * on one database, as two servers sharing a store: B's ban, eviction or renewal commits
 * between A's read of the record and A's write, and A's write must then change nothing
 * and say why. Registered by registerDatastoreContract for every engine.
 */
export function registerAgentWriteContract(engine: string, open: ContractFactory): void {
  const name = (rule: string) => `${engine}: ${rule}`;
  const id = agent1.toString();
  const renewal = (expectSerial: string, serial: string): AgentRenewal => ({ expectSerial, serial, expiresAt: 2_100_000_000, updatedAt: 1_750_000_000 });

  /** A and B on one database, the agent attested with serial 01 (read by A, as a renewal would before signing). */
  async function twoServers(t: Parameters<ContractFactory>[0]) {
    const { store: a, openAnother } = await open(t);
    const b = await openAnother();
    await a.upsertAgent(newAgent({ serial: '01' }));
    const read = (await a.getAgent(id))!;
    return { a, b, read };
  }

  test(name('renewAgent: with the serial still current, the serial moves on, the old one becomes previous, one change event'), async (t) => {
    const { a, b, read } = await twoServers(t);
    const before = await a.currentSequence();
    const out = await a.renewAgent(id, renewal(read.serial, '02'));
    t.true(out.ok);
    if (out.ok) t.like(out.agent, { serial: '02', previousSerial: '01', expiresAt: 2_100_000_000, updatedAt: 1_750_000_000, createdAt: 1_700_000_000 });
    t.like(await b.getAgent(id), { serial: '02', previousSerial: '01', banned: false });
    t.deepEqual((await b.changesSince(before)).map((e) => [e.kind, e.id]), [['agent_upsert', id]]);
  });

  test(name('renewAgent after another store banned the agent: refused as banned, the record stays banned with its serial, no change event'), async (t) => {
    const { a, b, read } = await twoServers(t);
    t.true((await b.setAgentBanned(id, true))?.banned);
    const before = await a.currentSequence();
    const out = await a.renewAgent(id, renewal(read.serial, '02'));
    t.like(out, { ok: false, reason: 'banned' });
    if (!out.ok && out.reason !== 'evicted') t.like(out.agent, { serial: '01', banned: true });
    t.like(await b.getAgent(id), { serial: '01', previousSerial: '', banned: true });
    t.is(await a.currentSequence(), before);
  });

  test(name('renewAgent after another store evicted the agent: refused as evicted, the agent stays absent'), async (t) => {
    const { a, b, read } = await twoServers(t);
    t.true(await b.deleteAgent(id));
    const out = await a.renewAgent(id, renewal(read.serial, '02'));
    t.deepEqual(out, { ok: false, reason: 'evicted' });
    t.is(await a.getAgent(id), undefined);
    t.is(await b.getAgent(id), undefined);
  });

  test(name('two renewals from the same serial on two store objects at once: exactly one wins, the other sees the serial moved on'), async (t) => {
    const { a, b, read } = await twoServers(t);
    const [ra, rb] = await Promise.all([a.renewAgent(id, renewal(read.serial, '0a')), b.renewAgent(id, renewal(read.serial, '0b'))]);
    t.is([ra, rb].filter((r) => r.ok).length, 1, `outcomes: ${JSON.stringify([ra.ok || ra.reason, rb.ok || rb.reason])}`);
    const winner = ra.ok ? '0a' : '0b';
    const loser = ra.ok ? rb : ra;
    t.like(loser, { ok: false, reason: 'serial_changed' });
    if (!loser.ok && loser.reason !== 'evicted') t.like(loser.agent, { serial: winner, previousSerial: '01' });
    t.like(await a.getAgent(id), { serial: winner, previousSerial: '01' });
  });

  test(name('recordAttestedAgent: re-attestation updates a live agent (createdAt kept) and is refused for one another store banned'), async (t) => {
    const { a, b } = await twoServers(t);
    const again = await a.recordAttestedAgent(newAgent({ serial: '05', createdAt: 1_800_000_000, updatedAt: 1_800_000_000 }), { firstUse: false });
    t.true(again.ok);
    t.like(await b.getAgent(id), { serial: '05', createdAt: 1_700_000_000, updatedAt: 1_800_000_000, banned: false });
    await b.setAgentBanned(id, true);
    const before = await a.currentSequence();
    const refused = await a.recordAttestedAgent(newAgent({ serial: '06' }), { firstUse: false });
    t.like(refused, { ok: false, reason: 'banned' });
    t.like(await b.getAgent(id), { serial: '05', banned: true });
    t.is(await a.currentSequence(), before);
  });

  test(name('recordAttestedAgent first use: of two stores attesting a new ID at once exactly one records it; an evicted ID can attest again'), async (t) => {
    const { a, b } = await twoServers(t);
    const fresh = agentId(td, 'join_token', 'tofu');
    const [ra, rb] = await Promise.all([
      a.recordAttestedAgent(newAgent({ spiffeId: fresh, serial: '0a' }), { firstUse: true }),
      b.recordAttestedAgent(newAgent({ spiffeId: fresh, serial: '0b' }), { firstUse: true }),
    ]);
    t.is([ra, rb].filter((r) => r.ok).length, 1);
    t.like(ra.ok ? rb : ra, { ok: false, reason: 'exists' });
    t.like(await a.getAgent(fresh.toString()), { serial: ra.ok ? '0a' : '0b' });
    t.true(await b.deleteAgent(fresh.toString()));
    t.true((await a.recordAttestedAgent(newAgent({ spiffeId: fresh, serial: '0c' }), { firstUse: true })).ok);
  });
}
