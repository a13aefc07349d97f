#include "harness.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace testing_harness {

namespace json = boost::json;

std::string LogDir() { return CALLPOST_TEST_LOG_DIR; }

namespace {

// <log dir>/<stem>-<pid>.<ext>: each test process writes its own files.
std::string ProcessFile(const std::string& stem, const std::string& ext) {
  return LogDir() + "/" + stem + "-" + std::to_string(getpid()) + "." + ext;
}

// The servers of this process log (at debug, the most they say: every request and every
// webhook attempt) to a file of the log folder, where the failure output stays readable and
// the log scan can read them for keys.
const bool kLogToFile = [] {
  std::filesystem::create_directories(LogDir());
  auto logger = spdlog::basic_logger_mt("callpost", ProcessFile("integration_test", "log"));
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","event":%v})",
                      spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::debug);
  return true;
}();

std::mutex secrets_mu;

// Keys and secrets in an answer: API keys, call keys, publisher postback keys, webhook
// signing secrets.
void CollectSecrets(const json::value& v) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      const auto* s = kv.value().if_string();
      const std::string_view k = kv.key();
      if (s && (k == "api_key" || k == "signing_secret" || k == "previous_secret" ||
                (k == "key" && (s->size() == 32 || s->starts_with("cp"))))) {
        if (s->size() >= 24) RecordSecret(std::string(*s));
      } else {
        CollectSecrets(kv.value());
      }
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) CollectSecrets(e);
  }
}

}  // namespace

std::string ExpositionError(const std::string& text) {
  std::set<std::string> typed;
  std::string family, type;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      words >> family >> type;
      if (!typed.insert(family).second) return "a second # TYPE for " + family;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    bool ours = name == family;
    if (type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        ours = ours || name == family + suffix;
    }
    if (!ours) return "the sample \"" + line + "\" stands under the family " + family;
  }
  return "";
}

void RecordSecret(const std::string& secret) {
  std::lock_guard lock(secrets_mu);
  std::ofstream(ProcessFile("secrets-integration_test", "txt"), std::ios::app) << secret << "\n";
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "callpost-test-XXXXXX").string();
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

json::value HttpResponse::json() const {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value() : v;
}

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

}  // namespace

HttpResponse Http(const std::string& method, const std::string& url, const std::string& body,
                  const std::vector<std::string>& headers) {
  HttpResponse r = TryHttp(method, url, body, headers);
  EXPECT_NE(r.status, 0) << method << " " << url << ": " << r.body;
  return r;
}

HttpResponse TryHttp(const std::string& method, const std::string& url, const std::string& body,
                     const std::vector<std::string>& headers) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.body = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  CollectSecrets(r.json());
  return r;
}

// The call-key secret of servers on PostgreSQL (which needs one configured).
constexpr const char* kPostgresSecret = "a-secret-for-the-tests-of-at-least-32-characters";

Server::Server(bool allow_private_webhooks)
    : allow_private_webhooks_(allow_private_webhooks), clock_(1'795'876'796'000) {  // 14:39:56Z
  Init();
}

Server::Server(ConfigureOptions configure)
    : configure_(std::move(configure)), clock_(1'795'876'796'000) {
  Init();
}

void Server::Init() {
  if (const char* store = std::getenv("CALLPOST_TEST_STORE");
      store && std::string(store) == "postgresql") {
    pg_ = std::make_unique<store::PgTestSchema>(CALLPOST_TEST_PG_STATE);
    EXPECT_FALSE(pg_->url().empty()) << pg_->error();
    RecordSecret(kPostgresSecret);
  }
  Start();
  app::AppOptions options;
  Configure(options);
  auto account = app::CreateAccount(options, "test account");
  EXPECT_TRUE(account.has_value());
  api_key_ = account->api_key;
  RecordSecret(api_key_);
  std::ifstream secret(dir_.path() + "/secret");
  std::string line;
  if (std::getline(secret, line) && !line.empty()) RecordSecret(line);  // the call-key secret
}

Server::~Server() { Stop(); }

void Server::Configure(app::AppOptions& o) const {
  o.data_dir = dir_.path();
  if (pg_) {
    o.database = pg_->url();
    o.secret = kPostgresSecret;
  }
}

void Server::Start() {
  app::AppOptions o;
  o.listen = "127.0.0.1:0";
  Configure(o);
  o.clock = &clock_;
  o.background = false;  // tests fire deadlines themselves, with the fake clock
  o.threads = 2;
  o.allow_private_webhooks = allow_private_webhooks_;
  // No rate limits unless a test asks: tests send bursts far above a buyer's.
  o.api_key_rate = 0;
  o.call_key_rate = 0;
  if (configure_) configure_(o);
  auto a = app::App::Start(o);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  app_ = std::move(*a);
}

void Server::Stop() {
  if (app_) app_->Stop();
  app_.reset();
}

void Server::Restart() {
  Stop();
  Start();
}

std::string Server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(app_->port()) + path;
}

HttpResponse Server::Api(const std::string& method, const std::string& path,
                         const json::value& body) const {
  return ApiWithKey(api_key_, method, path, body.is_null() ? "" : json::serialize(body));
}

HttpResponse Server::ApiWithKey(const std::string& key, const std::string& method,
                                const std::string& path, const std::string& body) const {
  return Http(method, url(path), body,
              {"Authorization: Bearer " + key, "Content-Type: application/json"});
}

int64_t Server::Create(const std::string& path, const json::value& body) const {
  HttpResponse r = Api("POST", path, body);
  EXPECT_EQ(r.status, 201) << path << ": " << r.body;
  json::value v = r.json();
  return v.is_object() && v.as_object().contains("id") ? v.at("id").as_int64() : 0;
}

std::string Server::NewAccount(const std::string& name) {
  auto account = app().config().CreateAccount(name);
  EXPECT_TRUE(account.has_value());
  RecordSecret(account->api_key);
  return account->api_key;
}

Fixture MakeFixture(const Server& s, const json::object& campaign_extra) {
  Fixture f;
  f.publisher = s.Create("/api/v1/publishers", json::object{{"name", "Pub A"}});
  f.buyer = s.Create("/api/v1/buyers",
                     json::object{{"name", "Buyer B"}, {"destination", "sip:b@127.0.0.1:5070"}});
  json::object campaign{{"name", "Auto insurance"},
                        {"buyers", json::array{json::object{{"buyer_id", f.buyer}}}}};
  for (const auto& kv : campaign_extra) campaign[kv.key()] = kv.value();
  f.campaign = s.Create("/api/v1/campaigns", campaign);
  f.number_id = s.Create("/api/v1/numbers", json::object{{"number", f.number},
                                                         {"campaign_id", f.campaign},
                                                         {"publisher_id", f.publisher},
                                                         {"tags", {{"traffic", "search"}}}});
  return f;
}

int64_t AddSaleKeywordGroup(const Server& s, const Fixture& f) {
  return s.Create("/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
                  json::object{{"name", "kw"},
                               {"type", "postback_trigger"},
                               {"trigger", "sale"},
                               {"revenue", "25.00"},
                               {"payout", "10.00"}});
}

json::object StartCall(const Server& s, const std::string& caller, bool route,
                       const std::string& number) {
  HttpResponse r =
      s.Api("POST", "/api/v1/calls",
            json::object{{"number", number}, {"caller_number", caller}, {"route", route}});
  EXPECT_EQ(r.status, 201) << r.body;
  json::value v = r.json();
  return v.is_object() ? v.as_object() : json::object();
}

json::object Event(const Server& s, const std::string& uuid, const json::object& ev) {
  HttpResponse r = s.Api("POST", "/api/v1/calls/" + uuid + "/events", ev);
  EXPECT_EQ(r.status, 200) << r.body;
  json::value v = r.json();
  return v.is_object() ? v.as_object() : json::object();
}

HttpResponse Postback(const Server& s, const std::string& uuid, const std::string& key,
                      const std::string& query, const std::string& action) {
  std::string q = "key=" + key + (query.empty() ? "" : "&" + query);
  return Http("GET", s.url("/calls/" + uuid + "/" + action + "?" + q));
}

}  // namespace testing_harness
