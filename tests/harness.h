// Test harness: a temporary data directory, the real server on port 0 with a fake clock, and
// a small libcurl client.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "app/app.h"
#include "core/time.h"
#include "store/pg_test_schema.h"

namespace testing_harness {

// The folder every test's server log goes to (build/test-logs), and the secrets the tests were
// handed: the log scan (tests/scan_logs.sh) fails if any log holds one of them.
std::string LogDir();
// Records a key or secret for the log scan. Http() records those in every answer by itself.
void RecordSecret(const std::string& secret);

// Why `text` is not a valid Prometheus text exposition, or "" when it is: each family's
// "# TYPE" once, and every sample right under its own family's (a histogram's _bucket, _sum and
// _count included), so that no family's samples are split by another's.
std::string ExpositionError(const std::string& text);

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  boost::json::value json() const;             // parsed body (null when not JSON)
};

// The text of a JSON string (throws when `v` is not a string, failing the test).
inline std::string Str(const boost::json::value& v) { return std::string(v.as_string()); }

// Sends one request and expects an answer. `headers` are "Name: value" lines.
HttpResponse Http(const std::string& method, const std::string& url, const std::string& body = {},
                  const std::vector<std::string>& headers = {});
// Sends one request; status 0 (and curl's reason as the body) when no answer came.
HttpResponse TryHttp(const std::string& method, const std::string& url,
                     const std::string& body = {}, const std::vector<std::string>& headers = {});

// Changes a test server's options: Server s(ConfigureOptions([](app::AppOptions& o) {…})).
using ConfigureOptions = std::function<void(app::AppOptions&)>;

// A running server with its own data directory, API key and fake clock.
class Server {
 public:
  // Starts on a fresh data directory and creates an account. Webhooks may reach loopback
  // receivers unless `allow_private_webhooks` is false.
  explicit Server(bool allow_private_webhooks = true);
  // The same, with options changed by `configure` (rate limits, connection limit, ...).
  explicit Server(ConfigureOptions configure);
  ~Server();

  // Stops the server (gracefully) and starts it again on the same data directory.
  void Restart();
  void Stop();

  std::string url(const std::string& path) const;
  // Operator/edge request with this server's API key.
  HttpResponse Api(const std::string& method, const std::string& path,
                   const boost::json::value& body = nullptr) const;
  HttpResponse ApiWithKey(const std::string& key, const std::string& method,
                          const std::string& path, const std::string& body = {}) const;
  // POST and expect 201; returns the created object's id.
  int64_t Create(const std::string& path, const boost::json::value& body) const;
  // Creates another account; returns its API key.
  std::string NewAccount(const std::string& name);

  core::FakeClock& clock() { return clock_; }
  app::App& app() { return *app_; }
  const std::string& api_key() const { return api_key_; }
  const std::string& data_dir() const { return dir_.path(); }

 private:
  void Init();
  void Start();
  // The database: SQLite in dir_, or with CALLPOST_TEST_STORE=postgresql a schema of its own
  // on the tests' PostgreSQL server.
  void Configure(app::AppOptions& o) const;
  TempDir dir_;
  std::unique_ptr<store::PgTestSchema> pg_;
  bool allow_private_webhooks_ = true;
  ConfigureOptions configure_;
  core::FakeClock clock_;
  std::unique_ptr<app::App> app_;
  std::string api_key_;
};

// A campaign with one publisher, one buyer and a tracking number, ready for calls.
struct Fixture {
  int64_t publisher = 0, buyer = 0, campaign = 0, number_id = 0;
  std::string number = "+18005550100";
};
Fixture MakeFixture(const Server& s, const boost::json::object& campaign_extra = {});
// Adds to the fixture's campaign a keyword conversion group: the postback keyword "sale"
// converts at 25.00 revenue, 10.00 payout. Returns its id.
int64_t AddSaleKeywordGroup(const Server& s, const Fixture& f);

// Starts a call on the fixture's number; returns the response JSON (uuid, key, …).
boost::json::object StartCall(const Server& s, const std::string& caller = "+15551230000",
                              bool route = true, const std::string& number = "+18005550100");
// Sends an event; returns the call.
boost::json::object Event(const Server& s, const std::string& uuid, const boost::json::object& ev);
// A buyer postback (GET) to /calls/{uuid}/{action}?key=…&query.
HttpResponse Postback(const Server& s, const std::string& uuid, const std::string& key,
                      const std::string& query, const std::string& action = "add_tags");

}  // namespace testing_harness
