// The embedded store: SQLite in WAL mode, one writer thread with group commit and
// synchronous=FULL, read-only connections for reads.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace store {

namespace {

using core::Result;

constexpr const char* kCallColumns =
    "id, uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number, "
    "caller_number, repeat, status, started_at, routed_at, answered_at, ended_at, "
    "duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents, "
    "conv_late, deadline_at, decided_at, early_postback, edge_call_id";

// Statements (constants: Db caches them by address).
const std::string kSelectCallByUuid =
    std::string("SELECT ") + kCallColumns + " FROM calls WHERE uuid = ?";
const std::string kSelectCallByEdgeId =
    std::string("SELECT ") + kCallColumns + " FROM calls WHERE account_id = ? AND edge_call_id = ?";
const std::string kSelectCalls =
    std::string("SELECT ") + kCallColumns +
    " FROM calls WHERE account_id = ?1 AND (?2 IS NULL OR campaign_id = ?2)"
    " AND (?3 IS NULL OR status = ?3)"
    " AND (?4 IS NULL OR (conv_state = 2) = ?4)"
    " AND (?5 IS NULL OR started_at >= ?5) AND (?6 IS NULL OR started_at < ?6)"
    " AND (?7 IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?8";
constexpr const char* kSelectTags =
    "SELECT key, value, source, carried, at, publisher_id FROM call_tags WHERE call_id = ?"
    " ORDER BY call_id, seq";
constexpr const char* kInsertCall =
    "INSERT INTO calls (uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number,"
    " caller_number, repeat, status, started_at, routed_at, answered_at, ended_at,"
    " duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents,"
    " conv_late, deadline_at, decided_at, early_postback, edge_call_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20, ?21, ?22, ?23, ?24, ?26)";
constexpr const char* kUpdateCall =
    "UPDATE calls SET uuid = ?1, account_id = ?2, campaign_id = ?3, publisher_id = ?4,"
    " buyer_id = ?5, number_id = ?6, number = ?7, caller_number = ?8, repeat = ?9, status = ?10,"
    " started_at = ?11, routed_at = ?12, answered_at = ?13, ended_at = ?14,"
    " duration_seconds = ?15, hung_up_by = ?16, conv_state = ?17, conv_group_id = ?18,"
    " revenue_cents = ?19, payout_cents = ?20, conv_late = ?21, deadline_at = ?22,"
    " decided_at = ?23, early_postback = ?24, edge_call_id = ?26 WHERE id = ?25";
constexpr const char* kInsertTag =
    "INSERT INTO call_tags (call_id, seq, key, value, source, carried, at, publisher_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
const std::string kRecentCallByCaller =
    std::string("SELECT ") + kCallColumns +
    " FROM calls WHERE account_id = ? AND caller_number = ? AND (ended_at IS NULL OR ended_at >= ?)"
    " ORDER BY started_at DESC, id DESC LIMIT 1";
constexpr const char* kInsertPrecallTag =
    "INSERT INTO precall_tags (account_id, publisher_id, caller_number, key, value, created_at,"
    " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kSelectPrecallTags =
    "SELECT publisher_id, key, value, created_at FROM precall_tags WHERE account_id = ? AND"
    " caller_number = ? AND expires_at > ? ORDER BY id";
constexpr const char* kDeletePrecallTagsOfCaller =
    "DELETE FROM precall_tags WHERE account_id = ? AND caller_number = ?";
constexpr const char* kDeleteExpiredPrecallTags = "DELETE FROM precall_tags WHERE expires_at <= ?";
constexpr const char* kInsertEffect =
    "INSERT INTO call_effects (call_id, trigger, at) VALUES (?, ?, ?)";
constexpr const char* kSetDeadline =
    "INSERT INTO postback_deadlines (call_id, due_at) VALUES (?1, ?2)"
    " ON CONFLICT (call_id) DO UPDATE SET due_at = ?2, lease_until = NULL";
constexpr const char* kClearDeadline = "DELETE FROM postback_deadlines WHERE call_id = ?";
constexpr const char* kDueDeadlines =
    "SELECT c.uuid, d.due_at FROM postback_deadlines d JOIN calls c ON c.id = d.call_id"
    " WHERE d.due_at <= ? ORDER BY d.due_at LIMIT ?";
constexpr const char* kInsertPostback =
    "INSERT INTO postbacks (call_id, at, method, params, outcome, http_status)"
    " VALUES (?, ?, ?, ?, ?, ?)";
constexpr const char* kSelectPostbacks =
    "SELECT at, method, params, outcome, http_status FROM postbacks WHERE call_id = ? ORDER BY id";
constexpr const char* kSelectEffects =
    "SELECT e.id, c.uuid, e.trigger, e.at FROM call_effects e JOIN calls c ON c.id = e.call_id"
    " WHERE e.call_id = ? ORDER BY e.id";
constexpr const char* kSelectEffectsAfter =
    "SELECT e.id, c.uuid, e.trigger, e.at FROM call_effects e JOIN calls c ON c.id = e.call_id"
    " WHERE e.id > ? ORDER BY e.id LIMIT ?";
constexpr const char* kPreviousCall =
    "SELECT id, buyer_id FROM calls WHERE account_id = ? AND campaign_id = ? AND"
    " caller_number = ? AND started_at >= ? ORDER BY started_at DESC, id DESC LIMIT 1";
constexpr const char* kLiveByBuyer =
    "SELECT buyer_id, count(*) FROM calls WHERE status IN (1, 2) AND buyer_id IS NOT NULL"
    " AND account_id = ? GROUP BY buyer_id";
constexpr const char* kCountByStatus = "SELECT status, count(*) FROM calls GROUP BY status";
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

constexpr const char* kDeliveryColumns =
    "d.id, d.account_id, d.call_id, c.uuid, d.group_id, d.request_index, d.trigger, "
    "d.webhook_id, d.state, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at, d.url";
constexpr const char* kInsertDelivery =
    "INSERT INTO webhook_deliveries (account_id, call_id, group_id, request_index, trigger,"
    " webhook_id, state, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, "
    "?, ?)";
const std::string kSelectDeliveries =
    std::string("SELECT ") + kDeliveryColumns +
    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id WHERE d.account_id = ?1"
    " AND (?2 IS NULL OR d.call_id = ?2) AND (?3 IS NULL OR d.state = ?3)"
    " AND (?4 IS NULL OR d.id < ?4) ORDER BY d.id DESC LIMIT ?5";
const std::string kSelectDelivery = std::string("SELECT ") + kDeliveryColumns +
                                    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id "
                                    "WHERE d.account_id = ? AND d.id = ?";
const std::string kDueDeliveries =
    std::string("SELECT ") + kDeliveryColumns +
    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id"
    " WHERE d.next_attempt_at <= ?1 AND (d.lease_until IS NULL OR d.lease_until <= ?1)"
    " ORDER BY d.next_attempt_at LIMIT ?2";
constexpr const char* kLeaseDelivery = "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?";
constexpr const char* kSelectAttempts =
    "SELECT at, http_status, latency_ms, error, response_excerpt FROM webhook_attempts"
    " WHERE delivery_id = ? ORDER BY delivery_id, seq";
constexpr const char* kInsertAttempt =
    "INSERT INTO webhook_attempts (delivery_id, seq, at, http_status, latency_ms, error,"
    " response_excerpt) VALUES (?1, (SELECT attempt_count FROM webhook_deliveries WHERE id = ?1),"
    " ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kUpdateAfterAttempt =
    "UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, lease_until = NULL,"
    " attempt_count = attempt_count + 1, updated_at = ?, url = ? WHERE id = ?";
constexpr const char* kResendDelivery =
    "UPDATE webhook_deliveries SET state = CASE WHEN attempt_count = 0 THEN 0 ELSE 1 END,"
    " next_attempt_at = ?1, lease_until = NULL, updated_at = ?1 WHERE id = ?2 AND account_id = ?3";
constexpr const char* kReleaseLeases =
    "UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL";
constexpr const char* kCountDeliveries =
    "SELECT state, count(*) FROM webhook_deliveries GROUP BY state";
constexpr const char* kNextDeliveryDue =
    "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM webhook_deliveries"
    " WHERE next_attempt_at IS NOT NULL";

// Params as a blob of length-prefixed strings.
std::string EncodeParams(const engine::Params& params) {
  std::string out;
  auto put = [&](const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), 4).append(s);
  };
  for (const auto& [k, v] : params) put(k), put(v);
  return out;
}

engine::Params DecodeParams(const std::string& blob) {
  engine::Params out;
  size_t i = 0;
  auto get = [&](std::string& s) {
    uint32_t n;
    if (i + 4 > blob.size()) return false;
    std::memcpy(&n, blob.data() + i, 4);
    i += 4;
    if (i + n > blob.size()) return false;
    s.assign(blob, i, n);
    i += n;
    return true;
  };
  std::string k, v;
  while (get(k) && get(v)) out.emplace_back(k, v);
  return out;
}

std::optional<core::Money> OptMoney(const Stmt& s, int col) {
  auto v = s.OptInt(col);
  return v ? std::optional<core::Money>(core::Money::FromCents(*v)) : std::nullopt;
}

std::optional<int64_t> Cents(const std::optional<core::Money>& m) {
  return m ? std::optional<int64_t>(m->cents()) : std::nullopt;
}

engine::Call ReadCall(const Stmt& s) {
  engine::Call c;
  c.id = s.Int(0);
  c.uuid = s.Text(1);
  c.account_id = s.Int(2);
  c.campaign_id = s.Int(3);
  c.publisher_id = s.OptInt(4);
  c.buyer_id = s.OptInt(5);
  c.number_id = s.OptInt(6);
  c.number = s.Text(7);
  c.caller_number = s.Text(8);
  c.repeat = s.Int(9) != 0;
  c.status = static_cast<engine::Status>(s.Int(10));
  c.started_at = s.Int(11);
  c.routed_at = s.OptInt(12);
  c.answered_at = s.OptInt(13);
  c.ended_at = s.OptInt(14);
  c.duration_seconds = s.OptInt(15);
  c.hung_up_by = s.Text(16);
  c.conversion.state = static_cast<engine::ConversionState>(s.Int(17));
  c.conversion.group_id = s.OptInt(18);
  c.conversion.revenue = OptMoney(s, 19);
  c.conversion.payout = OptMoney(s, 20);
  c.conversion.late = s.Int(21) != 0;
  c.conversion.deadline_at = s.OptInt(22);
  c.conversion.decided_at = s.OptInt(23);
  if (!s.IsNull(24)) c.early_postback = DecodeParams(s.Text(24));
  c.edge_call_id = s.Text(25);
  return c;
}

Delivery ReadDelivery(const Stmt& s) {
  Delivery d;
  d.id = s.Int(0);
  d.account_id = s.Int(1);
  d.call_id = s.Int(2);
  d.call_uuid = s.Text(3);
  d.group_id = s.Int(4);
  d.request_index = static_cast<int>(s.Int(5));
  d.trigger = s.Text(6);
  d.webhook_id = s.Text(7);
  d.state = static_cast<DeliveryState>(s.Int(8));
  d.attempt_count = static_cast<int>(s.Int(9));
  d.next_attempt_at = s.OptInt(10);
  d.created_at = s.Int(11);
  d.updated_at = s.Int(12);
  d.url = s.Text(13);
  return d;
}

// Reader and Writer over one connection. The read-only connections use it for reads only.
class SqliteTxn final : public Writer {
 public:
  explicit SqliteTxn(Db& db) : db_(db) {}

  Result<int64_t> ConfigVersion() override {
    Stmt s = db_.Prepare(kConfigVersion);
    int64_t v = s.Step() ? s.Int(0) : 0;
    if (auto st = s.status(); !st) return std::move(st).error();
    return v;
  }

  Result<std::vector<config::Account>> LoadAccounts() override {
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

  Result<std::vector<config::ApiKey>> LoadApiKeys() override {
    std::vector<config::ApiKey> out;
    Stmt s = db_.Prepare(kSelectApiKeys);
    while (s.Step()) {
      out.push_back(config::ApiKey{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
    }
    return Finish(s, std::move(out));
  }

  Result<std::vector<ConfigRow>> LoadConfigRows() override {
    std::vector<ConfigRow> out;
    Stmt s = db_.Prepare(kSelectConfig);
    while (s.Step()) {
      out.push_back(
          ConfigRow{s.Int(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4), s.Int(5), s.Int(6)});
    }
    return Finish(s, std::move(out));
  }

  Result<std::optional<engine::Call>> FindCall(std::string_view uuid) override {
    std::optional<engine::Call> call;
    {
      Stmt s = db_.Prepare(kSelectCallByUuid.c_str());
      s.Bind(1, uuid);
      if (s.Step()) call = ReadCall(s);
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    if (call) {
      if (auto t = LoadTags(*call); !t) return std::move(t).error();
    }
    return call;
  }

  Result<std::optional<engine::Call>> FindCallByEdgeId(Id account_id,
                                                       std::string_view edge_call_id) override {
    std::optional<engine::Call> call;
    {
      Stmt s = db_.Prepare(kSelectCallByEdgeId.c_str());
      s.Bind(1, account_id).Bind(2, edge_call_id);
      if (s.Step()) call = ReadCall(s);
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    if (call) {
      if (auto t = LoadTags(*call); !t) return std::move(t).error();
    }
    return call;
  }

  Result<std::vector<engine::Call>> ListCalls(const CallFilter& f) override {
    std::vector<engine::Call> out;
    {
      Stmt s = db_.Prepare(kSelectCalls.c_str());
      s.Bind(1, f.account_id).Bind(2, f.campaign_id);
      if (f.status)
        s.Bind(3, static_cast<int64_t>(*f.status));
      else
        s.BindNull(3);
      if (f.converted)
        s.Bind(4, static_cast<int64_t>(*f.converted));
      else
        s.BindNull(4);
      s.Bind(5, f.since).Bind(6, f.until).Bind(7, f.before_id).Bind(8, int64_t{f.limit});
      while (s.Step()) out.push_back(ReadCall(s));
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    for (auto& c : out) {
      if (auto t = LoadTags(c); !t) return std::move(t).error();
    }
    return out;
  }

  Result<std::vector<PostbackLog>> ListPostbacks(Id call_id) override {
    std::vector<PostbackLog> out;
    Stmt s = db_.Prepare(kSelectPostbacks);
    s.Bind(1, call_id);
    while (s.Step()) {
      out.push_back(
          PostbackLog{s.Int(0), s.Text(1), s.Text(2), s.Text(3), static_cast<int>(s.Int(4))});
    }
    return Finish(s, std::move(out));
  }

  Result<std::vector<EffectRow>> ListEffects(Id call_id) override {
    Stmt s = db_.Prepare(kSelectEffects);
    s.Bind(1, call_id);
    return ReadEffects(s);
  }

  Result<std::vector<EffectRow>> ListEffectsAfter(Id after_id, int limit) override {
    Stmt s = db_.Prepare(kSelectEffectsAfter);
    s.Bind(1, after_id).Bind(2, int64_t{limit});
    return ReadEffects(s);
  }

  Result<std::optional<engine::PreviousCall>> FindPreviousCall(Id account_id, Id campaign_id,
                                                               std::string_view caller,
                                                               core::Millis since) override {
    std::optional<engine::Call> prev;
    {
      Stmt s = db_.Prepare(kPreviousCall);
      s.Bind(1, account_id).Bind(2, campaign_id).Bind(3, caller).Bind(4, since);
      if (s.Step()) {
        prev.emplace();
        prev->id = s.Int(0);
        prev->buyer_id = s.OptInt(1);
      }
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    if (!prev) return std::optional<engine::PreviousCall>();
    if (auto t = LoadTags(*prev); !t) return std::move(t).error();
    return std::optional<engine::PreviousCall>(
        engine::PreviousCall{prev->buyer_id, std::move(prev->tags)});
  }

  Result<std::map<Id, int64_t>> LiveCallsByBuyer(Id account_id) override {
    std::map<Id, int64_t> out;
    Stmt s = db_.Prepare(kLiveByBuyer);
    s.Bind(1, account_id);
    while (s.Step()) out[s.Int(0)] = s.Int(1);
    return Finish(s, std::move(out));
  }

  Result<std::vector<std::pair<std::string, core::Millis>>> DueDeadlines(core::Millis until,
                                                                         int limit) override {
    std::vector<std::pair<std::string, core::Millis>> out;
    Stmt s = db_.Prepare(kDueDeadlines);
    s.Bind(1, until).Bind(2, int64_t{limit});
    while (s.Step()) out.emplace_back(s.Text(0), s.Int(1));
    return Finish(s, std::move(out));
  }

  Result<std::map<std::string, int64_t>> CountCallsByStatus() override {
    std::map<std::string, int64_t> out;
    Stmt s = db_.Prepare(kCountByStatus);
    while (s.Step()) out[engine::ToString(static_cast<engine::Status>(s.Int(0)))] = s.Int(1);
    return Finish(s, std::move(out));
  }

  // ---- Writer

  Result<Id> InsertConfig(const ConfigRow& r) override {
    Stmt s = db_.Prepare(kInsertConfig);
    s.Bind(1, r.account_id).Bind(2, r.kind).Bind(3, r.parent_id).Bind(4, r.doc);
    s.Bind(5, r.created_at).Bind(6, r.updated_at);
    if (auto st = s.Run(); !st) return std::move(st).error();
    return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
  }

  Result<void> UpdateConfig(const ConfigRow& r) override {
    Stmt s = db_.Prepare(kUpdateConfig);
    s.Bind(1, r.doc).Bind(2, r.updated_at).Bind(3, r.id).Bind(4, r.account_id);
    return RunChanging(s);
  }

  Result<void> DeleteConfig(Id account_id, Id id) override {
    Stmt s = db_.Prepare(kDeleteConfig);
    s.Bind(1, id).Bind(2, account_id);
    return RunChanging(s);
  }

  Result<Id> InsertAccount(const config::Account& a) override {
    Stmt s = db_.Prepare(kInsertAccount);
    s.Bind(1, a.name).Bind(2, int64_t{a.carry_over_postback_tags}).Bind(3, a.call_key_ttl_seconds);
    s.Bind(4, a.created_at);
    if (auto st = s.Run(); !st) return std::move(st).error();
    return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
  }

  Result<void> UpdateAccount(const config::Account& a) override {
    Stmt s = db_.Prepare(kUpdateAccount);
    s.Bind(1, a.name).Bind(2, int64_t{a.carry_over_postback_tags}).Bind(3, a.call_key_ttl_seconds);
    s.Bind(4, a.id);
    return RunChanging(s);
  }

  Result<Id> InsertApiKey(const config::ApiKey& k) override {
    Stmt s = db_.Prepare(kInsertApiKey);
    s.Bind(1, k.account_id).Bind(2, k.name).Bind(3, k.prefix).Bind(4, k.hash).Bind(5, k.created_at);
    if (auto st = s.Run(); !st) return std::move(st).error();
    return BumpVersion(sqlite3_last_insert_rowid(db_.handle()));
  }

  Result<void> DeleteApiKey(Id account_id, Id id) override {
    Stmt s = db_.Prepare(kDeleteApiKey);
    s.Bind(1, id).Bind(2, account_id);
    return RunChanging(s);
  }

  Result<void> SaveCall(engine::Call& c, const engine::Outcome& out) override {
    if (c.id == 0 || out.call_changed) {
      Stmt s = db_.Prepare(c.id == 0 ? kInsertCall : kUpdateCall);
      s.Bind(1, c.uuid).Bind(2, c.account_id).Bind(3, c.campaign_id).Bind(4, c.publisher_id);
      s.Bind(5, c.buyer_id).Bind(6, c.number_id).Bind(7, c.number).Bind(8, c.caller_number);
      s.Bind(9, int64_t{c.repeat}).Bind(10, static_cast<int64_t>(c.status)).Bind(11, c.started_at);
      s.Bind(12, c.routed_at).Bind(13, c.answered_at).Bind(14, c.ended_at);
      s.Bind(15, c.duration_seconds).Bind(16, c.hung_up_by);
      s.Bind(17, static_cast<int64_t>(c.conversion.state)).Bind(18, c.conversion.group_id);
      s.Bind(19, Cents(c.conversion.revenue)).Bind(20, Cents(c.conversion.payout));
      s.Bind(21, int64_t{c.conversion.late}).Bind(22, c.conversion.deadline_at);
      s.Bind(23, c.conversion.decided_at);
      if (c.early_postback)
        s.BindBlob(24, EncodeParams(*c.early_postback));
      else
        s.BindNull(24);
      if (c.id != 0) s.Bind(25, c.id);
      if (c.edge_call_id.empty())
        s.BindNull(26);
      else
        s.Bind(26, c.edge_call_id);
      if (auto st = s.Run(); !st) return st;
      if (c.id == 0) c.id = sqlite3_last_insert_rowid(db_.handle());
    }
    // New tags are the last ones of call.tags; seq is a tag's position on its call.
    int64_t seq = static_cast<int64_t>(c.tags.size() - out.new_tags.size());
    for (const auto& t : out.new_tags) {
      Stmt s = db_.Prepare(kInsertTag);
      s.Bind(1, c.id).Bind(2, seq++).Bind(3, t.key).Bind(4, t.value);
      s.Bind(5, static_cast<int64_t>(t.source)).Bind(6, int64_t{t.carried}).Bind(7, t.at);
      s.Bind(8, t.publisher_id);
      if (auto st = s.Run(); !st) return st;
    }
    for (const auto& e : out.effects) {
      Stmt s = db_.Prepare(kInsertEffect);
      s.Bind(1, c.id).Bind(2, e.trigger).Bind(3, e.at);
      if (auto st = s.Run(); !st) return st;
    }
    for (const auto& d : out.deliveries) {
      Stmt s = db_.Prepare(kInsertDelivery);
      s.Bind(1, c.account_id).Bind(2, c.id).Bind(3, d.group_id).Bind(4, int64_t{d.request_index});
      s.Bind(5, d.trigger).Bind(6, d.webhook_id).Bind(7, d.at).Bind(8, d.at).Bind(9, d.at);
      if (auto st = s.Run(); !st) return st;
    }
    if (out.timer == engine::Outcome::Timer::kSet) {
      Stmt s = db_.Prepare(kSetDeadline);
      s.Bind(1, c.id).Bind(2, out.timer_at);
      if (auto st = s.Run(); !st) return st;
    } else if (out.timer == engine::Outcome::Timer::kClear) {
      Stmt s = db_.Prepare(kClearDeadline);
      s.Bind(1, c.id);
      if (auto st = s.Run(); !st) return st;
    }
    return {};
  }

  Result<std::vector<Delivery>> ListDeliveries(const DeliveryFilter& f) override {
    std::vector<Delivery> out;
    {
      Stmt s = db_.Prepare(kSelectDeliveries.c_str());
      s.Bind(1, f.account_id).Bind(2, f.call_id);
      if (f.state)
        s.Bind(3, static_cast<int64_t>(*f.state));
      else
        s.BindNull(3);
      s.Bind(4, f.before_id).Bind(5, int64_t{f.limit});
      while (s.Step()) out.push_back(ReadDelivery(s));
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    for (auto& d : out) {
      if (auto a = LoadAttempts(d); !a) return std::move(a).error();
    }
    return out;
  }

  Result<std::optional<Delivery>> FindDelivery(Id account_id, Id id) override {
    std::optional<Delivery> d;
    {
      Stmt s = db_.Prepare(kSelectDelivery.c_str());
      s.Bind(1, account_id).Bind(2, id);
      if (s.Step()) d = ReadDelivery(s);
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    if (d) {
      if (auto a = LoadAttempts(*d); !a) return std::move(a).error();
    }
    return d;
  }

  Result<std::map<std::string, int64_t>> CountDeliveriesByState() override {
    std::map<std::string, int64_t> out;
    Stmt s = db_.Prepare(kCountDeliveries);
    while (s.Step()) out[ToString(static_cast<DeliveryState>(s.Int(0)))] = s.Int(1);
    return Finish(s, std::move(out));
  }

  Result<std::optional<core::Millis>> NextDeliveryDue() override {
    Stmt s = db_.Prepare(kNextDeliveryDue);
    std::optional<core::Millis> out;
    if (s.Step()) out = s.OptInt(0);
    return Finish(s, std::move(out));
  }

  Result<std::vector<Delivery>> ClaimDueDeliveries(core::Millis now, core::Millis lease_until,
                                                   int limit) override {
    std::vector<Delivery> out;
    {
      Stmt s = db_.Prepare(kDueDeliveries.c_str());
      s.Bind(1, now).Bind(2, int64_t{limit});
      while (s.Step()) out.push_back(ReadDelivery(s));
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    for (const auto& d : out) {
      Stmt s = db_.Prepare(kLeaseDelivery);
      s.Bind(1, lease_until).Bind(2, d.id);
      if (auto st = s.Run(); !st) return std::move(st).error();
    }
    return out;
  }

  Result<void> RecordAttempt(Id delivery_id, const AttemptResult& r) override {
    {
      Stmt s = db_.Prepare(kInsertAttempt);
      s.Bind(1, delivery_id).Bind(2, r.attempt.at);
      if (r.attempt.http_status)
        s.Bind(3, int64_t{*r.attempt.http_status});
      else
        s.BindNull(3);
      s.Bind(4, r.attempt.latency_ms).Bind(5, r.attempt.error).Bind(6, r.attempt.response_excerpt);
      if (auto st = s.Run(); !st) return st;
    }
    Stmt s = db_.Prepare(kUpdateAfterAttempt);
    s.Bind(1, static_cast<int64_t>(r.state)).Bind(2, r.next_attempt_at).Bind(3, r.attempt.at);
    s.Bind(4, r.url).Bind(5, delivery_id);
    return s.Run();
  }

  Result<void> ResendDelivery(Id account_id, Id id, core::Millis now) override {
    Stmt s = db_.Prepare(kResendDelivery);
    s.Bind(1, now).Bind(2, id).Bind(3, account_id);
    if (auto st = s.Run(); !st) return st;
    if (sqlite3_changes(db_.handle()) == 0) return core::NotFound("no such delivery");
    return {};
  }

  Result<std::optional<engine::Call>> FindRecentCallByCaller(Id account_id, std::string_view caller,
                                                             core::Millis ended_since) override {
    std::optional<engine::Call> call;
    {
      Stmt s = db_.Prepare(kRecentCallByCaller.c_str());
      s.Bind(1, account_id).Bind(2, caller).Bind(3, ended_since);
      if (s.Step()) call = ReadCall(s);
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    if (call) {
      if (auto t = LoadTags(*call); !t) return std::move(t).error();
    }
    return call;
  }

  Result<void> InsertPrecallTags(Id account_id, Id publisher_id, std::string_view caller,
                                 const engine::Params& tags, core::Millis now,
                                 core::Millis expires_at) override {
    for (const auto& [k, v] : tags) {
      Stmt s = db_.Prepare(kInsertPrecallTag);
      s.Bind(1, account_id).Bind(2, publisher_id).Bind(3, caller).Bind(4, k).Bind(5, v);
      s.Bind(6, now).Bind(7, expires_at);
      if (auto st = s.Run(); !st) return st;
    }
    return {};
  }

  Result<std::vector<PrecallTag>> TakePrecallTags(Id account_id, std::string_view caller,
                                                  core::Millis now) override {
    std::vector<PrecallTag> out;
    {
      Stmt s = db_.Prepare(kSelectPrecallTags);
      s.Bind(1, account_id).Bind(2, caller).Bind(3, now);
      while (s.Step()) out.push_back(PrecallTag{s.Int(0), s.Text(1), s.Text(2), s.Int(3)});
      if (auto st = s.status(); !st) return std::move(st).error();
    }
    Stmt d = db_.Prepare(kDeletePrecallTagsOfCaller);
    d.Bind(1, account_id).Bind(2, caller);
    if (auto st = d.Run(); !st) return std::move(st).error();
    return out;
  }

  Result<int64_t> DeleteExpiredPrecallTags(core::Millis now) override {
    Stmt s = db_.Prepare(kDeleteExpiredPrecallTags);
    s.Bind(1, now);
    if (auto st = s.Run(); !st) return std::move(st).error();
    return static_cast<int64_t>(sqlite3_changes(db_.handle()));
  }

  Result<void> ReleaseDeliveryLeases() override { return db_.Prepare(kReleaseLeases).Run(); }

  Result<void> AppendPostback(Id call_id, const PostbackLog& e) override {
    Stmt s = db_.Prepare(kInsertPostback);
    s.Bind(1, call_id).Bind(2, e.at).Bind(3, e.method).Bind(4, e.params_json).Bind(5, e.outcome);
    s.Bind(6, int64_t{e.http_status});
    return s.Run();
  }

 private:
  template <typename T>
  static Result<T> Finish(const Stmt& s, T value) {
    if (auto st = s.status(); !st) return std::move(st).error();
    return value;
  }

  Result<std::vector<EffectRow>> ReadEffects(Stmt& s) {
    std::vector<EffectRow> out;
    while (s.Step()) out.push_back(EffectRow{s.Int(0), s.Text(1), s.Text(2), s.Int(3)});
    return Finish(s, std::move(out));
  }

  Result<void> LoadAttempts(Delivery& d) {
    Stmt s = db_.Prepare(kSelectAttempts);
    s.Bind(1, d.id);
    while (s.Step()) {
      std::optional<int> status;
      if (!s.IsNull(1)) status = static_cast<int>(s.Int(1));
      d.attempts.push_back(Attempt{s.Int(0), status, s.Int(2), s.Text(3), s.Text(4)});
    }
    return s.status();
  }

  Result<void> LoadTags(engine::Call& c) {
    Stmt s = db_.Prepare(kSelectTags);
    s.Bind(1, c.id);
    while (s.Step()) {
      c.tags.push_back(engine::Tag{s.Text(0), s.Text(1), static_cast<engine::TagSource>(s.Int(2)),
                                   s.Int(4), s.Int(3) != 0, s.OptInt(5)});
    }
    return s.status();
  }

  Result<Id> BumpVersion(Id id) {
    if (auto st = db_.Prepare(kBumpConfigVersion).Run(); !st) return std::move(st).error();
    return id;
  }

  // Runs a statement that must change one row: none changed means the object is gone.
  Result<void> RunChanging(Stmt& s) {
    if (auto st = s.Run(); !st) return st;
    if (sqlite3_changes(db_.handle()) == 0) return core::NotFound("no such object");
    return BumpVersion(0).has_value() ? Result<void>() : core::Internal("config version");
  }

  Db& db_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<Db> writer,
              std::vector<std::unique_ptr<Db>> readers)
      : options_(std::move(options)), writer_db_(std::move(writer)) {
    for (auto& r : readers) free_readers_.push_back(r.get()), readers_.push_back(std::move(r));
    thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteStore() override { Close(); }

  void Write(Work work, Done done) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_ && queue_.size() < options_.max_queue) {
        queue_.push_back(Item{std::move(work), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(core::MakeError(core::ErrorCode::kUnavailable,
                         closed_ ? "the store is closed" : "the store is overloaded; retry"));
  }

  Result<void> Read(const std::function<Result<void>(Reader&)>& fn) override {
    Db* db;
    {
      std::unique_lock lock(readers_mu_);
      readers_cv_.wait(lock, [this] { return !free_readers_.empty(); });
      db = free_readers_.back();
      free_readers_.pop_back();
    }
    Result<void> r = core::Internal("read");
    if (auto b = db->Exec("BEGIN"); !b) {
      r = b;
    } else {
      SqliteTxn txn(*db);
      r = fn(txn);
      (void)db->Exec("COMMIT");
    }
    {
      std::lock_guard lock(readers_mu_);
      free_readers_.push_back(db);
    }
    readers_cv_.notify_one();
    return r;
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

 private:
  struct Item {
    Work work;
    Done done;
  };

  void WriterLoop() {
    SqliteTxn txn(*writer_db_);
    std::vector<Item> batch;
    std::vector<Result<void>> results;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closed and drained
        while (!queue_.empty() && batch.size() < options_.max_batch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunBatch(txn, batch, results);
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
      batch.clear();
      results.clear();
    }
  }

  void RunBatch(SqliteTxn& txn, std::vector<Item>& batch, std::vector<Result<void>>& results) {
    Db& db = *writer_db_;
    if (auto b = db.Exec("BEGIN IMMEDIATE"); !b) {
      results.assign(batch.size(), b);
      return;
    }
    for (auto& item : batch) {
      (void)db.Exec("SAVEPOINT unit");
      Result<void> r = core::Internal("unit of work threw");
      try {
        r = item.work(txn);
      } catch (const std::exception& e) {
        r = core::Internal(std::string("unit of work failed: ") + e.what());
      }
      if (!r) (void)db.Exec("ROLLBACK TO unit");
      (void)db.Exec("RELEASE unit");
      results.push_back(std::move(r));
    }
    if (auto c = db.Exec("COMMIT"); !c) {
      (void)db.Exec("ROLLBACK");
      core::Error e = c.error();
      e.code = core::ErrorCode::kUnavailable;
      results.assign(batch.size(), e);
    }
  }

  const SqliteOptions options_;
  std::unique_ptr<Db> writer_db_;  // used by the writer thread only
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_

  std::vector<std::unique_ptr<Db>> readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<Db*> free_readers_;  // guarded by readers_mu_
};

}  // namespace

const char* ToString(DeliveryState s) {
  switch (s) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kRetrying:
      return "retrying";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<DeliveryState> DeliveryStateFromString(std::string_view s) {
  for (auto st : {DeliveryState::kPending, DeliveryState::kRetrying, DeliveryState::kDelivered,
                  DeliveryState::kFailed}) {
    if (s == ToString(st)) return st;
  }
  return std::nullopt;
}

Result<void> Store::WriteSync(Work work) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<void>> result;
  Write(std::move(work), [&](Result<void> r) {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& options) {
  auto writer = Db::Open(options.path, false);
  if (!writer) return std::move(writer).error();
  Db& w = **writer;
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                             "PRAGMA foreign_keys = ON", "PRAGMA wal_autocheckpoint = 4000",
                             "PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"}) {
    if (auto r = w.Exec(pragma); !r) return std::move(r).error();
  }
  if (auto r = MigrateSqlite(w); !r) return std::move(r).error();
  std::vector<std::unique_ptr<Db>> readers;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    auto r = Db::Open(options.path, true);
    if (!r) return std::move(r).error();
    readers.push_back(std::move(*r));
  }
  return std::unique_ptr<Store>(new SqliteStore(options, std::move(*writer), std::move(readers)));
}

}  // namespace store
