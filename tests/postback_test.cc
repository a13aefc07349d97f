// Buyer postbacks over HTTP: methods, body forms, multi-valued tags, distinct refusals, text
// answers, the postback log (key redacted), key expiry, and the buyer's view of its call.
#include <gtest/gtest.h>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

struct Call {
  std::string uuid, key;
};

Call NewCall(const Server& s) {
  json::object c = StartCall(s);
  return {Str(c.at("uuid")), Str(c.at("key"))};
}

json::object Tags(const Server& s, const std::string& uuid) {
  return s.Api("GET", "/api/v1/calls/" + uuid).json().at("tags").as_object();
}

TEST(Postbacks, MethodsAndBodies) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  HttpResponse get = Postback(s, c.uuid, c.key, "tag=value&tag2=value2");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(Str(get.json().at("call_uuid")), c.uuid);
  EXPECT_EQ(get.json().at("status"), "tags applied");
  EXPECT_EQ(get.json().at("tag_values"), (json::object{{"tag", "value"}, {"tag2", "value2"}}));
  EXPECT_EQ(get.json().at("conversion").at("state"), "pending");

  std::string base = s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key);
  HttpResponse form = Http("POST", base, "a=1&b=two+words&c=%C3%A9",
                           {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(form.status, 200) << form.body;
  HttpResponse js =
      Http("POST", s.url("/calls/" + c.uuid + "/postback"),
           R"({"key":")" + c.key + R"(","a":"2","n":3,"d":12.5,"ok":true,"list":["x","y"]})",
           {"Content-Type: application/json"});
  ASSERT_EQ(js.status, 200) << js.body;
  HttpResponse head = Http("HEAD", base + "&h=1");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  HttpResponse header_key =
      Http("GET", s.url("/calls/" + c.uuid + "/add_tags?hk=1"), "", {"X-Call-Key: " + c.key});
  EXPECT_EQ(header_key.status, 200) << header_key.body;

  json::object tags = Tags(s, c.uuid);
  EXPECT_EQ(tags.at("tag"), "value");
  EXPECT_EQ(tags.at("a"), "1,2");  // multi-valued: adding a=2 to a=1 leaves 1,2
  EXPECT_EQ(tags.at("b"), "two words");
  EXPECT_EQ(tags.at("c"), "\xc3\xa9");
  EXPECT_EQ(tags.at("n"), "3");
  EXPECT_EQ(tags.at("d"), "12.5");
  EXPECT_EQ(tags.at("ok"), "true");
  EXPECT_EQ(tags.at("list"), "x,y");
  EXPECT_EQ(tags.at("h"), "1");
  EXPECT_EQ(tags.at("hk"), "1");
  EXPECT_FALSE(tags.contains("key"));
}

TEST(Postbacks, DistinctRefusals) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  Call other = NewCall(s);
  std::string long_value(256, 'v');
  std::string many;
  for (int i = 0; i < 101; ++i) many += "&t" + std::to_string(i) + "=1";
  struct Case {
    std::string name, target;
    int status;
  } cases[] = {
      {"unknown call", "/calls/00000000-0000-4000-8000-000000000000/add_tags?key=" + c.key + "&a=1",
       404},
      {"malformed uuid", "/calls/not-a-uuid/add_tags?key=" + c.key, 400},
      {"missing key", "/calls/" + c.uuid + "/add_tags?a=1", 401},
      {"wrong key", "/calls/" + c.uuid + "/add_tags?key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&a=1", 401},
      {"another call's key", "/calls/" + c.uuid + "/add_tags?key=" + other.key + "&a=1", 401},
      {"bad percent-encoding", "/calls/" + c.uuid + "/add_tags?key=" + c.key + "&a=%ZZ", 400},
      {"invalid UTF-8", "/calls/" + c.uuid + "/add_tags?key=" + c.key + "&a=%FF", 400},
      {"value too long", "/calls/" + c.uuid + "/add_tags?key=" + c.key + "&a=" + long_value, 400},
      {"key too long", "/calls/" + c.uuid + "/add_tags?key=" + c.key + "&" + long_value + "=1",
       400},
      {"reserved key", "/calls/" + c.uuid + "/add_tags?key=" + c.key + "&system_buyer_id=9", 400},
      {"too many tags", "/calls/" + c.uuid + "/add_tags?key=" + c.key + many, 400},
  };
  for (const auto& t : cases) {
    HttpResponse r = Http("GET", s.url(t.target));
    EXPECT_EQ(r.status, t.status) << t.name << ": " << r.body;
    EXPECT_TRUE(r.json().at("error").at("message").is_string()) << t.name;
  }
  HttpResponse nested =
      Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key + "&from=query"),
           R"({"a":{"b":1}})", {"Content-Type: application/json"});
  EXPECT_EQ(nested.status, 400);
  HttpResponse bad_json = Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key),
                               R"({"a":)", {"Content-Type: application/json"});
  EXPECT_EQ(bad_json.status, 400);
  // Nothing changed: only the system and number tags are there.
  for (const auto& [k, v] : Tags(s, c.uuid)) {
    EXPECT_TRUE(k.starts_with("system_") || k == "caller_number" || k == "traffic") << k;
  }
  // Every postback to the call, accepted or refused, is in its log, without the key.
  HttpResponse d = s.Api("GET", "/api/v1/calls/" + c.uuid);
  EXPECT_EQ(d.body.find(c.key + "\""), d.body.rfind(c.key + "\""))
      << "the key appears only as the call's own key field";
  json::value doc = d.json();
  const auto& log = doc.at("postbacks").as_array();
  EXPECT_GE(log.size(), 8u);
  // A malformed body is logged with what the query string said.
  bool query_kept = false;
  for (const auto& p : log) {
    const auto& params = p.at("params").as_object();
    query_kept |= params.contains("from") && params.at("from").as_array()[0] == "query" &&
                  params.at("key") == "[redacted]";
  }
  EXPECT_TRUE(query_kept) << d.body;
  for (const auto& p : log) {
    EXPECT_NE(p.at("http_status").as_int64(), 200) << json::serialize(p);
    if (p.at("params").as_object().contains("key")) {
      EXPECT_EQ(p.at("params").at("key"), "[redacted]");
    }
  }
}

// The answer's members in order, a name given twice joined in it, and listed value by value
// in the call's postback log with the key redacted.
TEST(Postbacks, TheAnswerAndTheLogEntry) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  HttpResponse r = Postback(s, c.uuid, c.key, "m=1&x=%22q%22&m=2");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object answer = r.json().as_object();
  std::vector<std::string> members;
  for (const auto& kv : answer) members.emplace_back(kv.key());
  EXPECT_EQ(members, (std::vector<std::string>{"call_uuid", "tag_values", "conversion", "status"}));
  EXPECT_EQ(answer.at("tag_values"), (json::object{{"m", "1,2"}, {"x", "\"q\""}}));
  EXPECT_EQ(answer.at("conversion"),
            (json::object{
                {"state", "pending"}, {"revenue", nullptr}, {"payout", nullptr}, {"late", false}}));
  EXPECT_EQ(answer.at("status"), "tags applied");
  const json::value doc = s.Api("GET", "/api/v1/calls/" + c.uuid).json();
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(json::serialize(log[0].at("params")),
            R"({"m":["1","2"],"x":["\"q\""],"key":"[redacted]"})");
}

// Anyone who knows a call's UUID can send it refused postbacks (a wrong key is always 401,
// never rate limited): what each logs is bounded. Names and values are cut to the tag limit
// with a trailing "…", parameters past the 100th are dropped and counted.
TEST(Postbacks, ARefusedPostbackIsLoggedTruncated) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  const std::string huge(100000, 'x');
  const std::string long_name(300, 'n');
  std::string body = "a=" + huge + "&" + long_name + "=1&e=" + std::string(254, 'y') + "%C3%A9";
  for (int i = 0; i < 150; ++i) body += "&p" + std::to_string(i) + "=1";
  HttpResponse r = Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=wrongwrongwrong"), body,
                        {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(r.status, 401) << r.body;
  HttpResponse d = s.Api("GET", "/api/v1/calls/" + c.uuid);
  EXPECT_LT(d.body.size(), 64u * 1024) << "the log entry is bounded";
  const json::value doc = d.json();
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 1u);
  const auto& params = log[0].at("params").as_object();
  const std::string ellipsis = "\xe2\x80\xa6";
  EXPECT_EQ(Str(params.at("a").as_array().at(0)), std::string(255, 'x') + ellipsis);
  EXPECT_EQ(Str(params.at(std::string(255, 'n') + ellipsis).as_array().at(0)), "1");
  // Cut at a character boundary: "yyy…é" would be 256 bytes, so the é goes whole.
  EXPECT_EQ(Str(params.at("e").as_array().at(0)), std::string(254, 'y') + ellipsis);
  // a, the long name, e and 97 of the p's: 100 parameters; 53 dropped.
  EXPECT_TRUE(params.contains("p96"));
  EXPECT_FALSE(params.contains("p97"));
  EXPECT_EQ(Str(params.at("[truncated]").as_array().at(0)), "53 more parameters not logged");
  EXPECT_EQ(params.at("key"), "[redacted]");
  EXPECT_EQ(log[0].at("http_status").as_int64(), 401);
}

// Control characters take up to six bytes each in the stored JSON: an entry keeps the
// parameters that fit in 64 KiB, and counts the rest; the largest printable postback fits whole.
TEST(Postbacks, ALoggedEntryIsBoundedInBytesAsStored) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  std::string control;
  for (int i = 0; i < 255; ++i) control += "%01";
  std::string printable_query, control_query;
  for (int i = 0; i < 100; ++i) {
    const std::string name = "p" + std::to_string(i);
    printable_query += "&" + name + "=" + std::string(255, 'v');
    control_query += "&" + name + "=" + control;
  }
  for (const std::string& query : {printable_query, control_query}) {
    HttpResponse r = Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=wrongwrongwrong"),
                          query.substr(1), {"Content-Type: application/x-www-form-urlencoded"});
    ASSERT_EQ(r.status, 401) << r.body;
  }
  const json::value doc = s.Api("GET", "/api/v1/calls/" + c.uuid).json();
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 2u);
  for (const json::value& entry : log) {
    const auto& params = entry.at("params").as_object();
    const std::string stored = json::serialize(params);
    EXPECT_LE(stored.size(), 64u * 1024);
    if (params.at("p0").as_array().at(0).as_string().starts_with("v")) {
      EXPECT_TRUE(params.contains("p99"));
      EXPECT_FALSE(params.contains("[truncated]"));
    } else {
      // 255 control characters are 1530 bytes as JSON: 42 such parameters fit.
      EXPECT_TRUE(params.contains("p41"));
      EXPECT_FALSE(params.contains("p42"));
      EXPECT_EQ(Str(params.at("[truncated]").as_array().at(0)), "58 more parameters not logged");
    }
  }
}

// At most 100 refused postbacks are logged per call: the 101st is answered the same (401) but
// not logged, and counted in /metrics; accepted postbacks are still logged.
TEST(Postbacks, RefusalsPastTheCapAreAnsweredButNotLogged) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  const std::string wrong = "/calls/" + c.uuid + "/add_tags?key=wrongwrongwrong&n=";
  HttpResponse first;
  for (int i = 0; i < 100; ++i) {
    HttpResponse r = Http("GET", s.url(wrong + std::to_string(i)));
    ASSERT_EQ(r.status, 401) << i << ": " << r.body;
    if (i == 0) first = r;
  }
  HttpResponse over = Http("GET", s.url(wrong + "100"));
  EXPECT_EQ(over.status, 401);
  EXPECT_EQ(over.body, first.body) << "answered exactly as a logged refusal";
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid + "/add_tags?a=1")).status, 401);  // missing key
  ASSERT_EQ(Postback(s, c.uuid, c.key, "after=1").status, 200);
  const json::value doc = s.Api("GET", "/api/v1/calls/" + c.uuid).json();
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 101u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(log[i].at("http_status").as_int64(), 401) << i;
    EXPECT_EQ(Str(log[i].at("params").at("n").as_array().at(0)), std::to_string(i));
  }
  EXPECT_EQ(log[100].at("http_status").as_int64(), 200);
  EXPECT_EQ(Str(log[100].at("params").at("after").as_array().at(0)), "1");
  EXPECT_EQ(doc.at("postbacks_total").as_int64(), 101);
  EXPECT_EQ(doc.at("tags").at("after"), "1");
  const std::string metrics = Http("GET", s.url("/metrics")).body;
  EXPECT_NE(metrics.find("\ncallpost_postback_refusals_not_logged_total 2\n"), std::string::npos)
      << metrics;
}

// The call's details show its newest 200 postbacks, and how many the log holds.
TEST(Postbacks, TheCallViewShowsTheNewestPostbacks) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  for (int i = 0; i < 205; ++i) {
    ASSERT_EQ(Postback(s, c.uuid, c.key, "n=" + std::to_string(i)).status, 200) << i;
  }
  const json::value doc = s.Api("GET", "/api/v1/calls/" + c.uuid).json();
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 200u);
  EXPECT_EQ(Str(log.front().at("params").at("n").as_array().at(0)), "5");
  EXPECT_EQ(Str(log.back().at("params").at("n").as_array().at(0)), "204");
  EXPECT_EQ(doc.at("postbacks_total").as_int64(), 205);
}

// A NUL byte (%00, or \u0000 in JSON) in a tag value is refused with 400 wherever tags enter,
// and in the other text that is stored; on PostgreSQL it used to be a 500 with the database's
// error, or a value silently cut at the NUL.
TEST(Postbacks, NulBytesAreRefusedWhereverTextIsStored) {
  Server s;
  Fixture f = MakeFixture(s);
  Call c = NewCall(s);
  HttpResponse p = Postback(s, c.uuid, c.key, "disposition=so%00ld");
  EXPECT_EQ(p.status, 400) << p.body;
  EXPECT_EQ(Str(p.json().at("error").at("message")),
            "tag disposition: values must not contain a NUL byte");
  HttpResponse js = Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key),
                         R"({"note":"a\u0000b"})", {"Content-Type: application/json"});
  EXPECT_EQ(js.status, 400) << js.body;
  // A refusal reason that quotes a name with a NUL is logged whole (not cut at the NUL).
  HttpResponse nested = Http("POST", s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key),
                             R"({"x\u0000y":{"b":1}})", {"Content-Type: application/json"});
  EXPECT_EQ(nested.status, 400) << nested.body;
  const json::value doc = s.Api("GET", "/api/v1/calls/" + c.uuid).json();
  EXPECT_FALSE(doc.at("tags").as_object().contains("disposition"));
  EXPECT_FALSE(doc.at("tags").as_object().contains("note"));
  const auto& log = doc.at("postbacks").as_array();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(Str(log[0].at("outcome")), "tag disposition: values must not contain a NUL byte");
  EXPECT_EQ(Str(log[0].at("params").at("disposition").as_array().at(0)),
            std::string("so\0ld", 5));  // the log keeps what arrived, escaped in its JSON
  EXPECT_EQ(Str(log[2].at("outcome")),
            "x\xef\xbf\xbdy: postback bodies are flat: values are strings, numbers, booleans or "
            "lists of them");

  // Call start tags, configuration names, the edge's call id and idempotency key.
  HttpResponse start =
      s.Api("POST", "/api/v1/calls",
            json::object{{"number", f.number}, {"tags", {{"t", std::string("a\0b", 3)}}}});
  EXPECT_EQ(start.status, 400) << start.body;
  EXPECT_EQ(Str(start.json().at("error").at("message")),
            "tags: tag t: values must not contain a NUL byte");
  HttpResponse edge =
      s.Api("POST", "/api/v1/calls",
            json::object{{"number", f.number}, {"edge_call_id", std::string("e\0f", 3)}});
  EXPECT_EQ(edge.status, 400) << edge.body;
  EXPECT_EQ(Str(edge.json().at("error").at("message")),
            "edge_call_id: must not contain a NUL byte");
  HttpResponse named = s.Api(
      "POST", "/api/v1/buyers",
      json::object{{"name", std::string("Acme\0Ltd", 8)}, {"destination", "sip:b@127.0.0.1:5070"}});
  EXPECT_EQ(named.status, 400) << named.body;
  EXPECT_EQ(Str(named.json().at("error").at("message")), "name: must not contain a NUL byte");

  // Publisher data writing.
  HttpResponse key =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(f.publisher) + "/postback_keys",
            json::object{{"name", "lead form"}, {"storage_seconds", 3600}});
  ASSERT_EQ(key.status, 201) << key.body;
  HttpResponse dw = Http("GET", s.url("/data_writing/" + Str(key.json().at("key")) +
                                      "?caller_number=%2B15551239999&age=3%009"));
  EXPECT_EQ(dw.status, 400) << dw.body;
  EXPECT_EQ(Str(dw.json().at("error").at("message")),
            "tag age: values must not contain a NUL byte");
  // Nothing half-stored: a call with the tag allowed still starts, and the store is fine.
  EXPECT_EQ(Postback(s, c.uuid, c.key, "disposition=sold").status, 200);
}

TEST(Postbacks, TextAnswers) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  HttpResponse ok = Http("GET", s.url("/calls/" + c.uuid + "/add_tags?key=" + c.key + "&a=1"), "",
                         {"Accept: text/plain"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "OK tags applied");
  HttpResponse failed =
      Http("GET", s.url("/calls/" + c.uuid + "/add_tags?key=nope"), "", {"Accept: text/plain"});
  EXPECT_EQ(failed.status, 401);
  EXPECT_EQ(failed.body, "FAILED the call key is wrong");
}

TEST(Postbacks, KeysExpireAfterTheCallEnds) {
  Server s;
  MakeFixture(s);
  ASSERT_EQ(s.Api("PATCH", "/api/v1/account", json::object{{"call_key_ttl_seconds", 3600}}).status,
            200);
  Call c = NewCall(s);
  s.clock().Advance(10 * 86400'000LL);  // a live call's key does not expire
  EXPECT_EQ(Postback(s, c.uuid, c.key, "a=1").status, 200);
  Event(s, c.uuid, {{"type", "ended"}});
  s.clock().Advance(3599'000);
  EXPECT_EQ(Postback(s, c.uuid, c.key, "b=1").status, 200);
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid + "?key=" + c.key)).status, 200);
  s.clock().Advance(1000);
  HttpResponse gone = Postback(s, c.uuid, c.key, "c=1");
  EXPECT_EQ(gone.status, 410) << gone.body;
  EXPECT_EQ(gone.json().at("error").at("code"), "gone");
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid + "?key=" + c.key)).status, 410);
  EXPECT_FALSE(Tags(s, c.uuid).contains("c"));
}

TEST(Postbacks, BuyerViewOpensOneCall) {
  Server s;
  MakeFixture(s);
  Call c = NewCall(s);
  Call other = NewCall(s);
  ASSERT_EQ(Postback(s, c.uuid, c.key, "disposition=sold").status, 200);
  HttpResponse r = Http("GET", s.url("/calls/" + c.uuid + "?key=" + c.key));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.json().at("uuid")), c.uuid);
  EXPECT_EQ(r.json().at("tags").at("disposition"), "sold");
  EXPECT_EQ(r.body.find(c.key), std::string::npos) << "no key echo";
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid + "?key=" + other.key)).status, 401);
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid)).status, 401);
  EXPECT_EQ(Http("GET", s.url("/calls/00000000-0000-4000-8000-000000000000?key=" + c.key)).status,
            404);
  EXPECT_EQ(Http("GET", s.url("/calls/" + c.uuid + "?key=" + c.key + "&x=%ZZ")).status, 400);
}

}  // namespace
}  // namespace testing_harness
