// Calls from the edge over HTTP: start, route, events (idempotent, out of order), reads,
// repeat callers, and a restart that keeps everything.
#include <gtest/gtest.h>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

TEST(Calls, StartRouteAndEvents) {
  Server s;
  Fixture f = MakeFixture(s);
  json::object call = StartCall(s);
  ASSERT_TRUE(call.contains("uuid"));
  std::string uuid = Str(call.at("uuid"));
  EXPECT_EQ(uuid.size(), 36u);
  EXPECT_GE(Str(call.at("key")).size(), 22u);  // ≥128 bits, URL-safe
  EXPECT_EQ(call.at("status"), "routed");
  EXPECT_EQ(call.at("repeat"), false);
  EXPECT_EQ(call.at("route").at("buyer_id"), f.buyer);
  EXPECT_EQ(call.at("route").at("destination"), "sip:b@127.0.0.1:5070");
  const auto& tags = call.at("tags").as_object();
  EXPECT_EQ(Str(tags.at("system_buyer_id")), std::to_string(f.buyer));
  EXPECT_EQ(Str(tags.at("system_campaign_id")), std::to_string(f.campaign));
  EXPECT_EQ(Str(tags.at("system_publisher_id")), std::to_string(f.publisher));
  EXPECT_EQ(Str(tags.at("system_number_id")), std::to_string(f.number_id));
  EXPECT_EQ(tags.at("caller_number"), "+15551230000");
  EXPECT_EQ(tags.at("traffic"), "search");
  // An answer with a call key (an API key, a signing secret) is kept by no cache.
  HttpResponse read = s.Api("GET", "/api/v1/calls/" + uuid);
  EXPECT_EQ(read.headers["cache-control"], "no-store");

  s.clock().Advance(2000);
  json::object answered = Event(s, uuid, {{"type", "answered"}});
  EXPECT_EQ(answered.at("status"), "answered");
  s.clock().Advance(95000);
  json::object ended = Event(s, uuid, {{"type", "ended"}, {"hung_up_by", "caller"}});
  EXPECT_EQ(ended.at("duration_seconds"), 95);
  // No conversion group: the call completes at its end as not converted.
  EXPECT_EQ(ended.at("status"), "completed");
  EXPECT_EQ(ended.at("conversion").at("state"), "not_converted");
  EXPECT_TRUE(ended.at("conversion").at("group_id").is_null());
  // Repeated and late events are acknowledged and change nothing.
  s.clock().Advance(5000);
  json::object again = Event(s, uuid, {{"type", "answered"}});
  EXPECT_EQ(again.at("answered_at"), answered.at("answered_at"));
  EXPECT_EQ(Event(s, uuid, {{"type", "ended"}}).at("ended_at"), ended.at("ended_at"));
  HttpResponse details = s.Api("GET", "/api/v1/calls/" + uuid);
  ASSERT_EQ(details.status, 200);
  std::vector<std::string> triggers;
  json::value doc = details.json();
  for (const auto& e : doc.at("effects").as_array()) triggers.push_back(Str(e.at("trigger")));
  EXPECT_EQ(triggers, (std::vector<std::string>{"started", "routed", "answered", "ended",
                                                "completed", "not_converted"}));
}

TEST(Calls, RepeatedStartWithTheSameEdgeIdIsOneCall) {
  Server s;
  MakeFixture(s);
  json::object body{{"number", "+18005550100"},
                    {"caller_number", "+15551230000"},
                    {"route", true},
                    {"edge_call_id", "a84b4c76e66710@pbx"}};
  HttpResponse first = s.Api("POST", "/api/v1/calls", body);
  ASSERT_EQ(first.status, 201) << first.body;
  HttpResponse again = s.Api("POST", "/api/v1/calls", body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("uuid"), first.json().at("uuid"));
  EXPECT_EQ(again.json().at("key"), first.json().at("key"));
  EXPECT_EQ(again.json().at("route"), first.json().at("route"));
  // The Idempotency-Key header does the same.
  HttpResponse h1 = Http("POST", s.url("/api/v1/calls"), R"({"number":"+18005550100"})",
                         {"Authorization: Bearer " + s.api_key(), "Idempotency-Key: retry-1"});
  HttpResponse h2 = Http("POST", s.url("/api/v1/calls"), R"({"number":"+18005550100"})",
                         {"Authorization: Bearer " + s.api_key(), "Idempotency-Key: retry-1"});
  EXPECT_EQ(h1.status, 201);
  EXPECT_EQ(h2.status, 200);
  EXPECT_EQ(h1.json().at("uuid"), h2.json().at("uuid"));
  EXPECT_EQ(s.Api("GET", "/api/v1/calls").json().at("data").as_array().size(), 2u);
}

TEST(Calls, OutOfOrderEventsMoveForwardOnly) {
  Server s;
  Fixture f = MakeFixture(s);
  json::object call = StartCall(s, "+15551230000", false);
  std::string uuid = Str(call.at("uuid"));
  EXPECT_EQ(call.at("status"), "started");
  EXPECT_TRUE(call.at("route").is_null());
  json::object ended = Event(s, uuid, {{"type", "ended"}, {"duration_seconds", 30}});
  EXPECT_EQ(ended.at("status"), "completed");
  json::object late = Event(s, uuid, {{"type", "routed"}, {"buyer_id", f.buyer}});
  EXPECT_EQ(late.at("status"), "completed");
  EXPECT_EQ(late.at("buyer_id"), f.buyer);
  EXPECT_EQ(late.at("duration_seconds"), 30);
}

// Times an edge reports are put in the call's order: never ahead of the server's clock (the
// call's webhooks are not held for a time to come) and nothing before the call started.
TEST(Calls, ReportedTimesAreNeverAheadOfTheClockNorBeforeTheStart) {
  Server s;
  MakeFixture(s);
  const core::Millis now = s.clock().Now();
  const std::string later = core::FormatRfc3339(now + 3'600'000);
  HttpResponse started = s.Api(
      "POST", "/api/v1/calls",
      json::object{{"number", "+18005550100"}, {"caller_number", "+15551230000"}, {"at", later}});
  ASSERT_EQ(started.status, 201) << started.body;
  std::string uuid = Str(started.json().at("uuid"));
  json::object call = s.Api("GET", "/api/v1/calls/" + uuid).json().as_object();
  EXPECT_EQ(Str(call.at("started_at")), core::FormatRfc3339(now));
  json::object answered = Event(s, uuid, {{"type", "answered"}, {"at", later}});
  EXPECT_EQ(Str(answered.at("answered_at")), core::FormatRfc3339(now));
  // An answer an hour before the start would make an hour-long call.
  std::string other = Str(StartCall(s, "+15551230001").at("uuid"));
  Event(s, other, {{"type", "answered"}, {"at", core::FormatRfc3339(now - 3'600'000)}});
  s.clock().Advance(5'000);
  json::object ended = Event(s, other, {{"type", "ended"}});
  EXPECT_EQ(Str(ended.at("answered_at")), core::FormatRfc3339(now));
  EXPECT_EQ(ended.at("duration_seconds"), 5);
}

// A start ahead of the clock is taken as now for the repeat-caller window too: a caller's second
// call within the window is a repeat whatever time the edge's clock gave it, and a start
// back-dated before a caller's call is no repeat of that later call.
TEST(Calls, TheRepeatWindowCountsFromTheStartAsTakenNotAsReported) {
  Server s;
  MakeFixture(s, {{"repeat_callers", {{"enabled", true}, {"window_seconds", 60}}}});
  const core::Millis now = s.clock().Now();
  auto start = [&](core::Millis at) {
    HttpResponse r = s.Api("POST", "/api/v1/calls",
                           json::object{{"number", "+18005550100"},
                                        {"caller_number", "+15551230000"},
                                        {"at", core::FormatRfc3339(at)}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  };
  EXPECT_EQ(start(now).at("repeat"), false);
  EXPECT_EQ(start(now + 300'000).at("repeat"), true);  // five minutes ahead: taken as now
  EXPECT_EQ(start(now - 30'000).at("repeat"), false);  // before both: no repeat of either
}

TEST(Calls, BadInputIsRefusedAndChangesNothing) {
  Server s;
  Fixture f = MakeFixture(s);
  std::string uuid = Str(StartCall(s).at("uuid"));
  struct Case {
    std::string method, path, body;
    int status;
  } cases[] = {
      {"POST", "/api/v1/calls", R"({"number":"+18005550100","colour":"red"})", 400},
      {"POST", "/api/v1/calls", R"({"number":"not a number"})", 400},
      {"POST", "/api/v1/calls", R"({"number":"+18005550999"})", 404},
      {"POST", "/api/v1/calls", R"({"campaign_id":999})", 404},
      {"POST", "/api/v1/calls", R"({})", 400},
      {"POST", "/api/v1/calls", R"({"number":"+18005550100","caller_number":"abc"})", 400},
      {"POST", "/api/v1/calls", R"({"number":"+18005550100","at":"yesterday"})", 400},
      {"POST", "/api/v1/calls", R"({"number":"+18005550100","tags":{"system_buyer_id":"9"}})", 400},
      {"POST", "/api/v1/calls", R"({"number":"+18005550100","tags":{"a":1}})", 400},
      {"POST", "/api/v1/calls", "{\"number\":\"+18005550100\",\"tags\":{\"a\":\"\xff\"}}", 400},
      {"POST", "/api/v1/calls/" + uuid + "/events", R"({"type":"exploded"})", 400},
      {"POST", "/api/v1/calls/" + uuid + "/events", R"({"type":"answered","extra":1})", 400},
      {"POST", "/api/v1/calls/" + uuid + "/events", R"({"type":"routed"})", 400},
      {"POST", "/api/v1/calls/" + uuid + "/events", R"({"type":"routed","buyer_id":999})", 400},
      {"POST", "/api/v1/calls/not-a-uuid/events", R"({"type":"answered"})", 400},
      {"POST", "/api/v1/calls/00000000-0000-4000-8000-000000000000/events",
       R"({"type":"answered"})", 404},
      {"GET", "/api/v1/calls/not-a-uuid", "", 400},
      {"GET", "/api/v1/calls/00000000-0000-4000-8000-000000000000", "", 404},
      {"GET", "/api/v1/calls?status=flying", "", 400},
      {"GET", "/api/v1/calls?converted=maybe", "", 400},
      {"GET", "/api/v1/calls?since=yesterday", "", 400},
      {"GET", "/api/v1/calls?bogus=1", "", 400},
      {"GET", "/api/v1/calls?campaign_id=%ZZ", "", 400},
  };
  for (const auto& c : cases) {
    HttpResponse r = s.ApiWithKey(s.api_key(), c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " → " << r.body;
    EXPECT_TRUE(r.json().at("error").at("message").is_string()) << r.body;
  }
  HttpResponse list = s.Api("GET", "/api/v1/calls");
  EXPECT_EQ(list.json().at("data").as_array().size(), 1u);
  EXPECT_EQ(list.json().at("data").as_array()[0].at("status"), "routed");
  // Oversized bodies and headers.
  std::string big(2 << 20, 'x');
  EXPECT_EQ(s.ApiWithKey(s.api_key(), "POST", "/api/v1/calls", big).status, 413);
  HttpResponse huge =
      Http("GET", s.url("/api/v1/calls"), "",
           {"Authorization: Bearer " + s.api_key(), "X-Big: " + std::string(64 << 10, 'y')});
  EXPECT_EQ(huge.status, 431);
  EXPECT_EQ(Http("GET", s.url("/api/v1/calls?x=" + std::string(64 << 10, 'z'))).status, 431);
}

TEST(Calls, ListFiltersAndCursor) {
  Server s;
  Fixture f = MakeFixture(s);
  std::vector<std::string> uuids;
  for (int i = 0; i < 5; ++i) {
    s.clock().Advance(1000);
    uuids.push_back(Str(StartCall(s, "+1555123000" + std::to_string(i)).at("uuid")));
  }
  Event(s, uuids[1], {{"type", "ended"}});
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    HttpResponse r =
        s.Api("GET", "/api/v1/calls?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    json::value doc = r.json();
    for (const auto& c : doc.at("data").as_array()) seen.push_back(Str(c.at("uuid")));
    if (r.json().at("next_cursor").is_null()) break;
    cursor = Str(r.json().at("next_cursor"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{uuids[4], uuids[3], uuids[2], uuids[1], uuids[0]}));
  auto count = [&](const std::string& q) {
    HttpResponse r = s.Api("GET", "/api/v1/calls?" + q);
    EXPECT_EQ(r.status, 200) << q << r.body;
    return r.json().at("data").as_array().size();
  };
  EXPECT_EQ(count("status=completed"), 1u);
  EXPECT_EQ(count("status=routed"), 4u);
  EXPECT_EQ(count("converted=false"), 5u);
  EXPECT_EQ(count("converted=true"), 0u);
  EXPECT_EQ(count("campaign_id=" + std::to_string(f.campaign)), 5u);
  EXPECT_EQ(count("campaign_id=999"), 0u);
  EXPECT_EQ(count("since=2026-11-28T14:39:58.000Z"), 4u);
  EXPECT_EQ(count("until=2026-11-28T14:39:58.000Z"), 1u);
  // API.md's template with nothing filled in: empty filters are no filters.
  EXPECT_EQ(count("campaign_id=&status=&converted=&since=&until=&limit=&cursor="), 5u);
  EXPECT_EQ(count("status=&converted=true"), 0u);
  EXPECT_EQ(s.Api("GET", "/api/v1/webhook_deliveries?call_uuid=&state=&limit=&cursor=").status,
            200);
}

// Repeat callers: flagged, routed to the same buyer, tags carried (never system tags);
// the account setting stops postback tags from being carried, and routing still works.
void RepeatCallers(bool carry_postback_tags) {
  Server s;
  if (!carry_postback_tags) {
    ASSERT_EQ(
        s.Api("PATCH", "/api/v1/account", json::object{{"carry_over_postback_tags", false}}).status,
        200);
  }
  Fixture f = MakeFixture(
      s,
      {{"repeat_callers", {{"enabled", true}, {"window_seconds", 3600}, {"route", "same_buyer"}}}});
  int64_t second =
      s.Create("/api/v1/buyers", json::object{{"name", "B2"}, {"destination", "+15550000002"}});
  ASSERT_EQ(s.Api("PATCH", "/api/v1/campaigns/" + std::to_string(f.campaign),
                  json::object{{"buyers",
                                json::array{json::object{{"buyer_id", f.buyer}, {"weight", 1}},
                                            json::object{{"buyer_id", second}, {"weight", 1000}}}}})
                .status,
            200);
  HttpResponse first_r = s.Api("POST", "/api/v1/calls",
                               json::object{{"number", f.number},
                                            {"caller_number", "+15551230000"},
                                            {"route", true},
                                            {"tags", {{"zip", "90210"}}}});
  json::object first = first_r.json().as_object();
  std::string uuid = Str(first.at("uuid"));
  int64_t first_buyer = first.at("route").at("buyer_id").as_int64();
  ASSERT_EQ(Postback(s, uuid, Str(first.at("key")), "bid=12&transfer=%2B15559990000").status, 200);
  Event(s, uuid, {{"type", "ended"}});

  s.clock().Advance(60'000);
  json::object repeat = StartCall(s, "+15551230000");
  EXPECT_EQ(repeat.at("repeat"), true);
  EXPECT_EQ(repeat.at("route").at("buyer_id"), first_buyer);  // same buyer as last time
  const auto& tags = repeat.at("tags").as_object();
  EXPECT_EQ(tags.at("zip"), "90210");  // edge tags are carried
  EXPECT_EQ(tags.at("traffic"), "search");
  EXPECT_EQ(tags.contains("bid"), carry_postback_tags);
  EXPECT_EQ(tags.contains("transfer"), carry_postback_tags);
  EXPECT_EQ(Str(tags.at("system_buyer_id")), std::to_string(first_buyer));  // its own, not carried
  // Another caller is not a repeat; the window is enforced.
  EXPECT_EQ(StartCall(s, "+15551239999").at("repeat"), false);
  s.clock().Advance(3601'000);
  EXPECT_EQ(StartCall(s, "+15551230000").at("repeat"), false);
}

TEST(Calls, RepeatCallersCarryTags) { RepeatCallers(true); }
TEST(Calls, RepeatCallersWithoutPostbackTagCarryOver) { RepeatCallers(false); }

TEST(Calls, RouterSkipsBuyersAtTheirCap) {
  Server s;
  Fixture f = MakeFixture(s);
  int64_t backup =
      s.Create("/api/v1/buyers", json::object{{"name", "Backup"}, {"destination", "+15550000009"}});
  ASSERT_EQ(s.Api("PATCH", "/api/v1/buyers/" + std::to_string(f.buyer),
                  json::object{{"concurrency_cap", 1}})
                .status,
            200);
  ASSERT_EQ(s.Api("PATCH", "/api/v1/campaigns/" + std::to_string(f.campaign),
                  json::object{
                      {"buyers", json::array{json::object{{"buyer_id", f.buyer}, {"priority", 1}},
                                             json::object{{"buyer_id", backup}, {"priority", 2}}}}})
                .status,
            200);
  json::object a = StartCall(s, "+15551230001");
  EXPECT_EQ(a.at("route").at("buyer_id"), f.buyer);
  json::object b = StartCall(s, "+15551230002");
  EXPECT_EQ(b.at("route").at("buyer_id"), backup);  // first buyer is at its cap
  Event(s, Str(a.at("uuid")), {{"type", "ended"}});
  EXPECT_EQ(StartCall(s, "+15551230003").at("route").at("buyer_id"), f.buyer);
}

TEST(Calls, RestartKeepsEverything) {
  Server s;
  Fixture f = MakeFixture(s);
  s.Create(
      "/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
      json::object{{"name", "sales"}, {"type", "postback_value"}, {"payout_modifier", "*0.8"}});
  json::object call = StartCall(s);
  std::string uuid = Str(call.at("uuid")), key = Str(call.at("key"));
  ASSERT_EQ(Postback(s, uuid, key, "disposition=sold").status, 200);
  Event(s, uuid, {{"type", "ended"}});
  std::string before = s.Api("GET", "/api/v1/calls/" + uuid).body;
  s.Restart();
  EXPECT_EQ(s.Api("GET", "/api/v1/calls/" + uuid).body, before);
  // The same key still works (derived from the persisted secret), config is intact.
  HttpResponse r = Postback(s, uuid, key, "value=10.00", "postback");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("conversion").at("payout"), "8.00");
  EXPECT_EQ(s.Api("GET", "/api/v1/numbers/" + std::to_string(f.number_id)).status, 200);
}

}  // namespace
}  // namespace testing_harness
