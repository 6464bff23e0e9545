import type { SqlConn } from './sql-driver.ts';

/**
 * Execution budgets (docs/attenuation.md): one row per (grant, operation) with the
 * grant's limit and a use counter that every token of the grant draws from. A token
 * derived with a lower limit draws from the same counter but stops at its own limit,
 * so a sub-agent can never spend more than it was given, nor more than the grant has
 * left. Spending is one conditional UPDATE: atomic on SQLite and on PostgreSQL across
 * servers (the row lock serialises concurrent consumers; the WHERE is re-checked on
 * the latest row version).
 */
export interface BudgetUse {
  allowed: boolean;
  /** Uses left for this token after this call (its own limit and the grant's counter). */
  remaining: number;
  used: number;
  /** The limit that applied: min(the grant's, the token's). */
  limit: number;
}

export interface BudgetRow { operation: string; maxUses: number; used: number; expiresAt: number }

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

/** Creates the grant's rows (first issuance wins the limit; a later expiry extends the row's life). */
export async function insertBudgets(c: SqlConn, grantId: string, budgets: Record<string, number>, expiresAt: number): Promise<void> {
  for (const [op, max] of Object.entries(budgets)) {
    await c.run(`INSERT INTO budgets (grant_id, operation, max_uses, used, expires_at) VALUES (?, ?, ?, 0, ?)
      ON CONFLICT (grant_id, operation) DO UPDATE SET expires_at = excluded.expires_at WHERE budgets.expires_at < excluded.expires_at`,
    [grantId, op, max, expiresAt]);
  }
}

/** Spends `n` uses; undefined when the grant has no budget for this operation. */
export async function spendBudget(c: SqlConn, grantId: string, operation: string, n: number, tokenLimit: number): Promise<BudgetUse | undefined> {
  const rows = await c.all(`UPDATE budgets SET used = used + ? WHERE grant_id = ? AND operation = ?
    AND used + ? <= max_uses AND used + ? <= ? RETURNING used, max_uses`, [n, grantId, operation, n, n, tokenLimit]);
  if (rows[0]) {
    const used = num(rows[0].used);
    const limit = Math.min(num(rows[0].max_uses), tokenLimit);
    return { allowed: true, used, limit, remaining: Math.max(0, limit - used) };
  }
  const cur = (await c.all('SELECT used, max_uses FROM budgets WHERE grant_id = ? AND operation = ?', [grantId, operation]))[0];
  if (!cur) return undefined;
  const used = num(cur.used);
  const limit = Math.min(num(cur.max_uses), tokenLimit);
  return { allowed: false, used, limit, remaining: Math.max(0, limit - used) };
}

export async function selectBudgets(c: SqlConn, grantId: string): Promise<BudgetRow[]> {
  return (await c.all('SELECT operation, max_uses, used, expires_at FROM budgets WHERE grant_id = ? ORDER BY operation', [grantId]))
    .map((r) => ({ operation: String(r.operation), maxUses: num(r.max_uses), used: num(r.used), expiresAt: num(r.expires_at) }));
}

export async function deleteBudgets(c: SqlConn, before: number): Promise<number> {
  return c.run('DELETE FROM budgets WHERE expires_at <= ?', [before]);
}
