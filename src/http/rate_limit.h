// Per-key rate limits: token buckets in memory, one per key, on each node.
//
// A bucket holds up to `burst` tokens and gains `rate` tokens a second; each request takes one.
// A request that finds no token is refused (429) with the seconds until the next token, for
// Retry-After. Keys are hashed before they are kept, so no key is stored. Memory is bounded:
// past `max_keys` buckets, full ones (idle keys) are dropped, and if that is not enough the
// oldest half goes (a dropped bucket comes back full: forgetting only ever lets more through).
//
//   RateLimiter limiter({.rate = 20, .burst = 40});
//   if (int wait = limiter.Take(call_uuid, std::chrono::steady_clock::now())) → 429, Retry-After:
//   wait
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace http {

struct RateLimit {
  double rate = 0;   // tokens a second; 0 = no limit
  double burst = 0;  // bucket size; below 1 counts as 1
};

// Thread-safe.
class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit RateLimiter(RateLimit limit, size_t max_keys = 100000);

  // Takes a token for `key` at `now`: 0 when the request may go on, else the whole seconds
  // (at least 1) until a token will be there.
  int Take(std::string_view key, TimePoint now);

  bool enabled() const { return limit_.rate > 0; }
  size_t size();  // buckets kept, for tests

 private:
  struct Bucket {
    double tokens;
    TimePoint at;  // when `tokens` was last brought up to date
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<uint64_t, Bucket> buckets;
  };
  void Trim(Shard& shard, TimePoint now);  // requires shard.mu

  static constexpr size_t kShards = 16;
  const RateLimit limit_;
  const size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace http
