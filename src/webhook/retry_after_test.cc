#include "webhook/retry_after.h"

#include <gtest/gtest.h>

namespace webhook {
namespace {

TEST(RetryAfterTest, Table) {
  // 1994-11-06T08:49:37Z, the date of RFC 9110's examples.
  constexpr core::Millis k1994 = 784111777000;
  const core::Millis now = k1994 - 60'000;  // one minute before
  struct Case {
    std::string_view value;
    std::optional<int64_t> want;
  };
  const Case kCases[] = {
      {"120", 120},
      {"0", 0},
      {" 5\t", 5},
      {"007", 7},
      {"99999999999999999999999", 1'000'000'000},
      {"Sun, 06 Nov 1994 08:49:37 GMT", 60},
      {"Sunday, 06-Nov-94 08:49:37 GMT", 60},
      {"Sun Nov  6 08:49:37 1994", 60},
      {"Sun Nov 16 08:49:37 1994", 60 + 10 * 86400},
      {"Sun, 06 Nov 1994 08:50:37 GMT", 120},
      {"Sun, 06 Nov 1994 08:48:37 GMT", 0},  // in the past
      {"Sat, 01 Jan 1994 00:00:00 GMT", 0},
      // Not accepted.
      {"", std::nullopt},
      {"   ", std::nullopt},
      {"-5", std::nullopt},
      {"+5", std::nullopt},
      {"1.5", std::nullopt},
      {"5s", std::nullopt},
      {"soon", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 +0000", std::nullopt},
      {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 31 Feb 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 25:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 GMT junk", std::nullopt},
      {"1994-11-06T08:49:37Z", std::nullopt},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ParseRetryAfter(c.value, now), c.want) << "'" << c.value << "'";
  }
}

TEST(RetryAfterTest, RoundsUpToWholeSeconds) {
  constexpr core::Millis k1994 = 784111777000;
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", k1994 - 1), 1);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", k1994), 0);
}

TEST(RetryAfterTest, TwoDigitYears) {
  // RFC 850 years: more than 50 years ahead means the century before.
  const core::Millis now_2026 = 1767225600000;  // 2026-01-01T00:00:00Z
  EXPECT_EQ(ParseRetryAfter("Friday, 01-Jan-27 00:00:00 GMT", now_2026), 365 * 86400);
  EXPECT_EQ(ParseRetryAfter("Tuesday, 01-Jan-80 00:00:00 GMT", now_2026), 0);  // 1980
  EXPECT_GT(*ParseRetryAfter("Sunday, 01-Jan-70 00:00:00 GMT", now_2026), 0);  // 2070
}

}  // namespace
}  // namespace webhook
