// Isolation (docs/reliability.md, R9): one account's API key never reaches another account's
// objects, and a call key opens its own call only. The routes come from the served OpenAPI
// document, so a new route is walked (or fails here, asking to be mapped) without a change
// to this file.
#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "receiver.h"

namespace testing_harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Route {
  std::string method;  // lower case, as in the document
  std::string path;    // template: /api/v1/publishers/{id}
};

std::vector<Route> DocumentedRoutes(const Server& s) {
  HttpResponse doc = Http("GET", s.url("/openapi.json"));
  EXPECT_EQ(doc.status, 200);
  std::vector<Route> out;
  const json::value v = doc.json();
  for (const auto& [path, item] : v.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (method == "parameters") continue;
      out.push_back({std::string(method), std::string(path)});
    }
  }
  EXPECT_GT(out.size(), 40u);
  return out;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(toupper(c));
  return s;
}

// Account A's objects of every kind, by the name the routes give their ids.
struct Objects {
  Fixture f;
  int64_t conversion_group = 0, webhook_group = 0, postback_key = 0, api_key = 0, delivery = 0;
  std::string call_uuid, call_key, publisher_key;
};

Objects MakeEverything(Server& s, const Receiver& r) {
  Objects o;
  o.f = MakeFixture(s);
  const std::string campaign = "/api/v1/campaigns/" + std::to_string(o.f.campaign);
  o.conversion_group = s.Create(campaign + "/conversion_groups",
                                json::object{{"name", "sales"}, {"type", "postback_value"}});
  o.webhook_group = s.Create(
      campaign + "/webhook_groups",
      json::object{{"name", "started"},
                   {"trigger", "started"},
                   {"sign", true},
                   {"requests", json::array{json::object{{"url", r.url("/[call_uuid]")}}}}});
  HttpResponse pk =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(o.f.publisher) + "/postback_keys",
            json::object{{"name", "pk"}});
  EXPECT_EQ(pk.status, 201) << pk.body;
  o.postback_key = pk.json().at("id").as_int64();
  o.publisher_key = Str(pk.json().at("key"));
  HttpResponse key = s.Api("POST", "/api/v1/api_keys", json::object{{"name", "second"}});
  EXPECT_EQ(key.status, 201) << key.body;
  o.api_key = key.json().at("id").as_int64();
  json::object call = StartCall(s);
  o.call_uuid = Str(call.at("uuid"));
  o.call_key = Str(call.at("key"));
  EXPECT_TRUE(s.app().WaitForWebhooks(10s));
  json::array hooks = s.Api("GET", "/api/v1/calls/" + o.call_uuid).json().at("webhooks").as_array();
  EXPECT_EQ(hooks.size(), 1u);
  if (!hooks.empty()) o.delivery = hooks[0].at("id").as_int64();
  return o;
}

// Fills a route template with account A's objects; empty when a parameter is not known here.
std::string Fill(const std::string& tmpl, const Objects& o) {
  std::string out, prev;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t next = tmpl.find('/', pos + 1);
    if (next == std::string::npos) next = tmpl.size();
    std::string seg = tmpl.substr(pos + 1, next - pos - 1);
    std::string value = seg;
    if (seg == "{uuid}") {
      value = o.call_uuid;
    } else if (seg == "{campaign_id}") {
      value = std::to_string(o.f.campaign);
    } else if (seg == "{publisher_id}") {
      value = std::to_string(o.f.publisher);
    } else if (seg == "{key}") {
      value = o.publisher_key;
    } else if (seg == "{id}") {
      const std::map<std::string, int64_t> ids = {{"publishers", o.f.publisher},
                                                  {"buyers", o.f.buyer},
                                                  {"campaigns", o.f.campaign},
                                                  {"numbers", o.f.number_id},
                                                  {"conversion_groups", o.conversion_group},
                                                  {"webhook_groups", o.webhook_group},
                                                  {"postback_keys", o.postback_key},
                                                  {"api_keys", o.api_key},
                                                  {"webhook_deliveries", o.delivery}};
      auto it = ids.find(prev);
      if (it == ids.end()) return "";
      value = std::to_string(it->second);
    } else if (seg.starts_with("{")) {
      return "";
    }
    out += "/" + value;
    prev = seg;
    pos = next;
  }
  return out;
}

// A body the route would accept from A, so a refusal is about ownership, not the body.
std::string BodyFor(const Route& r) {
  if (r.method == "patch") return R"({"name":"taken over"})";
  if (r.method != "post") return "";
  if (r.path.ends_with("/conversion_groups")) return R"({"name":"x","type":"postback_value"})";
  if (r.path.ends_with("/webhook_groups")) {
    return R"({"name":"x","trigger":"answered","requests":[{"url":"http://127.0.0.1:9/"}]})";
  }
  if (r.path.ends_with("/postback_keys")) return R"({"name":"x"})";
  if (r.path.ends_with("/events")) return R"({"type":"ended"})";
  return "{}";
}

// Everything account A can read about its objects, to compare before and after.
std::string StateOfA(const Server& s, const std::vector<Route>& routes, const Objects& o) {
  std::string state;
  for (const Route& r : routes) {
    if (r.method != "get" || !r.path.starts_with("/api/v1/")) continue;
    std::string path = r.path.find('{') == std::string::npos ? r.path : Fill(r.path, o);
    if (path.empty()) continue;
    HttpResponse got = s.Api("GET", path);
    state += path + " " + std::to_string(got.status) + " " + got.body + "\n";
  }
  return state;
}

TEST(Isolation, EveryOperatorRouteWithAnotherAccountsKeyIs404AndChangesNothing) {
  Server s;
  Receiver r;
  Objects a = MakeEverything(s, r);
  const std::string b_key = s.NewAccount("account B");
  // B has objects of its own, so empty answers are not the only ones it can get.
  HttpResponse b_pub = s.ApiWithKey(b_key, "POST", "/api/v1/publishers", R"({"name":"B pub"})");
  ASSERT_EQ(b_pub.status, 201);
  const std::vector<Route> routes = DocumentedRoutes(s);
  const std::string before = StateOfA(s, routes, a);
  int walked = 0;
  for (const Route& route : routes) {
    const bool operator_route = route.path.starts_with("/api/v1/");
    const bool sip_route = route.path.starts_with("/sip/");
    if (!operator_route && !sip_route) continue;
    const std::string method = Upper(route.method);
    SCOPED_TRACE(method + " " + route.path);
    if (sip_route) {
      // The SIP hooks with B's token: A's number and A's call are unknown to B.
      std::string q = route.path == "/sip/route"
                          ? "to=%2B18005550100&from=%2B15551230000&callid=b-1"
                          : "uuid=" + a.call_uuid + "&type=ended";
      HttpResponse got = Http(method, s.url(route.path + "?" + q + "&token=" + b_key));
      EXPECT_EQ(got.status, 404) << got.body;
      ++walked;
      continue;
    }
    if (route.path.find('{') != std::string::npos) {
      const std::string path = Fill(route.path, a);
      ASSERT_FALSE(path.empty()) << "a new route: map its parameters in Fill()";
      HttpResponse got = s.ApiWithKey(b_key, method, path, BodyFor(route));
      EXPECT_EQ(got.status, 404) << got.body;
      ++walked;
      continue;
    }
    // Routes without an id: B's lists hold none of A's objects, and B cannot start a call on
    // A's number.
    if (route.method == "get") {
      const std::map<std::string, json::value> mine = {
          {"/api/v1/publishers", a.f.publisher},
          {"/api/v1/buyers", a.f.buyer},
          {"/api/v1/campaigns", a.f.campaign},
          {"/api/v1/numbers", a.f.number_id},
          {"/api/v1/conversion_groups", a.conversion_group},
          {"/api/v1/webhook_groups", a.webhook_group},
          {"/api/v1/postback_keys", a.postback_key},
          {"/api/v1/api_keys", a.api_key},
          {"/api/v1/webhook_deliveries", a.delivery},
          {"/api/v1/calls", json::value(a.call_uuid)}};
      HttpResponse got = s.ApiWithKey(b_key, "GET", route.path);
      EXPECT_EQ(got.status, 200) << got.body;
      if (route.path == "/api/v1/account") {
        EXPECT_EQ(got.json().at("name"), "account B");
      } else {
        auto it = mine.find(route.path);
        ASSERT_NE(it, mine.end()) << "a new list: say which of A's objects it must not show";
        const char* field = route.path == "/api/v1/calls" ? "uuid" : "id";
        const json::value list = got.json();
        for (const auto& item : list.at("data").as_array()) {
          EXPECT_NE(item.at(field), it->second) << got.body;
        }
      }
      if (route.path == "/api/v1/webhook_deliveries") {
        HttpResponse by_call = s.ApiWithKey(b_key, "GET", route.path + "?call_uuid=" + a.call_uuid);
        EXPECT_EQ(by_call.json().at("data").as_array().size(), 0u) << by_call.body;
      }
      ++walked;
    } else if (route.path == "/api/v1/calls" && route.method == "post") {
      HttpResponse got = s.ApiWithKey(
          b_key, "POST", route.path, R"({"number":"+18005550100","caller_number":"+15551230000"})");
      EXPECT_EQ(got.status, 404) << got.body;
      ++walked;
    }
  }
  EXPECT_GE(walked, 50);  // all but the creation of top-level objects, which are B's own
  EXPECT_EQ(StateOfA(s, routes, a), before) << "B's requests changed A's objects";
}

TEST(Isolation, ACallKeyOpensItsOwnCallOnly) {
  Server s;
  Fixture f = MakeFixture(s);
  s.Create("/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
           json::object{{"name", "sales"}, {"type", "postback_value"}});
  json::object x = StartCall(s, "+15551230001");
  json::object y = StartCall(s, "+15551230002");
  const std::string x_uuid = Str(x.at("uuid")), y_key = Str(y.at("key"));
  auto view = [&] {
    json::object call = s.Api("GET", "/api/v1/calls/" + x_uuid).json().as_object();
    call.erase("postbacks");  // refused postbacks are logged on the call (key redacted)
    call.erase("postbacks_total");
    return json::serialize(call);
  };
  const std::string before = view();
  int walked = 0;
  for (const Route& route : DocumentedRoutes(s)) {
    if (!route.path.starts_with("/calls/")) continue;
    const std::string method = Upper(route.method);
    std::string path = route.path;
    path.replace(path.find("{uuid}"), 6, x_uuid);
    SCOPED_TRACE(method + " " + path);
    // Y's key as ?key=, as X-Call-Key, and in a form body.
    HttpResponse q = Http(method, s.url(path + "?key=" + y_key + "&value=99&sale=1&t=y"));
    EXPECT_EQ(q.status, 401) << q.body;
    HttpResponse h = Http(method, s.url(path + "?value=99&t=y"), "", {"X-Call-Key: " + y_key});
    EXPECT_EQ(h.status, 401) << h.body;
    if (method == "POST") {
      HttpResponse b = Http(method, s.url(path), "key=" + y_key + "&value=99",
                            {"Content-Type: application/x-www-form-urlencoded"});
      EXPECT_EQ(b.status, 401) << b.body;
    }
    // And no key at all.
    EXPECT_EQ(Http(method, s.url(path + "?value=99")).status, 401);
    ++walked;
  }
  EXPECT_GE(walked, 8);
  EXPECT_EQ(view(), before) << "another call's key changed the call";
  // The right key still works.
  EXPECT_EQ(Postback(s, x_uuid, Str(x.at("key")), "t=x").status, 200);
}

TEST(Isolation, APublisherKeyWritesOnlyItsOwnAccountsCalls) {
  Server s;
  Receiver r;
  Objects a = MakeEverything(s, r);
  // Account B with a call of its own.
  const std::string b_key = s.NewAccount("account B");
  auto b_create = [&](const std::string& path, const json::object& body) {
    HttpResponse got = s.ApiWithKey(b_key, "POST", path, json::serialize(body));
    EXPECT_EQ(got.status, 201) << path << " " << got.body;
    return got.json().at("id").as_int64();
  };
  int64_t buyer =
      b_create("/api/v1/buyers", {{"name", "B buyer"}, {"destination", "+15550000009"}});
  int64_t campaign = b_create(
      "/api/v1/campaigns",
      {{"name", "B campaign"}, {"buyers", json::array{json::object{{"buyer_id", buyer}}}}});
  b_create("/api/v1/numbers", {{"number", "+18005550199"}, {"campaign_id", campaign}});
  HttpResponse call = s.ApiWithKey(b_key, "POST", "/api/v1/calls",
                                   R"({"number":"+18005550199","caller_number":"+15551239999"})");
  ASSERT_EQ(call.status, 201) << call.body;
  const std::string b_uuid = Str(call.json().at("uuid"));
  auto b_call = [&] { return s.ApiWithKey(b_key, "GET", "/api/v1/calls/" + b_uuid).body; };
  const std::string before = b_call();
  HttpResponse got =
      Http("GET", s.url("/data_writing/" + a.publisher_key + "?call_uuid=" + b_uuid + "&stolen=1"));
  EXPECT_EQ(got.status, 404) << got.body;
  EXPECT_EQ(b_call(), before);
}

}  // namespace
}  // namespace testing_harness
