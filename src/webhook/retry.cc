#include "webhook/retry.h"

#include <algorithm>

namespace webhook {

core::Millis Jitter(core::Millis delay, uint64_t random) {
  if (delay <= 0) return delay;
  const core::Millis span = delay * 2 / 5;  // 40 %: from -20 % to +20 %
  const auto offset = static_cast<core::Millis>(random % static_cast<uint64_t>(span + 1));
  return delay - span / 2 + offset;
}

Verdict Decide(int attempts_made, std::optional<int> http_status,
               std::optional<int64_t> retry_after_seconds, core::Millis now, uint64_t random) {
  using store::DeliveryState;
  if (http_status && *http_status >= 200 && *http_status <= 299) {
    return {DeliveryState::kDelivered, std::nullopt};
  }
  if (http_status == 410 || attempts_made >= kMaxAttempts) {
    return {DeliveryState::kFailed, std::nullopt};
  }
  const int index = std::max(attempts_made, 1) - 1;
  if ((http_status == 429 || http_status == 503) && retry_after_seconds) {
    // Retry-After may lengthen the wait (up to a day) but never shorten it below the
    // schedule's own earliest retry, so a receiver cannot burn the attempts in seconds.
    const int64_t floor_ms = std::max(kMinRetryAfterSeconds * 1000, kRetryDelays[index] * 4 / 5);
    const int64_t ms =
        std::clamp(*retry_after_seconds * 1000, floor_ms, kMaxRetryAfterSeconds * 1000);
    return {DeliveryState::kRetrying, now + ms};
  }
  return {DeliveryState::kRetrying, now + Jitter(kRetryDelays[index], random)};
}

const char* OutcomeName(store::DeliveryState state) {
  switch (state) {
    case store::DeliveryState::kDelivered:
      return "delivered";
    case store::DeliveryState::kFailed:
      return "failed";
    default:
      return "retry";
  }
}

}  // namespace webhook
