// How both stores pick a claim of due deliveries (Writer::ClaimDueDeliveries): each account's
// earliest due deliveries up to its room, then the earliest of those up to the claim's limit.
// Internal to store/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace store {

// Accounts with a delivery not yet finished, by a skip along the outbox's index by account and
// due time: one probe per account, however many deliveries each has waiting. Both stores' SQL:
// the common table `a(id)` (its last row NULL), and a query of it.
inline constexpr const char* kOutboxAccountsCte =
    "a(id) AS ("
    "SELECT (SELECT min(account_id) FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL)"
    " UNION ALL SELECT (SELECT min(account_id) FROM webhook_deliveries"
    " WHERE next_attempt_at IS NOT NULL AND account_id > a.id) FROM a WHERE a.id IS NOT NULL)";
inline const std::string kOutboxAccounts =
    std::string("WITH RECURSIVE ") + kOutboxAccountsCte + " SELECT id FROM a WHERE id IS NOT NULL";

// The places a claim may lend past the accounts' rooms: those above `keep_free`.
inline int Lendable(const ClaimRoom& room) {
  return room.limit > room.keep_free ? room.limit - room.keep_free : 0;
}

// The fewest deliveries a claim reads of each account with some due, whatever their number.
inline constexpr int kMinClaimPage = 16;

// How many of an account's due deliveries a claim reads, of `accounts` accounts with
// deliveries, given its room (RoomOf): as many as it could take, its room and what may be lent,
// but no more than an even part of the claim's limit (at least kMinClaimPage), so that a claim
// with many accounts behind reads about its limit, not every account's backlog.
inline int ClaimPage(const ClaimRoom& room, int own_room, int64_t accounts) {
  const int64_t most = std::min<int64_t>(room.limit, int64_t{own_room} + Lendable(room));
  const int64_t n = std::max<int64_t>(accounts, 1);
  const int64_t even = (room.limit + n - 1) / n;
  return static_cast<int>(std::min<int64_t>(most, std::max<int64_t>(kMinClaimPage, even)));
}

// `due(account, n)` reads up to n of the account's deliveries that are due and free, earliest
// first; `accounts_total` is how many accounts have deliveries (ClaimPage). Each account is
// asked for its page and one more, which tells whether it has more waiting; then the earliest
// are taken while there is room. An account that could have taken more than its page has
// `more` set: the sender claims again at once, as after a full claim.
template <typename Due>
core::Result<Claimed> PickClaim(const ClaimRoom& room, const std::vector<Id>& accounts,
                                int64_t accounts_total, Due due) {
  Claimed out;
  if (room.limit <= 0) return out;
  struct Candidate {
    Delivery delivery;
    bool beyond;  // the one more: it tells, and is not taken
  };
  std::vector<Candidate> candidates;
  for (Id account : accounts) {
    const int page = ClaimPage(room, room.RoomOf(account), accounts_total);
    core::Result<std::vector<Delivery>> rows = due(account, int64_t{page} + 1);
    if (!rows) return std::move(rows).error();
    for (size_t i = 0; i < rows->size(); ++i) {
      candidates.push_back(Candidate{std::move((*rows)[i]), static_cast<int>(i) >= page});
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    const Delivery& x = a.delivery;
    const Delivery& y = b.delivery;
    return x.next_attempt_at != y.next_attempt_at ? x.next_attempt_at < y.next_attempt_at
                                                  : x.id < y.id;
  });
  int free = room.limit;
  std::unordered_map<Id, int> taken;
  for (Candidate& c : candidates) {
    if (free == 0) break;
    const Id account = c.delivery.account_id;
    int& n = taken[account];
    const bool own = n < room.RoomOf(account);
    const bool lent = !own && free - 1 >= room.keep_free;
    if (!own && !lent) {
      // Its room is taken, and none may be lent: it waits for places of its own to free.
      if (std::find(out.waiting.begin(), out.waiting.end(), account) == out.waiting.end()) {
        out.waiting.push_back(account);
      }
    } else if (c.beyond) {
      out.more = true;  // it could take more than this claim read of it
    } else {
      out.deliveries.push_back(std::move(c.delivery));
      ++n;
      --free;
    }
  }
  return out;
}

}  // namespace store
