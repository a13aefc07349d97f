// The PostgreSQL implementation of Reader and Writer over one connection, inside one
// transaction: a writer's (READ COMMITTED; the calls it changes are locked with FOR UPDATE) or a
// reader's (REPEATABLE READ, READ ONLY). Internal to store/. Its methods live in pg_config.cc,
// pg_calls.cc and pg_outbox.cc.
#pragma once

#include "store/pg_db.h"
#include "store/store.h"

namespace store {

class PgTxn final : public Writer {
 public:
  // `writing`: the transaction of a unit of work, which locks the calls it reads.
  PgTxn(PgConn& db, bool writing) : db_(db), writing_(writing) {}

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
  core::Result<std::vector<EffectRow>> ReadEffects(const PgResult& r);
  core::Result<void> LoadAttempts(Delivery& d);
  // The call a query selects (at most one row), with its tags.
  core::Result<std::optional<engine::Call>> OneCall(const char* sql, const PgParams& params);
  core::Result<void> LoadTags(engine::Call& c);
  core::Result<Id> BumpVersion(Id id);
  core::Result<void> RunChanging(const char* sql, const PgParams& params);

  PgConn& db_;
  const bool writing_;
};

}  // namespace store
