import { internal } from '../../common/errors.ts';
import type { LogChange } from './group-commit.ts';
import { agentParams, rowToAgent, type IdCache } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';
import type { AgentRenewal, AttestedAgent, AttestWriteOutcome, RenewOutcome } from './types.ts';

/**
 * The conditional agent writes (renewal, attestation). Each is one statement whose
 * WHERE decides, run inside the store's change-logging write transaction, so that
 * renewals, bans and evictions made through different servers on one database are
 * ordered by the database and not by any one server's lock: a renewal that read the
 * record before another server banned or evicted the agent finds its condition false
 * and writes nothing. When nothing was written, the row is read again in the same
 * transaction to say why.
 */

const COLUMNS = '(spiffe_id, attestation_type, selectors, serial, previous_serial, expires_at, banned, created_at, updated_at)';
const VALUES = 'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** created_at stays; a ban is never lifted here (only setAgentBanned does that). */
const ATTEST_UPSERT = `INSERT INTO attested_agents ${COLUMNS} ${VALUES}
  ON CONFLICT (spiffe_id) DO UPDATE SET attestation_type = excluded.attestation_type,
    selectors = excluded.selectors, serial = excluded.serial, previous_serial = excluded.previous_serial,
    expires_at = excluded.expires_at, banned = (attested_agents.banned OR excluded.banned), updated_at = excluded.updated_at
  WHERE NOT attested_agents.banned
  RETURNING *`;
const ATTEST_INSERT = `INSERT INTO attested_agents ${COLUMNS} ${VALUES} ON CONFLICT (spiffe_id) DO NOTHING RETURNING *`;
const RENEW = `UPDATE attested_agents SET serial = ?, previous_serial = ?, expires_at = ?, updated_at = ?
  WHERE spiffe_id = ? AND serial = ? AND NOT banned RETURNING *`;

async function current(c: SqlConn, spiffeId: string, ids: IdCache): Promise<AttestedAgent | undefined> {
  const rows = await c.all('SELECT * FROM attested_agents WHERE spiffe_id = ?', [spiffeId]);
  return rows[0] ? rowToAgent(rows[0], ids) : undefined;
}

export async function renewAgent(c: SqlConn, log: LogChange, ids: IdCache, spiffeId: string, r: AgentRenewal): Promise<RenewOutcome> {
  const rows = await c.all(RENEW, [r.serial, r.expectSerial, r.expiresAt, r.updatedAt, spiffeId, r.expectSerial]);
  if (rows[0]) {
    await log('agent_upsert', spiffeId);
    return { ok: true, agent: rowToAgent(rows[0], ids) };
  }
  const agent = await current(c, spiffeId, ids);
  if (!agent) return { ok: false, reason: 'evicted' };
  return { ok: false, reason: agent.banned ? 'banned' : 'serial_changed', agent };
}

export async function recordAttestedAgent(
  c: SqlConn, log: LogChange, ids: IdCache, agent: AttestedAgent, o: { firstUse: boolean },
): Promise<AttestWriteOutcome> {
  const id = agent.spiffeId.toString();
  const rows = await c.all(o.firstUse ? ATTEST_INSERT : ATTEST_UPSERT, agentParams(agent));
  if (rows[0]) {
    await log('agent_upsert', id);
    return { ok: true, agent: rowToAgent(rows[0], ids) };
  }
  const now = await current(c, id, ids);
  if (now?.banned) return { ok: false, reason: 'banned', agent: now };
  if (now && o.firstUse) return { ok: false, reason: 'exists', agent: now };
  // The upsert only skips a banned row, and the write transaction excludes every other agent writer.
  throw internal('ERR_DATASTORE_AGENT_WRITE', `attestation of ${id} wrote no row, yet the agent is neither banned nor (first use) present`);
}
