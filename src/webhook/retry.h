// The verdict on one delivery attempt (R4): delivered, retried later, or failed for good.
// Success is 2xx only; 410 Gone stops; 429/503 with Retry-After wait as asked (within bounds);
// everything else (other statuses, 3xx since redirects are not followed, timeouts, connection
// errors) retries on a fixed schedule with jitter, up to kMaxAttempts attempts (≈3 days).
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.h"
#include "store/store.h"

namespace webhook {

// Attempts in all: the first at once, then after each failure the delay of kRetryDelays.
inline constexpr int kMaxAttempts = 10;
// The delay after failed attempt n (kRetryDelays[n - 1]), before jitter: 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
inline constexpr core::Millis kRetryDelays[kMaxAttempts - 1] = {
    5'000,          5 * 60'000,     30 * 60'000,    2 * 3'600'000, 5 * 3'600'000,
    10 * 3'600'000, 14 * 3'600'000, 20 * 3'600'000, 24 * 3'600'000};
// Bounds on a honoured Retry-After.
inline constexpr int64_t kMinRetryAfterSeconds = 1;
inline constexpr int64_t kMaxRetryAfterSeconds = 24 * 3600;

struct Verdict {
  store::DeliveryState state = store::DeliveryState::kRetrying;
  std::optional<core::Millis> next_attempt_at;  // set when state is kRetrying
};

// `delay` moved by up to ±20 %, uniformly by `random` (any 64-bit value). Pure.
core::Millis Jitter(core::Millis delay, uint64_t random);

// The verdict after attempt number `attempts_made` (1 for the first, counting this one) ended
// with `http_status` (nullopt when no response arrived: timeout, connection, DNS, TLS error, a
// refused address) and, for 429 and 503, the response's Retry-After in seconds from now
// (ParseRetryAfter; nullopt when absent or unreadable):
//   2xx → kDelivered; 410 → kFailed; attempts_made >= kMaxAttempts → kFailed;
//   429/503 with Retry-After → kRetrying at now + Retry-After, no jitter, at least the
//     schedule's earliest retry (its delay less 20 %) and at most 24 h;
//   anything else → kRetrying at now + Jitter(kRetryDelays[attempts_made - 1], random).
// Pure: the same arguments always give the same verdict.
Verdict Decide(int attempts_made, std::optional<int> http_status,
               std::optional<int64_t> retry_after_seconds, core::Millis now, uint64_t random);

// "delivered", "retry" or "failed" (the metrics' outcome label) for a verdict's state.
const char* OutcomeName(store::DeliveryState state);

}  // namespace webhook
