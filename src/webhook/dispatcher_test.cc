// End to end on one machine: the SQLite store on a temp file, the configuration service, the
// dispatcher, and a raw-socket HTTP receiver on 127.0.0.1 that answers as each test scripts (and
// a TLS one with a certificate no one trusts).
#include "webhook/dispatcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "core/ids.h"
#include "core/ip_guard.h"
#include "core/webhook_signature.h"

namespace webhook {
namespace {

using namespace std::chrono_literals;

constexpr core::Millis kStart = 1'764'340'796'000;
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// One scripted answer.
struct Reply {
  Reply(int status = 200, std::string body = "ok", std::vector<std::string> headers = {},
        std::chrono::milliseconds delay = {})
      : status(status), body(std::move(body)), headers(std::move(headers)), delay(delay) {}
  int status;
  std::string body;
  std::vector<std::string> headers;  // extra "Name: value" lines
  std::chrono::milliseconds delay;
  bool echo = false;   // answer with the request target instead of `body`
  bool reset = false;  // close the connection with a TCP reset instead of answering
};

Reply ResetReply() {
  Reply r;
  r.reset = true;
  return r;
}

struct Received {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), std::string(name).c_str()) == 0) return v;
    }
    return {};
  }
};

// A server on 127.0.0.1 and a free port: a thread that takes one connection at a time (reads
// on it time out after 2 s), gives it to `handle` and closes it. Declared last in its owner, so
// that it stops before the state `handle` uses is gone.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int)> handle) : handle_(std::move(handle)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string url(std::string_view scheme, std::string_view path) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      timeval tv{2, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      handle_(c);
      close(c);
    }
  }

  const std::function<void(int)> handle_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Reads one request from the connection `c`: its head, then a body of its Content-Length;
// nullopt when the connection ends (or a read times out) first. Bytes after the request are
// dropped (the client waits for each answer before its next request).
std::optional<Received> ReadRequest(int c) {
  std::string in;
  char buf[4096];
  size_t head_end;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    in.append(buf, n);
  }
  Received r;
  std::string_view head(in.data(), head_end);
  const size_t line_end = head.find("\r\n");
  const std::string_view first = head.substr(0, line_end);
  r.method = std::string(first.substr(0, first.find(' ')));
  r.target = std::string(first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1));
  size_t content_length = 0;
  for (size_t pos = line_end + 2; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    const size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(line.substr(colon + 1));
    value.erase(0, value.find_first_not_of(' '));
    if (strcasecmp(name.c_str(), "content-length") == 0) content_length = std::stoul(value);
    r.headers.emplace_back(std::move(name), std::move(value));
    pos = end + 2;
  }
  r.body = in.substr(head_end + 4);
  while (r.body.size() < content_length) {
    const ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    r.body.append(buf, n);
  }
  return r;
}

// A minimal HTTP/1.1 server: one connection at a time, "Connection: close". Request i gets
// script[min(i, size - 1)], after `before_answer(i)` if given (on the receiver's thread: a test
// moves the fake clock there, as a slow receiver's answer would).
class RawReceiver {
 public:
  explicit RawReceiver(std::vector<Reply> script,
                       std::function<void(size_t)> before_answer = nullptr)
      : script_(std::move(script)), before_answer_(std::move(before_answer)) {}
  std::string url(std::string_view path) const { return server_.url("http", path); }
  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Handle(int c) {
    std::optional<Received> r = ReadRequest(c);
    if (!r) return;
    const std::string received_target = r->target;
    Reply reply;
    size_t before = 0;
    {
      std::lock_guard lock(mu_);
      before = received_.size();
      reply = script_[std::min(before, script_.size() - 1)];
      received_.push_back(std::move(*r));
    }
    if (before_answer_) before_answer_(before);
    if (reply.echo) reply.body = received_target;
    std::this_thread::sleep_for(reply.delay);
    if (reply.reset) {
      linger hard{1, 0};  // close() then sends RST
      setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                      " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nConnection: close\r\n";
    for (const auto& h : reply.headers) out += h + "\r\n";
    out += "\r\n" + reply.body;
    send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  const std::vector<Reply> script_;
  const std::function<void(size_t)> before_answer_;
  mutable std::mutex mu_;
  std::vector<Received> received_;  // guarded by mu_
  LoopbackServer server_{[this](int c) { Handle(c); }};
};

// Holds a receiver's answer (its before_answer) until opened, for at most 10 s.
struct Gate {
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return open; });
  }
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;  // guarded by mu
};

// Opens a gate when it goes: declared after the receiver the gate holds, so that the receiver's
// thread is let go before the receiver waits for it (a test that fails early).
struct OpenAtExit {
  ~OpenAtExit() { gate.Open(); }
  Gate& gate;
};

// An HTTP/1.1 server that keeps connections alive, each on a thread of its own. It answers 200
// to every request, but none before `pool` connections are open (so that a client that sent
// that many requests at once then holds that many kept-alive connections), except the first
// `drops` requests to a target that starts with `drop`: it reads each of them whole and closes
// its connection without a byte of answer.
class KeepAliveReceiver {
 public:
  KeepAliveReceiver(int pool, std::string drop, int drops = std::numeric_limits<int>::max())
      : pool_(pool), drop_(std::move(drop)), drops_(drops) {}
  ~KeepAliveReceiver() {
    std::unique_lock lock(mu_);
    stopping_ = true;
    for (const int fd : fds_) shutdown(fd, SHUT_RDWR);
    lock.unlock();
    for (std::thread& t : threads_) t.join();
    for (const int fd : fds_) close(fd);
  }
  std::string url(std::string_view path) const { return server_.url("http", path); }
  int connections() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(fds_.size());
  }
  // How many requests to targets that start with `prefix` arrived.
  int Count(std::string_view prefix) const {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count_if(targets_.begin(), targets_.end(), [&](const auto& t) {
      return t.compare(0, prefix.size(), prefix) == 0;
    }));
  }

 private:
  // On the LoopbackServer's thread, which closes `c` when this returns: served on a copy.
  void Accept(int c) {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    const int fd = dup(c);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
    opened_.notify_all();
  }

  void Serve(int fd) {
    while (std::optional<Received> r = ReadRequest(fd)) {
      std::unique_lock lock(mu_);
      targets_.push_back(r->target);
      if (r->target.compare(0, drop_.size(), drop_) == 0 && drops_ > 0) {
        --drops_;
        break;
      }
      opened_.wait_for(lock, 2s,
                       [&] { return stopping_ || static_cast<int>(fds_.size()) >= pool_; });
      lock.unlock();
      constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      if (send(fd, kOk.data(), kOk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kOk.size())) {
        break;
      }
    }
    shutdown(fd, SHUT_RDWR);  // closed by the destructor, after every thread is done with it
  }

  const int pool_;
  const std::string drop_;
  mutable std::mutex mu_;
  std::condition_variable opened_;
  int drops_;                         // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::vector<int> fds_;              // guarded by mu_: every connection accepted
  std::vector<std::thread> threads_;  // guarded by mu_
  std::vector<std::string> targets_;  // guarded by mu_: every request's, in arrival order
  LoopbackServer server_{[this](int c) { Accept(c); }};
};

// A TLS server whose certificate (for 127.0.0.1, made when it starts) is signed by itself, so
// trusted by no one. It counts the handshakes it was offered and the requests that reached it
// (answered 200) should a client take the certificate.
class UntrustedTlsReceiver {
 public:
  std::string url(std::string_view path) const { return server_.url("https", path); }
  int handshakes() const { return handshakes_; }
  int requests() const { return requests_; }

 private:
  struct ContextFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  using Context = std::unique_ptr<SSL_CTX, ContextFree>;

  static Context UntrustedContext() {
    Context ctx(SSL_CTX_new(TLS_server_method()));
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    // The right name: only the trust is missing.
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(cert, san, -1);
    X509_EXTENSION_free(san);
    EXPECT_GT(X509_sign(cert, key, EVP_sha256()), 0);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
  }

  void Handle(int c) {
    ++handshakes_;
    SSL* ssl = SSL_new(ctx_.get());
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string in;
      char buf[4096];
      int n;
      while (in.find("\r\n\r\n") == std::string::npos && (n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        in.append(buf, static_cast<size_t>(n));
      }
      if (!in.empty()) ++requests_;
      const std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      SSL_write(ssl, out.data(), static_cast<int>(out.size()));
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  const Context ctx_ = UntrustedContext();
  std::atomic<int> handshakes_{0};
  std::atomic<int> requests_{0};
  LoopbackServer server_{[this](int c) { Handle(c); }};
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/callpost_webhook_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::OpenSqlite(store::SqliteOptions{dir_ + "/callpost.db"});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    account_ = Write<store::Id>([](store::Writer& w) {
      config::Account a;
      a.name = "acme";
      return w.InsertAccount(a);
    });
    config_ = std::make_unique<service::ConfigService>(*store_, clock_);
    ASSERT_TRUE(config_->Load());
  }
  void TearDown() override {
    dispatcher_.reset();
    config_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename T>
  T Write(std::function<core::Result<T>(store::Writer&)> fn) {
    T out{};
    const auto r = store_->WriteSync([&](store::Writer& w) -> core::Result<void> {
      auto v = fn(w);
      if (!v) return std::move(v).error();
      out = std::move(*v);
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }

  // The row of a webhook group of one request to `url` (a template); signed.
  store::ConfigRow GroupRow(const std::string& url, const std::string& method = "POST",
                            store::Id account_id = 0, bool enabled = true) {
    if (account_id == 0) account_id = account_;
    boost::json::object request{{"method", method}, {"url", url}};
    if (method == "POST" || method == "PUT")
      request["body"] = R"({"uuid":"[call_uuid]","caller":"[caller_number]"})";
    boost::json::object doc{
        {"name", "g"},        {"trigger", "ended"}, {"requests", boost::json::array{request}},
        {"enabled", enabled}, {"sign", true},       {"signing_secret", kSecret}};
    return store::ConfigRow{
        0, account_id, "webhook_group", 1, boost::json::serialize(doc), clock_.Now(), clock_.Now()};
  }

  store::Id AddGroup(const std::string& url, const std::string& method = "POST",
                     store::Id account_id = 0) {
    const store::ConfigRow row = GroupRow(url, method, account_id);
    const store::Id id = Write<store::Id>([&](store::Writer& w) { return w.InsertConfig(row); });
    EXPECT_TRUE(config_->Load());
    return id;
  }

  // Replaces group `id` (of this account, POST) with one to `url`, enabled or not, as an API
  // change would, and loads the configuration again.
  void ChangeGroup(store::Id id, const std::string& url, bool enabled = true) {
    store::ConfigRow row = GroupRow(url, "POST", 0, enabled);
    row.id = id;
    const auto r = store_->WriteSync([&](store::Writer& w) { return w.UpdateConfig(row); });
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(config_->Load());
  }

  // A new call with one delivery of request 0 of `group_id`, due now.
  std::string AddDelivery(store::Id group_id, store::Id account_id = 0) {
    engine::Call call;
    call.uuid = core::NewUuidV4();
    call.account_id = account_id != 0 ? account_id : account_;
    call.campaign_id = 1;
    call.caller_number = "+15551230000";
    call.started_at = clock_.Now();
    engine::Outcome out;
    out.changed = out.call_changed = true;
    const std::string webhook_id = core::NewWebhookId();
    out.deliveries.push_back({group_id, 0, "ended", clock_.Now(), webhook_id});
    const auto r = store_->WriteSync([&](store::Writer& w) { return w.SaveCall(call, out); });
    EXPECT_TRUE(r) << r.error().message;
    last_call_uuid_ = call.uuid;
    return webhook_id;
  }

  std::vector<store::Delivery> Deliveries() {
    std::vector<store::Delivery> out;
    const auto r = store_->Read([&](store::Reader& rd) -> core::Result<void> {
      store::DeliveryFilter f;
      f.account_id = account_;
      auto d = rd.ListDeliveries(f);
      if (!d) return std::move(d).error();
      out = std::move(*d);
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }

  Dispatcher& StartDispatcher(DispatcherOptions o = {}) {
    if (!o.allow_private && !refuse_private_) o.allow_private = true;
    o.poll = 20ms;
    dispatcher_ = std::make_unique<Dispatcher>(o, *store_, *config_, keys_, clock_,
                                               [n = uint64_t{0}]() mutable { return n++; });
    dispatcher_->Start();
    return *dispatcher_;
  }

  // One request at a time per host, and leases of two attempts (1 s each): a queued delivery
  // needs its lease renewed within a few answers (the renewal tests).
  static DispatcherOptions OneAtATimeWithShortLeases() {
    DispatcherOptions o;
    o.max_per_host = 1;
    o.attempt_timeout = 1000ms;
    o.lease = 2000ms;
    return o;
  }

  // Waits (up to 5 s) until the dispatcher's metrics hold every line of `lines` at once.
  static bool WaitForMetrics(Dispatcher& d, const std::vector<std::string>& lines) {
    for (auto until = std::chrono::steady_clock::now() + 5s;;) {
      std::string metrics;
      d.RenderMetrics(metrics);
      if (std::all_of(lines.begin(), lines.end(), [&](const std::string& line) {
            return metrics.find(line) != std::string::npos;
          })) {
        return true;
      }
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
  }

  // One request to its host at a time; the delivery behind it waits in the host's queue.
  static std::vector<std::string> OneSentOneQueued() {
    return {"callpost_webhook_in_flight 1\n", "callpost_webhook_queued 1\n"};
  }
  // Two deliveries of `group` for a host with one slot: returns once the first is on the wire
  // (its receiver holds it) and the second waits in the host's queue.
  Dispatcher& StartWithOneSentOneQueued(store::Id group) {
    AddDelivery(group);
    AddDelivery(group);
    DispatcherOptions o;
    o.max_per_host = 1;
    Dispatcher& d = StartDispatcher(o);
    EXPECT_TRUE(WaitForMetrics(d, OneSentOneQueued()));
    return d;
  }

  // AnAccountWhoseReceiversHangLeavesPlacesForTheOthers and its one-host variant.
  void HangingAccountLeavesPlacesForTheOthers(int max_per_host);

  core::FakeClock clock_{kStart};
  core::CallKeys keys_{std::string(32, 's')};
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  store::Id account_ = 0;
  std::unique_ptr<service::ConfigService> config_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::string last_call_uuid_;
  bool refuse_private_ = false;
};

TEST_F(DispatcherTest, DeliversSignedRequestAndRecordsIt) {
  Reply echo{200, ""};
  echo.echo = true;
  RawReceiver receiver({Reply{200, "thanks \xE2\x82\xAC"}, echo});
  const store::Id group = AddGroup(receiver.url("/hook?uuid=[call_uuid]&key=[call_key]"));
  const std::string webhook_id = AddDelivery(group);
  Dispatcher& d = StartDispatcher();
  d.Notify();
  ASSERT_TRUE(d.WaitIdle(10s));

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  const std::string key = keys_.Derive(last_call_uuid_);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook?uuid=" + last_call_uuid_ + "&key=" + key);
  EXPECT_EQ(got[0].body, R"({"uuid":")" + last_call_uuid_ + R"(","caller":"+15551230000"})");
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].Header("User-Agent"), "callpost/0.1");
  EXPECT_EQ(got[0].Header("Expect"), "");
  EXPECT_EQ(got[0].Header("webhook-id"), webhook_id);
  EXPECT_EQ(got[0].Header("webhook-timestamp"), std::to_string(kStart / 1000));
  EXPECT_TRUE(core::VerifyWebhook(*core::DecodeWebhookSecret(kSecret), webhook_id, kStart / 1000,
                                  got[0].body, got[0].Header("webhook-signature")));

  const auto deliveries = Deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].state, store::DeliveryState::kDelivered);
  EXPECT_EQ(deliveries[0].url.find(key), std::string::npos);
  EXPECT_NE(deliveries[0].url.find("key=REDACTED"), std::string::npos);
  ASSERT_EQ(deliveries[0].attempts.size(), 1u);
  EXPECT_EQ(deliveries[0].attempts[0].http_status, 200);
  EXPECT_EQ(deliveries[0].attempts[0].error, "");
  EXPECT_EQ(deliveries[0].attempts[0].response_excerpt, "thanks \xE2\x82\xAC");

  std::string metrics;
  d.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("callpost_webhook_attempts_total{outcome=\"delivered\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("callpost_webhook_attempt_duration_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("callpost_webhook_in_flight 0\n"), std::string::npos);

  // A receiver that echoes the request: the key is scrubbed from the stored excerpt.
  AddDelivery(group);
  d.Notify();
  ASSERT_TRUE(d.WaitIdle(10s));
  const std::string echo_key = keys_.Derive(last_call_uuid_);
  const store::Delivery echoed = Deliveries().front();
  ASSERT_EQ(echoed.attempts.size(), 1u);
  EXPECT_EQ(echoed.attempts[0].response_excerpt, "/hook?uuid=" + last_call_uuid_ + "&key=REDACTED");
  EXPECT_EQ(receiver.received().back().target,
            "/hook?uuid=" + last_call_uuid_ + "&key=" + echo_key);
}

TEST_F(DispatcherTest, RetriesA503AfterRetryAfterWithTheSameWebhookId) {
  RawReceiver receiver({Reply{503, "busy", {"Retry-After: 30"}}, Reply{200}});
  const std::string webhook_id = AddDelivery(AddGroup(receiver.url("/hook")));
  Dispatcher& d = StartDispatcher();
  ASSERT_TRUE(d.WaitIdle(10s));
  auto deliveries = Deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].state, store::DeliveryState::kRetrying);
  EXPECT_EQ(deliveries[0].next_attempt_at, kStart + 30'000);
  ASSERT_EQ(deliveries[0].attempts.size(), 1u);
  EXPECT_EQ(deliveries[0].attempts[0].http_status, 503);
  EXPECT_EQ(deliveries[0].attempts[0].response_excerpt, "busy");

  clock_.Advance(29'999);
  d.Notify();
  ASSERT_TRUE(d.WaitIdle(10s));
  EXPECT_EQ(receiver.received().size(), 1u);  // not due yet

  clock_.Advance(1);
  d.Notify();
  ASSERT_TRUE(d.WaitIdle(10s));
  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].Header("webhook-id"), webhook_id);
  EXPECT_EQ(got[1].Header("webhook-id"), webhook_id);
  deliveries = Deliveries();
  EXPECT_EQ(deliveries[0].state, store::DeliveryState::kDelivered);
  EXPECT_EQ(deliveries[0].attempts.size(), 2u);
}

TEST_F(DispatcherTest, VerdictsOfMisbehavingReceivers) {
  struct Case {
    const char* name;
    Reply reply;
    store::DeliveryState want_state;
    std::optional<int> want_status;
    std::string want_error;
  };
  const Case kCases[] = {
      {"410 stops", Reply{410, "gone"}, store::DeliveryState::kFailed, 410, ""},
      {"a redirect is not followed",
       Reply{302, "", {"Location: http://169.254.169.254/latest/meta-data/"}},
       store::DeliveryState::kRetrying, 302, ""},
      {"500 retries", Reply{500, "oops"}, store::DeliveryState::kRetrying, 500, ""},
      {"an endless body is cut off", Reply{200, std::string(200'000, 'x')},
       store::DeliveryState::kDelivered, 200, "too_large"},
      {"200 after the timeout", Reply{200, "late", {}, 1500ms}, store::DeliveryState::kRetrying,
       std::nullopt, "timeout"},
      {"slow headers", Reply{200, "", {}, 2500ms}, store::DeliveryState::kRetrying, std::nullopt,
       "timeout"},
      {"429 with Retry-After", Reply{429, "slow down", {"Retry-After: 60"}},
       store::DeliveryState::kRetrying, 429, ""},
      {"connection reset", ResetReply(), store::DeliveryState::kRetrying, std::nullopt,
       "transport"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    RawReceiver receiver({c.reply});
    AddDelivery(AddGroup(receiver.url("/x")));
    DispatcherOptions o;
    // Short, but with room for a loaded machine or a sanitizer build to answer in time.
    o.attempt_timeout = 1000ms;
    o.max_response_bytes = 10'000;
    Dispatcher& d = StartDispatcher(o);
    ASSERT_TRUE(d.WaitIdle(10s));
    dispatcher_.reset();
    EXPECT_EQ(receiver.received().size(), 1u);
    const store::Delivery delivery = Deliveries().front();  // newest first
    EXPECT_EQ(delivery.state, c.want_state);
    ASSERT_EQ(delivery.attempts.size(), 1u);
    EXPECT_EQ(delivery.attempts[0].http_status, c.want_status);
    EXPECT_EQ(delivery.attempts[0].error, c.want_error);
    EXPECT_LE(delivery.attempts[0].response_excerpt.size(), 1024u);
  }
}

// libcurl takes a reused kept-alive connection that closes without a byte of answer for one
// that went stale while idle, and sends the request again on another: on the next pooled
// connection, and the next, up to six times. An attempt sends its request at most twice,
// whatever its method; the second such failure ends it as a transport failure.
TEST_F(DispatcherTest, SendsAnAttemptAtMostTwiceWhenKeptAliveConnectionsCloseUnanswered) {
  constexpr int kPool = 4;
  for (const std::string method : {"POST", "GET", "HEAD"}) {
    SCOPED_TRACE(method);
    KeepAliveReceiver receiver(kPool, "/hangup");
    const store::Id ok = AddGroup(receiver.url("/ok"));
    for (int i = 0; i < kPool; ++i) AddDelivery(ok);
    Dispatcher& d = StartDispatcher();
    ASSERT_TRUE(d.WaitIdle(10s));
    ASSERT_EQ(receiver.connections(), kPool);  // all idle in libcurl's pool now
    ASSERT_EQ(receiver.Count("/ok"), kPool);

    AddDelivery(AddGroup(receiver.url("/hangup"), method));
    d.Notify();
    ASSERT_TRUE(d.WaitIdle(10s));
    dispatcher_.reset();
    EXPECT_GE(receiver.Count("/hangup"), 1);
    EXPECT_LE(receiver.Count("/hangup"), 2);
    const store::Delivery delivery = Deliveries().front();  // newest first
    EXPECT_EQ(delivery.state, store::DeliveryState::kRetrying);
    ASSERT_EQ(delivery.attempts.size(), 1u);
    EXPECT_EQ(delivery.attempts[0].http_status, std::nullopt);
    EXPECT_EQ(delivery.attempts[0].error, "transport");
  }
}

// The one send more is kept: a reused connection that turns out stale (closed without an
// answer) costs no attempt when the request is answered on another.
TEST_F(DispatcherTest, SendsAgainOnceWhenAKeptAliveConnectionClosesUnanswered) {
  constexpr int kPool = 2;
  KeepAliveReceiver receiver(kPool, "/flaky", 1);
  const store::Id ok = AddGroup(receiver.url("/ok"));
  for (int i = 0; i < kPool; ++i) AddDelivery(ok);
  Dispatcher& d = StartDispatcher();
  ASSERT_TRUE(d.WaitIdle(10s));
  ASSERT_EQ(receiver.connections(), kPool);

  AddDelivery(AddGroup(receiver.url("/flaky")));
  d.Notify();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();
  EXPECT_EQ(receiver.Count("/flaky"), 2);
  const store::Delivery delivery = Deliveries().front();
  EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
  ASSERT_EQ(delivery.attempts.size(), 1u);
  EXPECT_EQ(delivery.attempts[0].http_status, 200);
}

// One after another, so each request reuses the easy handle of the one before: nothing of the
// last request's method or body carries over.
TEST_F(DispatcherTest, Methods) {
  RawReceiver receiver({Reply{204, ""}});
  Dispatcher& d = StartDispatcher();
  for (std::string method : {"GET", "HEAD", "PUT", "POST", "HEAD", "PUT", "GET", "POST", "GET"}) {
    AddDelivery(AddGroup(receiver.url("/m?k=[call_key]"), method));
    d.Notify();
    ASSERT_TRUE(d.WaitIdle(10s)) << method;
    const Received got = receiver.received().back();
    EXPECT_EQ(got.method, method);
    const bool has_body = method == "PUT" || method == "POST";
    EXPECT_EQ(got.body.empty(), !has_body) << method;
    EXPECT_EQ(got.Header("Content-Type"), has_body ? "application/json" : "") << method;
    EXPECT_EQ(Deliveries().front().state, store::DeliveryState::kDelivered) << method;
  }
}

TEST_F(DispatcherTest, RefusesLoopbackUnlessAllowed) {
  RawReceiver receiver({Reply{200}});
  const std::string port = receiver.url("").substr(std::string("http://127.0.0.1:").size());
  // Checked on the resolved address: odd spellings of 127.0.0.1 are refused too. A literal
  // address (and localhost, which libcurl resolves itself) cannot resolve elsewhere later:
  // the delivery fails at once rather than retrying for days.
  const std::string kHosts[] = {"127.0.0.1", "localhost", "2130706433", "0x7f.1",
                                "[::1]",     "[[::1]]",   "127.1"};
  refuse_private_ = true;
  for (const std::string& host : kHosts) {
    SCOPED_TRACE(host);
    AddDelivery(AddGroup("http://" + host + ":" + port + "/x"));
    Dispatcher& d = StartDispatcher();
    ASSERT_TRUE(d.WaitIdle(10s));
    dispatcher_.reset();
    const store::Delivery delivery = Deliveries().front();
    EXPECT_EQ(delivery.state, store::DeliveryState::kFailed);
    EXPECT_EQ(delivery.next_attempt_at, std::nullopt);
    ASSERT_EQ(delivery.attempts.size(), 1u);
    EXPECT_EQ(delivery.attempts[0].http_status, std::nullopt);
    EXPECT_EQ(delivery.attempts[0].error, "refused_address");
  }
  EXPECT_EQ(receiver.received().size(), 0u);
}

// A host name that resolved to a refused address is retried on the schedule: DNS may point it
// elsewhere later. Needs a name of this machine that resolves to no public address.
TEST_F(DispatcherTest, RetriesANameThatResolvedToARefusedAddress) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &res) != 0) GTEST_SKIP() << name << " does not resolve";
  bool any_public = false;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    any_public = any_public || core::IsPublicAddress(ai->ai_addr);
  }
  freeaddrinfo(res);
  if (any_public) GTEST_SKIP() << name << " resolves to a public address";
  ASSERT_EQ(core::ClassifyHost(name), core::HostKind::kName) << name;
  RawReceiver receiver({Reply{200}});
  const std::string port = receiver.url("").substr(std::string("http://127.0.0.1:").size());
  refuse_private_ = true;
  AddDelivery(AddGroup("http://" + std::string(name) + ":" + port + "/x"));
  Dispatcher& d = StartDispatcher();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();
  const store::Delivery delivery = Deliveries().front();
  EXPECT_EQ(delivery.state, store::DeliveryState::kRetrying);
  ASSERT_EQ(delivery.attempts.size(), 1u);
  EXPECT_EQ(delivery.attempts[0].error, "refused_address");
  EXPECT_EQ(receiver.received().size(), 0u);
}

// The request (its URL carries the call key) goes only to a receiver whose certificate a
// trusted authority signed: against a self-signed one the attempt fails in the handshake,
// "tls", before a byte of the request, and is retried.
TEST_F(DispatcherTest, SendsNothingToAReceiverWhoseCertificateIsNotTrusted) {
  UntrustedTlsReceiver receiver;
  AddDelivery(AddGroup(receiver.url("/x?k=[call_key]")));
  Dispatcher& d = StartDispatcher();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();
  EXPECT_GE(receiver.handshakes(), 1);
  EXPECT_EQ(receiver.requests(), 0);
  const store::Delivery delivery = Deliveries().front();
  EXPECT_EQ(delivery.state, store::DeliveryState::kRetrying);
  ASSERT_EQ(delivery.attempts.size(), 1u);
  EXPECT_EQ(delivery.attempts[0].http_status, std::nullopt);
  EXPECT_EQ(delivery.attempts[0].error, "tls");
}

TEST_F(DispatcherTest, FailsDeliveriesOfDeletedGroups) {
  AddDelivery(9999);
  Dispatcher& d = StartDispatcher();
  ASSERT_TRUE(d.WaitIdle(10s));
  const store::Delivery delivery = Deliveries().front();
  EXPECT_EQ(delivery.state, store::DeliveryState::kFailed);
  ASSERT_EQ(delivery.attempts.size(), 1u);
  EXPECT_EQ(delivery.attempts[0].error, "group_deleted");
}

TEST_F(DispatcherTest, LimitsRequestsPerHost) {
  RawReceiver receiver({Reply{200, "ok", {}, 50ms}});
  const store::Id group = AddGroup(receiver.url("/x"));
  for (int i = 0; i < 6; ++i) AddDelivery(group);
  DispatcherOptions o;
  o.max_per_host = 2;
  Dispatcher& d = StartDispatcher(o);
  // Watch the gauges while it works: never more than two requests to the host at once.
  int64_t max_in_flight = 0, max_queued = 0;
  const auto gauge = [](const std::string& text, std::string_view name) {
    const size_t at = text.find("\n" + std::string(name) + " ");
    return at == std::string::npos ? int64_t{-1}
                                   : int64_t{std::stoll(text.substr(at + name.size() + 2))};
  };
  for (int i = 0; i < 2000 && receiver.received().size() < 6; ++i) {
    std::string metrics;
    d.RenderMetrics(metrics);
    max_in_flight = std::max(max_in_flight, gauge(metrics, "callpost_webhook_in_flight"));
    max_queued = std::max(max_queued, gauge(metrics, "callpost_webhook_queued"));
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(d.WaitIdle(10s));
  EXPECT_EQ(max_in_flight, 2);
  EXPECT_GT(max_queued, 0);
  EXPECT_EQ(receiver.received().size(), 6u);
  for (const auto& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
  }
}

// A receiver slower than the lease allows for the deliveries queued behind its busy slot:
// each answer takes 700 ms of the clock, one request at a time, under 2 s leases. From the
// third on, a queued delivery could not start before its lease ran out; it is renewed in the
// store instead, so all go out back to back (not one waits for its own stale lease, which
// with a clock that moves only with the answers would be for ever).
TEST_F(DispatcherTest, RenewsTheLeasesOfQueuedDeliveriesSoTheyGoOutBackToBack) {
  constexpr int kDeliveries = 6;
  constexpr core::Millis kAnswer = 700;
  RawReceiver receiver({Reply{}}, [this](size_t) { clock_.Advance(kAnswer); });
  const store::Id group = AddGroup(receiver.url("/x"));
  std::set<std::string> webhook_ids;
  for (int i = 0; i < kDeliveries; ++i) webhook_ids.insert(AddDelivery(group));
  Dispatcher& d = StartDispatcher(OneAtATimeWithShortLeases());
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), static_cast<size_t>(kDeliveries));
  std::set<std::string> received_ids;
  for (const Received& r : got) received_ids.insert(r.Header("webhook-id"));
  EXPECT_EQ(received_ids, webhook_ids);  // each once
  std::vector<core::Millis> attempts;
  for (const store::Delivery& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
    ASSERT_EQ(delivery.attempts.size(), 1u);
    attempts.push_back(delivery.attempts[0].at);
  }
  // Each attempt started as the one before was answered: no wait in between.
  std::sort(attempts.begin(), attempts.end());
  for (int i = 0; i < kDeliveries; ++i) EXPECT_EQ(attempts[i], kStart + i * kAnswer) << i;
  EXPECT_EQ(clock_.Now(), kStart + kDeliveries * kAnswer);
}

// A delivery waiting in its host's queue (behind a request that holds the host's one slot)
// when its group is disabled fails at its turn without a request: the group is looked at as the
// request is sent, not as the delivery was queued.
TEST_F(DispatcherTest, ADeliveryQueuedWhenItsGroupIsDisabledFailsUnsent) {
  Gate gate;
  RawReceiver receiver({Reply{}}, [&](size_t i) {
    if (i == 0) gate.Wait();
  });
  OpenAtExit open{gate};
  const std::string url = receiver.url("/x");
  const store::Id group = AddGroup(url);
  Dispatcher& d = StartWithOneSentOneQueued(group);
  ChangeGroup(group, url, /*enabled=*/false);
  gate.Open();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  const auto deliveries = Deliveries();
  ASSERT_EQ(deliveries.size(), 2u);
  for (const store::Delivery& delivery : deliveries) {
    ASSERT_EQ(delivery.attempts.size(), 1u);
    if (delivery.webhook_id == got[0].Header("webhook-id")) {
      EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
      EXPECT_EQ(delivery.attempts[0].http_status, 200);
    } else {
      EXPECT_EQ(delivery.state, store::DeliveryState::kFailed);
      EXPECT_EQ(delivery.attempts[0].http_status, std::nullopt);
      EXPECT_EQ(delivery.attempts[0].error, "group_disabled");
    }
  }
}

// A URL fixed while a delivery waits in its host's queue is the one it is sent to.
TEST_F(DispatcherTest, AUrlChangedWhileADeliveryIsQueuedIsUsedForIt) {
  Gate gate;
  RawReceiver receiver({Reply{}}, [&](size_t i) {
    if (i == 0) gate.Wait();
  });
  OpenAtExit open{gate};
  const store::Id group = AddGroup(receiver.url("/old"));
  Dispatcher& d = StartWithOneSentOneQueued(group);
  ChangeGroup(group, receiver.url("/new"));
  gate.Open();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].target, "/old");
  EXPECT_EQ(got[1].target, "/new");
  for (const store::Delivery& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
    const bool second = delivery.webhook_id == got[1].Header("webhook-id");
    EXPECT_EQ(delivery.url, receiver.url(second ? "/new" : "/old"));
  }
}

// The same when the new URL names another host: the delivery waits for that host's slots
// instead, and goes there.
TEST_F(DispatcherTest, ADeliveryQueuedForAHostItsUrlNoLongerNamesGoesToTheNewOne) {
  Gate gate;
  RawReceiver old_host({Reply{}}, [&](size_t i) {
    if (i == 0) gate.Wait();
  });
  OpenAtExit open{gate};
  RawReceiver new_host({Reply{}});
  const store::Id group = AddGroup(old_host.url("/x"));
  Dispatcher& d = StartWithOneSentOneQueued(group);
  ChangeGroup(group, new_host.url("/y"));
  gate.Open();
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  ASSERT_EQ(old_host.received().size(), 1u);
  const auto got = new_host.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/y");
  EXPECT_NE(got[0].Header("webhook-id"), old_host.received()[0].Header("webhook-id"));
  for (const store::Delivery& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
  }
}

// A delivery that waited in its host's queue (for a receiver that takes 20 s of the clock to
// answer) carries the time it was sent in webhook-timestamp, and is signed for that time: not
// the time it was queued, which a receiver's replay tolerance would count against it.
TEST_F(DispatcherTest, AQueuedDeliveryIsStampedAndSignedWhenItIsSent) {
  constexpr core::Millis kAnswer = 20'000;
  RawReceiver receiver({Reply{}}, [this](size_t) { clock_.Advance(kAnswer); });
  const store::Id group = AddGroup(receiver.url("/x"));
  AddDelivery(group);
  AddDelivery(group);
  DispatcherOptions o;
  o.max_per_host = 1;
  Dispatcher& d = StartDispatcher(o);
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 2u);
  const auto secret = core::DecodeWebhookSecret(kSecret);
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t sent = (kStart + static_cast<core::Millis>(i) * kAnswer) / 1000;
    EXPECT_EQ(got[i].Header("webhook-timestamp"), std::to_string(sent)) << i;
    EXPECT_TRUE(core::VerifyWebhook(*secret, got[i].Header("webhook-id"), sent, got[i].body,
                                    got[i].Header("webhook-signature")))
        << i;
  }
  for (const store::Delivery& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered);
    ASSERT_EQ(delivery.attempts.size(), 1u);
    const bool second = delivery.webhook_id == got[1].Header("webhook-id");
    EXPECT_EQ(delivery.attempts[0].at, kStart + (second ? kAnswer : 0));
  }
}

// A unit of work reserves places for the deliveries it makes within its account's share, or
// past it while half of the dispatcher's places stay free; what finds none is inserted for a
// claim.
TEST_F(DispatcherTest, ReservationsKeepToEachAccountsShareUnlessHalfThePlacesAreFree) {
  DispatcherOptions o;
  o.max_in_flight = 8;
  o.max_per_account = 2;
  Dispatcher& d = StartDispatcher(o);
  EXPECT_TRUE(d.Reserve(1, 2).has_value());
  EXPECT_TRUE(d.Reserve(1, 2).has_value());   // lent: four of eight stay free
  EXPECT_FALSE(d.Reserve(1, 1).has_value());  // lent, three would stay free
  EXPECT_TRUE(d.Reserve(2, 2).has_value());   // its share
  EXPECT_FALSE(d.Reserve(2, 1).has_value());
  EXPECT_TRUE(d.Reserve(3, 2).has_value());
  EXPECT_FALSE(d.Reserve(4, 1).has_value());  // the dispatcher's eight are taken
  d.Release(1, 4);
  EXPECT_TRUE(d.Reserve(4, 1).has_value());
  d.Release(2, 2);
  d.Release(3, 2);
  d.Release(4, 1);
  EXPECT_TRUE(d.WaitIdle(5s));
}

// An account whose receivers hang holds its share of the places (sending or queued for a slot
// of their host), and is lent more only while half of them stay free: another account's
// webhook goes out while they hang, and the rest of the first account's wait in the outbox
// until its places free. Of the four places it holds of eight, `max_per_host` are on the wire.
void DispatcherTest::HangingAccountLeavesPlacesForTheOthers(int max_per_host) {
  std::mutex mu;
  std::condition_variable cv;
  bool hang = true;
  RawReceiver hanging({Reply{}}, [&](size_t) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return !hang; });
  });
  const auto release = [&] {
    std::lock_guard lock(mu);
    hang = false;
    cv.notify_all();
  };
  struct Release {
    std::function<void()> fn;
    ~Release() { fn(); }
  } release_at_exit{release};
  RawReceiver quick({Reply{}});
  const store::Id other = Write<store::Id>([](store::Writer& w) {
    config::Account a;
    a.name = "other";
    return w.InsertAccount(a);
  });
  const store::Id hanging_group = AddGroup(hanging.url("/x"));
  const store::Id quick_group = AddGroup(quick.url("/y"), "POST", other);
  for (int i = 0; i < 8; ++i) AddDelivery(hanging_group);
  DispatcherOptions o;
  o.max_in_flight = 8;
  o.max_per_host = max_per_host;
  o.max_per_account = 2;
  Dispatcher& d = StartDispatcher(o);
  const auto wait_for = [](const std::function<bool()>& done) {
    for (auto until = std::chrono::steady_clock::now() + 5s; !done();) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  };
  const std::vector<std::string> holding = {
      "callpost_webhook_in_flight " + std::to_string(max_per_host) + "\n",
      "callpost_webhook_queued " + std::to_string(4 - max_per_host) + "\n",
      "callpost_webhook_accounts_waiting 1\n"};
  ASSERT_TRUE(wait_for([&] {
    std::string metrics;
    d.RenderMetrics(metrics);
    return std::all_of(holding.begin(), holding.end(), [&](const std::string& line) {
      return metrics.find(line) != std::string::npos;
    });
  }));

  const std::string quick_id = AddDelivery(quick_group, other);
  d.Notify();
  EXPECT_TRUE(wait_for([&] { return quick.received().size() == 1; }))
      << "the other account's webhook waited for the hanging ones";
  // The hanging requests still hold their places once the quick one's transfer is done (it
  // counts as in flight from before its request reaches the receiver until after its attempt
  // is counted, so the gauge is read again until it has let go).
  std::string metrics;
  EXPECT_TRUE(wait_for([&] {
    metrics.clear();
    d.RenderMetrics(metrics);
    return metrics.find("callpost_webhook_in_flight " + std::to_string(max_per_host) + "\n") !=
           std::string::npos;
  })) << metrics;

  release();
  ASSERT_TRUE(d.WaitIdle(10s));
  EXPECT_EQ(hanging.received().size(), 8u);
  for (const store::Delivery& delivery : Deliveries()) {
    EXPECT_EQ(delivery.state, store::DeliveryState::kDelivered) << delivery.webhook_id;
  }
  ASSERT_EQ(quick.received().size(), 1u);
  EXPECT_EQ(quick.received()[0].Header("webhook-id"), quick_id);
}

TEST_F(DispatcherTest, AnAccountWhoseReceiversHangLeavesPlacesForTheOthers) {
  HangingAccountLeavesPlacesForTheOthers(4);
}

// The same with one hanging host: its one slot busy, the rest of the account's places queued.
TEST_F(DispatcherTest, AnAccountWhoseOneReceiverHangsLeavesPlacesForTheOthers) {
  HangingAccountLeavesPlacesForTheOthers(1);
}

// A queued delivery whose lease ran out here and was claimed by another node meanwhile (as
// when a node stalls past its leases) is that node's now: the renewal leaves its lease alone,
// and this dispatcher lets it go unsent.
TEST_F(DispatcherTest, LetsGoOfAQueuedDeliveryAnotherNodeClaimedAfterItsLeaseRanOut) {
  constexpr core::Millis kOtherLease = kStart + 60'000;
  std::vector<std::string> taken;
  RawReceiver receiver({Reply{}}, [&](size_t before) {
    if (before != 0) return;
    // While the first request waits for its answer, another node whose clock is past our
    // leases claims what is due (the one on the wire too: its lease ran out as well), and
    // then our clock passes them too.
    const auto r = store_->WriteSync([&](store::Writer& w) -> core::Result<void> {
      taken.clear();
      auto c = w.ClaimDueDeliveries(kStart + 3000, kOtherLease, store::ClaimRoom{10});
      if (!c) return std::move(c).error();
      for (const store::Delivery& delivery : c->deliveries) taken.push_back(delivery.webhook_id);
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    clock_.Advance(3000);
  });
  const store::Id group = AddGroup(receiver.url("/x"));
  for (int i = 0; i < 3; ++i) AddDelivery(group);
  Dispatcher& d = StartDispatcher(OneAtATimeWithShortLeases());
  ASSERT_TRUE(d.WaitIdle(10s));
  dispatcher_.reset();

  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(taken.size(), 3u);
  // The one sent is logged with its answer but left to the node that holds it now, which
  // sends it again (at least once, with the same webhook-id): a verdict decides a delivery only
  // under the lease it was made under.
  for (const store::Delivery& delivery : Deliveries()) {
    const bool sent = delivery.webhook_id == got[0].Header("webhook-id");
    EXPECT_EQ(delivery.state, store::DeliveryState::kPending);
    EXPECT_EQ(delivery.attempts.size(), sent ? 1u : 0u);
  }
  // Still under the other node's lease: neither renewed nor freed here.
  EXPECT_EQ(
      Write<std::optional<core::Millis>>([](store::Writer& w) { return w.NextDeliveryDue(); }),
      kOtherLease);
}

TEST_F(DispatcherTest, StopFinishesTheRequestOnTheWire) {
  RawReceiver receiver({Reply{200, "ok", {}, 300ms}});
  AddDelivery(AddGroup(receiver.url("/x")));
  Dispatcher& d = StartDispatcher();
  for (int i = 0; i < 200 && receiver.received().empty(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(receiver.received().size(), 1u);
  d.Stop();
  EXPECT_EQ(Deliveries().front().state, store::DeliveryState::kDelivered);
}

}  // namespace
}  // namespace webhook
