import type { AuthorizedEntryIndex } from '../entries/index.ts';

/**
 * What the agent API needs from the in-memory authorized-entry index
 * (server/entries/index.ts): an agent's authorized set without touching the
 * datastore, and a per-agent watch called after the index applied each change.
 */
export type EntryView = Pick<AuthorizedEntryIndex, 'authorizedEntries' | 'isAuthorized' | 'watch' | 'sequence'>;
