// SqliteTxn: accounts, API keys and configuration objects.
#include "store/sqlite_txn.h"

namespace store {

using core::Result;

namespace {

constexpr const char* kConfigVersion = "SELECT version FROM config_version WHERE id = 1";
constexpr const char* kBumpConfigVersion =
    "UPDATE config_version SET version = version + 1 WHERE id = 1";
constexpr const char* kSelectAccounts =
    "SELECT id, name, carry_over_postback_tags, call_key_ttl_seconds, created_at FROM accounts";
constexpr const char* kSelectApiKeys =
    "SELECT id, account_id, name, prefix, hash, created_at FROM api_keys";
constexpr const char* kSelectConfig =
    "SELECT id, account_id, kind, parent_id, doc, created_at, updated_at FROM config_objects"
    " ORDER BY id";
constexpr const char* kInsertConfig =
    "INSERT INTO config_objects (account_id, kind, parent_id, doc, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?)";
constexpr const char* kUpdateConfig =
    "UPDATE config_objects SET doc = ?, updated_at = ? WHERE id = ? AND account_id = ?";
constexpr const char* kDeleteConfig = "DELETE FROM config_objects WHERE id = ? AND account_id = ?";
constexpr const char* kInsertAccount =
    "INSERT INTO accounts (name, carry_over_postback_tags, call_key_ttl_seconds, created_at)"
    " VALUES (?, ?, ?, ?)";
constexpr const char* kUpdateAccount =
    "UPDATE accounts SET name = ?, carry_over_postback_tags = ?, call_key_ttl_seconds = ?"
    " WHERE id = ?";
constexpr const char* kInsertApiKey =
    "INSERT INTO api_keys (account_id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)";
constexpr const char* kDeleteApiKey = "DELETE FROM api_keys WHERE id = ? AND account_id = ?";

}  // namespace

Result<int64_t> SqliteTxn::ConfigVersion() {
  Stmt s = db_.Prepare(kConfigVersion);
  int64_t v = s.Step() ? s.Int(0) : 0;
  if (auto st = s.status(); !st) return std::move(st).error();
  return v;
}

// The writer is the only one, inside BEGIN IMMEDIATE: nothing else changes the version.
Result<int64_t> SqliteTxn::LockConfigVersion() { return ConfigVersion(); }

Result<std::vector<config::Account>> SqliteTxn::LoadAccounts() {
  std::vector<config::Account> out;
  Stmt s = db_.Prepare(kSelectAccounts);
  while (s.Step()) {
    config::Account a;
    a.id = s.Int(0);
    a.name = s.Text(1);
    a.carry_over_postback_tags = s.Int(2) != 0;
    a.call_key_ttl_seconds = s.Int(3);
    a.created_at = s.Int(4);
    out.push_back(std::move(a));
  }
  return Finish(s, std::move(out));
}

Result<std::vector<config::ApiKey>> SqliteTxn::LoadApiKeys() {
  std::vector<config::ApiKey> out;
  Stmt s = db_.Prepare(kSelectApiKeys);
  while (s.Step()) {
    out.push_back(config::ApiKey{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
  }
  return Finish(s, std::move(out));
}

Result<std::vector<ConfigRow>> SqliteTxn::LoadConfigRows() {
  std::vector<ConfigRow> out;
  Stmt s = db_.Prepare(kSelectConfig);
  while (s.Step()) {
    out.push_back(
        ConfigRow{s.Int(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4), s.Int(5), s.Int(6)});
  }
  return Finish(s, std::move(out));
}

Result<Id> SqliteTxn::InsertConfig(const ConfigRow& r) {
  Stmt s = db_.Prepare(kInsertConfig);
  s.Bind(1, r.account_id).Bind(2, r.kind).Bind(3, r.parent_id).Bind(4, r.doc);
  s.Bind(5, r.created_at).Bind(6, r.updated_at);
  if (auto st = s.Run(); !st) return std::move(st).error();
  return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
}

Result<void> SqliteTxn::UpdateConfig(const ConfigRow& r) {
  Stmt s = db_.Prepare(kUpdateConfig);
  s.Bind(1, r.doc).Bind(2, r.updated_at).Bind(3, r.id).Bind(4, r.account_id);
  return RunChanging(s);
}

Result<void> SqliteTxn::DeleteConfig(Id account_id, Id id) {
  Stmt s = db_.Prepare(kDeleteConfig);
  s.Bind(1, id).Bind(2, account_id);
  return RunChanging(s);
}

Result<Id> SqliteTxn::InsertAccount(const config::Account& a) {
  Stmt s = db_.Prepare(kInsertAccount);
  s.Bind(1, a.name).Bind(2, int64_t{a.carry_over_postback_tags}).Bind(3, a.call_key_ttl_seconds);
  s.Bind(4, a.created_at);
  if (auto st = s.Run(); !st) return std::move(st).error();
  return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
}

Result<void> SqliteTxn::UpdateAccount(const config::Account& a) {
  Stmt s = db_.Prepare(kUpdateAccount);
  s.Bind(1, a.name).Bind(2, int64_t{a.carry_over_postback_tags}).Bind(3, a.call_key_ttl_seconds);
  s.Bind(4, a.id);
  return RunChanging(s);
}

Result<Id> SqliteTxn::InsertApiKey(const config::ApiKey& k) {
  Stmt s = db_.Prepare(kInsertApiKey);
  s.Bind(1, k.account_id).Bind(2, k.name).Bind(3, k.prefix).Bind(4, k.hash).Bind(5, k.created_at);
  if (auto st = s.Run(); !st) return std::move(st).error();
  return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
}

Result<void> SqliteTxn::DeleteApiKey(Id account_id, Id id) {
  Stmt s = db_.Prepare(kDeleteApiKey);
  s.Bind(1, id).Bind(2, account_id);
  return RunChanging(s);
}

Result<Id> SqliteTxn::BumpVersion(Id id) {
  if (auto st = db_.Prepare(kBumpConfigVersion).Run(); !st) return std::move(st).error();
  return id;
}

Result<void> SqliteTxn::RunChanging(Stmt& s) {
  if (auto st = s.Run(); !st) return st;
  if (sqlite3_changes(db_.handle()) == 0) return core::NotFound("no such object");
  return BumpVersion(0).has_value() ? Result<void>() : core::Internal("config version");
}

}  // namespace store
