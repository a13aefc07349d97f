// The PostgreSQL schema: the same tables as the SQLite store's (store/schema.cc), written for
// PostgreSQL. Versions are rows of callpost_schema; each migration runs in one transaction
// under an advisory lock, so nodes starting together migrate once.
#include <string>

#include "store/pg_db.h"
#include "store/schema.h"

namespace store {

namespace {

constexpr const char* kPgMigrations[] = {
    // 1: everything of SQLite's migrations 1–4.
    R"sql(
CREATE TABLE accounts (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  carry_over_postback_tags INTEGER NOT NULL DEFAULT 1,
  call_key_ttl_seconds BIGINT NOT NULL DEFAULT 2592000,
  created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
  id BIGSERIAL PRIMARY KEY,
  account_id BIGINT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE config_objects (
  id BIGSERIAL PRIMARY KEY,
  account_id BIGINT NOT NULL REFERENCES accounts(id),
  kind TEXT NOT NULL,
  parent_id BIGINT NOT NULL DEFAULT 0,
  doc TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX config_numbers ON config_objects (((doc::jsonb) ->> 'number'))
  WHERE kind = 'number';
CREATE TABLE config_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO config_version VALUES (1, 1);
CREATE TABLE calls (
  id BIGSERIAL PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  account_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  publisher_id BIGINT,
  buyer_id BIGINT,
  number_id BIGINT,
  number TEXT NOT NULL,
  caller_number TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  status INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  routed_at BIGINT,
  answered_at BIGINT,
  ended_at BIGINT,
  duration_seconds BIGINT,
  hung_up_by TEXT NOT NULL,
  conv_state INTEGER NOT NULL,
  conv_group_id BIGINT,
  revenue_cents BIGINT,
  payout_cents BIGINT,
  conv_late INTEGER NOT NULL,
  deadline_at BIGINT,
  decided_at BIGINT,
  early_postback BYTEA,
  edge_call_id TEXT
);
CREATE UNIQUE INDEX calls_by_edge_id ON calls (account_id, edge_call_id)
  WHERE edge_call_id IS NOT NULL;
CREATE INDEX calls_by_account ON calls (account_id, id);
CREATE INDEX calls_by_caller ON calls (account_id, campaign_id, caller_number, started_at);
CREATE INDEX calls_recent_by_caller ON calls (account_id, caller_number, started_at);
CREATE INDEX calls_live_by_buyer ON calls (buyer_id) WHERE status IN (1, 2);
CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL;
CREATE TABLE call_tags (
  call_id BIGINT NOT NULL REFERENCES calls(id),
  seq INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  source INTEGER NOT NULL,
  carried INTEGER NOT NULL,
  at BIGINT NOT NULL,
  publisher_id BIGINT,
  PRIMARY KEY (call_id, seq)
);
CREATE TABLE postbacks (
  id BIGSERIAL PRIMARY KEY,
  call_id BIGINT NOT NULL REFERENCES calls(id),
  at BIGINT NOT NULL,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  outcome TEXT NOT NULL,
  http_status INTEGER NOT NULL
);
CREATE INDEX postbacks_by_call ON postbacks (call_id);
CREATE TABLE call_effects (
  id BIGSERIAL PRIMARY KEY,
  call_id BIGINT NOT NULL REFERENCES calls(id),
  trigger TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX call_effects_by_call ON call_effects (call_id);
CREATE TABLE postback_deadlines (
  call_id BIGINT PRIMARY KEY REFERENCES calls(id),
  due_at BIGINT NOT NULL,
  lease_until BIGINT
);
CREATE INDEX postback_deadlines_by_due ON postback_deadlines (due_at);
CREATE TABLE webhook_deliveries (
  id BIGSERIAL PRIMARY KEY,
  account_id BIGINT NOT NULL,
  call_id BIGINT NOT NULL REFERENCES calls(id),
  group_id BIGINT NOT NULL,
  request_index INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  url TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_call ON webhook_deliveries (call_id);
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_id, id);
CREATE TABLE webhook_attempts (
  delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id),
  seq INTEGER NOT NULL,
  at BIGINT NOT NULL,
  http_status INTEGER,
  latency_ms BIGINT NOT NULL,
  error TEXT NOT NULL,
  response_excerpt TEXT NOT NULL,
  PRIMARY KEY (delivery_id, seq)
);
CREATE TABLE precall_tags (
  id BIGSERIAL PRIMARY KEY,
  account_id BIGINT NOT NULL,
  publisher_id BIGINT NOT NULL,
  caller_number TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX precall_tags_by_caller ON precall_tags (account_id, caller_number, expires_at);
CREATE INDEX precall_tags_by_expiry ON precall_tags (expires_at);
)sql",
    // 2: settings every node shares: a check value of the call-key secret, so that a node
    // started with another --secret refuses to run (its call keys would not open the calls).
    R"sql(
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // 3: the outbox's due deliveries by account, then due time. A claim takes each account's
    // earliest up to its room (store/claim.h): one account's backlog is stepped over, never read.
    R"sql(
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (account_id, next_attempt_at)
  WHERE next_attempt_at IS NOT NULL;
)sql",
};

// Any constant will do, as long as every node uses the same one.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(4242017)";

}  // namespace

core::Result<void> MigratePostgres(PgConn& db) {
  constexpr int64_t kLatest = sizeof(kPgMigrations) / sizeof(kPgMigrations[0]);
  for (;;) {
    if (auto b = db.Exec("BEGIN"); !b) return b;
    auto fail = [&](const core::Error& e, const std::string& what) -> core::Result<void> {
      (void)db.Exec("ROLLBACK");
      return core::MakeError(e.code, what + ": " + e.message);
    };
    if (auto l = db.Run(kMigrationLock); !l) return fail(l.error(), "locking the schema");
    if (auto c = db.Exec("CREATE TABLE IF NOT EXISTS callpost_schema (version INTEGER NOT NULL)");
        !c) {
      return fail(c.error(), "creating callpost_schema");
    }
    auto v = db.Run("SELECT coalesce(max(version), 0) FROM callpost_schema");
    if (!v) return fail(v.error(), "reading the schema version");
    const int64_t current = v->row(0).Int(0);
    if (current > kLatest) {
      (void)db.Exec("ROLLBACK");
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "the database was written by a newer callpost (schema " +
                                 std::to_string(current) + "); upgrade callpost");
    }
    if (current == kLatest) return db.Exec("COMMIT");
    const std::string step = std::string(kPgMigrations[current]) +
                             "\nINSERT INTO callpost_schema VALUES (" +
                             std::to_string(current + 1) + ");";
    if (auto m = db.Exec(step.c_str()); !m) {
      return fail(m.error(), "migration " + std::to_string(current + 1) + " failed");
    }
    if (auto c = db.Exec("COMMIT"); !c) return c;
  }
}

}  // namespace store
