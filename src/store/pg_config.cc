// PgTxn: accounts, API keys and configuration objects.
#include "store/pg_txn.h"

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
    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
constexpr const char* kUpdateConfig =
    "UPDATE config_objects SET doc = $1, updated_at = $2 WHERE id = $3 AND account_id = $4";
constexpr const char* kDeleteConfig =
    "DELETE FROM config_objects WHERE id = $1 AND account_id = $2";
constexpr const char* kInsertAccount =
    "INSERT INTO accounts (name, carry_over_postback_tags, call_key_ttl_seconds, created_at)"
    " VALUES ($1, $2, $3, $4) RETURNING id";
constexpr const char* kUpdateAccount =
    "UPDATE accounts SET name = $1, carry_over_postback_tags = $2, call_key_ttl_seconds = $3"
    " WHERE id = $4";
constexpr const char* kInsertApiKey =
    "INSERT INTO api_keys (account_id, name, prefix, hash, created_at)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING id";
constexpr const char* kDeleteApiKey = "DELETE FROM api_keys WHERE id = $1 AND account_id = $2";

}  // namespace

Result<int64_t> PgTxn::ConfigVersion() {
  auto r = db_.Run(kConfigVersion);
  if (!r) return std::move(r).error();
  return r->rows() > 0 ? r->row(0).Int(0) : 0;
}

Result<int64_t> PgTxn::LockConfigVersion() {
  // Another node's change waits for this unit's commit, and this read sees every change
  // committed before it (READ COMMITTED reads the row again once its lock is free).
  auto r = db_.Run("SELECT version FROM config_version WHERE id = 1 FOR UPDATE");
  if (!r) return std::move(r).error();
  return r->rows() > 0 ? r->row(0).Int(0) : 0;
}

Result<std::vector<config::Account>> PgTxn::LoadAccounts() {
  auto r = db_.Run(kSelectAccounts);
  if (!r) return std::move(r).error();
  std::vector<config::Account> out;
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    config::Account a;
    a.id = s.Int(0);
    a.name = s.Text(1);
    a.carry_over_postback_tags = s.Int(2) != 0;
    a.call_key_ttl_seconds = s.Int(3);
    a.created_at = s.Int(4);
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<config::ApiKey>> PgTxn::LoadApiKeys() {
  auto r = db_.Run(kSelectApiKeys);
  if (!r) return std::move(r).error();
  std::vector<config::ApiKey> out;
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    out.push_back(config::ApiKey{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
  }
  return out;
}

Result<std::vector<ConfigRow>> PgTxn::LoadConfigRows() {
  auto r = db_.Run(kSelectConfig);
  if (!r) return std::move(r).error();
  std::vector<ConfigRow> out;
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    out.push_back(
        ConfigRow{s.Int(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4), s.Int(5), s.Int(6)});
  }
  return out;
}

Result<Id> PgTxn::InsertConfig(const ConfigRow& c) {
  PgParams p;
  p.Add(c.account_id).Add(c.kind).Add(c.parent_id).Add(c.doc).Add(c.created_at).Add(c.updated_at);
  auto r = db_.Run(kInsertConfig, p);
  if (!r) return std::move(r).error();
  return BumpVersion(r->row(0).Int(0));
}

Result<void> PgTxn::UpdateConfig(const ConfigRow& c) {
  return RunChanging(kUpdateConfig,
                     PgParams().Add(c.doc).Add(c.updated_at).Add(c.id).Add(c.account_id));
}

Result<void> PgTxn::DeleteConfig(Id account_id, Id id) {
  return RunChanging(kDeleteConfig, PgParams().Add(id).Add(account_id));
}

Result<Id> PgTxn::InsertAccount(const config::Account& a) {
  PgParams p;
  p.Add(a.name).Add(int64_t{a.carry_over_postback_tags}).Add(a.call_key_ttl_seconds);
  p.Add(a.created_at);
  auto r = db_.Run(kInsertAccount, p);
  if (!r) return std::move(r).error();
  return BumpVersion(r->row(0).Int(0));
}

Result<void> PgTxn::UpdateAccount(const config::Account& a) {
  PgParams p;
  p.Add(a.name).Add(int64_t{a.carry_over_postback_tags}).Add(a.call_key_ttl_seconds).Add(a.id);
  return RunChanging(kUpdateAccount, p);
}

Result<Id> PgTxn::InsertApiKey(const config::ApiKey& k) {
  PgParams p;
  p.Add(k.account_id).Add(k.name).Add(k.prefix).Add(k.hash).Add(k.created_at);
  auto r = db_.Run(kInsertApiKey, p);
  if (!r) return std::move(r).error();
  return BumpVersion(r->row(0).Int(0));
}

Result<void> PgTxn::DeleteApiKey(Id account_id, Id id) {
  return RunChanging(kDeleteApiKey, PgParams().Add(id).Add(account_id));
}

Result<Id> PgTxn::BumpVersion(Id id) {
  if (auto r = db_.Run(kBumpConfigVersion); !r) return std::move(r).error();
  return id;
}

Result<void> PgTxn::RunChanging(const char* sql, const PgParams& params) {
  auto r = db_.Run(sql, params);
  if (!r) return std::move(r).error();
  if (r->changed() == 0) return core::NotFound("no such object");
  if (auto b = BumpVersion(0); !b) return std::move(b).error();
  return {};
}

}  // namespace store
