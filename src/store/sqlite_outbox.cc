// SqliteTxn: the webhook outbox (deliveries with their attempts).
#include "store/claim.h"
#include "store/rows.h"
#include "store/sqlite_txn.h"

namespace store {

using core::Result;

namespace {

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
    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id WHERE d.account_id = ?1"
    " AND d.next_attempt_at <= ?2 AND (d.lease_until IS NULL OR d.lease_until <= ?2)"
    " ORDER BY d.next_attempt_at LIMIT ?3";
constexpr const char* kLeaseDelivery = "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?";
// Only while the row still holds the lease the sender knows: never one taken over since.
constexpr const char* kRenewLease =
    "UPDATE webhook_deliveries SET lease_until = ?1 WHERE id = ?2 AND lease_until = ?3";
constexpr const char* kSelectAttempts =
    "SELECT at, http_status, latency_ms, error, response_excerpt FROM webhook_attempts"
    " WHERE delivery_id = ? ORDER BY delivery_id, seq";
constexpr const char* kInsertAttempt =
    "INSERT INTO webhook_attempts (delivery_id, seq, at, http_status, latency_ms, error,"
    " response_excerpt) VALUES (?1, (SELECT attempt_count FROM webhook_deliveries WHERE id = ?1),"
    " ?2, ?3, ?4, ?5, ?6)";
// The verdict only while the row holds the attempt's lease (?6, or ?7 from a renewal).
constexpr const char* kUpdateAfterAttempt =
    "UPDATE webhook_deliveries SET"
    " state = CASE WHEN lease_until IN (?6, ?7) THEN ?1 ELSE state END,"
    " next_attempt_at = CASE WHEN lease_until IN (?6, ?7) THEN ?2 ELSE next_attempt_at END,"
    " lease_until = CASE WHEN lease_until IN (?6, ?7) THEN NULL ELSE lease_until END,"
    " attempt_count = attempt_count + 1, updated_at = ?3, url = ?4 WHERE id = ?5";
constexpr const char* kResendDelivery =
    "UPDATE webhook_deliveries SET state = CASE WHEN attempt_count = 0 THEN 0 ELSE 1 END,"
    " next_attempt_at = ?1, lease_until = NULL, updated_at = ?1 WHERE id = ?2 AND account_id = ?3";
constexpr const char* kReleaseLeases =
    "UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL;"
    "UPDATE postback_deadlines SET lease_until = NULL WHERE lease_until IS NOT NULL";
constexpr const char* kCountDeliveries =
    "SELECT state, count(*) FROM webhook_deliveries GROUP BY state";
constexpr const char* kNextDeliveryDue =
    "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM webhook_deliveries"
    " WHERE next_attempt_at IS NOT NULL";

}  // namespace

Result<std::vector<Delivery>> SqliteTxn::ListDeliveries(const DeliveryFilter& f) {
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

Result<std::optional<Delivery>> SqliteTxn::FindDelivery(Id account_id, Id id) {
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

Result<std::map<std::string, int64_t>> SqliteTxn::CountDeliveriesByState() {
  std::map<std::string, int64_t> out;
  Stmt s = db_.Prepare(kCountDeliveries);
  while (s.Step()) out[ToString(static_cast<DeliveryState>(s.Int(0)))] = s.Int(1);
  return Finish(s, std::move(out));
}

Result<std::optional<core::Millis>> SqliteTxn::NextDeliveryDue() {
  Stmt s = db_.Prepare(kNextDeliveryDue);
  std::optional<core::Millis> out;
  if (s.Step()) out = s.OptInt(0);
  return Finish(s, std::move(out));
}

Result<Claimed> SqliteTxn::ClaimDueDeliveries(core::Millis now, core::Millis lease_until,
                                              const ClaimRoom& room) {
  std::vector<Id> accounts;
  {
    Stmt s = db_.Prepare(kOutboxAccounts.c_str());
    while (s.Step()) accounts.push_back(s.Int(0));
    if (auto st = s.status(); !st) return std::move(st).error();
  }
  auto claimed = PickClaim(room, accounts, static_cast<int64_t>(accounts.size()),
                           [&](Id account, int64_t n) -> Result<std::vector<Delivery>> {
                             std::vector<Delivery> rows;
                             Stmt s = db_.Prepare(kDueDeliveries.c_str());
                             s.Bind(1, account).Bind(2, now).Bind(3, n);
                             while (s.Step()) rows.push_back(ReadDelivery(s));
                             return Finish(s, std::move(rows));
                           });
  if (!claimed) return claimed;
  for (const auto& d : claimed->deliveries) {
    Stmt s = db_.Prepare(kLeaseDelivery);
    s.Bind(1, lease_until).Bind(2, d.id);
    if (auto st = s.Run(); !st) return std::move(st).error();
  }
  return claimed;
}

Result<std::vector<Id>> SqliteTxn::RenewDeliveryLeases(const std::vector<HeldLease>& held,
                                                       core::Millis lease_until) {
  std::vector<Id> renewed;
  for (const HeldLease& h : held) {
    Stmt s = db_.Prepare(kRenewLease);
    s.Bind(1, lease_until).Bind(2, h.delivery_id).Bind(3, h.until);
    if (auto st = s.Run(); !st) return std::move(st).error();
    if (sqlite3_changes(db_.handle()) > 0) renewed.push_back(h.delivery_id);
  }
  return renewed;
}

Result<void> SqliteTxn::RecordAttempt(Id delivery_id, const AttemptResult& r) {
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
  s.Bind(4, r.url).Bind(5, delivery_id).Bind(6, r.lease_until).Bind(7, r.renewing_to);
  return s.Run();
}

Result<void> SqliteTxn::ResendDelivery(Id account_id, Id id, core::Millis now) {
  Stmt s = db_.Prepare(kResendDelivery);
  s.Bind(1, now).Bind(2, id).Bind(3, account_id);
  if (auto st = s.Run(); !st) return st;
  if (sqlite3_changes(db_.handle()) == 0) return core::NotFound("no such delivery");
  return {};
}

Result<void> SqliteTxn::ReleaseLeases() { return db_.Exec(kReleaseLeases); }

Result<std::string> SqliteTxn::KeepSetting(std::string_view name, std::string_view value) {
  {
    Stmt s = db_.Prepare("INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)");
    s.Bind(1, name).Bind(2, value);
    if (auto st = s.Run(); !st) return std::move(st).error();
  }
  Stmt s = db_.Prepare("SELECT value FROM settings WHERE name = ?");
  s.Bind(1, name);
  std::string stored = s.Step() ? s.Text(0) : std::string();
  return Finish(s, std::move(stored));
}

Result<void> SqliteTxn::LoadAttempts(Delivery& d) {
  Stmt s = db_.Prepare(kSelectAttempts);
  s.Bind(1, d.id);
  while (s.Step()) {
    std::optional<int> status;
    if (!s.IsNull(1)) status = static_cast<int>(s.Int(1));
    d.attempts.push_back(Attempt{s.Int(0), status, s.Int(2), s.Text(3), s.Text(4)});
  }
  return s.status();
}

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

}  // namespace store
