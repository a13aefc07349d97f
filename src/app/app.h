// Wiring: opens the store, loads configuration, starts the HTTP server and the background
// loops (postback deadlines, configuration reload), and stops them in order. main.cc parses
// the command line into AppOptions; tests build AppOptions directly (port 0, a temp data
// directory, a fake clock).
#pragma once

#include <boost/json/array.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/result.h"
#include "core/time.h"
#include "service/config_service.h"

namespace app {

struct AppOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; [v6]:port; port 0 = any free port
  std::string data_dir = "./data";
  std::string database;  // "sqlite:PATH" or "postgresql://…"; empty = sqlite:<data_dir>/callpost.db
  int database_connections = 8;  // PostgreSQL: writer connections, and as many for reads
  std::string public_url;        // empty = http://<listen>
  std::string metrics_token;     // empty = /metrics needs no token
  std::string secret;  // call-key secret (≥32 chars); empty = <data_dir>/secret, created once
  bool allow_private_webhooks = false;
  int threads = 0;  // HTTP threads; 0 = one per core
  size_t max_body_bytes = 1 << 20;
  int deadline_poll_ms = 200;  // how often due postback deadlines are looked for
  bool background = true;      // run the deadline and reload loops (tests may drive them)
  int webhook_max_in_flight = 512;
  int webhook_account_limit = 64;  // one account's share of them (more lent while half are free)
  // How long a node's claim on a delivery or a deadline lasts: a node that dies holding claims
  // has them taken over by another node after this. Longer than any webhook attempt (15 s).
  int lease_seconds = 60;
  int webhook_timeout_seconds = 15;     // one webhook attempt, whole (R4); leases are at least 2×
  int64_t max_call_seconds = 4 * 3600;  // calls still open this long after start are closed
  // Overload (docs/operations.md#limits-and-overload): per-key token buckets (requests a
  // second and burst; a rate of 0 turns a limit off) and open connections served at once.
  double api_key_rate = 500, api_key_burst = 1000;  // each API key or publisher postback key
  double call_key_rate = 20, call_key_burst = 40;   // each call, on its buyer routes
  int max_connections = 4096;                       // also kept under the open-files limit
  const core::Clock* clock = nullptr;               // null = the system clock
};

class App {
 public:
  // Opens everything and starts serving. Errors name what failed (a bad flag, a port in use,
  // an unreadable database).
  static core::Result<std::unique_ptr<App>> Start(const AppOptions& options);
  ~App();

  uint16_t port() const;
  // Graceful: stop accepting, finish in-flight requests, stop the loops, flush the writer.
  void Stop();

  service::ConfigService& config();
  // Decides every postback deadline due now (what the deadline loop does every tick).
  core::Result<int> FireDueDeadlines();
  // Waits until no webhook delivery is in flight or due now (by the app's clock); false on
  // timeout. For tests: the dispatcher runs on its own thread whatever `background` says.
  bool WaitForWebhooks(std::chrono::milliseconds timeout);
  // Closes calls open longer than max_call_seconds (what the loop does every minute).
  core::Result<int> CloseStaleCalls();

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The checks of two flags, for the command line to refuse a bad value as a usage error before
// anything starts (App::Start makes them again):
// --listen: host:port, [v6]:port, with an IP address as the host -> (host, port).
core::Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen);
// --public-url: an absolute http(s) URL with a host and no query, fragment or user; returned
// without the trailing slashes of its path (the routes are appended to it).
core::Result<std::string> NormalizePublicUrl(const std::string& url);

// `callpost accounts create`: opens the store, creates an account and its first API key.
core::Result<service::NewAccount> CreateAccount(const AppOptions& options, const std::string& name);
// `callpost accounts list`: every account, as the API shows one ({"id","name","created_at",…}).
core::Result<boost::json::array> ListAccounts(const AppOptions& options);
// `callpost accounts add-key`: a new API key for an account, the way back in when every key of
// an account is lost (API keys are stored hashed: a lost one cannot be read back).
core::Result<service::NewApiKey> AddApiKey(const AppOptions& options, int64_t account_id,
                                           const std::string& name);

}  // namespace app
