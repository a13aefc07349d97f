// The SIP edge hooks over HTTP (the Kamailio end-to-end test is tests/sip/run_e2e.sh): route
// lookups, dialog events, authentication by header or token, and the stale-call sweep.
#include <gtest/gtest.h>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

struct SipSetup {
  Fixture f;
};

SipSetup WithPostbackGroup(const Server& s) {
  SipSetup st{MakeFixture(s)};
  s.Create("/api/v1/campaigns/" + std::to_string(st.f.campaign) + "/conversion_groups",
           json::object{{"name", "sales"}, {"type", "postback_value"}});
  return st;
}

HttpResponse Hook(const Server& s, const std::string& target) {
  return Http("GET", s.url(target), "", {"Authorization: Bearer " + s.api_key()});
}

TEST(SipHooks, RouteAnswersTargetUuidKeyAndHeaders) {
  Server s;
  SipSetup st = WithPostbackGroup(s);
  HttpResponse r = Hook(s, "/sip/route?from=%2B15551230000&to=18005550100&callid=abc%40pbx");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string uuid = Str(r.json().at("uuid")), key = Str(r.json().at("key"));
  EXPECT_EQ(r.json().at("target"), "sip:b@127.0.0.1:5070");
  EXPECT_EQ(r.json().at("timeout_s"), 30);
  EXPECT_EQ(r.json().at("headers"),
            (json::object{{"X-PH-RetreaverUUID", uuid}, {"X-PH-RetreaverKey", key}}));
  json::value call = s.Api("GET", "/api/v1/calls/" + uuid).json();
  EXPECT_EQ(Str(call.at("key")), key);
  EXPECT_EQ(call.at("caller_number"), "+15551230000");
  EXPECT_EQ(call.at("buyer_id"), st.f.buyer);
  EXPECT_EQ(call.at("edge_call_id"), "abc@pbx");
  // A retried lookup for the same Call-ID is the same call; ?token= works too.
  HttpResponse again =
      Http("GET", s.url("/sip/route?from=%2B15551230000&to=%2B18005550100&callid=abc%40pbx&token=" +
                        s.api_key()));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("uuid"), r.json().at("uuid"));
  EXPECT_EQ(s.Api("GET", "/api/v1/calls").json().at("data").as_array().size(), 1u);
}

// The route lookup passes over buyers reachable only by phone, as it passes over a capped one:
// a campaign whose first buyer is a phone number still routes SIP calls to its SIP buyer (and
// never records the phone buyer on a call it could not take).
TEST(SipHooks, RouteSkipsBuyersWithoutASipAddress) {
  Server s;
  SipSetup st = WithPostbackGroup(s);
  const int64_t phone =
      s.Create("/api/v1/buyers", json::object{{"name", "Phone"}, {"destination", "+15559876543"}});
  ASSERT_EQ(
      s.Api("PATCH", "/api/v1/campaigns/" + std::to_string(st.f.campaign),
            json::object{
                {"buyers", json::array{json::object{{"buyer_id", phone}, {"priority", 0}},
                                       json::object{{"buyer_id", st.f.buyer}, {"priority", 1}}}}})
          .status,
      200);
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = Hook(s, "/sip/route?from=%2B1555123000" + std::to_string(i) +
                                 "&to=18005550100&callid=mixed-" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json().at("target"), "sip:b@127.0.0.1:5070");
    json::value call = s.Api("GET", "/api/v1/calls/" + Str(r.json().at("uuid"))).json();
    EXPECT_EQ(call.at("buyer_id"), st.f.buyer);
  }
  // Through the API, the phone buyer comes first as before.
  HttpResponse api =
      s.Api("POST", "/api/v1/calls", json::object{{"number", "+18005550100"}, {"route", true}});
  ASSERT_EQ(api.status, 201) << api.body;
  EXPECT_EQ(api.json().at("route").at("buyer_id"), phone);
}

TEST(SipHooks, RefusalsAndCallsNobodyCanTake) {
  Server s;
  SipSetup st = WithPostbackGroup(s);
  EXPECT_EQ(Http("GET", s.url("/sip/route?to=18005550100")).status, 401);
  EXPECT_EQ(Http("GET", s.url("/sip/route?to=18005550100&token=cpk_nope_nope_nope_nope")).status,
            401);
  EXPECT_EQ(Hook(s, "/sip/route?to=18005550199&callid=x").status, 404);
  EXPECT_EQ(Hook(s, "/sip/route?callid=x").status, 400);
  HttpResponse nul = Hook(s, "/sip/route?to=18005550100&callid=a%00b");  // stored as edge_call_id
  EXPECT_EQ(nul.status, 400) << nul.body;
  EXPECT_EQ(Str(nul.json().at("error").at("message")), "callid: must not contain a NUL byte");
  EXPECT_EQ(
      Http("POST", s.url("/sip/route?to=18005550100"), "", {"Authorization: Bearer " + s.api_key()})
          .status,
      404);
  // A buyer reachable only by phone cannot take a SIP call: 404, and the call is closed.
  ASSERT_EQ(s.Api("PATCH", "/api/v1/buyers/" + std::to_string(st.f.buyer),
                  json::object{{"destination", "+15550000001"}})
                .status,
            200);
  HttpResponse r = Hook(s, "/sip/route?from=%2B15551230000&to=18005550100&callid=y");
  EXPECT_EQ(r.status, 404) << r.body;
  json::value calls = s.Api("GET", "/api/v1/calls").json();
  ASSERT_EQ(calls.at("data").as_array().size(), 1u);
  const auto& call = calls.at("data").as_array()[0];
  EXPECT_EQ(call.at("status"), "completed");
  EXPECT_EQ(call.at("hung_up_by"), "no_route");
  EXPECT_EQ(call.at("conversion").at("state"), "not_converted");
  // A lookup whose Call-ID a call started through the API already has finds that call; the
  // refusal leaves it alone (it was not this lookup's to close).
  HttpResponse api = s.Api("POST", "/api/v1/calls",
                           json::object{{"number", "+18005550100"},
                                        {"caller_number", "+15551230001"},
                                        {"edge_call_id", "shared-id"}});
  ASSERT_EQ(api.status, 201) << api.body;
  EXPECT_EQ(Hook(s, "/sip/route?from=%2B15551230001&to=18005550100&callid=shared-id").status, 404);
  json::value kept = s.Api("GET", "/api/v1/calls/" + Str(api.json().at("uuid"))).json();
  EXPECT_EQ(kept.at("status"), "started") << kept;
}

TEST(SipHooks, EventsAnsweredEndedFailed) {
  Server s;
  WithPostbackGroup(s);
  std::string a =
      Str(Hook(s, "/sip/route?from=%2B15551230001&to=18005550100&callid=a").json().at("uuid"));
  std::string b =
      Str(Hook(s, "/sip/route?from=%2B15551230002&to=18005550100&callid=b").json().at("uuid"));
  HttpResponse answered = Hook(s, "/sip/event?type=answered&uuid=" + a + "&callid=a");
  ASSERT_EQ(answered.status, 200) << answered.body;
  EXPECT_EQ(answered.json().at("status"), "answered");
  EXPECT_EQ(Hook(s, "/sip/event?type=answered&uuid=" + a).status, 200);  // idempotent
  s.clock().Advance(30'000);
  ASSERT_EQ(Hook(s, "/sip/event?type=ended&uuid=" + a + "&callid=a").status, 200);
  json::value ca = s.Api("GET", "/api/v1/calls/" + a).json();
  EXPECT_EQ(ca.at("status"), "ended");
  EXPECT_EQ(ca.at("duration_seconds"), 30);
  EXPECT_EQ(ca.at("conversion").at("state"), "awaiting_postback");  // ended starts the wait
  // Busy: failed, never answered, nothing to wait for.
  ASSERT_EQ(Hook(s, "/sip/event?type=failed&uuid=" + b + "&callid=b&code=486").status, 200);
  json::value cb = s.Api("GET", "/api/v1/calls/" + b).json();
  EXPECT_EQ(cb.at("status"), "completed");
  EXPECT_EQ(cb.at("hung_up_by"), "failed:486");
  EXPECT_TRUE(cb.at("answered_at").is_null());
  EXPECT_EQ(cb.at("conversion").at("state"), "not_converted");
  EXPECT_EQ(Hook(s, "/sip/event?type=answered&uuid=00000000-0000-4000-8000-000000000000").status,
            404);
  EXPECT_EQ(Hook(s, "/sip/event?type=exploded&uuid=" + a).status, 400);
  EXPECT_EQ(Hook(s, "/sip/event?type=answered").status, 400);
  std::string other = s.NewAccount("other");
  EXPECT_EQ(Http("GET", s.url("/sip/event?type=ended&uuid=" + a + "&token=" + other)).status, 404);
}

TEST(SipHooks, EventsKeepTheTimeTheyHappened) {
  Server s;
  WithPostbackGroup(s);
  std::string uuid =
      Str(Hook(s, "/sip/route?from=%2B15551230001&to=18005550100&callid=t").json().at("uuid"));
  const int64_t t0 = s.clock().Now() / 1000;
  // Queued at the edge and delivered late, in the wrong order: the times decide, not arrival.
  s.clock().Advance(60'000);
  ASSERT_EQ(Hook(s, "/sip/event?type=ended&uuid=" + uuid + "&at=" + std::to_string(t0 + 42) + ".5")
                .status,
            200);
  ASSERT_EQ(
      Hook(s, "/sip/event?type=answered&uuid=" + uuid + "&at=" + std::to_string(t0 + 2)).status,
      200);
  json::value call = s.Api("GET", "/api/v1/calls/" + uuid).json();
  EXPECT_EQ(Str(call.at("ended_at")), core::FormatRfc3339((t0 + 42) * 1000 + 500));
  EXPECT_EQ(Str(call.at("answered_at")), core::FormatRfc3339((t0 + 2) * 1000));
  EXPECT_EQ(Hook(s, "/sip/event?type=ended&uuid=" + uuid + "&at=soon").status, 400);
  EXPECT_EQ(Hook(s, "/sip/event?type=ended&uuid=" + uuid + "&at=2026-11-28T14:40:00Z").status, 200);
}

TEST(SipHooks, StaleCallsAreClosedAfterTheMaximumCallLength) {
  Server s;
  WithPostbackGroup(s);
  std::string uuid =
      Str(Hook(s, "/sip/route?from=%2B15551230001&to=18005550100&callid=s").json().at("uuid"));
  ASSERT_EQ(Hook(s, "/sip/event?type=answered&uuid=" + uuid).status, 200);
  s.clock().Advance(4 * 3600'000LL);
  EXPECT_EQ(*s.app().CloseStaleCalls(), 0);
  s.clock().Advance(1);
  EXPECT_EQ(*s.app().CloseStaleCalls(), 1);
  EXPECT_EQ(*s.app().CloseStaleCalls(), 0);
  json::value call = s.Api("GET", "/api/v1/calls/" + uuid).json();
  EXPECT_EQ(call.at("hung_up_by"), "stale");
  EXPECT_EQ(call.at("conversion").at("state"), "awaiting_postback");  // its wait starts
  // A late real end changes nothing.
  EXPECT_EQ(Hook(s, "/sip/event?type=ended&uuid=" + uuid).json().at("status"), "ended");
}

}  // namespace
}  // namespace testing_harness
