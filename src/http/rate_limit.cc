#include "http/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace http {

RateLimiter::RateLimiter(RateLimit limit, size_t max_keys)
    : limit_{limit.rate, std::max(1.0, limit.burst)},
      max_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

int RateLimiter::Take(std::string_view key, TimePoint now) {
  if (limit_.rate <= 0) return 0;
  const uint64_t h = std::hash<std::string_view>{}(key);
  Shard& shard = shards_[(h >> 32) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(h);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) Trim(shard, now);
    it = shard.buckets.emplace(h, Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  if (now > b.at) {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(limit_.burst, b.tokens + elapsed * limit_.rate);
    b.at = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / limit_.rate)));
}

size_t RateLimiter::size() {
  size_t n = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.buckets.size();
  }
  return n;
}

void RateLimiter::Trim(Shard& shard, TimePoint now) {
  // A bucket that would be full by now says nothing a new bucket would not.
  const auto refill = std::chrono::duration<double>(limit_.burst / limit_.rate);
  std::erase_if(shard.buckets, [&](const auto& kv) {
    return now - kv.second.at >= std::chrono::duration_cast<std::chrono::nanoseconds>(refill);
  });
  if (shard.buckets.size() < max_per_shard_) return;
  // Every bucket is busy: forget the half that was used longest ago.
  std::vector<TimePoint> times;
  times.reserve(shard.buckets.size());
  for (const auto& kv : shard.buckets) times.push_back(kv.second.at);
  auto mid = times.begin() + times.size() / 2;
  std::nth_element(times.begin(), mid, times.end());
  const TimePoint cut = *mid;
  std::erase_if(shard.buckets, [&](const auto& kv) { return kv.second.at <= cut; });
}

}  // namespace http
