/**
 * A schema migration: applied once, in ascending `version` order, inside the same
 * transaction as the `schema_version` row that records it. Never edit a released
 * migration; append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The highest version in an ordered list, checking the order so a bad edit fails loudly in tests. */
export function latestVersion(list: readonly Migration[]): number {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order: position ${i} has version ${m.version}`);
  });
  return list.length;
}
