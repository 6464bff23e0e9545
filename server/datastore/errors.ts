import { alreadyExists, failedPrecondition, internal, notFound, unavailable } from '../../common/errors.ts';

/**
 * The datastore's typed errors. Batch calls put these in per-item results; callers
 * branch on `code`, the transport edge maps `kind` to a gRPC status.
 */
export const entryExists = (spiffeId: string, parentId: string) =>
  alreadyExists('ERR_ENTRY_EXISTS',
    `an entry with spiffe_id "${spiffeId}", parent_id "${parentId}" and the same selectors already exists`);

export const entryIdExists = (id: string) =>
  alreadyExists('ERR_ENTRY_ID_EXISTS', `an entry with id "${id}" already exists`);

export const entryNotFound = (id: string) =>
  notFound('ERR_ENTRY_NOT_FOUND', `entry "${id}" not found`);

/** Optimistic-concurrency conflict: the caller read an older revision (gRPC would call it Aborted). */
export const revisionMismatch = (id: string, expected: number, actual: number) =>
  failedPrecondition('ERR_ENTRY_REVISION_MISMATCH',
    `entry "${id}": revision ${expected} was expected but the stored revision is ${actual}`);

export const schemaTooNew = (found: number, known: number, where: string) =>
  failedPrecondition('ERR_DATASTORE_SCHEMA_TOO_NEW',
    `datastore ${where} has schema version ${found}, newer than this server knows (${known}); ` +
    'upgrade tessera-server or point it at another database');

export const datastoreUnavailable = (msg: string, cause?: unknown) =>
  unavailable('ERR_DATASTORE_UNAVAILABLE', msg, cause);

/** The disk under the store is full: retryable once space is freed, so Unavailable. */
export const datastoreDiskFull = (where: string, msg: string, cause?: unknown) =>
  unavailable('ERR_DATASTORE_UNAVAILABLE', `${where}: disk is full, writes fail until space is freed: ${msg}`, cause);

export const migrationFailed = (m: { version: number; description: string }, cause: unknown) =>
  internal('ERR_DATASTORE_MIGRATION',
    `datastore migration ${m.version} (${m.description}) failed: ${(cause as Error)?.message ?? String(cause)}`, cause);
