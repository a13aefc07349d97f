// Publisher data writing over HTTP: postback keys, tags stored for a caller before the call,
// applied to a call in progress or just ended, expiry, refusals, and attribution.
#include <gtest/gtest.h>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

struct Keyed {
  Fixture f;
  int64_t key_id = 0;
  std::string key;
};

Keyed WithKey(const Server& s, int64_t storage_seconds = 86400) {
  Keyed k;
  k.f = MakeFixture(s);
  HttpResponse r =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(k.f.publisher) + "/postback_keys",
            json::object{{"name", "lead form"}, {"storage_seconds", storage_seconds}});
  EXPECT_EQ(r.status, 201) << r.body;
  k.key_id = r.json().at("id").as_int64();
  k.key = Str(r.json().at("key"));
  return k;
}

HttpResponse Write(const Server& s, const std::string& key, const std::string& query) {
  return Http("GET", s.url("/data_writing/" + key + "?" + query));
}

json::object CallTags(const Server& s, const std::string& uuid) {
  return s.Api("GET", "/api/v1/calls/" + uuid).json().at("tags").as_object();
}

TEST(DataWriting, KeysAreManagedAndNeverShownAgain) {
  Server s;
  Keyed k = WithKey(s);
  EXPECT_GE(k.key.size(), 40u);
  // The URL to hand to the publisher, on the server's public URL (here its own address).
  HttpResponse again =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(k.f.publisher) + "/postback_keys",
            json::object{{"name", "second"}});
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(Str(again.json().at("data_writing_url")),
            s.url("/data_writing/" + Str(again.json().at("key"))));
  ASSERT_EQ(
      s.Api("DELETE", "/api/v1/postback_keys/" + std::to_string(again.json().at("id").as_int64()))
          .status,
      204);
  std::string base = "/api/v1/publishers/" + std::to_string(k.f.publisher) + "/postback_keys";
  HttpResponse list = s.Api("GET", base);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().at("data").as_array().size(), 1u);
  EXPECT_EQ(list.body.find(k.key), std::string::npos);
  EXPECT_FALSE(list.json().at("data").as_array()[0].as_object().contains("hash"));
  EXPECT_EQ(list.json().at("data").as_array()[0].at("storage_seconds"), 86400);
  HttpResponse paused = s.Api("PATCH", "/api/v1/postback_keys/" + std::to_string(k.key_id),
                              json::object{{"paused", true}});
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_EQ(paused.json().at("paused"), true);
  HttpResponse refused = Write(s, k.key, "caller_number=%2B15551230000&age=39");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(
      s.Api("PATCH", base + "/" + std::to_string(k.key_id), json::object{{"paused", false}}).status,
      200);
  EXPECT_EQ(Write(s, k.key, "caller_number=%2B15551230000&age=39").status, 200);
  EXPECT_EQ(s.Api("POST", base, json::object{{"storage_seconds", 1}}).status, 400);
  EXPECT_EQ(s.Api("POST", "/api/v1/publishers/999/postback_keys", json::object()).status, 404);
  std::string other = s.NewAccount("other");
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/postback_keys/" + std::to_string(k.key_id)).status,
            404);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/postback_keys/" + std::to_string(k.key_id)).status, 204);
  EXPECT_EQ(Write(s, k.key, "caller_number=%2B15551230000&age=39").status, 401);
}

TEST(DataWriting, StoredBeforeTheCallAndAppliedWhenItStarts) {
  Server s;
  Keyed k = WithKey(s);
  HttpResponse stored = Write(s, k.key, "caller_number=5551230000&age=39&state=CA&age=39");
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.json().at("status"), "call not found, tags stored");
  EXPECT_EQ(stored.json().at("caller_number"), "+15551230000");  // national US normalised
  EXPECT_EQ(stored.json().at("tag_values"), (json::object{{"age", "39"}, {"state", "CA"}}));
  // Form and JSON bodies work too.
  EXPECT_EQ(Http("POST", s.url("/data_writing/" + k.key), "caller_number=%2B15551230000&zip=90210",
                 {"Content-Type: application/x-www-form-urlencoded"})
                .status,
            200);
  EXPECT_EQ(
      Http("POST", s.url("/data_writing/" + k.key), R"({"caller_number":"+15551230000","score":7})",
           {"Content-Type: application/json"})
          .status,
      200);
  json::object call = StartCall(s);
  const auto& tags = call.at("tags").as_object();
  EXPECT_EQ(tags.at("age"), "39");
  EXPECT_EQ(tags.at("state"), "CA");
  EXPECT_EQ(tags.at("zip"), "90210");
  EXPECT_EQ(tags.at("score"), "7");
  // Attributed to the publisher in the tag history.
  bool attributed = false;
  json::value details = s.Api("GET", "/api/v1/calls/" + Str(call.at("uuid"))).json();
  for (const auto& t : details.at("tag_history").as_array()) {
    if (t.at("key") == "age") {
      attributed = t.at("source") == "publisher" && t.at("publisher_id") == k.f.publisher;
    }
  }
  EXPECT_TRUE(attributed);
  // Used up: the caller's next call does not get them again.
  json::object next = StartCall(s);
  EXPECT_FALSE(next.at("tags").as_object().contains("age"));
}

// A SIP route lookup that finds no buyer closes its call at once: the tags stored for the caller
// wait for the caller's next call, and that call is no repeat of the closed one.
TEST(DataWriting, ASipLookupWithNoBuyerLeavesTheStoredTags) {
  Server s;
  Keyed k = WithKey(s);
  ASSERT_EQ(s.Api("PATCH", "/api/v1/campaigns/" + std::to_string(k.f.campaign),
                  json::object{{"repeat_callers", {{"enabled", true}}}})
                .status,
            200);
  // The campaign's one buyer takes calls by phone only: no SIP buyer.
  ASSERT_EQ(s.Api("PATCH", "/api/v1/buyers/" + std::to_string(k.f.buyer),
                  json::object{{"destination", "+15550000001"}})
                .status,
            200);
  ASSERT_EQ(Write(s, k.key, "caller_number=5551230000&age=39").status, 200);
  HttpResponse lookup = Http("GET", s.url("/sip/route?from=%2B15551230000&to=18005550100&callid=x"),
                             "", {"Authorization: Bearer " + s.api_key()});
  ASSERT_EQ(lookup.status, 404) << lookup.body;
  json::object call = StartCall(s);
  EXPECT_EQ(call.at("tags").as_object().at("age"), "39") << call;
  EXPECT_EQ(call.at("repeat"), false) << call;
}

// Repeating a write does not use up the caller's room: at most 100 tags wait for one caller,
// counted once each, and a write past them is refused whole.
TEST(DataWriting, RepeatedWritesStoreOnceAndAHundredTagsMayWait) {
  Server s;
  Keyed k = WithKey(s);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Write(s, k.key, "caller_number=%2B15551230000&lead=L1").status, 200);
  }
  std::string many = "caller_number=%2B15551230000";
  for (int i = 0; i < 98; ++i) many += "&t" + std::to_string(i) + "=v";
  ASSERT_EQ(Write(s, k.key, many).status, 200);
  ASSERT_EQ(Write(s, k.key, "caller_number=%2B15551230000&zip=90210").status, 200);
  HttpResponse full = Write(s, k.key, "caller_number=%2B15551230000&late=1");
  EXPECT_EQ(full.status, 422) << full.body;
  EXPECT_NE(full.body.find("at most 100 tags"), std::string::npos) << full.body;
  HttpResponse text =
      Http("GET", s.url("/data_writing/" + k.key + "?caller_number=%2B15551230000&late=1"), {},
           {"Accept: text/plain"});
  EXPECT_EQ(text.status, 422);
  EXPECT_EQ(text.body.rfind("FAILED at most 100 tags", 0), 0u) << text.body;
  json::object call = StartCall(s);
  const auto& tags = call.at("tags").as_object();
  EXPECT_EQ(tags.at("lead"), "L1");
  EXPECT_EQ(tags.at("zip"), "90210");
  EXPECT_EQ(tags.at("t97"), "v");
  EXPECT_FALSE(tags.contains("late"));
}

TEST(DataWriting, PublisherTagsTakePartInFilters) {
  Server s;
  Keyed k = WithKey(s);
  int64_t vip =
      s.Create("/api/v1/buyers", json::object{{"name", "VIP"}, {"destination", "+15550000077"}});
  ASSERT_EQ(s.Api("PATCH", "/api/v1/campaigns/" + std::to_string(k.f.campaign),
                  json::object{{"buyers", json::array{json::object{{"buyer_id", k.f.buyer}},
                                                      json::object{{"buyer_id", vip}}}}})
                .status,
            200);
  int64_t group = s.Create(
      "/api/v1/campaigns/" + std::to_string(k.f.campaign) + "/conversion_groups",
      json::object{{"name", "vip sales"}, {"type", "postback_value"}, {"matches", "tier:vip"}});
  ASSERT_EQ(Write(s, k.key, "caller_number=%2B15551230000&tier=vip").status, 200);
  json::object call = StartCall(s);
  json::object ended = Event(s, Str(call.at("uuid")), {{"type", "ended"}});
  EXPECT_EQ(ended.at("conversion").at("group_id"), group) << "publisher tags take part in filters";
}

TEST(DataWriting, AppliedToACallInProgressOrJustEnded) {
  Server s;
  Keyed k = WithKey(s);
  json::object call = StartCall(s);
  std::string uuid = Str(call.at("uuid"));
  HttpResponse live = Write(s, k.key, "caller_number=%2B15551230000&income=high&income=high");
  ASSERT_EQ(live.status, 200) << live.body;
  EXPECT_EQ(live.json().at("status"), "call found, tags applied");
  EXPECT_EQ(live.json().at("tag_values"), (json::object{{"income", "high"}}));  // a pair once
  EXPECT_EQ(Str(live.json().at("call_uuid")), uuid);
  EXPECT_EQ(CallTags(s, uuid).at("income"), "high");
  Event(s, uuid, {{"type", "ended"}});
  s.clock().Advance(3599'000);
  EXPECT_EQ(Write(s, k.key, "call_uuid=" + uuid + "&late=yes").json().at("status"),
            "call found, tags applied");
  EXPECT_EQ(CallTags(s, uuid).at("late"), "yes");
  s.clock().Advance(2000);
  // Past the cut-off the caller's tags wait for the next call; by UUID the call is gone.
  EXPECT_EQ(Write(s, k.key, "caller_number=%2B15551230000&later=1").json().at("status"),
            "call not found, tags stored");
  EXPECT_EQ(Write(s, k.key, "call_uuid=" + uuid + "&later=1").status, 410);
  EXPECT_FALSE(CallTags(s, uuid).contains("later"));
}

TEST(DataWriting, StoredTagsExpire) {
  Server s;
  Keyed k = WithKey(s, 3600);
  ASSERT_EQ(Write(s, k.key, "caller_number=%2B15551230000&age=39").status, 200);
  s.clock().Advance(3600'000);
  json::object call = StartCall(s);
  EXPECT_FALSE(call.at("tags").as_object().contains("age"));
}

TEST(DataWriting, Refusals) {
  Server s;
  Keyed k = WithKey(s);
  struct Case {
    std::string key, query;
    int status;
  } cases[] = {
      {"cpd_unknown_unknown_unknown", "caller_number=%2B15551230000&a=1", 401},
      {k.key, "a=1", 400},                           // no caller
      {k.key, "caller_number=12&a=1", 400},          // not a phone number
      {k.key, "caller_number=%2B15551230000", 400},  // nothing to write
      {k.key, "call_uuid=nope&a=1", 400},
      {k.key, "call_uuid=00000000-0000-4000-8000-000000000000&a=1", 404},
      {k.key, "caller_number=%2B15551230000&system_buyer_id=9", 400},
      {k.key, "caller_number=%2B15551230000&a=%ZZ", 400},
  };
  for (const auto& c : cases) {
    HttpResponse r = Write(s, c.key, c.query);
    EXPECT_EQ(r.status, c.status) << c.query << " → " << r.body;
    EXPECT_TRUE(r.json().at("error").at("message").is_string()) << r.body;
  }
  HttpResponse text =
      Http("GET", s.url("/data_writing/" + k.key + "?a=1"), "", {"Accept: text/plain"});
  EXPECT_EQ(text.body, "FAILED caller_number or call_uuid is required");
  // Nothing was stored by refused requests.
  EXPECT_EQ(StartCall(s).at("tags").as_object().contains("a"), false);
}

}  // namespace
}  // namespace testing_harness
