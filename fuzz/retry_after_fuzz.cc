// Fuzzes the Retry-After header parser (webhook/retry_after.h): the one parser that reads what
// a webhook receiver, rather than a client, sends.
// Properties: no crash, no overflow (UBSan); a result is at least 0 and, for a delay in
// seconds, at most 1,000,000,000 (a date is at most year 9999, so the caller's "* 1000" cannot
// overflow); surrounding spaces and tabs do not change it; a result read as delay-seconds
// gives itself back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "webhook/retry_after.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  static constexpr core::Millis kNows[] = {0, 1'795'876'796'123, 253'402'300'799'999};
  for (core::Millis now : kNows) {
    const std::optional<int64_t> seconds = webhook::ParseRetryAfter(text, now);
    if (!seconds) continue;
    constexpr int64_t kYear10000 = 253'402'300'800;  // seconds since 1970
    FUZZ_CHECK(*seconds >= 0 && *seconds <= kYear10000);
    FUZZ_CHECK(webhook::ParseRetryAfter(" \t" + std::string(text) + "\t ", now) == seconds);
    const int64_t delay = std::min<int64_t>(*seconds, 1'000'000'000);
    FUZZ_CHECK(webhook::ParseRetryAfter(std::to_string(*seconds), now) == delay);
  }
  return 0;
}
