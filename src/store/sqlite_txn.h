// The SQLite implementation of Reader and Writer over one connection: the writer thread uses
// one for every unit of work, read-only connections use one per Read(). Internal to store/.
// Its methods live in sqlite_config.cc, sqlite_calls.cc and sqlite_outbox.cc.
#pragma once

#include "store/call_cache.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace store {

class SqliteTxn final : public Writer {
 public:
  // `cache`: the writer's (call_cache.h); readers have none.
  explicit SqliteTxn(Db& db, CallCache* cache = nullptr) : db_(db), cache_(cache) {}

  core::Result<int64_t> ConfigVersion() override;
  core::Result<int64_t> LockConfigVersion() override;
  core::Result<std::vector<config::Account>> LoadAccounts() override;
  core::Result<std::vector<config::ApiKey>> LoadApiKeys() override;
  core::Result<std::vector<ConfigRow>> LoadConfigRows() override;
  core::Result<std::optional<engine::Call>> FindCall(std::string_view uuid) override;
  core::Result<std::optional<engine::Call>> FindCallByEdgeId(
      Id account_id, std::string_view edge_call_id) override;
  core::Result<std::vector<engine::Call>> ListCalls(const CallFilter& f) override;
  core::Result<std::vector<PostbackLog>> ListPostbacks(Id call_id, int limit) override;
  core::Result<PostbackCounts> CountPostbacks(Id call_id) override;
  core::Result<std::vector<EffectRow>> ListEffects(Id call_id) override;
  core::Result<std::optional<engine::PreviousCall>> FindPreviousCall(Id account_id, Id campaign_id,
                                                                     std::string_view caller,
                                                                     core::Millis since,
                                                                     core::Millis until) override;
  core::Result<std::map<Id, int64_t>> LiveCallsByBuyer(Id account_id) override;
  core::Result<std::vector<std::string>> ListOpenCalls(core::Millis started_before,
                                                       int limit) override;
  core::Result<std::vector<std::pair<std::string, core::Millis>>> ClaimDueDeadlines(
      core::Millis now, core::Millis lease_until, int limit) override;
  core::Result<std::map<std::string, int64_t>> CountCallsByStatus() override;
  core::Result<DeadlineCounts> CountDeadlines(core::Millis now) override;
  core::Result<Id> InsertConfig(const ConfigRow& r) override;
  core::Result<void> UpdateConfig(const ConfigRow& r) override;
  core::Result<void> DeleteConfig(Id account_id, Id id) override;
  core::Result<Id> InsertAccount(const config::Account& a) override;
  core::Result<void> UpdateAccount(const config::Account& a) override;
  core::Result<Id> InsertApiKey(const config::ApiKey& k) override;
  core::Result<void> DeleteApiKey(Id account_id, Id id) override;
  core::Result<void> SaveCall(engine::Call& c, engine::Outcome& out) override;
  core::Result<std::vector<Delivery>> ListDeliveries(const DeliveryFilter& f) override;
  core::Result<std::optional<Delivery>> FindDelivery(Id account_id, Id id) override;
  core::Result<std::map<std::string, int64_t>> CountDeliveriesByState() override;
  core::Result<std::optional<core::Millis>> NextDeliveryDue() override;
  core::Result<Claimed> ClaimDueDeliveries(core::Millis now, core::Millis lease_until,
                                           const ClaimRoom& room) override;
  core::Result<std::vector<Id>> RenewDeliveryLeases(const std::vector<HeldLease>& held,
                                                    core::Millis lease_until) override;
  core::Result<void> RecordAttempt(Id delivery_id, const AttemptResult& r) override;
  core::Result<void> ResendDelivery(Id account_id, Id id, core::Millis now) override;
  core::Result<std::optional<engine::Call>> FindRecentCallByCaller(
      Id account_id, std::string_view caller, core::Millis ended_since) override;
  core::Result<void> InsertPrecallTags(Id account_id, Id publisher_id, std::string_view caller,
                                       const engine::Params& tags, core::Millis now,
                                       core::Millis expires_at) override;
  core::Result<std::vector<PrecallTag>> TakePrecallTags(Id account_id, std::string_view caller,
                                                        core::Millis now) override;
  core::Result<int64_t> DeleteExpiredPrecallTags(core::Millis now) override;
  core::Result<void> ReleaseLeases() override;
  core::Result<std::string> KeepSetting(std::string_view name, std::string_view value) override;
  core::Result<void> AppendPostback(Id call_id, const PostbackLog& e) override;

 private:
  template <typename T>
  static core::Result<T> Finish(const Stmt& s, T value) {
    if (auto st = s.status(); !st) return std::move(st).error();
    return value;
  }
  core::Result<void> LoadAttempts(Delivery& d);
  // The call a bound statement selects (at most one row), with its tags.
  core::Result<std::optional<engine::Call>> OneCall(Stmt& s);
  core::Result<void> LoadTags(engine::Call& c);
  core::Result<Id> BumpVersion(Id id);
  core::Result<void> RunChanging(Stmt& s);

  Db& db_;
  CallCache* const cache_;
};

}  // namespace store
