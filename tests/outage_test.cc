// Long outages (docs/reliability.md): a webhook receiver down for three days while callpost
// itself is down for hours in the middle, and postback deadlines that pass while the server is
// down for three days. The fake clock makes days pass at once.
#include <gtest/gtest.h>

#include "core/time.h"
#include "harness.h"
#include "receiver.h"

namespace testing_harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr core::Millis kHour = 3'600'000;

TEST(Outage, AReceiverDownForThreeDaysGetsItsWebhookWithOneId) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r([](const Received&, int index) {
    http::Response res;
    res.content_type = "text/plain";
    res.status = index < 9 ? 503 : 200;  // only the tenth attempt (about 3 days on) gets through
    res.body = index < 9 ? "down" : "ok";
    return res;
  });
  s.Create("/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups",
           json::object{{"name", "started"},
                        {"trigger", "started"},
                        {"requests", json::array{json::object{{"url", r.url("/hook")}}}}});
  const std::string uuid = Str(StartCall(s).at("uuid"));
  const core::Millis began = s.clock().Now();
  auto delivery = [&] {
    return s.Api("GET", "/api/v1/calls/" + uuid).json().at("webhooks").as_array().at(0);
  };
  std::string state;
  for (int step = 0; step < 20; ++step) {
    ASSERT_TRUE(s.app().WaitForWebhooks(10s));
    json::value d = delivery();
    state = Str(d.at("state"));
    if (state != "retrying" && state != "pending") break;
    auto next = core::ParseRfc3339(Str(d.at("next_attempt_at")));
    ASSERT_TRUE(next.has_value());
    if (step == 4) {
      // callpost is down for six hours in the middle of the outage.
      s.Stop();
      s.clock().Advance(6 * kHour);
      s.Restart();
    }
    if (*next > s.clock().Now()) s.clock().Advance(*next - s.clock().Now());
    ASSERT_TRUE(r.WaitFor(static_cast<size_t>(step) + 2, 20s)) << "attempt " << step + 2;
  }
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  json::value d = delivery();
  EXPECT_EQ(d.at("state"), "delivered");
  EXPECT_EQ(d.at("attempts").as_array().size(), 10u);
  auto got = r.requests();
  ASSERT_EQ(got.size(), 10u);
  for (const auto& q : got) EXPECT_EQ(q.Header("webhook-id"), got[0].Header("webhook-id"));
  const double hours = static_cast<double>(s.clock().Now() - began) / kHour;
  EXPECT_GE(hours, 60.0) << "the tenth attempt comes about three days after the first";
  std::cerr << "webhook delivered after a receiver outage of " << hours << " h\n";
}

TEST(Outage, DeadlinesThatPassWhileTheServerIsDownForThreeDaysDecideOnce) {
  Server s;
  Fixture f = MakeFixture(s);
  s.Create("/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
           json::object{
               {"name", "sales"}, {"type", "postback_value"}, {"postback_timeout_seconds", 600}});
  std::vector<json::object> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(StartCall(s, "+1555300" + std::to_string(1000 + i)));
    Event(s, Str(calls.back().at("uuid")), {{"type", "ended"}});
  }
  s.Stop();
  s.clock().Advance(72 * kHour);
  s.Restart();
  EXPECT_EQ(*s.app().FireDueDeadlines(), 20);
  EXPECT_EQ(*s.app().FireDueDeadlines(), 0);
  for (const auto& c : calls) {
    json::value call = s.Api("GET", "/api/v1/calls/" + Str(c.at("uuid"))).json();
    EXPECT_EQ(call.at("conversion").at("state"), "not_converted");
    int completed = 0;
    for (const auto& e : call.at("effects").as_array()) completed += e.at("trigger") == "completed";
    EXPECT_EQ(completed, 1);
    // A late conversion still counts, once.
    EXPECT_EQ(Postback(s, Str(c.at("uuid")), Str(c.at("key")), "value=5", "postback").status, 200);
  }
}

}  // namespace
}  // namespace testing_harness
