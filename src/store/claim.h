// How both stores pick a claim of due deliveries (Writer::ClaimDueDeliveries): each account's
// earliest due deliveries up to its room, then the earliest of those up to the claim's limit.
// Internal to store/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace store {

// Accounts with a delivery not yet finished, by a skip along the outbox's index by account and
// due time: one probe per account, however many deliveries each has waiting. Both stores' SQL.
constexpr const char* kOutboxAccounts =
    "WITH RECURSIVE a(id) AS ("
    "SELECT (SELECT min(account_id) FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL)"
    " UNION ALL SELECT (SELECT min(account_id) FROM webhook_deliveries"
    " WHERE next_attempt_at IS NOT NULL AND account_id > a.id) FROM a WHERE a.id IS NOT NULL)"
    " SELECT id FROM a WHERE id IS NOT NULL";

// `due(account, n)` reads up to n of the account's deliveries that are due and free, earliest
// first. Asking each for one more than its room tells whether it has more waiting.
template <typename Due>
core::Result<Claimed> PickClaim(const ClaimRoom& room, const std::vector<Id>& accounts, Due due) {
  Claimed out;
  if (room.limit <= 0) return out;
  for (Id account : accounts) {
    const int own = room.RoomOf(account);
    const int take = std::min(own, room.limit);
    core::Result<std::vector<Delivery>> rows = due(account, int64_t{take} + 1);
    if (!rows) return std::move(rows).error();
    if (static_cast<int>(rows->size()) > take) {
      if (own <= room.limit) out.waiting.push_back(account);
      rows->resize(take);
    }
    for (Delivery& d : *rows) out.deliveries.push_back(std::move(d));
  }
  std::sort(out.deliveries.begin(), out.deliveries.end(), [](const Delivery& a, const Delivery& b) {
    return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                  : a.id < b.id;
  });
  if (static_cast<int>(out.deliveries.size()) > room.limit) {
    out.deliveries.resize(std::max(room.limit, 0));
  }
  return out;
}

}  // namespace store
