// The preview routes (payout modifier, tag filter, webhook requests) and the console's files,
// through the real server.
#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "receiver.h"

namespace {

using namespace testing_harness;
namespace json = boost::json;

TEST(Preview, PayoutModifierIsExactLeftToRight) {
  Server s;
  auto r = s.Api("POST", "/api/v1/preview/payout_modifier",
                 json::object{{"payout_modifier", "*0.8"}, {"revenue", "10.00"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.json().at("payout")), "8.00");
  EXPECT_EQ(Str(r.json().at("revenue")), "10.00");
  // Left to right, no precedence: (100 - 5) * 0.5; rounding half-up at the end only.
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"payout_modifier", "-5*0.5"}, {"revenue", "100"}});
  EXPECT_EQ(Str(r.json().at("payout")), "47.50");
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"payout_modifier", "/3*3"}, {"revenue", "10.00"}});
  EXPECT_EQ(Str(r.json().at("payout")), "10.00");
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"payout_modifier", ""}, {"revenue", "12.34"}});
  EXPECT_EQ(Str(r.json().at("payout")), "12.34");
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"payout_modifier", "-20"}, {"revenue", "10.00"}});
  EXPECT_EQ(Str(r.json().at("payout")), "0.00");  // never negative
}

TEST(Preview, PayoutModifierErrorsNameTheField) {
  Server s;
  auto r = s.Api("POST", "/api/v1/preview/payout_modifier",
                 json::object{{"payout_modifier", "*0.8+"}, {"revenue", "10.00"}});
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "payout_modifier");
  EXPECT_EQ(Str(r.json().at("error").at("message")),
            "payout_modifier: expected a number at position 6");
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"payout_modifier", "*1"}, {"revenue", "ten"}});
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "revenue");
  r = s.Api("POST", "/api/v1/preview/payout_modifier", json::object{{"payout_modifier", "*1"}});
  EXPECT_EQ(Str(r.json().at("error").at("field")), "revenue");
  r = s.Api("POST", "/api/v1/preview/payout_modifier",
            json::object{{"revenue", "1"}, {"colour", "red"}});
  EXPECT_EQ(Str(r.json().at("error").at("field")), "colour");
  EXPECT_EQ(s.ApiWithKey("cpk_wrong", "POST", "/api/v1/preview/payout_modifier", "{}").status, 401);
  EXPECT_EQ(s.Api("GET", "/api/v1/preview/payout_modifier").status, 404);
  EXPECT_EQ(s.Api("POST", "/api/v1/preview/other", json::object{}).status, 404);
}

TEST(Preview, MatchesValidatesAndTestsACall) {
  Server s;
  Fixture f = MakeFixture(s);
  auto call = StartCall(s);
  const std::string uuid = Str(call.at("uuid"));
  const std::string buyer = std::to_string(f.buyer);
  auto r = s.Api("POST", "/api/v1/preview/matches",
                 json::object{{"matches", "system_buyer_id:" + buyer}, {"call_uuid", uuid}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.json().at("canonical")), "system_buyer_id:==" + buyer);
  EXPECT_EQ(r.json().at("keys"), json::array{"system_buyer_id"});
  EXPECT_EQ(r.json().at("call_matches"), true);
  r = s.Api("POST", "/api/v1/preview/matches",
            json::object{{"matches", "system_buyer_id:!=" + buyer}, {"call_uuid", uuid}});
  EXPECT_EQ(r.json().at("call_matches"), false);
  r = s.Api("POST", "/api/v1/preview/matches", json::object{{"matches", ""}});
  EXPECT_EQ(Str(r.json().at("canonical")), "");
  EXPECT_TRUE(r.json().at("call_matches").is_null());

  r = s.Api("POST", "/api/v1/preview/matches", json::object{{"matches", "system_buyer_id:"}});
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "matches");
  EXPECT_NE(Str(r.json().at("error").at("message")).find("position"), std::string::npos);
  r = s.Api("POST", "/api/v1/preview/matches",
            json::object{{"matches", "a:1"}, {"call_uuid", "not-a-uuid"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "call_uuid");
  r = s.Api(
      "POST", "/api/v1/preview/matches",
      json::object{{"matches", "a:1"}, {"call_uuid", "9cbf2bdd-58b8-4867-b1f0-561b5c3db0b0"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "call_uuid");
  // Another account's call is not found either.
  const std::string other = s.NewAccount("other");
  r = s.ApiWithKey(other, "POST", "/api/v1/preview/matches",
                   json::serialize(json::object{{"matches", "a:1"}, {"call_uuid", uuid}}));
  EXPECT_EQ(r.status, 404);
}

// The preview tests a filter as webhook and conversion groups do: the aliases campaign_id,
// publisher_id, buyer_id and number_id mean the system tags, and a tag posted under one of
// those names does not count. Each filter is also put on a real webhook group: the preview
// says true exactly for the groups that fired.
TEST(Preview, MatchesAgreesWithTheGroupsOnAliases) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver receiver;
  const std::string pub = std::to_string(f.publisher), buyer = std::to_string(f.buyer),
                    campaign = std::to_string(f.campaign), number = std::to_string(f.number_id);
  struct Case {
    std::string matches;
    bool want;
  };
  const Case kCases[] = {
      {"publisher_id:" + pub, true},
      {"buyer_id:" + buyer, true},
      {"campaign_id:" + campaign, true},
      {"number_id:" + number, true},
      {"publisher_id:" + pub + ", buyer_id:==" + buyer + ", traffic:search", true},
      {"system_publisher_id:" + pub, true},
      {"publisher_id:!=" + pub, false},
      {"buyer_id:9999", false},
      {"publisher_id:777", false},  // posted as a tag below: an alias ignores it
      {"posted:yes", true},
  };
  std::map<int64_t, std::string> group_filter;
  for (const Case& c : kCases) {
    const int64_t id = s.Create(
        "/api/v1/campaigns/" + campaign + "/webhook_groups",
        json::object{{"name", c.matches},
                     {"trigger", "ended"},
                     {"matches", c.matches},
                     {"requests", json::array{json::object{{"url", receiver.url("/x")}}}}});
    group_filter[id] = c.matches;
  }
  json::object call = StartCall(s);
  const std::string uuid = Str(call.at("uuid"));
  ASSERT_EQ(Postback(s, uuid, Str(call.at("key")), "publisher_id=777&posted=yes").status, 200);
  Event(s, uuid, {{"type", "ended"}});
  std::set<std::string> fired;
  const json::value detail = s.Api("GET", "/api/v1/calls/" + uuid).json();
  for (const auto& d : detail.at("webhooks").as_array()) {
    fired.insert(group_filter.at(d.at("group_id").as_int64()));
  }
  for (const Case& c : kCases) {
    auto r = s.Api("POST", "/api/v1/preview/matches",
                   json::object{{"matches", c.matches}, {"call_uuid", uuid}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json().at("call_matches"), c.want) << c.matches;
    EXPECT_EQ(fired.count(c.matches) == 1, c.want) << c.matches << ": the group";
  }
}

TEST(Preview, WebhookRequestsRenderAnExampleThenTheNewestCall) {
  Server s;
  json::array requests{json::object{
      {"method", "POST"},
      {"url", "https://buyer.example/ping?uuid=[call_uuid]&key=[call_key]&cid=[caller_number]"},
      {"headers", json::object{{"X-Zip", "[zip]"}}},
      {"body", "{\"payout\":\"[payout]\",\"zip\":\"[zip]\"}"}}};
  auto r = s.Api("POST", "/api/v1/preview/webhook_requests", json::object{{"requests", requests}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("example_call"), true);
  auto req = r.json().at("requests").at(0);
  EXPECT_EQ(Str(req.at("url")),
            "https://buyer.example/ping?uuid=00000000-0000-4000-8000-000000000000&key=REDACTED"
            "&cid=%2B15551230000");
  EXPECT_EQ(Str(req.at("body")), "{\"payout\":\"8.00\",\"zip\":\"90210\"}");

  Fixture f = MakeFixture(s);
  json::object start = StartCall(s);
  const std::string uuid = Str(start.at("uuid"));
  const std::string key = Str(start.at("key"));
  r = s.Api("POST", "/api/v1/preview/webhook_requests", json::object{{"requests", requests}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("example_call"), false);
  EXPECT_EQ(Str(r.json().at("call_uuid")), uuid);
  req = r.json().at("requests").at(0);
  EXPECT_EQ(Str(req.at("url")),
            "https://buyer.example/ping?uuid=" + uuid + "&key=REDACTED&cid=%2B15551230000");
  EXPECT_EQ(r.body.find(key), std::string::npos) << "the call key never appears in a preview";
  bool zip_header = false, signature = false;
  for (const auto& h : req.at("headers").as_array()) {
    zip_header = zip_header || (Str(h.at(0)) == "X-Zip" && Str(h.at(1)) == "");
    signature = signature || Str(h.at(0)) == "webhook-signature";
  }
  EXPECT_TRUE(zip_header) << "a tag the call lacks renders empty";
  EXPECT_FALSE(signature);
  // Nothing was stored or sent.
  auto deliveries = s.Api("GET", "/api/v1/webhook_deliveries");
  EXPECT_EQ(deliveries.json().at("data").as_array().size(), 0u);
  (void)f;
}

TEST(Preview, WebhookRequestErrorsNameTheFieldAsOnAGroup) {
  Server s;
  auto r =
      s.Api("POST", "/api/v1/preview/webhook_requests",
            json::object{{"requests", json::array{json::object{{"url", "ftp://a.example/"}}}}});
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "requests[0].url");
  r = s.Api("POST", "/api/v1/preview/webhook_requests",
            json::object{{"requests", json::array{json::object{{"url", "https://a/[b"}}}}});
  EXPECT_EQ(Str(r.json().at("error").at("field")), "requests[0].url");
  r = s.Api("POST", "/api/v1/preview/webhook_requests", json::object{});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Str(r.json().at("error").at("field")), "requests");
}

TEST(ConsoleServer, ServedFromTheBinaryWithoutAKey) {
  Server s;
  auto r = Http("GET", s.url("/console"));
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.headers["location"], "/console/");
  r = Http("GET", s.url("/console/calls/9cbf2bdd-58b8-4867-b1f0-561b5c3db0b0"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_NE(r.headers["content-security-policy"].find("script-src 'self'"), std::string::npos);
  EXPECT_NE(r.body.find("/console/assets/"), std::string::npos) << "the built index.html";
  EXPECT_EQ(Http("GET", s.url("/console/assets/nothing.js")).status, 404);
  EXPECT_EQ(Http("POST", s.url("/console/")).status, 404);
  r = Http("HEAD", s.url("/console/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

}  // namespace
