import type { Migration } from './types.ts';

/**
 * SQLite schema. JSON lives in TEXT columns; booleans are 0/1. Selector sets are
 * stored twice on purpose: as JSON on the entry row (the read path loads an entry in
 * one row) and normalised in entry_selectors (the filter path joins on it).
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'entries, agents, join tokens, bundles, change log, audit',
    sql: `
CREATE TABLE registration_entries (
  id              TEXT PRIMARY KEY,
  spiffe_id       TEXT NOT NULL,
  parent_id       TEXT NOT NULL,
  selectors_key   TEXT NOT NULL,
  selectors       TEXT NOT NULL,
  x509_svid_ttl   INTEGER NOT NULL DEFAULT 0,
  jwt_svid_ttl    INTEGER NOT NULL DEFAULT 0,
  dns_names       TEXT NOT NULL DEFAULT '[]',
  hint            TEXT NOT NULL DEFAULT '',
  admin           INTEGER NOT NULL DEFAULT 0,
  downstream      INTEGER NOT NULL DEFAULT 0,
  federates_with  TEXT NOT NULL DEFAULT '[]',
  expires_at      INTEGER NOT NULL DEFAULT 0,
  revision        INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  agent_model     TEXT NOT NULL DEFAULT '',
  agent_provider  TEXT NOT NULL DEFAULT '',
  agent_version   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX registration_entries_identity ON registration_entries (spiffe_id, parent_id, selectors_key);
CREATE INDEX registration_entries_parent ON registration_entries (parent_id);
CREATE INDEX registration_entries_hint ON registration_entries (hint);

CREATE TABLE entry_selectors (
  entry_id  TEXT NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
  type      TEXT NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (entry_id, type, value)
) WITHOUT ROWID;
CREATE INDEX entry_selectors_type_value ON entry_selectors (type, value);

CREATE TABLE attested_agents (
  spiffe_id         TEXT PRIMARY KEY,
  attestation_type  TEXT NOT NULL,
  selectors         TEXT NOT NULL,
  serial            TEXT NOT NULL,
  expires_at        INTEGER NOT NULL,
  banned            INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);
CREATE INDEX attested_agents_type ON attested_agents (attestation_type);

CREATE TABLE join_tokens (
  token_hash  TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX join_tokens_expires ON join_tokens (expires_at);

CREATE TABLE bundles (
  trust_domain      TEXT PRIMARY KEY,
  x509_authorities  TEXT NOT NULL,
  jwt_authorities   TEXT NOT NULL,
  sequence          INTEGER NOT NULL,
  refresh_hint      INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);

CREATE TABLE changes (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  kind  TEXT NOT NULL,
  id    TEXT NOT NULL,
  time  INTEGER NOT NULL
);

CREATE TABLE audit (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  time     INTEGER NOT NULL,
  event    TEXT NOT NULL,
  subject  TEXT NOT NULL,
  data     TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, seq);
CREATE INDEX audit_event ON audit (event, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
`,
  },
  {
    version: 2,
    description: 'attested_agents.previous_serial (renewal tolerance survives restarts and spans servers)',
    sql: `ALTER TABLE attested_agents ADD COLUMN previous_serial TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 3,
    description: 'delegated authority: delegation policies, revocations, single-use tokens, OAuth signing keys',
    sql: `
CREATE TABLE delegation_policies (
  id               TEXT PRIMARY KEY,
  description      TEXT NOT NULL DEFAULT '',
  actors           TEXT NOT NULL,
  subject_issuer   TEXT NOT NULL,
  subjects         TEXT NOT NULL DEFAULT '[]',
  user_groups      TEXT NOT NULL DEFAULT '[]',
  audiences        TEXT NOT NULL,
  scopes           TEXT NOT NULL,
  max_ttl          INTEGER NOT NULL,
  max_depth        INTEGER NOT NULL,
  may_delegate_to  TEXT NOT NULL DEFAULT '[]',
  revision         INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);

CREATE TABLE revocations (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind        TEXT NOT NULL,
  value       TEXT NOT NULL,
  at          INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE used_tokens (
  token_hash  TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX used_tokens_expires ON used_tokens (expires_at);

CREATE TABLE oauth_keys (
  kid         TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL,
  alg         TEXT NOT NULL,
  not_after   INTEGER NOT NULL
);
`,
  },
  {
    version: 4,
    description: 'MCP authorization: pre-registered OAuth clients and authorization codes',
    sql: `
CREATE TABLE oauth_clients (
  client_id      TEXT PRIMARY KEY,
  name           TEXT NOT NULL DEFAULT '',
  redirect_uris  TEXT NOT NULL,
  auth_method    TEXT NOT NULL,
  registered_by  TEXT NOT NULL DEFAULT 'admin',
  created_at     INTEGER NOT NULL
);

CREATE TABLE oauth_codes (
  code_hash     TEXT PRIMARY KEY,
  data          TEXT NOT NULL,
  expires_at    INTEGER NOT NULL,
  used_at       INTEGER NOT NULL DEFAULT 0,
  issued_jti    TEXT NOT NULL DEFAULT '',
  issued_grant  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);
`,
  },
  {
    version: 5,
    description: 'transparency log: leaves, complete subtree hashes, signed checkpoints (docs/audit.md)',
    sql: `
CREATE TABLE tlog_leaves (
  idx        INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  type       TEXT NOT NULL,
  actor      TEXT,
  subject    TEXT,
  instance   TEXT,
  data       BLOB NOT NULL,
  leaf_hash  BLOB NOT NULL
);
CREATE INDEX tlog_leaves_actor ON tlog_leaves (actor, idx) WHERE actor IS NOT NULL;
CREATE INDEX tlog_leaves_subject ON tlog_leaves (subject, idx) WHERE subject IS NOT NULL;
CREATE INDEX tlog_leaves_instance ON tlog_leaves (instance, idx) WHERE instance IS NOT NULL;
CREATE INDEX tlog_leaves_time ON tlog_leaves (time);
CREATE TABLE tlog_nodes (
  id    INTEGER PRIMARY KEY,
  hash  BLOB NOT NULL
);
CREATE TABLE tlog_checkpoints (
  size  INTEGER PRIMARY KEY,
  root  BLOB NOT NULL,
  note  TEXT NOT NULL,
  time  INTEGER NOT NULL
);
CREATE TRIGGER tlog_leaves_no_update BEFORE UPDATE ON tlog_leaves BEGIN SELECT RAISE(ABORT, 'tlog_leaves is append-only'); END;
CREATE TRIGGER tlog_leaves_no_delete BEFORE DELETE ON tlog_leaves BEGIN SELECT RAISE(ABORT, 'tlog_leaves is append-only'); END;
CREATE TRIGGER tlog_nodes_no_update BEFORE UPDATE ON tlog_nodes BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
CREATE TRIGGER tlog_nodes_no_delete BEFORE DELETE ON tlog_nodes BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
CREATE TRIGGER tlog_checkpoints_no_update BEFORE UPDATE ON tlog_checkpoints BEGIN SELECT RAISE(ABORT, 'tlog_checkpoints is append-only'); END;
CREATE TRIGGER tlog_checkpoints_no_delete BEFORE DELETE ON tlog_checkpoints BEGIN SELECT RAISE(ABORT, 'tlog_checkpoints is append-only'); END;
`,
  },
  {
    version: 6,
    description: 'execution-limited tokens: per-operation budgets of delegation policies, shared use counters per grant (docs/attenuation.md)',
    sql: `
ALTER TABLE delegation_policies ADD COLUMN budgets TEXT NOT NULL DEFAULT '{}';
CREATE TABLE budgets (
  grant_id    TEXT NOT NULL,
  operation   TEXT NOT NULL,
  max_uses    INTEGER NOT NULL,
  used        INTEGER NOT NULL DEFAULT 0,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (grant_id, operation)
);
CREATE INDEX budgets_expires ON budgets (expires_at);
`,
  },
  {
    version: 7,
    description: 'refresh tokens of the MCP authorization code flow: rotated families bound to a client and a delegation grant (docs/mcp.md)',
    sql: `
CREATE TABLE oauth_refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  grant_id    TEXT NOT NULL,
  client_id   TEXT NOT NULL,
  subject     TEXT NOT NULL,
  actor       TEXT NOT NULL DEFAULT '',
  x5t         TEXT NOT NULL DEFAULT '',
  data        TEXT NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER NOT NULL DEFAULT 0,
  revoked_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_subject ON oauth_refresh_tokens (subject);
CREATE INDEX oauth_refresh_tokens_actor ON oauth_refresh_tokens (actor);
CREATE INDEX oauth_refresh_tokens_expires ON oauth_refresh_tokens (expires_at);
`,
  },
  {
    version: 8,
    description: 'human approval of escalations (OpenID CIBA): approvable scopes of delegation policies, pending requests and their approvers (docs/attenuation.md)',
    sql: `
ALTER TABLE delegation_policies ADD COLUMN approval TEXT NOT NULL DEFAULT '';
CREATE TABLE approval_requests (
  id             TEXT PRIMARY KEY,
  req_hash       TEXT NOT NULL UNIQUE,
  client_id      TEXT NOT NULL,
  subject        TEXT NOT NULL,
  status         TEXT NOT NULL,
  data           TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  poll_interval  INTEGER NOT NULL,
  last_poll_ms   INTEGER NOT NULL DEFAULT 0,
  decided_at     INTEGER NOT NULL DEFAULT 0,
  decided_by     TEXT NOT NULL DEFAULT '',
  decision       TEXT NOT NULL DEFAULT '',
  issued_jti     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approval_requests_pending ON approval_requests (status, expires_at);
CREATE INDEX approval_requests_expires ON approval_requests (expires_at);
CREATE TABLE approval_approvers (
  request_id  TEXT NOT NULL REFERENCES approval_requests (id) ON DELETE CASCADE,
  principal   TEXT NOT NULL,
  PRIMARY KEY (principal, request_id)
);
CREATE INDEX approval_approvers_request ON approval_approvers (request_id);
`,
  },
  {
    version: 9,
    description: 'SPIFFE federation relationships (docs/federation.md)',
    sql: `
CREATE TABLE federation_relationships (
  trust_domain         TEXT PRIMARY KEY,
  bundle_endpoint_url  TEXT NOT NULL,
  profile              TEXT NOT NULL,
  endpoint_spiffe_id   TEXT NOT NULL DEFAULT '',
  source               TEXT NOT NULL,
  bundle_sequence      INTEGER NOT NULL DEFAULT 0,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
);
`,
  },
  {
    version: 10,
    description: 'OpenID Shared Signals transmitter: receivers\' streams and the queue of SETs to deliver (docs/shared-signals.md)',
    sql: `
CREATE TABLE ssf_streams (
  id          TEXT PRIMARY KEY,
  owner       TEXT NOT NULL,
  method      TEXT NOT NULL,
  status      TEXT NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  config      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX ssf_streams_owner ON ssf_streams (owner);
CREATE TABLE ssf_events (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id      TEXT NOT NULL,
  src            TEXT NOT NULL,
  jti            TEXT NOT NULL,
  set_jwt        TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  attempts       INTEGER NOT NULL DEFAULT 0,
  next_at        INTEGER NOT NULL DEFAULT 0,
  claimed_until  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (stream_id, src)
);
CREATE INDEX ssf_events_stream ON ssf_events (stream_id, jti);
CREATE INDEX ssf_events_due ON ssf_events (next_at);
`,
  },
];
