#include "webhook/retry.h"

#include <gtest/gtest.h>

#include <limits>

namespace webhook {
namespace {

using store::DeliveryState;
constexpr core::Millis kNow = 1'700'000'000'000;
constexpr uint64_t kMidRandom = 0;  // see Jitter: offset 0 → delay - 20 %

TEST(RetryTest, DecideTable) {
  struct Case {
    const char* name;
    int attempts_made;
    std::optional<int> status;
    std::optional<int64_t> retry_after;
    DeliveryState want_state;
    std::optional<core::Millis> want_delay;  // next - now, when exact (no jitter)
  };
  const Case kCases[] = {
      {"200", 1, 200, std::nullopt, DeliveryState::kDelivered, std::nullopt},
      {"204", 3, 204, std::nullopt, DeliveryState::kDelivered, std::nullopt},
      {"299", 1, 299, std::nullopt, DeliveryState::kDelivered, std::nullopt},
      {"2xx on the last attempt", 10, 200, std::nullopt, DeliveryState::kDelivered, std::nullopt},
      {"410 stops", 1, 410, std::nullopt, DeliveryState::kFailed, std::nullopt},
      {"301 is not followed", 1, 301, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"302", 1, 302, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"304", 1, 304, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"400", 1, 400, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"404", 1, 404, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"500", 1, 500, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"timeout/connection error", 1, std::nullopt, std::nullopt, DeliveryState::kRetrying,
       std::nullopt},
      {"429 + Retry-After", 1, 429, 120, DeliveryState::kRetrying, 120'000},
      {"503 + Retry-After", 1, 503, 7, DeliveryState::kRetrying, 7'000},
      // Never sooner than the schedule's earliest retry (its delay less 20 %).
      {"Retry-After 0 → the schedule's floor", 1, 503, 0, DeliveryState::kRetrying, 4'000},
      {"Retry-After shorter than the schedule", 4, 503, 7, DeliveryState::kRetrying,
       2 * 3'600'000 * 4 / 5},
      {"Retry-After above 24 h", 1, 429, 1'000'000'000, DeliveryState::kRetrying, 86'400'000},
      {"Retry-After exactly 24 h", 1, 429, 86'400, DeliveryState::kRetrying, 86'400'000},
      {"Retry-After ignored on 500", 1, 500, 120, DeliveryState::kRetrying, std::nullopt},
      {"429 without Retry-After", 1, 429, std::nullopt, DeliveryState::kRetrying, std::nullopt},
      {"exhausted", 10, 500, std::nullopt, DeliveryState::kFailed, std::nullopt},
      {"exhausted with Retry-After", 10, 503, 5, DeliveryState::kFailed, std::nullopt},
      {"exhausted, transport error", 10, std::nullopt, std::nullopt, DeliveryState::kFailed,
       std::nullopt},
      {"beyond (operator resend)", 11, 500, std::nullopt, DeliveryState::kFailed, std::nullopt},
  };
  for (const Case& c : kCases) {
    const Verdict v = Decide(c.attempts_made, c.status, c.retry_after, kNow, kMidRandom);
    EXPECT_EQ(v.state, c.want_state) << c.name;
    EXPECT_EQ(v.next_attempt_at.has_value(), c.want_state == DeliveryState::kRetrying) << c.name;
    if (c.want_delay && v.next_attempt_at) {
      EXPECT_EQ(*v.next_attempt_at - kNow, *c.want_delay) << c.name;
    }
  }
}

TEST(RetryTest, ScheduleWithJitter) {
  const core::Millis kWant[] = {5'000,      300'000,    1'800'000,  7'200'000, 18'000'000,
                                36'000'000, 50'400'000, 72'000'000, 86'400'000};
  const uint64_t kRandoms[] = {0, 1, 12345, 0x9E3779B97F4A7C15ull,
                               std::numeric_limits<uint64_t>::max()};
  core::Millis total = 0;
  for (int attempt = 1; attempt < kMaxAttempts; ++attempt) {
    const core::Millis base = kWant[attempt - 1];
    total += base;
    for (uint64_t random : kRandoms) {
      const Verdict v = Decide(attempt, 500, std::nullopt, kNow, random);
      ASSERT_EQ(v.state, DeliveryState::kRetrying) << attempt;
      const core::Millis delay = *v.next_attempt_at - kNow;
      EXPECT_GE(delay, base - base / 5) << attempt << " random " << random;
      EXPECT_LE(delay, base + base / 5) << attempt << " random " << random;
    }
  }
  // About three days in all.
  EXPECT_GT(total, 3 * 86'400'000 - 4 * 3'600'000);
  EXPECT_LT(total, 3 * 86'400'000 + 8 * 3'600'000);
  // The tenth attempt is the last.
  EXPECT_EQ(Decide(kMaxAttempts, 500, std::nullopt, kNow, 0).state, DeliveryState::kFailed);
}

TEST(RetryTest, JitterSpreadsAcrossTheRange) {
  constexpr core::Millis kDelay = 100'000;
  core::Millis lo = kDelay, hi = kDelay;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 10000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    const core::Millis j = Jitter(kDelay, x);
    ASSERT_GE(j, 80'000);
    ASSERT_LE(j, 120'000);
    lo = std::min(lo, j);
    hi = std::max(hi, j);
  }
  EXPECT_LT(lo, 81'000);
  EXPECT_GT(hi, 119'000);
  EXPECT_EQ(Jitter(kDelay, 0), 80'000);
  EXPECT_EQ(Jitter(kDelay, 40'000), 120'000);
  EXPECT_EQ(Jitter(0, 12345), 0);
}

TEST(RetryTest, Deterministic) {
  EXPECT_EQ(Decide(3, std::nullopt, std::nullopt, kNow, 777).next_attempt_at,
            Decide(3, std::nullopt, std::nullopt, kNow, 777).next_attempt_at);
}

TEST(RetryTest, OutcomeName) {
  EXPECT_STREQ(OutcomeName(DeliveryState::kDelivered), "delivered");
  EXPECT_STREQ(OutcomeName(DeliveryState::kRetrying), "retry");
  EXPECT_STREQ(OutcomeName(DeliveryState::kFailed), "failed");
}

}  // namespace
}  // namespace webhook
