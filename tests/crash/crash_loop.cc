// The crash loop (docs/reliability.md, R1–R3): runs the real `callpost serve` under mixed load
// (new calls, events, tag postbacks, conversions, one-second postback timeouts, webhooks to a
// loopback receiver), SIGKILLs it at a random moment, restarts it, and checks after every
// cycle that
//   - the killed server's SQLite file passes PRAGMA integrity_check (opened read-only);
//   - every write answered 2xx is there: calls, events, tags, conversions;
//   - every postback deadline that passed decided its call exactly once (one `completed` effect
//     and one `completed` webhook-id per call);
//   - every webhook the calls caused is delivered or still pending: none lost, and a duplicate
//     only ever repeats the same webhook-id.
// At the end (or after the cycle in progress on SIGINT or SIGTERM) it stops killing, waits for
// every deadline and delivery, and checks everything again. Exit status 0 when every check held.
//
//   crash_loop --binary build/callpost [--cycles 5] [--seed N] [--log-dir DIR] [--workers 4]
//              [--min-load-ms 150] [--max-load-ms 1200] [--lose-wal]
// --lose-wal is the loop's own test: it deletes the write-ahead log after each kill, as if the
// server had acknowledged writes before they were durable, and the checks must then fail.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"
#include "http/server.h"

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string binary;
  int cycles = 5;
  uint64_t seed = 0;
  std::string log_dir;
  int workers = 4;
  int min_load_ms = 150;
  int max_load_ms = 1200;
  int timeout_seconds = 1;  // the conversion group's postback timeout
  bool lose_wal = false;    // self-test: delete the WAL after each kill; the checks must fail
};

int failures = 0;
// SIGINT or SIGTERM: finish the cycle, run the final checks, report what was run.
volatile sig_atomic_t interrupted = 0;

void Fail(const std::string& what) {
  ++failures;
  std::cerr << "crash_loop: FAIL: " << what << std::endl;
}

// ---------------------------------------------------------------------------------------------
// HTTP client: one curl handle per thread (keep-alive), status 0 when the server is gone.

struct Reply {
  long status = 0;
  std::string body;
  json::value json() const {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
};

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class Client {
 public:
  Client() : curl_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(curl_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Reply Send(const std::string& method, const std::string& url, const std::string& body,
             const std::string& api_key) {
    Reply r;
    curl_easy_reset(curl_);
    curl_slist* headers = nullptr;
    if (!api_key.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST" || method == "PATCH") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.body.clear();
    }
    curl_slist_free_all(headers);
    return r;
  }

 private:
  CURL* curl_;
};

// ---------------------------------------------------------------------------------------------
// The webhook receiver: counts deliveries by webhook-id, per call and trigger.

class Hooks {
 public:
  Hooks() {
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.shutdown_grace = std::chrono::seconds(1);
    server_ = std::make_unique<http::Server>(o, [this](http::Request req, http::Responder respond) {
      Record(req);
      respond(http::Response{200, "text/plain", {}, "ok", false});
    });
    auto port = server_->Start();
    if (!port) {
      std::cerr << "crash_loop: receiver: " << port.error().message << std::endl;
      std::exit(2);
    }
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  // Distinct webhook-ids received for this call and trigger.
  std::set<std::string> Ids(const std::string& uuid, const std::string& trigger) const {
    std::lock_guard lock(mu_);
    auto it = ids_.find({uuid, trigger});
    return it == ids_.end() ? std::set<std::string>{} : it->second;
  }
  size_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  size_t duplicates() const {
    std::lock_guard lock(mu_);
    return duplicates_;
  }

 private:
  // Targets look like /hook/<trigger>/<uuid>.
  void Record(const http::Request& req) {
    std::string target = req.target;
    std::string id;
    for (const auto& h : req.headers) {
      if (strcasecmp(h.name.c_str(), "webhook-id") == 0) id = h.value;
    }
    auto a = target.find('/', 1), b = target.find('/', a + 1);
    if (a == std::string::npos || b == std::string::npos || id.empty()) {
      std::lock_guard lock(mu_);
      bad_.push_back(target);
      return;
    }
    std::string trigger = target.substr(a + 1, b - a - 1), uuid = target.substr(b + 1);
    std::lock_guard lock(mu_);
    ++total_;
    if (!ids_[{uuid, trigger}].insert(id).second) ++duplicates_;
  }

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> ids_;
  std::vector<std::string> bad_;
  size_t total_ = 0;
  size_t duplicates_ = 0;
  std::unique_ptr<http::Server> server_;
};

// ---------------------------------------------------------------------------------------------
// What the server acknowledged.

struct CallRecord {
  std::string uuid, key;
  bool answered = false;  // the `answered` event was answered 200
  bool ended = false;     // the `ended` event was answered 200
  SteadyClock::time_point ended_at;
  std::vector<std::pair<std::string, std::string>> tags;  // acknowledged tags
  bool converted = false;  // a postback answered 200 with conversion.state "converted"
  bool decided = false;    // checked: completed exactly once, with its webhooks
  bool dirty = true;       // written since its last check
};

class Ledger {
 public:
  CallRecord* Add(const std::string& uuid, const std::string& key) {
    std::lock_guard lock(mu_);
    auto& c = calls_[uuid];
    c.uuid = uuid;
    c.key = key;
    return &c;
  }
  template <typename F>
  void Update(CallRecord* c, F f) {
    std::lock_guard lock(mu_);
    f(*c);
    c->dirty = true;
  }
  std::vector<CallRecord> Snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<CallRecord> out;
    for (const auto& [uuid, c] : calls_) out.push_back(c);
    return out;
  }
  void MarkChecked(const std::string& uuid, bool decided) {
    std::lock_guard lock(mu_);
    auto& c = calls_[uuid];
    c.dirty = false;
    if (decided) c.decided = true;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return calls_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, CallRecord> calls_;  // node-stable: pointers stay valid
};

// ---------------------------------------------------------------------------------------------
// The server process.

using testing_free_port::FreePort;

class Process {
 public:
  Process(const Options& o, std::string data_dir, std::string log)
      : o_(o), data_dir_(std::move(data_dir)), log_(std::move(log)), port_(FreePort()) {}
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  bool Start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string listen = "127.0.0.1:" + std::to_string(port_);
      if (!freopen(log_.c_str(), "a", stderr)) _exit(126);
      execl(o_.binary.c_str(), o_.binary.c_str(), "serve", "--listen", listen.c_str(), "--data-dir",
            data_dir_.c_str(), "--allow-private-webhooks",
            // No rate limits: the loop wants as many writes in flight as it can get.
            "--api-key-rate", "0", "--call-key-rate", "0", nullptr);
      _exit(127);
    }
    Client c;
    for (int i = 0; i < 400; ++i) {
      if (c.Send("GET", base() + "/healthz", "", "").status == 200) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(25ms);  // waiting for a process to listen, not for a timer
    }
    return false;
  }

  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool Terminate() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  const Options& o_;
  std::string data_dir_, log_;
  uint16_t port_;
  pid_t pid_ = -1;
};

std::string IntegrityCheck(const std::string& db) {
  sqlite3* h = nullptr;
  std::string result;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    result = std::string("cannot open: ") + sqlite3_errmsg(h);
  } else {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) {
      result = std::string("cannot prepare: ") + sqlite3_errmsg(h);
    } else {
      while (sqlite3_step(st) == SQLITE_ROW) {
        if (!result.empty()) result += "; ";
        result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(h);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Load.

const char* const kTriggers[] = {"started",   "answered",  "ended",
                                 "completed", "converted", "not_converted"};

struct Stats {
  std::atomic<int64_t> acked{0}, refused{0}, unanswered{0};
};

void Worker(const std::string& base, const std::string& key, Ledger& ledger, Stats& stats,
            std::atomic<bool>& stop, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
  Client c;
  auto count = [&](const Reply& r) {
    if (r.status == 0) {
      ++stats.unanswered;
      std::this_thread::sleep_for(10ms);  // the server is down: do not spin
    } else if (r.status >= 200 && r.status < 300) {
      ++stats.acked;
    } else {
      ++stats.refused;
    }
    return r.status >= 200 && r.status < 300;
  };
  auto postback = [&](CallRecord* call, const std::string& action, const std::string& query) {
    Reply r = c.Send(
        "GET", base + "/calls/" + call->uuid + "/" + action + "?key=" + call->key + "&" + query, "",
        "");
    return std::make_pair(count(r), r);
  };
  while (!stop) {
    std::string caller = "+1555" + std::to_string(1000000 + rng() % 9000000);
    json::object start{{"number", "+18005550100"}, {"caller_number", caller}, {"route", true}};
    Reply r = c.Send("POST", base + "/api/v1/calls", json::serialize(start), key);
    if (!count(r) || r.status != 201) continue;
    json::value v = r.json();
    CallRecord* call =
        ledger.Add(std::string(v.at("uuid").as_string()), std::string(v.at("key").as_string()));
    if (stop) break;
    r = c.Send("POST", base + "/api/v1/calls/" + call->uuid + "/events", R"({"type":"answered"})",
               key);
    if (count(r)) ledger.Update(call, [](CallRecord& c) { c.answered = true; });
    const int tags = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < tags && !stop; ++i) {
      std::string k = "t" + std::to_string(i), val = "v" + std::to_string(rng() % 1000000);
      if (postback(call, "add_tags", k + "=" + val).first) {
        ledger.Update(call, [&](CallRecord& c) { c.tags.emplace_back(k, val); });
      }
    }
    auto convert = [&] {
      auto [ok, reply] = postback(call, "postback", "value=12.34");
      if (!ok) return;
      json::value a = reply.json();
      if (a.is_object() && a.at("conversion").at("state") == "converted") {
        ledger.Update(call, [](CallRecord& c) { c.converted = true; });
      }
    };
    if (chance(0.4)) convert();
    if (stop) break;
    r = c.Send("POST", base + "/api/v1/calls/" + call->uuid + "/events", R"({"type":"ended"})",
               key);
    if (count(r)) {
      ledger.Update(call, [](CallRecord& c) {
        c.ended = true;
        c.ended_at = SteadyClock::now();
      });
    }
    // A conversion after the end races the one-second deadline: either outcome is right, as
    // long as an acknowledged "converted" stays converted.
    if (chance(0.2)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(700 + rng() % 600));
      convert();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks.

struct Checker {
  const Options& o;
  std::string base, key;
  Hooks& hooks;
  Client client;

  json::value GetCall(const std::string& uuid) {
    Reply r = client.Send("GET", base + "/api/v1/calls/" + uuid, "", key);
    if (r.status != 200) return nullptr;
    return r.json();
  }

  // Acknowledged writes of one call are there. Returns the call, or null.
  json::value CheckWrites(const CallRecord& c) {
    json::value v = GetCall(c.uuid);
    if (v.is_null()) {
      Fail("call " + c.uuid + " was acknowledged (201) but is gone");
      return nullptr;
    }
    const json::object& call = v.as_object();
    if (c.answered && call.at("answered_at").is_null()) {
      Fail("call " + c.uuid + ": acknowledged `answered` event lost");
    }
    const std::string status(call.at("status").as_string());
    if (c.ended && status != "ended" && status != "completed") {
      Fail("call " + c.uuid + ": acknowledged `ended` event lost (status " + status + ")");
    }
    const json::object& tags = call.at("tags").as_object();
    for (const auto& [k, val] : c.tags) {
      const json::value* t = tags.if_contains(k);
      std::string have = t && t->is_string() ? std::string(t->as_string()) : "";
      if (("," + have + ",").find("," + val + ",") == std::string::npos) {
        Fail("call " + c.uuid + ": acknowledged tag " + k + "=" + val + " lost (have " + have +
             ")");
      }
    }
    if (c.converted && call.at("conversion").at("state") != "converted") {
      Fail("call " + c.uuid + ": acknowledged conversion lost (state " +
           json::serialize(call.at("conversion").at("state")) + ")");
    }
    return v;
  }

  // Which triggers the call has fired, from its effects.
  static std::map<std::string, int> Effects(const json::value& call) {
    std::map<std::string, int> out;
    for (const auto& e : call.at("effects").as_array())
      ++out[std::string(e.at("trigger").as_string())];
    return out;
  }

  // Every trigger the call fired has its webhook at the receiver (or still pending at the
  // server), with one webhook-id; no trigger fired twice; no webhook without its trigger.
  // Returns false while a webhook is still pending. The server keeps running meanwhile, so
  // what the receiver had before the call is read must be explained by the call, and what
  // the call has fired must be at the receiver after it is read.
  bool CheckWebhooks(const CallRecord& c) {
    std::map<std::string, std::set<std::string>> before;
    for (const char* t : kTriggers) before[t] = hooks.Ids(c.uuid, t);
    json::value call = GetCall(c.uuid);
    if (call.is_null()) {
      Fail("call " + c.uuid + " unreadable");
      return true;
    }
    bool complete = true;
    auto effects = Effects(call);
    for (const char* t : kTriggers) {
      int fired = effects.count(t) ? effects[t] : 0;
      if (fired > 1)
        Fail("call " + c.uuid + ": trigger " + t + " fired " + std::to_string(fired) + " times");
      auto ids = hooks.Ids(c.uuid, t);
      if (ids.size() > 1) {
        Fail("call " + c.uuid + ": " + std::to_string(ids.size()) + " webhook-ids for trigger " +
             t);
      }
      if (fired == 0 && !before[t].empty())
        Fail("call " + c.uuid + ": webhook for " + t + " without its trigger");
      if (fired == 1 && ids.empty()) {
        // Not received yet: it must still be in the outbox, waiting.
        std::string state;
        for (const auto& w : call.at("webhooks").as_array()) {
          if (w.at("trigger") == t) state = std::string(w.at("state").as_string());
        }
        if (state == "delivered") {
          Fail("call " + c.uuid + ": " + t + " webhook recorded delivered but never received");
        } else if (state != "pending" && state != "retrying") {
          Fail("call " + c.uuid + ": " + t + " webhook lost (state '" + state + "')");
        } else {
          complete = false;
        }
      }
    }
    return complete;
  }

  // One pass over the ledger: writes of calls touched since the last pass; calls whose deadline
  // passed must be decided exactly once. `final`: wait for every deadline and delivery.
  void Pass(Ledger& ledger, bool final) {
    const auto deadline_slack = std::chrono::seconds(o.timeout_seconds) + 1500ms;
    for (const CallRecord& c : ledger.Snapshot()) {
      const bool due =
          c.ended && !c.decided && (final || SteadyClock::now() > c.ended_at + deadline_slack);
      if (!c.dirty && !due && !final) continue;
      json::value call = CheckWrites(c);
      if (call.is_null()) {
        ledger.MarkChecked(c.uuid, false);
        continue;
      }
      if (!due) {
        // At the end every webhook must have arrived, also those of calls decided earlier.
        bool complete = CheckWebhooks(c);
        for (auto until = SteadyClock::now() + 30s;
             final && !complete && SteadyClock::now() < until;) {
          std::this_thread::sleep_for(100ms);
          complete = CheckWebhooks(c);
        }
        if (final && !complete) Fail("call " + c.uuid + ": webhooks still pending at the end");
        ledger.MarkChecked(c.uuid, false);
        continue;
      }
      // The deadline passed: the call is decided (the loop polls every 200 ms), once, and its
      // webhooks arrive.
      auto until = SteadyClock::now() + 20s;
      bool ok = false;
      while (SteadyClock::now() < until) {
        call = GetCall(c.uuid);
        if (!call.is_null() && call.at("status") == "completed") {
          auto effects = Effects(call);
          int decisions =
              (effects.count("converted") ? 1 : 0) + (effects.count("not_converted") ? 1 : 0);
          bool delivered = !hooks.Ids(c.uuid, "completed").empty();
          if (effects["completed"] == 1 && decisions >= 1 && delivered) {
            ok = true;
            break;
          }
        }
        std::this_thread::sleep_for(50ms);
      }
      if (call.is_null()) {
        Fail("call " + c.uuid + " unreadable");
        continue;
      }
      if (!ok) {
        Fail(
            "call " + c.uuid + ": deadline passed but not decided exactly once with its webhook: " +
            json::serialize(call.at("status")) + " effects " + json::serialize(call.at("effects")));
      }
      if (final) {
        auto until_all = SteadyClock::now() + 30s;
        bool complete = CheckWebhooks(c);
        while (!complete && SteadyClock::now() < until_all) {
          std::this_thread::sleep_for(100ms);
          complete = CheckWebhooks(c);
        }
        if (!complete) Fail("call " + c.uuid + ": webhooks still pending at the end");
      } else {
        CheckWebhooks(c);
      }
      ledger.MarkChecked(c.uuid, true);
    }
  }
};

bool Setup(Client& c, const std::string& base, const std::string& key, Hooks& hooks, int timeout) {
  auto post = [&](const std::string& path, const json::object& body) -> int64_t {
    Reply r = c.Send("POST", base + path, json::serialize(body), key);
    if (r.status != 201) {
      std::cerr << "crash_loop: setup " << path << ": " << r.status << " " << r.body << std::endl;
      return 0;
    }
    return r.json().at("id").as_int64();
  };
  int64_t buyer = post("/api/v1/buyers", {{"name", "B"}, {"destination", "+15550000001"}});
  int64_t campaign =
      post("/api/v1/campaigns",
           {{"name", "C"}, {"buyers", json::array{json::object{{"buyer_id", buyer}}}}});
  if (!campaign) return false;
  if (!post("/api/v1/numbers", {{"number", "+18005550100"}, {"campaign_id", campaign}}))
    return false;
  const std::string cbase = "/api/v1/campaigns/" + std::to_string(campaign);
  if (!post(cbase + "/conversion_groups", {{"name", "sales"},
                                           {"type", "postback_value"},
                                           {"payout_modifier", "*0.8"},
                                           {"postback_timeout_seconds", timeout}})) {
    return false;
  }
  for (const char* t : kTriggers) {
    json::object group{
        {"name", t},
        {"trigger", t},
        {"requests", json::array{json::object{
                         {"url", hooks.url(std::string("/hook/") + t + "/[call_uuid]")}}}}};
    if (!post(cbase + "/webhook_groups", group)) return false;
  }
  return true;
}

int Run(const Options& o) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "callpost-crash-XXXXXX").string();
  const std::string dir = mkdtemp(tmpl.data());
  const std::string db = dir + "/callpost.db";
  fs::create_directories(o.log_dir);
  const std::string log = o.log_dir + "/crash_loop-" + std::to_string(getpid()) + ".log";

  std::string out;
  {
    FILE* p = popen((o.binary + " accounts create --name crash --data-dir " + dir).c_str(), "r");
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
  }
  json::error_code ec;
  json::value account = json::parse(out, ec);
  if (ec) {
    std::cerr << "crash_loop: accounts create: " << out << std::endl;
    return 2;
  }
  const std::string key(account.at("api_key").as_string());
  // The log scan (tests/scan_logs.sh) looks for this key in every log.
  std::ofstream(o.log_dir + "/secrets-crash_loop-" + std::to_string(getpid()) + ".txt",
                std::ios::app)
      << key << "\n";

  Hooks hooks;
  Process server(o, dir, log);
  if (!server.Start()) {
    std::cerr << "crash_loop: the server did not start; see " << log << std::endl;
    return 2;
  }
  Client setup_client;
  if (!Setup(setup_client, server.base(), key, hooks, o.timeout_seconds)) return 2;

  Ledger ledger;
  Stats stats;
  Checker checker{o, server.base(), key, hooks};
  std::mt19937_64 rng(o.seed);
  const auto began = SteadyClock::now();
  int cycles_run = 0;
  for (int cycle = 1; cycle <= o.cycles; ++cycle) {
    cycles_run = cycle;
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int w = 0; w < o.workers; ++w) {
      workers.emplace_back(Worker, server.base(), key, std::ref(ledger), std::ref(stats),
                           std::ref(stop), rng());
    }
    const int load_ms =
        o.min_load_ms + static_cast<int>(rng() % (o.max_load_ms - o.min_load_ms + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(load_ms));
    server.Kill();
    stop = true;
    for (auto& t : workers) t.join();
    if (o.lose_wal) {
      // What a store that acknowledged before its commit was durable would look like.
      std::error_code ec;
      std::filesystem::remove(db + "-wal", ec);
      std::filesystem::remove(db + "-shm", ec);
    }
    if (std::string ic = IntegrityCheck(db); ic != "ok") {
      Fail("cycle " + std::to_string(cycle) + ": integrity_check: " + ic);
    }
    if (!server.Start()) {
      Fail("cycle " + std::to_string(cycle) + ": the server did not restart; see " + log);
      break;
    }
    checker.Pass(ledger, false);
    if (cycle % 10 == 0 || cycle == o.cycles || failures) {
      std::cerr << "crash_loop: cycle " << cycle << "/" << o.cycles << ": " << ledger.size()
                << " calls, " << stats.acked << " writes acknowledged, " << hooks.total()
                << " webhooks received (" << hooks.duplicates() << " repeats of an id), "
                << failures << " failures" << std::endl;
    }
    if (failures > 20 || interrupted) break;
  }
  checker.Pass(ledger, true);
  if (!server.Terminate()) Fail("the server did not stop cleanly on SIGTERM");
  if (std::string ic = IntegrityCheck(db); ic != "ok") Fail("integrity_check at the end: " + ic);
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - began).count();
  std::cerr << "crash_loop: " << cycles_run << " cycles (SIGKILL each) in "
            << static_cast<int>(seconds) << " s; " << ledger.size() << " calls; " << stats.acked
            << " writes acknowledged, " << stats.refused << " refused, " << stats.unanswered
            << " unanswered; " << hooks.total() << " webhooks received, " << hooks.duplicates()
            << " of them repeats of an id already received; " << failures << " failures"
            << std::endl;
  std::error_code rm;
  if (failures == 0 || o.lose_wal) {
    fs::remove_all(dir, rm);  // a self-test's failures are expected: nothing to look into
  } else {
    std::cerr << "crash_loop: data kept in " << dir << std::endl;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.seed = std::random_device{}();
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--lose-wal") {
      o.lose_wal = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "crash_loop: " << a << " needs a value" << std::endl;
      return 2;
    }
    std::string v = argv[i + 1];
    if (a == "--binary")
      o.binary = v;
    else if (a == "--cycles")
      o.cycles = std::stoi(v);
    else if (a == "--seed")
      o.seed = std::stoull(v);
    else if (a == "--log-dir")
      o.log_dir = v;
    else if (a == "--workers")
      o.workers = std::stoi(v);
    else if (a == "--min-load-ms")
      o.min_load_ms = std::stoi(v);
    else if (a == "--max-load-ms")
      o.max_load_ms = std::stoi(v);
    else {
      std::cerr << "crash_loop: unknown option " << a << std::endl;
      return 2;
    }
  }
  if (o.binary.empty() || o.cycles < 1 || o.min_load_ms < 1 || o.max_load_ms < o.min_load_ms) {
    std::cerr << "usage: crash_loop --binary PATH [--cycles N] [--seed N] [--log-dir DIR] "
                 "[--workers N] [--min-load-ms N] [--max-load-ms N] [--lose-wal]"
              << std::endl;
    return 2;
  }
  if (o.log_dir.empty()) o.log_dir = std::filesystem::temp_directory_path().string();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, [](int) { interrupted = 1; });
  signal(SIGTERM, [](int) { interrupted = 1; });
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::cerr << "crash_loop: seed " << o.seed << std::endl;
  int rc = Run(o);
  curl_global_cleanup();
  return rc;
}
