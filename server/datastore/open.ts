import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { PostgresDatastore } from './postgres.ts';
import { SqliteDatastore } from './sqlite.ts';
import type { Datastore } from './types.ts';

/** The `datastore` section of the server config (server/config.ts). */
export interface DatastoreConfig {
  kind: 'sqlite' | 'postgres';
  /** sqlite: file path (default <dataDir>/datastore.sqlite3); postgres: connection string. */
  connection?: string;
  /** postgres deadlines, in seconds (config durations); unset: the store's defaults (pg-connection.ts). */
  connect_timeout?: number;
  statement_timeout?: number;
  pool_wait_timeout?: number;
  keepalive?: number;
}

const ms = (s: number | undefined) => (s === undefined ? undefined : s * 1000);

/** Opens (and migrates) the configured store. main.ts calls this once at start. */
export async function openDatastore(cfg: DatastoreConfig, deps: { dataDir: string; clock: Clock; logger: Logger }): Promise<Datastore> {
  const { clock, logger } = deps;
  if (cfg.kind === 'sqlite') {
    return SqliteDatastore.open({ path: cfg.connection ?? join(deps.dataDir, 'datastore.sqlite3'), clock, logger });
  }
  if (!cfg.connection) throw new ConfigError('config: datastore.connection: is required when datastore.kind is postgres');
  return PostgresDatastore.open({
    connectionString: cfg.connection, clock, logger,
    connectTimeoutMs: ms(cfg.connect_timeout), statementTimeoutMs: ms(cfg.statement_timeout),
    poolWaitTimeoutMs: ms(cfg.pool_wait_timeout), keepAliveMs: ms(cfg.keepalive),
  });
}
