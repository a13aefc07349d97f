// What the SQL stores share: the column lists of calls and deliveries, and how one row of
// them becomes a value. `Row` is a result row of either store (sqlite_db.h's Stmt, pg_db.h's
// PgRow): Int(col), OptInt(col), Text(col), IsNull(col). Internal to store/.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "engine/call.h"
#include "store/store.h"

namespace store {

constexpr const char* kCallColumns =
    "id, uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number, "
    "caller_number, repeat, status, started_at, routed_at, answered_at, ended_at, "
    "duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents, "
    "conv_late, deadline_at, decided_at, early_postback, edge_call_id";

// Deliveries `d` joined with their calls `c`.
constexpr const char* kDeliveryColumns =
    "d.id, d.account_id, d.call_id, c.uuid, d.group_id, d.request_index, d.trigger, "
    "d.webhook_id, d.state, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at, d.url";

// InsertPrecallTags, before it writes: kUnprocessable when the caller would have more than
// kMaxPrecallTags waiting with the request's tags not stored yet.
inline core::Result<void> CheckPrecallRoom(int64_t stored) {
  if (stored <= kMaxPrecallTags) return {};
  return core::MakeError(core::ErrorCode::kUnprocessable,
                         "at most " + std::to_string(kMaxPrecallTags) +
                             " tags may wait for a caller's next call; with these there would be " +
                             std::to_string(stored));
}

// The postbacks a call keeps while its group is not known (a blob column): each one's
// parameters as length-prefixed strings, the postbacks parted by a length no string has
// (kNextPostback). A blob of one postback is what the column held before calls kept several.
constexpr uint32_t kNextPostback = 0xffffffff;

inline std::string EncodeEarlyPostbacks(const std::vector<engine::Params>& postbacks) {
  std::string out;
  auto put_length = [&](uint32_t n) { out.append(reinterpret_cast<const char*>(&n), 4); };
  for (size_t p = 0; p < postbacks.size(); ++p) {
    if (p > 0) put_length(kNextPostback);
    for (const auto& [k, v] : postbacks[p]) {
      put_length(static_cast<uint32_t>(k.size()));
      out.append(k);
      put_length(static_cast<uint32_t>(v.size()));
      out.append(v);
    }
  }
  return out;
}

inline std::vector<engine::Params> DecodeEarlyPostbacks(const std::string& blob) {
  std::vector<engine::Params> out(1);
  size_t i = 0;
  // The next string into `s`; false at the end of the blob (or of a cut one).
  auto get = [&](std::string& s) {
    uint32_t n;
    while (true) {
      if (i + 4 > blob.size()) return false;
      std::memcpy(&n, blob.data() + i, 4);
      i += 4;
      if (n != kNextPostback) break;
      out.emplace_back();
    }
    if (i + n > blob.size()) return false;
    s.assign(blob, i, n);
    i += n;
    return true;
  };
  std::string k, v;
  while (get(k) && get(v)) out.back().emplace_back(k, v);
  std::erase_if(out, [](const engine::Params& p) { return p.empty(); });
  return out;
}

inline std::optional<int64_t> Cents(const std::optional<core::Money>& m) {
  return m ? std::optional<int64_t>(m->cents()) : std::nullopt;
}

template <typename Row>
std::optional<core::Money> OptMoney(const Row& s, int col) {
  auto v = s.OptInt(col);
  return v ? std::optional<core::Money>(core::Money::FromCents(*v)) : std::nullopt;
}

// A row of kCallColumns; `early_postbacks` is the blob of column 24 when not null.
template <typename Row>
engine::Call ReadCall(const Row& s, std::optional<std::string> early_postbacks) {
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
  if (early_postbacks) c.early_postbacks = DecodeEarlyPostbacks(*early_postbacks);
  c.edge_call_id = s.Text(25);
  return c;
}

// How many columns kDeliveryColumns has: a query may add its own after them.
constexpr int kDeliveryColumnCount = 14;

// A row of kDeliveryColumns.
template <typename Row>
Delivery ReadDelivery(const Row& s) {
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

}  // namespace store
