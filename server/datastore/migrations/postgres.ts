import type { Migration } from './types.ts';

/**
 * PostgreSQL schema: the same tables and columns as SQLite (see sqlite.ts), so both
 * stores share their SQL text and row mapping. Integers are BIGINT (pg returns them
 * as strings; rows.ts converts), booleans are BOOLEAN, JSON stays TEXT.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
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
  x509_svid_ttl   BIGINT NOT NULL DEFAULT 0,
  jwt_svid_ttl    BIGINT NOT NULL DEFAULT 0,
  dns_names       TEXT NOT NULL DEFAULT '[]',
  hint            TEXT NOT NULL DEFAULT '',
  admin           BOOLEAN NOT NULL DEFAULT FALSE,
  downstream      BOOLEAN NOT NULL DEFAULT FALSE,
  federates_with  TEXT NOT NULL DEFAULT '[]',
  expires_at      BIGINT NOT NULL DEFAULT 0,
  revision        BIGINT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
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
);
CREATE INDEX entry_selectors_type_value ON entry_selectors (type, value);

CREATE TABLE attested_agents (
  spiffe_id         TEXT PRIMARY KEY,
  attestation_type  TEXT NOT NULL,
  selectors         TEXT NOT NULL,
  serial            TEXT NOT NULL,
  expires_at        BIGINT NOT NULL,
  banned            BOOLEAN NOT NULL DEFAULT FALSE,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL
);
CREATE INDEX attested_agents_type ON attested_agents (attestation_type);

CREATE TABLE join_tokens (
  token_hash  TEXT PRIMARY KEY,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX join_tokens_expires ON join_tokens (expires_at);

CREATE TABLE bundles (
  trust_domain      TEXT PRIMARY KEY,
  x509_authorities  TEXT NOT NULL,
  jwt_authorities   TEXT NOT NULL,
  sequence          BIGINT NOT NULL,
  refresh_hint      BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL
);

CREATE TABLE changes (
  seq   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind  TEXT NOT NULL,
  id    TEXT NOT NULL,
  time  BIGINT NOT NULL
);

CREATE TABLE audit (
  seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time     BIGINT NOT NULL,
  event    TEXT NOT NULL,
  subject  TEXT NOT NULL,
  data     TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, seq);
CREATE INDEX audit_event ON audit (event, seq);
CREATE FUNCTION tessera_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION tessera_audit_append_only();
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
  max_ttl          BIGINT NOT NULL,
  max_depth        BIGINT NOT NULL,
  may_delegate_to  TEXT NOT NULL DEFAULT '[]',
  revision         BIGINT NOT NULL,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);

CREATE TABLE revocations (
  seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        TEXT NOT NULL,
  value       TEXT NOT NULL,
  at          BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX revocations_expires ON revocations (expires_at);

CREATE TABLE used_tokens (
  token_hash  TEXT PRIMARY KEY,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX used_tokens_expires ON used_tokens (expires_at);

CREATE TABLE oauth_keys (
  kid         TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL,
  alg         TEXT NOT NULL,
  not_after   BIGINT NOT NULL
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
  created_at     BIGINT NOT NULL
);

CREATE TABLE oauth_codes (
  code_hash     TEXT PRIMARY KEY,
  data          TEXT NOT NULL,
  expires_at    BIGINT NOT NULL,
  used_at       BIGINT NOT NULL DEFAULT 0,
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
  idx        BIGINT PRIMARY KEY,
  time       BIGINT NOT NULL,
  type       TEXT NOT NULL,
  actor      TEXT,
  subject    TEXT,
  instance   TEXT,
  data       BYTEA NOT NULL,
  leaf_hash  BYTEA NOT NULL
);
CREATE INDEX tlog_leaves_actor ON tlog_leaves (actor, idx) WHERE actor IS NOT NULL;
CREATE INDEX tlog_leaves_subject ON tlog_leaves (subject, idx) WHERE subject IS NOT NULL;
CREATE INDEX tlog_leaves_instance ON tlog_leaves (instance, idx) WHERE instance IS NOT NULL;
CREATE INDEX tlog_leaves_time ON tlog_leaves (time);
CREATE TABLE tlog_nodes (
  id    BIGINT PRIMARY KEY,
  hash  BYTEA NOT NULL
);
CREATE TABLE tlog_checkpoints (
  size  BIGINT PRIMARY KEY,
  root  BYTEA NOT NULL,
  note  TEXT NOT NULL,
  time  BIGINT NOT NULL
);
CREATE FUNCTION tessera_tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER tlog_leaves_append_only BEFORE UPDATE OR DELETE ON tlog_leaves
  FOR EACH ROW EXECUTE FUNCTION tessera_tlog_append_only();
CREATE TRIGGER tlog_nodes_append_only BEFORE UPDATE OR DELETE ON tlog_nodes
  FOR EACH ROW EXECUTE FUNCTION tessera_tlog_append_only();
CREATE TRIGGER tlog_checkpoints_append_only BEFORE UPDATE OR DELETE ON tlog_checkpoints
  FOR EACH ROW EXECUTE FUNCTION tessera_tlog_append_only();
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
  max_uses    BIGINT NOT NULL,
  used        BIGINT NOT NULL DEFAULT 0,
  expires_at  BIGINT NOT NULL,
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
  issued_at   BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  used_at     BIGINT NOT NULL DEFAULT 0,
  revoked_at  BIGINT NOT NULL DEFAULT 0
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
  created_at     BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  poll_interval  BIGINT NOT NULL,
  last_poll_ms   BIGINT NOT NULL DEFAULT 0,
  decided_at     BIGINT NOT NULL DEFAULT 0,
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
  bundle_sequence      BIGINT NOT NULL DEFAULT 0,
  created_at           BIGINT NOT NULL,
  updated_at           BIGINT NOT NULL
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
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE INDEX ssf_streams_owner ON ssf_streams (owner);
CREATE TABLE ssf_events (
  seq            BIGSERIAL PRIMARY KEY,
  stream_id      TEXT NOT NULL,
  src            TEXT NOT NULL,
  jti            TEXT NOT NULL,
  set_jwt        TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  attempts       INTEGER NOT NULL DEFAULT 0,
  next_at        BIGINT NOT NULL DEFAULT 0,
  claimed_until  BIGINT NOT NULL DEFAULT 0,
  UNIQUE (stream_id, src)
);
CREATE INDEX ssf_events_stream ON ssf_events (stream_id, jti);
CREATE INDEX ssf_events_due ON ssf_events (next_at);
`,
  },
];
