// Several callpost nodes on one PostgreSQL (the ctest fixture `postgres`): configuration made
// on one node reaches the other, and with one node SIGKILLed in the middle of the load every
// call is decided exactly once and every webhook is delivered (R2, R3).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "free_port.h"
#include "harness.h"
#include "receiver.h"
#include "store/pg_test_schema.h"

namespace testing_harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSecret = "a-secret-shared-by-every-node-of-the-test-cluster";

using testing_free_port::FreePort;

// One callpost process serving on a free port.
struct Node {
  pid_t pid = -1;
  std::string base;

  HttpResponse Api(const std::string& key, const std::string& method, const std::string& path,
                   const json::value& body = nullptr) const {
    return TryHttp(method, base + path, body.is_null() ? "" : json::serialize(body),
                   {"Authorization: Bearer " + key});
  }
  void Kill(int sig) {
    if (pid <= 0) return;
    kill(pid, sig);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// A database of the test's own (a schema on the tests' server) and the nodes on it.
class Cluster {
 public:
  Cluster() : pg_(CALLPOST_TEST_PG_STATE) {
    if (pg_.url().empty()) return;
    url_ = pg_.url();
    FILE* p = popen((std::string(CALLPOST_BINARY) + " accounts create --name net --database '" +
                     url_ + "' --data-dir " + dir_.path())
                        .c_str(),
                    "r");
    char buf[512] = {};
    fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    json::error_code ec;
    json::value v = json::parse(buf, ec);
    if (!ec && v.is_object()) key_ = Str(v.at("api_key"));
    RecordSecret(key_);
    RecordSecret(kSecret);
  }
  ~Cluster() {
    for (auto& n : nodes_) n.Kill(SIGTERM);
  }
  bool ok() const { return !key_.empty(); }
  const std::string& key() const { return key_; }

  Node& Start() {
    const uint16_t port = FreePort();
    const std::string name = "node" + std::to_string(nodes_.size());
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    const std::string data = dir_.path() + "/" + name;
    pid_t pid = fork();
    if (pid == 0) {
      std::string log = LogDir() + "/cluster-" + name + "-" + std::to_string(getppid()) + ".log";
      freopen(log.c_str(), "a", stderr);
      // Short leases and attempts, so that a dead node's claims are taken over in seconds.
      execl(CALLPOST_BINARY, CALLPOST_BINARY, "serve", "--listen", listen.c_str(), "--database",
            url_.c_str(), "--data-dir", data.c_str(), "--secret", kSecret,
            "--allow-private-webhooks", "--lease-seconds", "4", "--webhook-timeout-seconds", "2",
            nullptr);
      _exit(127);
    }
    nodes_.push_back(Node{pid, "http://" + listen});
    for (int i = 0; i < 400; ++i) {
      if (TryHttp("GET", nodes_.back().base + "/healthz").status == 200) break;
      usleep(25'000);  // waiting for a process to listen, not for a timer
    }
    return nodes_.back();
  }

 private:
  store::PgTestSchema pg_;
  TempDir dir_;
  std::string url_, key_;
  std::deque<Node> nodes_;
};

int64_t CreatedId(const HttpResponse& r) {
  EXPECT_EQ(r.status, 201) << r.body;
  json::value v = r.json();
  return v.is_object() && v.as_object().contains("id") ? v.at("id").as_int64() : 0;
}

// Behind a load balancer every request may go to another node: an operator sees at once, on
// any node, what it changed through another (read-your-writes for configuration and keys).
TEST(Cluster, AnOperatorSeesAtOnceOnOneNodeWhatItChangedOnTheOther) {
  Cluster c;
  ASSERT_TRUE(c.ok()) << "no PostgreSQL for the tests (ctest fixture `postgres`)";
  Node& a = c.Start();
  Node& b = c.Start();
  for (int round = 0; round < 5; ++round) {
    const int64_t buyer = CreatedId(a.Api(
        c.key(), "POST", "/api/v1/buyers",
        json::object{{"name", "B" + std::to_string(round)}, {"destination", "+15550000002"}}));
    HttpResponse seen = b.Api(c.key(), "GET", "/api/v1/buyers/" + std::to_string(buyer));
    EXPECT_EQ(seen.status, 200) << seen.body;
    HttpResponse campaign =
        b.Api(c.key(), "POST", "/api/v1/campaigns",
              json::object{{"name", "C" + std::to_string(round)},
                           {"buyers", json::array{json::object{{"buyer_id", buyer}}}}});
    EXPECT_EQ(campaign.status, 201) << campaign.body;
  }
  // A new API key made on one node opens the other at once; revoked on one, it is refused by
  // the other at once.
  HttpResponse made_key = a.Api(c.key(), "POST", "/api/v1/api_keys", json::object{{"name", "k2"}});
  ASSERT_EQ(made_key.status, 201) << made_key.body;
  const std::string key2 = Str(made_key.json().at("key"));
  RecordSecret(key2);
  EXPECT_EQ(b.Api(key2, "GET", "/api/v1/account").status, 200);
  const int64_t key_id = made_key.json().at("id").as_int64();
  ASSERT_EQ(a.Api(c.key(), "DELETE", "/api/v1/api_keys/" + std::to_string(key_id)).status, 204);
  EXPECT_EQ(b.Api(key2, "GET", "/api/v1/account").status, 401);
}

TEST(Cluster, TwoNodesOneKilledEveryCallDecidedOnceEveryWebhookDelivered) {
  Cluster c;
  ASSERT_TRUE(c.ok()) << "no PostgreSQL for the tests (ctest fixture `postgres`)";
  // A slow receiver: each node always has deliveries in flight, so the kill leaves some sent
  // and not recorded (sent again by the survivor after the lease, under the same webhook-id).
  // It notes which of each webhook-id's arrivals came after the kill.
  std::atomic<bool> b_dead{false};
  std::mutex arrivals_mu;
  std::map<std::string, std::vector<bool>> arrivals;  // webhook-id → after the kill, in order
  Receiver receiver([&](const Received& r, int) {
    {
      std::lock_guard lock(arrivals_mu);
      arrivals[r.Header("webhook-id")].push_back(b_dead.load());
    }
    std::this_thread::sleep_for(200ms);
    return http::Response{200, "text/plain", {}, "ok", false};
  });
  Node* nodes[2] = {&c.Start(), &c.Start()};
  Node& a = *nodes[0];
  const std::string& key = c.key();
  const int64_t buyer = CreatedId(a.Api(
      key, "POST", "/api/v1/buyers", json::object{{"name", "B"}, {"destination", "+15550000001"}}));
  const int64_t campaign = CreatedId(a.Api(
      key, "POST", "/api/v1/campaigns",
      json::object{{"name", "C"}, {"buyers", json::array{json::object{{"buyer_id", buyer}}}}}));
  const std::string groups = "/api/v1/campaigns/" + std::to_string(campaign);
  CreatedId(a.Api(key, "POST", "/api/v1/numbers",
                  json::object{{"number", "+18005550100"}, {"campaign_id", campaign}}));
  CreatedId(a.Api(key, "POST", groups + "/conversion_groups",
                  json::object{{"name", "sales"},
                               {"type", "postback_value"},
                               {"payout_modifier", "*0.8"},
                               {"postback_timeout_seconds", 2}}));
  for (const char* trigger : {"completed", "converted", "not_converted"}) {
    CreatedId(a.Api(
        key, "POST", groups + "/webhook_groups",
        json::object{
            {"name", trigger},
            {"trigger", trigger},
            {"requests", json::array{json::object{
                             {"url", receiver.url(std::string("/[call_uuid]/") + trigger)}}}}}));
  }
  std::this_thread::sleep_for(1500ms);  // both nodes have the configuration (reload ≤ 1 s)

  constexpr int kCalls = 150, kWorkers = 6;
  std::atomic<int> ended{0};
  std::mutex mu;
  std::map<std::string, int> kind_of;  // uuid → i % 3 (0 converts, 1 tags only, 2 silent)
  // Sends to node `i % 2` while it lives, to the survivor otherwise; a request the killed
  // node did not answer is sent again to the survivor.
  auto send = [&](int i, const std::string& method, const std::string& path,
                  const json::value& body, bool with_key) {
    for (;;) {
      Node& n = (b_dead || i % 2 == 0) ? a : *nodes[1];
      HttpResponse r = with_key ? n.Api(key, method, path, body) : TryHttp(method, n.base + path);
      if (r.status != 0 || &n == &a) return r;
    }
  };
  auto work = [&](int worker) {
    for (int i = worker; i < kCalls; i += kWorkers) {
      char caller[24];
      std::snprintf(caller, sizeof caller, "+1555%07d", i);
      HttpResponse made = send(i, "POST", "/api/v1/calls",
                               json::object{{"number", "+18005550100"},
                                            {"caller_number", caller},
                                            {"edge_call_id", "edge-" + std::to_string(i)},
                                            {"route", true}},
                               true);
      // 200: the killed node had made it before dying; the retry found it by its edge id.
      ASSERT_TRUE(made.status == 201 || made.status == 200) << made.body;
      const std::string uuid = Str(made.json().at("uuid"));
      const std::string call_key = Str(made.json().at("key"));
      {
        std::lock_guard lock(mu);
        kind_of[uuid] = i % 3;
      }
      for (const char* type : {"answered", "ended"}) {
        HttpResponse ev = send(i + 1, "POST", "/api/v1/calls/" + uuid + "/events",
                               json::object{{"type", type}}, true);
        ASSERT_EQ(ev.status, 200) << ev.body;
      }
      if (++ended == kCalls / 2) {
        nodes[1]->Kill(SIGKILL);  // mid-way: claims, leases and requests in flight die with it
        b_dead = true;
      }
      if (i % 3 == 0) {
        HttpResponse pb =
            send(i, "GET", "/calls/" + uuid + "/postback?key=" + call_key + "&value=10.00", nullptr,
                 false);
        ASSERT_EQ(pb.status, 200) << pb.body;
      } else if (i % 3 == 1) {
        HttpResponse pb = send(
            i + 1, "GET", "/calls/" + uuid + "/add_tags?key=" + call_key + "&disposition=callback",
            nullptr, false);
        ASSERT_EQ(pb.status, 200) << pb.body;
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) workers.emplace_back(work, w);
  for (auto& t : workers) t.join();
  ASSERT_TRUE(b_dead);
  ASSERT_EQ(kind_of.size(), size_t{kCalls});

  // Every call decided: by its postback, or by its deadline on whichever node claimed it (the
  // dead node's claims run out after the 4 s lease).
  auto all = [&](const std::string& path) {
    std::vector<json::value> out;
    std::string cursor;
    for (;;) {
      HttpResponse r = a.Api(key, "GET", path + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200) << r.body;
      json::value v = r.json();
      if (!v.is_object()) return out;
      for (const auto& row : v.at("data").as_array()) out.push_back(row);
      if (v.at("next_cursor").is_null()) return out;
      cursor = Str(v.at("next_cursor"));
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::vector<json::value> calls;
  for (;;) {
    calls = all("/api/v1/calls?limit=100");
    int decided = 0;
    for (const auto& call : calls) {
      const std::string state = Str(call.at("conversion").at("state"));
      decided += state == "converted" || state == "not_converted";
    }
    if (decided == kCalls || std::chrono::steady_clock::now() > deadline) break;
    usleep(100'000);
  }
  ASSERT_EQ(calls.size(), size_t{kCalls});
  for (const auto& call : calls) {
    const std::string uuid = Str(call.at("uuid"));
    const std::string state = Str(call.at("conversion").at("state"));
    EXPECT_EQ(state, kind_of[uuid] == 0 ? "converted" : "not_converted") << uuid;
    json::value details = a.Api(key, "GET", "/api/v1/calls/" + uuid).json();
    std::map<std::string, int> effects;
    for (const auto& e : details.at("effects").as_array()) ++effects[Str(e.at("trigger"))];
    EXPECT_EQ(effects["completed"], 1) << uuid;  // decided exactly once
    EXPECT_EQ(effects["converted"] + effects["not_converted"], 1) << uuid;
  }

  // Every delivery delivered, each received under its own webhook-id (repeats only with the
  // same id, for the same call and trigger).
  std::vector<json::value> deliveries;
  for (;;) {
    deliveries = all("/api/v1/webhook_deliveries?limit=100");
    int done = 0;
    for (const auto& d : deliveries) done += Str(d.at("state")) == "delivered";
    if (done == static_cast<int>(deliveries.size()) ||
        std::chrono::steady_clock::now() > deadline + 30s) {
      break;
    }
    usleep(100'000);
  }
  EXPECT_EQ(deliveries.size(), size_t{2 * kCalls});  // completed + (not_)converted per call
  std::map<std::string, std::string> expected;       // webhook-id → target
  for (const auto& d : deliveries) {
    EXPECT_EQ(Str(d.at("state")), "delivered") << json::serialize(d);
    expected[Str(d.at("webhook_id"))] = "/" + Str(d.at("call_uuid")) + "/" + Str(d.at("trigger"));
  }
  std::map<std::string, int> received;
  for (const auto& r : receiver.requests()) {
    const std::string id = r.Header("webhook-id");
    ++received[id];
    ASSERT_TRUE(expected.count(id)) << "an unknown webhook-id: " << id;
    EXPECT_EQ(r.target, expected[id]);
  }
  for (const auto& [id, target] : expected) EXPECT_GE(received[id], 1) << "lost: " << target;
  int duplicates = 0;
  for (const auto& [id, n] : received) duplicates += n - 1;
  // The takeover: deliveries on the wire when the node died (they reached the receiver before
  // the kill, and were never recorded) were sent again by the survivor once their lease ran out.
  // The survivor never sends one of its own twice here: the receiver answers well within the
  // attempt timeout.
  int taken_over = 0;
  {
    std::lock_guard lock(arrivals_mu);
    for (const auto& [id, after_kill] : arrivals) {
      taken_over += after_kill.size() > 1 && !after_kill.front() && after_kill.back();
    }
  }
  EXPECT_GE(taken_over, 1) << "no delivery in flight on the killed node was sent by the survivor";
  std::printf(
      "cluster: %d calls, %zu deliveries, %d sent again after the kill, %d of them first"
      " received before it\n",
      kCalls, expected.size(), duplicates, taken_over);
}

}  // namespace
}  // namespace testing_harness
