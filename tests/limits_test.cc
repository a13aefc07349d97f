// Limits and overload (docs/reliability.md, R8 and R10): every size limit answers its 4xx and
// changes nothing; per-key rate limits answer 429 with Retry-After; /healthz stays up while
// many connections hammer the server.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string Repeat(char c, size_t n) { return std::string(n, c); }

TEST(Limits, SizeLimitsAnswerTheirStatusAndChangeNothing) {
  Server s;
  Fixture f = MakeFixture(s);
  json::object call = StartCall(s);
  const std::string uuid = Str(call.at("uuid")), key = Str(call.at("key"));
  auto tags = [&] {
    return json::serialize(s.Api("GET", "/api/v1/calls/" + uuid).json().at("tags"));
  };
  const std::string before = tags();
  std::string many;
  for (int i = 0; i < 101; ++i) many += "&k" + std::to_string(i) + "=v";
  struct Case {
    std::string what, query;
    long status;
  };
  const std::vector<Case> postbacks = {
      {"query string over 16 KiB", "a=" + Repeat('x', 17 << 10), 431},
      {"101 tags in one postback", many.substr(1), 400},
      {"a 256-byte tag key", Repeat('k', 256) + "=v", 400},
      {"a 256-byte tag value", "k=" + Repeat('v', 256), 400},
      {"bad percent-encoding", "k=%zz", 400},
      {"invalid UTF-8", "k=%ff%fe", 400},
  };
  for (const Case& c : postbacks) {
    HttpResponse r = Postback(s, uuid, key, c.query);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body.substr(0, 200);
  }
  // A 255-byte key and value are fine (the limits are inclusive).
  EXPECT_EQ(Postback(s, uuid, key, Repeat('k', 255) + "=" + Repeat('v', 255)).status, 200);
  const std::string after_ok = tags();
  EXPECT_NE(after_ok, before);

  // Operator and edge bodies.
  std::string deep = "{\"name\":\"x\",\"a\":" + Repeat('[', 40) + Repeat(']', 40) + "}";
  HttpResponse r = s.ApiWithKey(s.api_key(), "POST", "/api/v1/publishers", deep);
  EXPECT_EQ(r.status, 400) << "JSON nested past the depth limit: " << r.body;
  r = s.ApiWithKey(s.api_key(), "POST", "/api/v1/publishers",
                   "{\"name\":\"" + Repeat('n', (1 << 20) + 10) + "\"}");
  EXPECT_EQ(r.status, 413) << "a body over 1 MiB";
  r = s.ApiWithKey(s.api_key(), "POST", "/api/v1/publishers",
                   "{\"name\":\"" + Repeat('n', 256) + "\"}");
  EXPECT_EQ(r.status, 400) << "a name over 255 bytes: " << r.body;
  json::object edge_tags;
  for (int i = 0; i < 101; ++i) edge_tags["k" + std::to_string(i)] = "v";
  r = s.Api(
      "POST", "/api/v1/calls",
      json::object{{"number", f.number}, {"caller_number", "+15551230009"}, {"tags", edge_tags}});
  EXPECT_EQ(r.status, 400) << "101 edge tags: " << r.body;
  // Headers over 16 KiB.
  r = Http("GET", s.url("/healthz"), "", {"X-Big: " + Repeat('h', 17 << 10)});
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(Str(r.json().at("error").at("code")), "headers_too_large");
  // Nothing above changed the call or created a publisher.
  EXPECT_EQ(tags(), after_ok);
  EXPECT_EQ(s.Api("GET", "/api/v1/publishers").json().at("data").as_array().size(), 1u);
  EXPECT_EQ(s.Api("GET", "/api/v1/calls").json().at("data").as_array().size(), 1u);
}

// The 2000 tag values a call may hold count what a request would add: on a full call a value
// it has, an empty value and a bare keyword go through (the keyword converts), from a buyer
// or a publisher; a new value is refused 422 and changes nothing.
TEST(Limits, TheTagLimitCountsOnlyNewTagValues) {
  Server s;
  Fixture f = MakeFixture(s);
  AddSaleKeywordGroup(s, f);
  HttpResponse pk =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(f.publisher) + "/postback_keys",
            json::object{{"name", "pk"}});
  ASSERT_EQ(pk.status, 201) << pk.body;
  const std::string pkey = Str(pk.json().at("key"));
  json::object call = StartCall(s);
  const std::string uuid = Str(call.at("uuid")), key = Str(call.at("key"));
  Event(s, uuid, json::object{{"type", "ended"}});
  auto held = [&] { return s.Api("GET", "/api/v1/calls/" + uuid).json().at("tag_history"); };
  size_t count = held().as_array().size();
  for (int r = 0; count < 2000; ++r) {
    std::string q;
    for (int i = 0; i < 100 && count < 2000; ++i, ++count) {
      q += (q.empty() ? "t" : "&t") + std::to_string(r) + "_" + std::to_string(i) + "=v";
    }
    ASSERT_EQ(Postback(s, uuid, key, q).status, 200) << "filling, round " << r;
  }
  const json::value full = held();
  ASSERT_EQ(full.as_array().size(), 2000u);
  struct Case {
    std::string what, url;
    long status;
  };
  const std::string postback = "/calls/" + uuid + "/postback?key=" + key + "&";
  const std::string writing = "/data_writing/" + pkey + "?call_uuid=" + uuid + "&";
  const Case kCases[] = {
      {"a value the call has", postback + "t0_1=v", 200},
      {"an empty value", postback + "note=", 200},
      {"a new value", postback + "t0_1=w", 422},
      {"a new tag", postback + "fresh=1", 422},
      {"the keyword with a new tag", postback + "sale&fresh=1", 422},
      {"data writing: a value the call has", writing + "t1_1=v", 200},
      {"data writing: a new value", writing + "fresh=1", 422},
  };
  for (const Case& c : kCases) {
    HttpResponse r = Http("GET", s.url(c.url));
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
  }
  EXPECT_EQ(held(), full) << "nothing was added";
  // The bare keyword converts the full call; another conversion is "already converted".
  HttpResponse r = Http("GET", s.url(postback + "sale&note="));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.json().at("status")), "conversion recorded");
  EXPECT_EQ(Str(r.json().at("conversion").at("state")), "converted");
  r = Http("GET", s.url(postback + "sale&fresh=1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.json().at("status")), "already converted");
  EXPECT_EQ(held().as_array().size(), 2000u);
}

TEST(Limits, ApiKeyRateLimitAnswers429WithRetryAfter) {
  Server s(ConfigureOptions([](app::AppOptions& o) {
    o.api_key_rate = 0.05;  // one request every 20 s once the burst is spent
    o.api_key_burst = 10;
  }));
  const std::string other = s.NewAccount("other");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.Api("GET", "/api/v1/account").status, 200) << i;
  HttpResponse r = s.Api("POST", "/api/v1/publishers", json::object{{"name", "refused"}});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(Str(r.json().at("error").at("code")), "rate_limited");
  ASSERT_TRUE(r.headers.count("retry-after"));
  const int wait = std::stoi(r.headers["retry-after"]);
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 20);
  // Keys have their own buckets; health and metrics need no key and are never limited.
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/account").status, 200);
  EXPECT_EQ(Http("GET", s.url("/healthz")).status, 200);
  // A wrong key is 401, not 429.
  EXPECT_EQ(s.ApiWithKey("cpk_wrongwrongwrongwrongwrong", "GET", "/api/v1/account").status, 401);
  // The refused write changed nothing.
  EXPECT_EQ(s.ApiWithKey(other, "GET", "/api/v1/publishers").json().at("data").as_array().size(),
            0u);
  EXPECT_EQ(s.Api("GET", "/api/v1/account").status, 429);
  // The SIP hooks count against the same key.
  EXPECT_EQ(Http("GET", s.url("/sip/route?to=%2B18005550100&token=" + s.api_key())).status, 429);
}

TEST(Limits, CallKeyRateLimitIsPerCallAndOnlyForTheRightKey) {
  Server s(ConfigureOptions([](app::AppOptions& o) {
    o.call_key_rate = 0.05;
    o.call_key_burst = 3;
  }));
  MakeFixture(s);
  json::object a = StartCall(s, "+15551230001");
  json::object b = StartCall(s, "+15551230002");
  const std::string uuid = Str(a.at("uuid")), key = Str(a.at("key"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Postback(s, uuid, key, "n" + std::to_string(i) + "=1").status, 200) << i;
  }
  HttpResponse r = Postback(s, uuid, key, "refused=1");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_TRUE(r.headers.count("retry-after"));
  EXPECT_EQ(Str(r.json().at("error").at("code")), "rate_limited");
  // Text answers for buyers that ask for them.
  r = Http("GET", s.url("/calls/" + uuid + "/add_tags?key=" + key + "&refused=2"), "",
           {"Accept: text/plain"});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body.rfind("FAILED too many requests", 0), 0u) << r.body;
  // The buyer's read view shares the call's bucket, and so does the UUID written in capitals.
  EXPECT_EQ(Http("GET", s.url("/calls/" + uuid + "?key=" + key)).status, 429);
  std::string upper = uuid;
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Postback(s, upper, key, "refused=3").status, 429);
  EXPECT_EQ(Http("GET", s.url("/calls/" + upper + "?key=" + key)).status, 429);
  // Another call has its own bucket; a wrong key is 401 and spends nothing.
  EXPECT_EQ(Postback(s, Str(b.at("uuid")), Str(b.at("key")), "x=1").status, 200);
  EXPECT_EQ(Postback(s, uuid, Str(b.at("key")), "x=1").status, 401);
  json::object tags = s.Api("GET", "/api/v1/calls/" + uuid).json().at("tags").as_object();
  EXPECT_TRUE(tags.contains("n2"));
  EXPECT_FALSE(tags.contains("refused")) << "a refused postback changes nothing";
}

TEST(Limits, PublisherPostbackKeysHaveTheApiKeyLimit) {
  Server s(ConfigureOptions([](app::AppOptions& o) {
    o.api_key_rate = 0.05;
    o.api_key_burst = 30;
  }));
  Fixture f = MakeFixture(s);
  HttpResponse pk =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(f.publisher) + "/postback_keys",
            json::object{{"name", "pk"}});
  ASSERT_EQ(pk.status, 201) << pk.body;
  const std::string url =
      s.url("/data_writing/" + Str(pk.json().at("key")) + "?caller_number=%2B15551230000&k=v");
  int ok = 0, limited = 0;
  for (int i = 0; i < 31; ++i) {
    long status = Http("GET", url).status;
    ok += status == 200;
    limited += status == 429;
  }
  EXPECT_EQ(ok, 30);
  EXPECT_EQ(limited, 1);
}

// As with account API keys and call keys, a publisher postback key that does not exist is
// answered 401 every time, never 429 (which would say that the key exists), and spends no
// bucket; the limit applies to each key that exists.
TEST(Limits, AnUnknownPublisherKeyIs401NeverRateLimited) {
  Server s(ConfigureOptions([](app::AppOptions& o) {
    o.api_key_rate = 0.05;
    o.api_key_burst = 10;  // the operator requests below take 6 of their own key's bucket
  }));
  Fixture f = MakeFixture(s);
  HttpResponse pk =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(f.publisher) + "/postback_keys",
            json::object{{"name", "pk"}});
  ASSERT_EQ(pk.status, 201) << pk.body;
  auto write = [&](const std::string& key, int i, bool text = false) {
    return Http(
        "GET",
        s.url("/data_writing/" + key + "?caller_number=%2B15550009999&a=" + std::to_string(i)), "",
        text ? std::vector<std::string>{"Accept: text/plain"} : std::vector<std::string>{});
  };
  for (int i = 0; i < 12; ++i) {
    HttpResponse r = write("cpd_same", i);
    EXPECT_EQ(r.status, 401) << "unknown key, request " << i << ": " << r.body;
  }
  EXPECT_EQ(write("cpd_same", 12, true).body, "FAILED the publisher key is not valid");
  const std::string key = Str(pk.json().at("key"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(write(key, i).status, 200) << "real key, request " << i;
  HttpResponse r = write(key, 10);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_TRUE(r.headers.count("retry-after"));
  // The real key's bucket is empty; an unknown key is still 401, and so is a deleted one.
  EXPECT_EQ(write("cpd_same", 13).status, 401);
  EXPECT_EQ(
      s.Api("DELETE", "/api/v1/postback_keys/" + std::to_string(pk.json().at("id").as_int64()))
          .status,
      204);
  EXPECT_EQ(write(key, 11).status, 401);
}

// Many connections hammer one API key past its limit; /healthz keeps answering 200 at once.
// A connection refused at --max-connections never reaches the API, which counts and logs every
// request: the server counts it for /metrics (R10).
TEST(Limits, ConnectionsRefusedAtTheLimitAreCounted) {
  Server s(ConfigureOptions([](app::AppOptions& o) { o.max_connections = 1; }));
  const int held = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(s.app().port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(held, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(Http("GET", s.url("/healthz")).status, 503);  // accepted after `held`
  close(held);
  HttpResponse metrics;
  for (int i = 0; i < 100 && metrics.status != 200; ++i) {
    // The server notices the closes asynchronously: until then this connection is past the
    // limit (answered 503), or past twice it (closed unanswered, while the refused one above is
    // still counted).
    metrics = TryHttp("GET", s.url("/metrics"));
    if (metrics.status != 200) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(metrics.status, 200);
  const std::string name = "\ncallpost_http_connections_refused_total ";
  const size_t at = metrics.body.find(name);
  ASSERT_NE(at, std::string::npos) << metrics.body;
  EXPECT_GE(std::stoll(metrics.body.substr(at + name.size())), 1);
}

// A key put in the wrong place of a path, on any route, is not logged (the log scan, R7, looks
// for these keys), and a path's text never becomes a metric label: one label per path would
// let anyone grow /metrics without bound, and text with quotes and newlines break it (R10).
TEST(Limits, PathsNeverCarryKeysIntoTheLogOrTheirTextIntoMetrics) {
  Server s;
  MakeFixture(s);
  json::object call = StartCall(s);
  const std::string call_key(call.at("key").as_string());
  const std::string auth = "Authorization: Bearer " + s.api_key();
  for (const std::string& path :
       {"/sip/" + s.api_key(), "/calls/" + call_key, "/console/" + s.api_key(),
        "/api/v1/calls/" + call_key, "/api/v1/api_keys/" + s.api_key(),
        "/api/v1/webhook_deliveries/" + call_key, "/calls/" + call_key + "/add_tags"}) {
    Http("GET", s.url(path), "", {auth});  // refused (the console's pages answer 200)
  }
  const std::string injected = "/sip/a%22b%0Afake_metric%7Bx%3D%221%22%7D%2042%0A%23";
  EXPECT_EQ(Http("GET", s.url(injected)).status, 404);
  for (int i = 0; i < 20; ++i) Http("GET", s.url("/sip/x" + std::to_string(i)));
  const std::string metrics = Http("GET", s.url("/metrics")).body;
  EXPECT_EQ(metrics.find("fake_metric"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("/sip/x1"), std::string::npos);
  EXPECT_NE(metrics.find("route=\"unmatched\",status=\"404\"} 22"), std::string::npos) << metrics;
}

// A request that waits for the store (here a configuration write, while another process holds
// the database's write lock) waits on a thread of its own: the one I/O thread goes on answering
// its other connections meanwhile.
TEST(Limits, ARequestWaitingForTheStoreHoldsUpNoOtherConnection) {
  if (const char* store = std::getenv("CALLPOST_TEST_STORE"); store && *store) {
    GTEST_SKIP() << "holds SQLite's write lock";
  }
  Server s(ConfigureOptions([](app::AppOptions& o) { o.threads = 1; }));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((s.data_dir() + "/callpost.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto write = std::async(std::launch::async, [&] {
    return s.Api("POST", "/api/v1/publishers", json::object{{"name", "waits"}});
  });
  // The write reaches the server within this time; every probe must answer meanwhile.
  auto slowest = std::chrono::steady_clock::duration::zero();
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(Http("GET", s.url("/healthz")).status, 200);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
  }
  EXPECT_EQ(write.wait_for(0s), std::future_status::timeout) << "the write did not wait";
  EXPECT_LT(slowest, 500ms);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(write.get().status, 201);
}

TEST(Limits, HealthzStaysUpUnderOverload) {
  Server s(ConfigureOptions([](app::AppOptions& o) {
    o.api_key_rate = 50;
    o.api_key_burst = 50;
  }));
  MakeFixture(s);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> hammers;
  const std::string url = s.url("/api/v1/calls");
  const std::string auth = "Authorization: Bearer " + s.api_key();
  for (int t = 0; t < 32; ++t) {
    hammers.emplace_back([&] {
      CURL* c = curl_easy_init();
      curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
      std::string sink;
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(
          c, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
      curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
      while (!stop) {
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        (status == 200 ? ok : status == 429 ? limited : other)++;
      }
      curl_slist_free_all(headers);
      curl_easy_cleanup(c);
    });
  }
  std::this_thread::sleep_for(200ms);  // let the hammers get going
  auto slowest = std::chrono::steady_clock::duration::zero();
  int probes = 0;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    const auto t0 = std::chrono::steady_clock::now();
    HttpResponse h = Http("GET", s.url("/healthz"));  // a new connection each time
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(h.status, 200);
    ++probes;
  }
  stop = true;
  for (auto& t : hammers) t.join();
  EXPECT_GT(limited.load(), 0) << "the hammers went past the limit";
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0) << "every hammer request was answered 200 or 429";
  EXPECT_GE(probes, 5);
  // Not a benchmark: a generous bound that only a stalled server misses.
  EXPECT_LT(slowest, 2s) << "probes " << probes << ", ok " << ok << ", limited " << limited;
  std::cerr << "healthz under overload: " << probes << " probes, slowest "
            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
            << " ms; hammers: " << ok << " answered 200, " << limited << " answered 429\n";
}

}  // namespace
}  // namespace testing_harness
