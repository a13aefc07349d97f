// PgTxn: the webhook outbox (deliveries with their attempts).
#include <unordered_map>

#include "store/claim.h"
#include "store/pg_txn.h"
#include "store/rows.h"

namespace store {

using core::Result;

namespace {

const std::string kSelectDeliveries =
    std::string("SELECT ") + kDeliveryColumns +
    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id WHERE d.account_id = $1"
    " AND ($2::bigint IS NULL OR d.call_id = $2) AND ($3::integer IS NULL OR d.state = $3)"
    " AND ($4::bigint IS NULL OR d.id < $4) ORDER BY d.id DESC LIMIT $5";
const std::string kSelectDelivery = std::string("SELECT ") + kDeliveryColumns +
                                    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id"
                                    " WHERE d.account_id = $1 AND d.id = $2";
// Each account's due and free deliveries, earliest first, its page of them and one more
// (store/claim.h, ClaimPage), in one statement, with the number of accounts after the columns:
// $1 now, $2 the claim's limit, $3 per_account, $4 what may be lent, $5/$6 the places held per
// account, $7 kMinClaimPage. Rows another node is claiming right now are skipped, never waited
// for.
const std::string kDueDeliveries =
    std::string("WITH RECURSIVE ") + kOutboxAccountsCte +
    ", room AS (SELECT a.id, least($2::bigint, greatest($3::bigint - coalesce(h.n, 0), 0)"
    " + $4::bigint) AS most, count(*) OVER () AS accounts FROM a"
    " LEFT JOIN unnest($5::bigint[], $6::bigint[]) AS h(id, n) ON h.id = a.id"
    " WHERE a.id IS NOT NULL)"
    " SELECT x.*, room.accounts FROM room CROSS JOIN LATERAL (SELECT " +
    kDeliveryColumns +
    " FROM webhook_deliveries d JOIN calls c ON c.id = d.call_id WHERE d.account_id = room.id"
    " AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)"
    " ORDER BY d.next_attempt_at"
    " LIMIT least(room.most, greatest($7::bigint, ($2::bigint + room.accounts - 1) / "
    "room.accounts))"
    " + 1 FOR UPDATE OF d SKIP LOCKED) x";
constexpr const char* kLeaseDeliveries =
    "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = ANY($2::bigint[])";
// Only rows still under the lease the sender holds ($3, per id of $2): never one another node
// claimed after the lease ran out (its claim gave the row a lease of its own).
constexpr const char* kRenewLeases =
    "UPDATE webhook_deliveries w SET lease_until = $1"
    " FROM unnest($2::bigint[], $3::bigint[]) AS h(id, held)"
    " WHERE w.id = h.id AND w.lease_until = h.held RETURNING w.id";
constexpr const char* kSelectAttempts =
    "SELECT at, http_status, latency_ms, error, response_excerpt FROM webhook_attempts"
    " WHERE delivery_id = $1 ORDER BY seq";
constexpr const char* kInsertAttempt =
    "INSERT INTO webhook_attempts (delivery_id, seq, at, http_status, latency_ms, error,"
    " response_excerpt) VALUES ($1, (SELECT attempt_count FROM webhook_deliveries WHERE id = $1),"
    " $2, $3, $4, $5, $6)";
// The verdict only while the row holds the attempt's lease ($6, or $7 from a renewal).
constexpr const char* kUpdateAfterAttempt =
    "UPDATE webhook_deliveries SET"
    " state = CASE WHEN lease_until IN ($6, $7) THEN $1 ELSE state END,"
    " next_attempt_at = CASE WHEN lease_until IN ($6, $7) THEN $2 ELSE next_attempt_at END,"
    " lease_until = CASE WHEN lease_until IN ($6, $7) THEN NULL ELSE lease_until END,"
    " attempt_count = attempt_count + 1, updated_at = $3, url = $4 WHERE id = $5";
constexpr const char* kResendDelivery =
    "UPDATE webhook_deliveries SET state = CASE WHEN attempt_count = 0 THEN 0 ELSE 1 END,"
    " next_attempt_at = $1, lease_until = NULL, updated_at = $1 WHERE id = $2 AND account_id = $3";
constexpr const char* kReleaseLeases =
    "UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL;"
    "UPDATE postback_deadlines SET lease_until = NULL WHERE lease_until IS NOT NULL";
constexpr const char* kCountDeliveries =
    "SELECT state, count(*) FROM webhook_deliveries GROUP BY state";
constexpr const char* kNextDeliveryDue =
    "SELECT min(greatest(next_attempt_at, coalesce(lease_until, 0))) FROM webhook_deliveries"
    " WHERE next_attempt_at IS NOT NULL";

}  // namespace

Result<std::vector<Delivery>> PgTxn::ListDeliveries(const DeliveryFilter& f) {
  PgParams p;
  p.Add(f.account_id).Add(f.call_id);
  if (f.state)
    p.Add(static_cast<int64_t>(*f.state));
  else
    p.AddNull();
  p.Add(f.before_id).Add(int64_t{f.limit});
  auto r = db_.Run(kSelectDeliveries.c_str(), p);
  if (!r) return std::move(r).error();
  std::vector<Delivery> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(ReadDelivery(r->row(i)));
  for (auto& d : out) {
    if (auto a = LoadAttempts(d); !a) return std::move(a).error();
  }
  return out;
}

Result<std::optional<Delivery>> PgTxn::FindDelivery(Id account_id, Id id) {
  auto r = db_.Run(kSelectDelivery.c_str(), PgParams().Add(account_id).Add(id));
  if (!r) return std::move(r).error();
  std::optional<Delivery> d;
  if (r->rows() > 0) d = ReadDelivery(r->row(0));
  if (d) {
    if (auto a = LoadAttempts(*d); !a) return std::move(a).error();
  }
  return d;
}

Result<std::map<std::string, int64_t>> PgTxn::CountDeliveriesByState() {
  auto r = db_.Run(kCountDeliveries);
  if (!r) return std::move(r).error();
  std::map<std::string, int64_t> out;
  for (int i = 0; i < r->rows(); ++i) {
    out[ToString(static_cast<DeliveryState>(r->row(i).Int(0)))] = r->row(i).Int(1);
  }
  return out;
}

Result<std::optional<core::Millis>> PgTxn::NextDeliveryDue() {
  auto r = db_.Run(kNextDeliveryDue);
  if (!r) return std::move(r).error();
  return r->rows() > 0 ? r->row(0).OptInt(0) : std::nullopt;
}

Result<Claimed> PgTxn::ClaimDueDeliveries(core::Millis now, core::Millis lease_until,
                                          const ClaimRoom& room) {
  if (room.limit <= 0) return Claimed{};
  // One round trip for every account, rather than one each.
  PgArray held_ids, held;
  for (const auto& [account, n] : room.held) {
    held_ids.Add(account);
    held.Add(int64_t{n});
  }
  auto r = db_.Run(kDueDeliveries.c_str(), PgParams()
                                               .Add(now)
                                               .Add(int64_t{room.limit})
                                               .Add(int64_t{room.per_account})
                                               .Add(int64_t{Lendable(room)})
                                               .Add(held_ids.text())
                                               .Add(held.text())
                                               .Add(int64_t{kMinClaimPage}));
  if (!r) return std::move(r).error();
  std::vector<Id> accounts;
  std::unordered_map<Id, std::vector<Delivery>> due;
  int64_t accounts_total = 0;
  for (int i = 0; i < r->rows(); ++i) {
    accounts_total = r->row(i).Int(kDeliveryColumnCount);
    Delivery d = ReadDelivery(r->row(i));
    auto [it, first] = due.try_emplace(d.account_id);
    if (first) accounts.push_back(d.account_id);
    it->second.push_back(std::move(d));
  }
  auto claimed = PickClaim(room, accounts, accounts_total,
                           [&](Id account, int64_t n) -> Result<std::vector<Delivery>> {
                             std::vector<Delivery> rows = std::move(due[account]);
                             if (static_cast<int64_t>(rows.size()) > n) rows.resize(n);
                             return rows;
                           });
  if (!claimed || claimed->deliveries.empty()) return claimed;
  PgArray ids;
  for (const Delivery& d : claimed->deliveries) ids.Add(d.id);
  if (auto l = db_.Run(kLeaseDeliveries, PgParams().Add(lease_until).Add(ids.text())); !l) {
    return std::move(l).error();
  }
  return claimed;
}

Result<std::vector<Id>> PgTxn::RenewDeliveryLeases(const std::vector<HeldLease>& held,
                                                   core::Millis lease_until) {
  if (held.empty()) return std::vector<Id>{};
  PgArray ids, until;
  for (const HeldLease& h : held) {
    ids.Add(h.delivery_id);
    until.Add(h.until);
  }
  auto r = db_.Run(kRenewLeases, PgParams().Add(lease_until).Add(ids.text()).Add(until.text()));
  if (!r) return std::move(r).error();
  std::vector<Id> renewed;
  for (int i = 0; i < r->rows(); ++i) renewed.push_back(r->row(i).Int(0));
  return renewed;
}

Result<void> PgTxn::RecordAttempt(Id delivery_id, const AttemptResult& r) {
  PgParams a;
  a.Add(delivery_id).Add(r.attempt.at);
  if (r.attempt.http_status)
    a.Add(int64_t{*r.attempt.http_status});
  else
    a.AddNull();
  a.Add(r.attempt.latency_ms).Add(r.attempt.error).Add(r.attempt.response_excerpt);
  if (auto i = db_.Run(kInsertAttempt, a); !i) return std::move(i).error();
  PgParams u;
  u.Add(static_cast<int64_t>(r.state)).Add(r.next_attempt_at).Add(r.attempt.at);
  u.Add(r.url).Add(delivery_id).Add(r.lease_until).Add(r.renewing_to);
  if (auto x = db_.Run(kUpdateAfterAttempt, u); !x) return std::move(x).error();
  return {};
}

Result<void> PgTxn::ResendDelivery(Id account_id, Id id, core::Millis now) {
  auto r = db_.Run(kResendDelivery, PgParams().Add(now).Add(id).Add(account_id));
  if (!r) return std::move(r).error();
  if (r->changed() == 0) return core::NotFound("no such delivery");
  return {};
}

Result<void> PgTxn::ReleaseLeases() { return db_.Exec(kReleaseLeases); }

Result<std::string> PgTxn::KeepSetting(std::string_view name, std::string_view value) {
  if (auto r = db_.Run("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       PgParams().Add(name).Add(value));
      !r) {
    return std::move(r).error();
  }
  auto r = db_.Run("SELECT value FROM settings WHERE name = $1", PgParams().Add(name));
  if (!r) return std::move(r).error();
  if (r->rows() == 0) return core::Internal("settings: " + std::string(name) + " is missing");
  return r->row(0).Text(0);
}

Result<void> PgTxn::LoadAttempts(Delivery& d) {
  auto r = db_.Run(kSelectAttempts, PgParams().Add(d.id));
  if (!r) return std::move(r).error();
  for (int i = 0; i < r->rows(); ++i) {
    PgRow s = r->row(i);
    std::optional<int> status;
    if (!s.IsNull(1)) status = static_cast<int>(s.Int(1));
    d.attempts.push_back(Attempt{s.Int(0), status, s.Int(2), s.Text(3), s.Text(4)});
  }
  return {};
}

}  // namespace store
