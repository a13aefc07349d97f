// The operator API over HTTP: every collection's create/list/get/patch/delete, validation with
// field-named 400s, authentication, tenant isolation, pagination, account settings, API keys.
#include <gtest/gtest.h>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

std::string Field(const HttpResponse& r) {
  json::value v = r.json();
  if (!v.is_object() || !v.as_object().contains("error")) return "<no error: " + r.body + ">";
  const auto& e = v.at("error").as_object();
  return e.contains("field") ? std::string(e.at("field").as_string()) : std::string();
}

TEST(OperatorApi, CrudForEveryCollection) {
  Server s;
  Fixture f = MakeFixture(s);
  struct Case {
    std::string path;
    json::object patch;
    std::string field;
    json::value want;
  } cases[] = {
      {"/api/v1/publishers/" + std::to_string(f.publisher), {{"name", "Pub Z"}}, "name", "Pub Z"},
      {"/api/v1/buyers/" + std::to_string(f.buyer), {{"concurrency_cap", 3}}, "concurrency_cap", 3},
      {"/api/v1/campaigns/" + std::to_string(f.campaign), {{"name", "Home"}}, "name", "Home"},
      {"/api/v1/numbers/" + std::to_string(f.number_id),
       {{"tags", {{"a", "b"}}}},
       "tags",
       json::object{{"a", "b"}}},
  };
  for (const auto& c : cases) {
    HttpResponse got = s.Api("GET", c.path);
    EXPECT_EQ(got.status, 200) << c.path;
    HttpResponse patched = s.Api("PATCH", c.path, c.patch);
    ASSERT_EQ(patched.status, 200) << c.path << " " << patched.body;
    EXPECT_EQ(patched.json().at(c.field), c.want) << c.path;
    EXPECT_EQ(s.Api("GET", c.path).json().at(c.field), c.want) << c.path;
  }
  for (const char* list : {"/api/v1/publishers", "/api/v1/buyers", "/api/v1/campaigns",
                           "/api/v1/numbers", "/api/v1/conversion_groups"}) {
    HttpResponse r = s.Api("GET", list);
    EXPECT_EQ(r.status, 200) << list;
    EXPECT_TRUE(r.json().at("data").is_array()) << list;
    EXPECT_TRUE(r.json().at("next_cursor").is_null()) << list;
  }
  // Deleting what is still referenced is a conflict; in dependency order it works.
  EXPECT_EQ(s.Api("DELETE", "/api/v1/buyers/" + std::to_string(f.buyer)).status, 409);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/campaigns/" + std::to_string(f.campaign)).status, 409);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/publishers/" + std::to_string(f.publisher)).status, 409);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/numbers/" + std::to_string(f.number_id)).status, 204);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/campaigns/" + std::to_string(f.campaign)).status, 204);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/buyers/" + std::to_string(f.buyer)).status, 204);
  EXPECT_EQ(s.Api("DELETE", "/api/v1/publishers/" + std::to_string(f.publisher)).status, 204);
  EXPECT_EQ(s.Api("GET", "/api/v1/buyers/" + std::to_string(f.buyer)).status, 404);
}

TEST(OperatorApi, ValidationNamesTheField) {
  Server s;
  Fixture f = MakeFixture(s);
  struct Case {
    std::string path;
    json::object body;
    int status;
    std::string field;
  } cases[] = {
      {"/api/v1/publishers", {{"name", ""}}, 400, "name"},
      {"/api/v1/publishers", {{"name", "x"}, {"colour", "red"}}, 400, "colour"},
      {"/api/v1/publishers", {{"name", 7}}, 400, "name"},
      {"/api/v1/numbers",
       {{"number", "+18005550198"},
        {"campaign_id", f.campaign},
        {"tags", {{"system_buyer_id", "9"}}}},
       400,
       "tags.system_buyer_id"},
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "not a phone"}}, 400, "destination"},
      {"/api/v1/api_keys", {{"name", json::string(std::string_view("a\0b", 3))}}, 400, "name"},
      {"/api/v1/api_keys", {{"name", ""}}, 400, "name"},
      {"/api/v1/api_keys", {{"label", "x"}}, 400, "label"},
      // A webhook URL whose text fixes its host needs a valid one (every delivery would fail).
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups",
       {{"name", "w"},
        {"trigger", "ended"},
        {"requests", json::array{json::object{{"url", "http://"}}}}},
       400,
       "requests[0].url"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups",
       {{"name", "w"},
        {"trigger", "ended"},
        {"requests", json::array{json::object{{"url", "https://a b/x?u=[call_uuid]"}}}}},
       400,
       "requests[0].url"},
      // A sip: URI needs a host, and no control characters (it becomes the edge's target).
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "sip:@"}}, 400, "destination"},
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "sip:b@"}}, 400, "destination"},
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "sip:b@:5060"}}, 400, "destination"},
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "sip:a\u0007b@h"}}, 400, "destination"},
      {"/api/v1/buyers", {{"name", "b"}, {"destination", "sip:a b@h"}}, 400, "destination"},
      {"/api/v1/buyers",
       {{"name", "b"}, {"destination", "+15551234567"}, {"concurrency_cap", 0}},
       400,
       "concurrency_cap"},
      {"/api/v1/campaigns",
       {{"name", "c"}, {"buyers", json::array{json::object{{"buyer_id", 999}}}}},
       400,
       "buyers[0].buyer_id"},
      {"/api/v1/campaigns",
       {{"name", "c"}, {"buyers", json::array{json::object{{"buyer_id", f.buyer}, {"weight", 0}}}}},
       400,
       "buyers[0].weight"},
      {"/api/v1/campaigns",
       {{"name", "c"}, {"repeat_callers", {{"route", "sideways"}}}},
       400,
       "repeat_callers.route"},
      {"/api/v1/numbers", {{"number", "+18005550100"}, {"campaign_id", f.campaign}}, 409, "number"},
      {"/api/v1/numbers", {{"number", "12"}, {"campaign_id", f.campaign}}, 400, "number"},
      {"/api/v1/numbers", {{"number", "+18005550199"}, {"campaign_id", 999}}, 400, "campaign_id"},
      {"/api/v1/numbers",
       {{"number", "+18005550199"}, {"campaign_id", f.campaign}, {"tags", {{"bad key!", "x"}}}},
       400,
       "tags.bad key!"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"}, {"type", "postback_value"}, {"payout_modifier", "*0.8x"}},
       400,
       "payout_modifier"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"}, {"type", "postback_value"}, {"matches", "a:>x"}},
       400,
       "matches"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"}, {"type", "duration"}, {"seconds", 90}, {"revenue", "abc"}, {"payout", "1"}},
       400,
       "revenue"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"}, {"type", "postback_trigger"}, {"revenue", "1"}, {"payout", "1"}},
       400,
       "trigger"},
      // Buyers may not send these names, so a group keyed on one could never convert.
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"},
        {"type", "postback_trigger"},
        {"trigger", "system_sale"},
        {"revenue", "1"},
        {"payout", "1"}},
       400,
       "trigger"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"}, {"type", "postback_value"}, {"value_param", "caller_number"}},
       400,
       "value_param"},
      {"/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
       {{"name", "g"},
        {"type", "duration"},
        {"seconds", 90},
        {"revenue", "1"},
        {"payout", "1"},
        {"payout_modifier", "*1"}},
       400,
       "payout_modifier"},
  };
  for (const auto& c : cases) {
    HttpResponse r = s.Api("POST", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << json::serialize(c.body) << " → " << r.body;
    EXPECT_EQ(Field(r), c.field) << c.path << " " << json::serialize(c.body);
  }
  // A modifier error says where.
  HttpResponse r =
      s.Api("POST", "/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
            json::object{{"name", "g"}, {"type", "postback_value"}, {"payout_modifier", "*0.8x"}});
  EXPECT_NE(r.body.find("position 5"), std::string::npos) << r.body;
  // Malformed JSON, and JSON that is not an object.
  EXPECT_EQ(s.ApiWithKey(s.api_key(), "POST", "/api/v1/publishers", "{nope").status, 400);
  EXPECT_EQ(s.ApiWithKey(s.api_key(), "POST", "/api/v1/publishers", "[1]").status, 400);
  // Nothing was created by refused requests.
  EXPECT_EQ(s.Api("GET", "/api/v1/publishers").json().at("data").as_array().size(), 1u);
}

// A webhook request's body template may be as long as the docs say (65536 bytes), longer than
// the other templates' 8192.
TEST(OperatorApi, AWebhookBodyTemplateMayBeLongerThanAUrlTemplate) {
  Server s;
  Fixture f = MakeFixture(s);
  const std::string path = "/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups";
  auto group = [](size_t body_bytes) {
    return json::object{{"name", "w"},
                        {"trigger", "ended"},
                        {"requests", json::array{json::object{
                                         {"method", "POST"},
                                         {"url", "https://a.example/"},
                                         {"body", std::string(body_bytes, 'x') + "[call_uuid]"}}}}};
  };
  HttpResponse ok = s.Api("POST", path, group(60000));
  EXPECT_EQ(ok.status, 201) << ok.body;
  HttpResponse too_long = s.Api("POST", path, group(65536));
  EXPECT_EQ(too_long.status, 400) << too_long.body;
  EXPECT_EQ(Field(too_long), "requests[0].body");
}

// Null on a field that cannot be null is a 400 naming it, on create and on update, for every
// kind of object, and changes nothing; the fields that may be null (publisher_id,
// concurrency_cap, a webhook request's body and headers) still take it.
TEST(OperatorApi, NullOnAFieldThatCannotBeNullIsRefused) {
  Server s;
  Fixture f = MakeFixture(s);
  const std::string campaign = "/api/v1/campaigns/" + std::to_string(f.campaign);
  const std::string number = "/api/v1/numbers/" + std::to_string(f.number_id);
  const std::string publisher = "/api/v1/publishers/" + std::to_string(f.publisher);
  ASSERT_EQ(s.Api("PATCH", number, json::object{{"tags", {{"traffic", "search"}}}}).status, 200);
  const int64_t group = s.Create(campaign + "/conversion_groups",
                                 json::object{{"name", "sale"}, {"type", "postback_value"}});
  const int64_t hooks = s.Create(
      campaign + "/webhook_groups",
      json::object{{"name", "h"},
                   {"trigger", "started"},
                   {"sign", true},
                   {"requests", json::array{json::object{{"url", "https://a.example/"}}}}});
  const std::string key_path = publisher + "/postback_keys";
  const int64_t key = s.Create(key_path, json::object{{"name", "k"}});
  struct Case {
    std::string method, path;
    json::object body;
    std::string field;
  } cases[] = {
      {"POST", "/api/v1/publishers", {{"name", nullptr}}, "name"},
      {"PATCH", publisher, {{"name", nullptr}}, "name"},
      {"PATCH", publisher, {{"external_id", nullptr}}, "external_id"},
      {"POST", "/api/v1/buyers", {{"name", "b"}, {"destination", nullptr}}, "destination"},
      {"PATCH", "/api/v1/buyers/" + std::to_string(f.buyer), {{"name", nullptr}}, "name"},
      {"POST", "/api/v1/campaigns", {{"name", "c"}, {"buyers", nullptr}}, "buyers"},
      {"PATCH", campaign, {{"buyers", nullptr}}, "buyers"},
      {"PATCH", campaign, {{"repeat_callers", nullptr}}, "repeat_callers"},
      {"PATCH", campaign, {{"repeat_callers", {{"enabled", nullptr}}}}, "repeat_callers.enabled"},
      {"PATCH",
       campaign,
       {{"buyers", json::array{json::object{{"buyer_id", f.buyer}, {"weight", nullptr}}}}},
       "buyers[0].weight"},
      {"POST",
       "/api/v1/numbers",
       {{"number", "+18005550142"}, {"campaign_id", f.campaign}, {"tags", nullptr}},
       "tags"},
      {"PATCH", number, {{"tags", nullptr}}, "tags"},
      {"PATCH", number, {{"campaign_id", nullptr}}, "campaign_id"},
      {"POST",
       campaign + "/conversion_groups",
       {{"name", "g"}, {"type", "postback_value"}, {"matches", nullptr}},
       "matches"},
      {"PATCH",
       "/api/v1/conversion_groups/" + std::to_string(group),
       {{"payout_modifier", nullptr}},
       "payout_modifier"},
      {"PATCH",
       "/api/v1/conversion_groups/" + std::to_string(group),
       {{"position", nullptr}},
       "position"},
      {"PATCH", "/api/v1/webhook_groups/" + std::to_string(hooks), {{"sign", nullptr}}, "sign"},
      {"PATCH",
       "/api/v1/webhook_groups/" + std::to_string(hooks),
       {{"requests", nullptr}},
       "requests"},
      {"PATCH",
       "/api/v1/webhook_groups/" + std::to_string(hooks),
       {{"requests",
         json::array{json::object{{"url", "https://a.example/"}, {"method", nullptr}}}}},
       "requests[0].method"},
      {"POST",
       "/api/v1/webhook_groups/" + std::to_string(hooks) + "/rotate_secret",
       {{"overlap_seconds", nullptr}},
       "overlap_seconds"},
      {"PATCH", key_path + "/" + std::to_string(key), {{"paused", nullptr}}, "paused"},
      {"POST", key_path, {{"name", nullptr}}, "name"},
      {"PATCH", "/api/v1/account", {{"call_key_ttl_seconds", nullptr}}, "call_key_ttl_seconds"},
  };
  for (const auto& c : cases) {
    const std::string what = c.method + " " + c.path + " " + json::serialize(c.body);
    // Bad input changes nothing: the object (or the list) reads the same after the refusal.
    std::string read = c.path;
    if (auto at = read.find("/rotate_secret"); at != std::string::npos) read.resize(at);
    const std::string before = s.Api("GET", read).body;
    HttpResponse r = s.Api(c.method, c.path, c.body);
    EXPECT_EQ(r.status, 400) << what << " → " << r.body;
    EXPECT_EQ(Field(r), c.field) << what << " → " << r.body;
    if (r.status == 400) {
      EXPECT_EQ(Str(r.json().at("error").at("message")), c.field + ": must not be null");
    }
    EXPECT_EQ(s.Api("GET", read).body, before) << what;
  }
  EXPECT_EQ(s.Api("GET", number).json().at("tags"), (json::object{{"traffic", "search"}}));
  // The fields that may be null.
  HttpResponse cleared = s.Api("PATCH", number, json::object{{"publisher_id", nullptr}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_TRUE(cleared.json().at("publisher_id").is_null());
  HttpResponse uncapped = s.Api("PATCH", "/api/v1/buyers/" + std::to_string(f.buyer),
                                json::object{{"concurrency_cap", nullptr}});
  ASSERT_EQ(uncapped.status, 200) << uncapped.body;
  EXPECT_TRUE(uncapped.json().at("concurrency_cap").is_null());
  HttpResponse bodiless =
      s.Api("PATCH", "/api/v1/webhook_groups/" + std::to_string(hooks),
            json::object{{"requests", json::array{json::object{{"method", "POST"},
                                                               {"url", "https://a.example/"},
                                                               {"headers", nullptr},
                                                               {"body", nullptr}}}}});
  ASSERT_EQ(bodiless.status, 200) << bodiless.body;
  // An object read back, with its nulls (publisher_id), may be sent back as it is.
  json::object back = s.Api("GET", number).json().as_object();
  EXPECT_EQ(s.Api("PATCH", number, back).status, 200);
}

TEST(OperatorApi, ConversionGroupsInOrderWithInstructions) {
  Server s;
  Fixture f = MakeFixture(s);
  std::string base = "/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups";
  HttpResponse value = s.Api(
      "POST", base,
      json::object{{"name", "sales"}, {"type", "postback_value"}, {"payout_modifier", "*0.8"}});
  ASSERT_EQ(value.status, 201) << value.body;
  EXPECT_EQ(value.json().at("postback_timeout_seconds"), 600);
  EXPECT_EQ(value.json().at("position"), 0);
  std::string url(value.json().at("postback_instructions").at("url").as_string());
  EXPECT_EQ(url, s.url("/calls/[call_uuid]/postback?key=[call_key]&value=REVENUE"));
  HttpResponse trigger = s.Api("POST", base,
                               json::object{{"name", "kw"},
                                            {"type", "postback_trigger"},
                                            {"trigger", "sale"},
                                            {"revenue", "25"},
                                            {"payout", "10.00"}});
  ASSERT_EQ(trigger.status, 201) << trigger.body;
  EXPECT_EQ(trigger.json().at("revenue"), "25.00");
  EXPECT_EQ(trigger.json().at("position"), 1);
  EXPECT_EQ(std::string(trigger.json().at("postback_instructions").at("url").as_string()),
            s.url("/calls/[call_uuid]/postback?key=[call_key]&sale"));
  HttpResponse duration = s.Api("POST", base,
                                json::object{{"name", "90s"},
                                             {"type", "duration"},
                                             {"seconds", 90},
                                             {"revenue", "20"},
                                             {"payout", "10"}});
  ASSERT_EQ(duration.status, 201);
  EXPECT_FALSE(duration.json().as_object().contains("postback_instructions"));
  HttpResponse list = s.Api("GET", base);
  ASSERT_EQ(list.json().at("data").as_array().size(), 3u);
  int64_t id = trigger.json().at("id").as_int64();
  EXPECT_EQ(s.Api("GET", base + "/" + std::to_string(id)).status, 200);
  EXPECT_EQ(s.Api("GET", "/api/v1/conversion_groups/" + std::to_string(id)).status, 200);
  EXPECT_EQ(s.Api("PATCH", base + "/" + std::to_string(id), json::object{{"position", 5}})
                .json()
                .at("position"),
            5);
  // Changing a group's type needs the new type's fields.
  int64_t vid = value.json().at("id").as_int64();
  HttpResponse retyped =
      s.Api("PATCH", base + "/" + std::to_string(vid), json::object{{"type", "duration"}});
  EXPECT_EQ(retyped.status, 400) << retyped.body;
  EXPECT_EQ(s.Api("PATCH", base + "/" + std::to_string(vid), json::object{{"name", ""}}).status,
            400);
  EXPECT_EQ(s.Api("DELETE", base + "/" + std::to_string(id)).status, 204);
  EXPECT_EQ(s.Api("GET", base).json().at("data").as_array().size(), 2u);
}

TEST(OperatorApi, AuthenticationAndIsolation) {
  Server s;
  Fixture f = MakeFixture(s);
  EXPECT_EQ(Http("GET", s.url("/api/v1/buyers")).status, 401);
  EXPECT_EQ(s.ApiWithKey("cpk_wrongwrongwrongwrongwrong", "GET", "/api/v1/buyers").status, 401);
  std::string other = s.NewAccount("other network");
  // Another account sees none of this account's objects, and cannot change them.
  for (std::string path : {"/api/v1/publishers/" + std::to_string(f.publisher),
                           "/api/v1/buyers/" + std::to_string(f.buyer),
                           "/api/v1/campaigns/" + std::to_string(f.campaign),
                           "/api/v1/numbers/" + std::to_string(f.number_id)}) {
    EXPECT_EQ(s.ApiWithKey(other, "GET", path).status, 404) << path;
    EXPECT_EQ(s.ApiWithKey(other, "PATCH", path, R"({"name":"x"})").status, 404) << path;
    EXPECT_EQ(s.ApiWithKey(other, "DELETE", path).status, 404) << path;
  }
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/buyers").json().at("data").as_array().size(), 0u);
  // Nor reference them.
  HttpResponse r =
      s.ApiWithKey(other, "POST", "/api/v1/campaigns",
                   R"({"name":"c","buyers":[{"buyer_id":)" + std::to_string(f.buyer) + "}]}");
  EXPECT_EQ(r.status, 400) << r.body;
  json::object call = StartCall(s);
  std::string uuid(call.at("uuid").as_string());
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/calls/" + uuid).status, 404);
  EXPECT_EQ(
      s.ApiWithKey(other, "POST", "/api/v1/calls/" + uuid + "/events", R"({"type":"answered"})")
          .status,
      404);
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/calls").json().at("data").as_array().size(), 0u);
  EXPECT_EQ(s.ApiWithKey(other, "POST", "/api/v1/calls", R"({"number":"+18005550100"})").status,
            404);
}

TEST(OperatorApi, Pagination) {
  Server s;
  for (int i = 0; i < 7; ++i)
    s.Create("/api/v1/publishers", json::object{{"name", "p" + std::to_string(i)}});
  std::vector<std::string> names;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    HttpResponse r =
        s.Api("GET", "/api/v1/publishers?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200);
    json::value doc = r.json();
    for (const auto& p : doc.at("data").as_array()) names.emplace_back(p.at("name").as_string());
    if (r.json().at("next_cursor").is_null()) break;
    cursor = std::string(r.json().at("next_cursor").as_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ(s.Api("GET", "/api/v1/publishers?limit=0").status, 400);
  EXPECT_EQ(s.Api("GET", "/api/v1/publishers?limit=501").status, 400);
  EXPECT_EQ(s.Api("GET", "/api/v1/publishers?cursor=zzz").status, 400);
}

// Every list refuses a query parameter it does not take, naming it, as the calls list always
// did; what it takes (limit and cursor, its filters, anything left empty) still answers 200.
TEST(OperatorApi, ListsRefuseUnknownParameters) {
  Server s;
  Fixture f = MakeFixture(s);
  const std::string campaign = "/api/v1/campaigns/" + std::to_string(f.campaign);
  const std::string publisher = "/api/v1/publishers/" + std::to_string(f.publisher);
  const std::string paged[] = {
      "/api/v1/publishers",
      "/api/v1/buyers",
      "/api/v1/campaigns",
      "/api/v1/numbers",
      "/api/v1/conversion_groups",
      "/api/v1/webhook_groups",
      "/api/v1/postback_keys",
      campaign + "/conversion_groups",
      campaign + "/webhook_groups",
      publisher + "/postback_keys",
      "/api/v1/calls",
      "/api/v1/webhook_deliveries",
  };
  for (const std::string& list : paged) {
    HttpResponse r = s.Api("GET", list + "?limit=2&foo=1");
    EXPECT_EQ(r.status, 400) << list << " → " << r.body;
    EXPECT_EQ(Field(r), "foo") << list;
    EXPECT_EQ(Str(r.json().at("error").at("message")), "foo: unknown filter") << list;
    EXPECT_EQ(s.Api("GET", list + "?limit=2&cursor=&foo=").status, 200) << list;
  }
  EXPECT_EQ(s.Api("GET", "/api/v1/calls?status=routed&converted=false").status, 200);
  EXPECT_EQ(s.Api("GET", "/api/v1/webhook_deliveries?state=failed").status, 200);
  // API keys come in one page: they take no parameter at all.
  EXPECT_EQ(s.Api("GET", "/api/v1/api_keys").status, 200);
  EXPECT_EQ(s.Api("GET", "/api/v1/api_keys?limit=").status, 200);
  HttpResponse keys = s.Api("GET", "/api/v1/api_keys?foo=1");
  EXPECT_EQ(keys.status, 400) << keys.body;
  EXPECT_EQ(Field(keys), "foo");
}

// A bad value of a list's parameter is a 400 whose `field` is that parameter.
TEST(OperatorApi, BadListParametersNameThemselves) {
  Server s;
  MakeFixture(s);
  const std::pair<std::string, std::string> cases[] = {
      {"/api/v1/publishers", "limit=0"},
      {"/api/v1/publishers", "cursor=zzz"},
      {"/api/v1/calls", "campaign_id=x"},
      {"/api/v1/calls", "status=x"},
      {"/api/v1/calls", "converted=x"},
      {"/api/v1/calls", "since=x"},
      {"/api/v1/calls", "until=x"},
      {"/api/v1/webhook_deliveries", "state=x"},
      {"/api/v1/webhook_deliveries", "call_uuid=zzz"},
      {"/api/v1/webhook_deliveries", "limit=501"},
  };
  for (const auto& [list, param] : cases) {
    HttpResponse r = s.Api("GET", list + "?" + param);
    EXPECT_EQ(r.status, 400) << list << "?" << param << " → " << r.body;
    EXPECT_EQ(Field(r), param.substr(0, param.find('=')))
        << list << "?" << param << " → " << r.body;
  }
  HttpResponse r = s.Api("GET", "/api/v1/webhook_deliveries?call_uuid=zzz");
  EXPECT_EQ(Str(r.json().at("error").at("message")), "call_uuid: the call UUID is malformed");
}

TEST(OperatorApi, AccountSettingsAndApiKeys) {
  Server s;
  HttpResponse a = s.Api("GET", "/api/v1/account");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.json().at("carry_over_postback_tags"), true);
  EXPECT_EQ(a.json().at("call_key_ttl_seconds"), 2592000);
  HttpResponse p =
      s.Api("PATCH", "/api/v1/account",
            json::object{{"carry_over_postback_tags", false}, {"call_key_ttl_seconds", 3600}});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(s.Api("GET", "/api/v1/account").json().at("call_key_ttl_seconds"), 3600);
  EXPECT_EQ(Field(s.Api("PATCH", "/api/v1/account", json::object{{"call_key_ttl_seconds", 1}})),
            "call_key_ttl_seconds");
  EXPECT_EQ(Field(s.Api("PATCH", "/api/v1/account", json::object{{"plan", "gold"}})), "plan");

  HttpResponse k = s.Api("POST", "/api/v1/api_keys", json::object{{"name", "edge"}});
  ASSERT_EQ(k.status, 201) << k.body;
  std::string key(k.json().at("key").as_string());
  EXPECT_GE(key.size(), 40u);
  EXPECT_EQ(s.ApiWithKey(key, "GET", "/api/v1/account").status, 200);
  HttpResponse list = s.Api("GET", "/api/v1/api_keys");
  ASSERT_EQ(list.json().at("data").as_array().size(), 2u);
  EXPECT_EQ(list.body.find(key), std::string::npos) << "a listed key must not show its secret";
  int64_t id = k.json().at("id").as_int64();
  EXPECT_EQ(s.Api("DELETE", "/api/v1/api_keys/" + std::to_string(id)).status, 204);
  EXPECT_EQ(s.ApiWithKey(key, "GET", "/api/v1/account").status, 401);
  // The last key cannot be deleted.
  int64_t last =
      s.Api("GET", "/api/v1/api_keys").json().at("data").as_array()[0].at("id").as_int64();
  EXPECT_EQ(s.Api("DELETE", "/api/v1/api_keys/" + std::to_string(last)).status, 409);
}

// With --metrics-token, /metrics asks for it as a bearer token; /healthz never asks for one.
TEST(OperatorApi, MetricsAskForTheirTokenWhenOneIsSet) {
  const std::string token = "mt_4mF9qR2xW7vB1nK8";
  Server s(ConfigureOptions([&](app::AppOptions& o) { o.metrics_token = token; }));
  for (const std::vector<std::string>& headers : {std::vector<std::string>{},
                                                  {"Authorization: Bearer wrong"},
                                                  {"Authorization: Bearer " + s.api_key()},
                                                  {"Authorization: Basic " + token}}) {
    HttpResponse r = Http("GET", s.url("/metrics"), "", headers);
    EXPECT_EQ(r.status, 401) << (headers.empty() ? "" : headers[0]);
    EXPECT_EQ(r.body.find("callpost_"), std::string::npos) << r.body;
  }
  HttpResponse m = Http("GET", s.url("/metrics"), "", {"Authorization: Bearer " + token});
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("callpost_http_requests_total"), std::string::npos);
  EXPECT_EQ(Http("GET", s.url("/healthz")).status, 200);
}

TEST(OperatorApi, OperationsEndpoints) {
  Server s;
  HttpResponse h = Http("GET", s.url("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json().at("status"), "ok");
  HttpResponse o = Http("GET", s.url("/openapi.json"));
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(std::string(o.json().at("openapi").as_string()).substr(0, 2), "3.");
  MakeFixture(s);
  StartCall(s);
  HttpResponse m = Http("GET", s.url("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(ExpositionError(m.body), "") << m.body;
  EXPECT_NE(m.body.find("callpost_http_requests_total{route=\"/api/v1/calls\",status=\"201\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("callpost_calls{status=\"routed\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("callpost_http_request_duration_seconds_bucket"), std::string::npos);
  // The store's: every write so far committed (configuration and the call), none failed.
  EXPECT_EQ(m.body.find("callpost_store_commits_total 0\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("callpost_store_units_total{outcome=\"failed\"} 0\n"), std::string::npos);
  EXPECT_NE(m.body.find("callpost_store_commit_duration_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(m.body.find("callpost_store_write_queue 0\n"), std::string::npos);
  EXPECT_NE(m.body.find("\ncallpost_database_up 1\n"), std::string::npos);
  EXPECT_EQ(Http("GET", s.url("/nowhere")).status, 404);
  // A key put in the wrong place is not logged with the path (the log scan checks).
  EXPECT_EQ(Http("GET", s.url("/api/v1/" + s.api_key())).status, 401);
  EXPECT_EQ(Http("GET", s.url("/sip/route/" + s.api_key())).status, 404);
  EXPECT_EQ(Http("GET", s.url("/" + s.api_key() + "/x")).status, 404);
  EXPECT_FALSE(h.headers["x-request-id"].empty());
}

}  // namespace
}  // namespace testing_harness
