#include "webhook/tokens.h"

#include <gtest/gtest.h>

namespace webhook {
namespace {

engine::Call SampleCall() {
  engine::Call c;
  c.uuid = "0b9c7c1e-5a4f-4e4e-9f0a-2d1c3b4a5e6f";
  c.account_id = 1;
  c.campaign_id = 7;
  c.publisher_id = 3;
  c.buyer_id = 42;
  c.number = "+18005550100";
  c.caller_number = "+15551230000";
  c.started_at = 1764340796123;  // 2025-11-28T14:39:56.123Z
  c.answered_at = 1764340800000;
  c.duration_seconds = 95;
  c.conversion.state = engine::ConversionState::kConverted;
  c.conversion.revenue = core::Money::FromCents(1250);
  c.conversion.payout = core::Money::FromCents(800);
  c.tags = {{"sub_id", "a"}, {"zip", "10001"}, {"sub_id", "b"}, {"call_uuid", "shadowed"}};
  return c;
}

TEST(TokenValueTest, Table) {
  const engine::Call call = SampleCall();
  engine::Call bare;
  bare.caller_number = "+442071234567";
  const config::Snapshot snap;
  struct Case {
    const engine::Call* call;
    const char* token;
    std::optional<std::string> want;
  };
  const Case kCases[] = {
      {&call, "call_uuid", "0b9c7c1e-5a4f-4e4e-9f0a-2d1c3b4a5e6f"},
      {&call, "call_key", "KEY"},
      {&call, "caller_number", "+15551230000"},
      {&call, "caller_id", "+15551230000"},
      {&call, "nanp_caller_number", "5551230000"},
      {&bare, "nanp_caller_number", "+442071234567"},
      {&call, "campaign_id", "7"},
      {&call, "publisher_id", "3"},
      {&bare, "publisher_id", ""},
      {&call, "buyer_id", "42"},
      {&call, "system_buyer_id", "42"},
      {&bare, "buyer_id", ""},
      {&call, "dialed_number", "+18005550100"},
      {&call, "call_duration", "95"},
      {&bare, "call_duration", "0"},
      {&call, "revenue", "12.50"},
      {&call, "payout", "8.00"},
      {&bare, "revenue", ""},
      {&bare, "payout", ""},
      {&call, "converted", "true"},
      {&bare, "converted", "false"},
      {&call, "started_at", "2025-11-28T14:39:56.123Z"},
      {&call, "answered_at", "2025-11-28T14:40:00.000Z"},
      {&call, "ended_at", ""},
      {&call, "conversion_state", "converted"},
      {&bare, "conversion_state", "pending"},
      // Tags: every value in order, joined with ","; built-in tokens win over tags.
      {&call, "sub_id", "a,b"},
      {&call, "zip", "10001"},
      {&call, "unknown", std::nullopt},
      {&call, "Call_UUID", std::nullopt},  // case-sensitive
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(TokenValue(*c.call, c.token, "KEY", snap), c.want) << c.token;
  }
}

}  // namespace
}  // namespace webhook
