#include "http/rate_limit.h"

#include <gtest/gtest.h>

#include <string>

namespace http {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, BurstThenRateThenRetryAfter) {
  RateLimiter limiter({.rate = 2, .burst = 4});
  const auto t0 = std::chrono::steady_clock::time_point() + 1000s;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Take("k", t0), 0) << i;
  EXPECT_EQ(limiter.Take("k", t0), 1) << "empty: one token in half a second, said as 1 s";
  EXPECT_EQ(limiter.Take("other", t0), 0) << "keys have their own buckets";
  EXPECT_EQ(limiter.Take("k", t0 + 499ms), 1);
  EXPECT_EQ(limiter.Take("k", t0 + 500ms), 0) << "2 tokens a second";
  EXPECT_NE(limiter.Take("k", t0 + 500ms), 0);
  // A long pause refills to the burst, never beyond.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Take("k", t0 + 1h), 0) << i;
  EXPECT_NE(limiter.Take("k", t0 + 1h), 0);
}

TEST(RateLimiter, SlowRateSaysHowLongToWait) {
  RateLimiter limiter({.rate = 0.1, .burst = 1});
  const auto t0 = std::chrono::steady_clock::time_point() + 1000s;
  EXPECT_EQ(limiter.Take("k", t0), 0);
  EXPECT_EQ(limiter.Take("k", t0), 10);
  EXPECT_EQ(limiter.Take("k", t0 + 5s), 5);
}

TEST(RateLimiter, ZeroRateIsNoLimit) {
  RateLimiter limiter({.rate = 0, .burst = 0});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Take("k", {}), 0);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiter, MemoryIsBounded) {
  RateLimiter limiter({.rate = 1, .burst = 5}, /*max_keys=*/160);
  const auto t0 = std::chrono::steady_clock::time_point() + 1000s;
  for (int i = 0; i < 10000; ++i) limiter.Take("key-" + std::to_string(i), t0);
  EXPECT_LE(limiter.size(), 160u + 16u);
  // A busy key keeps its (empty) bucket while idle keys come and go.
  for (int i = 0; i < 5; ++i) limiter.Take("busy", t0);
  EXPECT_NE(limiter.Take("busy", t0), 0);
  for (int i = 0; i < 100; ++i) limiter.Take("idle-" + std::to_string(i), t0 + 10s);
  EXPECT_LE(limiter.size(), 160u + 16u);
}

}  // namespace
}  // namespace http
