import { normalizeSelectors } from '../../spiffe/selector.ts';
import { selectorsKey } from './rows.ts';
import type { EntryFilter } from './types.ts';

/**
 * WHERE clause for listEntries (`?` placeholders; both engines). Selector matches:
 *   exact    – the entry's selector set equals the given set
 *   superset – the entry has every given selector (and maybe more)
 *   subset   – every selector of the entry is among the given ones
 *   any      – the entry has at least one given selector
 */
export function entryFilterSql(filter: EntryFilter = {}): { where: string; params: unknown[]; limit: string } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.spiffeId !== undefined) { clauses.push('e.spiffe_id = ?'); params.push(filter.spiffeId); }
  if (filter.parentId !== undefined) { clauses.push('e.parent_id = ?'); params.push(filter.parentId); }
  if (filter.hint !== undefined) { clauses.push('e.hint = ?'); params.push(filter.hint); }
  if (filter.afterId !== undefined) { clauses.push('e.id > ?'); params.push(filter.afterId); }
  const sf = filter.selectors;
  if (sf) {
    const sels = normalizeSelectors(sf.selectors);
    if (sels.length === 0) {
      // No selectors given: "exact" and "subset" can match nothing (entries always have
      // selectors); "superset" matches everything; "any" matches nothing.
      if (sf.match !== 'superset') clauses.push('1 = 0');
    } else {
      const values = sels.map(() => '(?, ?)').join(', ');
      const vparams = sels.flatMap((s) => [s.type, s.value]);
      switch (sf.match) {
        case 'exact':
          clauses.push('e.selectors_key = ?');
          params.push(selectorsKey(sels));
          break;
        case 'superset':
          clauses.push(`e.id IN (SELECT s.entry_id FROM entry_selectors s WHERE (s.type, s.value) IN (VALUES ${values})
            GROUP BY s.entry_id HAVING COUNT(*) = ?)`);
          params.push(...vparams, sels.length);
          break;
        case 'subset':
          clauses.push(`e.id IN (SELECT s.entry_id FROM entry_selectors s WHERE (s.type, s.value) IN (VALUES ${values}))
            AND NOT EXISTS (SELECT 1 FROM entry_selectors s2 WHERE s2.entry_id = e.id
              AND (s2.type, s2.value) NOT IN (VALUES ${values}))`);
          params.push(...vparams, ...vparams);
          break;
        case 'any':
          clauses.push(`e.id IN (SELECT s.entry_id FROM entry_selectors s WHERE (s.type, s.value) IN (VALUES ${values}))`);
          params.push(...vparams);
          break;
      }
    }
  }
  const limit = filter.limit && filter.limit > 0 ? ` LIMIT ${Math.floor(filter.limit)}` : '';
  return { where: clauses.length ? 'WHERE ' + clauses.join(' AND ') : '', params, limit };
}
