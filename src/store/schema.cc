#include "store/schema.h"

#include <algorithm>
#include <string>

namespace store {

namespace {

constexpr const char* kMigrations[] = {
    // 1: accounts, keys, configuration, calls with tags, postback log, effects, deadlines.
    // Ids are AUTOINCREMENT: an id is never handed out twice, so old calls keep pointing at
    // the objects they were made with.
    R"sql(
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  carry_over_postback_tags INTEGER NOT NULL DEFAULT 1,
  call_key_ttl_seconds INTEGER NOT NULL DEFAULT 2592000,
  created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE config_objects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  kind TEXT NOT NULL,
  parent_id INTEGER NOT NULL DEFAULT 0,
  doc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX config_numbers ON config_objects (json_extract(doc, '$.number'))
  WHERE kind = 'number';
CREATE TABLE config_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO config_version VALUES (1, 1);
CREATE TABLE calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL UNIQUE,
  account_id INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  publisher_id INTEGER,
  buyer_id INTEGER,
  number_id INTEGER,
  number TEXT NOT NULL,
  caller_number TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  status INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  routed_at INTEGER,
  answered_at INTEGER,
  ended_at INTEGER,
  duration_seconds INTEGER,
  hung_up_by TEXT NOT NULL,
  conv_state INTEGER NOT NULL,
  conv_group_id INTEGER,
  revenue_cents INTEGER,
  payout_cents INTEGER,
  conv_late INTEGER NOT NULL,
  deadline_at INTEGER,
  decided_at INTEGER,
  early_postback BLOB,
  edge_call_id TEXT
);
CREATE UNIQUE INDEX calls_by_edge_id ON calls (account_id, edge_call_id)
  WHERE edge_call_id IS NOT NULL;
CREATE INDEX calls_by_account ON calls (account_id, id);
CREATE INDEX calls_by_caller ON calls (account_id, campaign_id, caller_number, started_at);
CREATE INDEX calls_live_by_buyer ON calls (buyer_id) WHERE status IN (1, 2);
-- Clustered by call: a call's tags are read in one range scan.
CREATE TABLE call_tags (
  call_id INTEGER NOT NULL REFERENCES calls(id),
  seq INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  source INTEGER NOT NULL,
  carried INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;
CREATE TABLE postbacks (
  id INTEGER PRIMARY KEY,
  call_id INTEGER NOT NULL REFERENCES calls(id),
  at INTEGER NOT NULL,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  outcome TEXT NOT NULL,
  http_status INTEGER NOT NULL
);
CREATE INDEX postbacks_by_call ON postbacks (call_id);
CREATE TABLE call_effects (
  id INTEGER PRIMARY KEY,
  call_id INTEGER NOT NULL REFERENCES calls(id),
  trigger TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX call_effects_by_call ON call_effects (call_id);
CREATE TABLE postback_deadlines (
  call_id INTEGER PRIMARY KEY REFERENCES calls(id),
  due_at INTEGER NOT NULL,
  lease_until INTEGER
);
CREATE INDEX postback_deadlines_by_due ON postback_deadlines (due_at);
)sql",
    // 2: the webhook outbox and its attempt log.
    R"sql(
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL,
  call_id INTEGER NOT NULL REFERENCES calls(id),
  group_id INTEGER NOT NULL,
  request_index INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  url TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_call ON webhook_deliveries (call_id);
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_id, id);
CREATE TABLE webhook_attempts (
  delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  http_status INTEGER,
  latency_ms INTEGER NOT NULL,
  error TEXT NOT NULL,
  response_excerpt TEXT NOT NULL,
  PRIMARY KEY (delivery_id, seq)
) WITHOUT ROWID;
)sql",
    // 3: publisher data writing: tags for callers before their call, and who wrote a tag.
    R"sql(
CREATE TABLE precall_tags (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL,
  publisher_id INTEGER NOT NULL,
  caller_number TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX precall_tags_by_caller ON precall_tags (account_id, caller_number, expires_at);
CREATE INDEX precall_tags_by_expiry ON precall_tags (expires_at);
ALTER TABLE call_tags ADD COLUMN publisher_id INTEGER;
)sql",
    // 4: calls still open, for the sweep that closes calls whose end never arrived.
    R"sql(
CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL;
)sql",
    // 5: a caller's publisher tags by caller alone. Every call start asks for them in the order
    // they were written; an index ending in expires_at made SQLite sort them in a temporary
    // b-tree, set up for every call even when the caller has none (a twentieth of the writer's
    // work per call). A rowid table's index ends in the rowid, so this one hands them out in
    // order; the expiry is checked on the caller's few rows.
    R"sql(
DROP INDEX precall_tags_by_caller;
CREATE INDEX precall_tags_by_caller ON precall_tags (account_id, caller_number);
)sql",
    // 6: a call's effects in its own row, "trigger:at,…" in order (store/sqlite_calls.cc,
    // EncodeEffects): every step rewrites the row anyway, where the table and its index by call
    // cost two b-tree inserts an effect.
    R"sql(
ALTER TABLE calls ADD COLUMN effects TEXT NOT NULL DEFAULT '';
UPDATE calls SET effects = coalesce((SELECT group_concat(e.trigger || ':' || e.at, ',')
  FROM (SELECT trigger, at FROM call_effects WHERE call_id = calls.id ORDER BY id) AS e), '');
DROP TABLE call_effects;
)sql",
    // 7: settings the server keeps with its data: a check value of the call-key secret, so that
    // a server started with another secret (a restore without its secret file) refuses to run.
    R"sql(
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 8: the outbox's due deliveries by account, then due time. A claim takes each account's
    // earliest up to its room (store/claim.h): one account's backlog is stepped over, never read.
    R"sql(
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (account_id, next_attempt_at)
  WHERE next_attempt_at IS NOT NULL;
)sql",
};

}  // namespace

core::Result<void> MigrateSqlite(Db& db, std::optional<int64_t> up_to) {
  int64_t current = 0;
  {
    Stmt s = db.Prepare("PRAGMA user_version");
    if (s.Step()) current = s.Int(0);
    if (auto st = s.status(); !st) return st;
  }
  constexpr int64_t kLatest = sizeof(kMigrations) / sizeof(kMigrations[0]);
  if (current > kLatest) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "the database was written by a newer callpost (schema " +
                               std::to_string(current) + "); upgrade callpost");
  }
  for (int64_t v = current; v < std::min(kLatest, up_to.value_or(kLatest)); ++v) {
    std::string sql = "BEGIN IMMEDIATE;\n" + std::string(kMigrations[v]) +
                      "\nPRAGMA user_version = " + std::to_string(v + 1) + ";\nCOMMIT;";
    if (auto r = db.Exec(sql.c_str()); !r) {
      (void)db.Exec("ROLLBACK");
      return core::Internal("migration " + std::to_string(v + 1) + " failed: " + r.error().message);
    }
  }
  return {};
}

}  // namespace store
