#include "harness.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>

namespace testing_harness {

namespace json = boost::json;

namespace {
// Tests read what they need over HTTP; the request log would only bury failures.
const bool kQuietLogs = [] {
  spdlog::set_level(spdlog::level::warn);
  return true;
}();
}  // namespace

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
  return r;
}

Server::Server(bool allow_private_webhooks)
    : allow_private_webhooks_(allow_private_webhooks), clock_(1'795'876'796'000) {  // 14:39:56Z
  if (const char* store = std::getenv("CALLPOST_TEST_STORE");
      store && std::string(store) == "postgresql") {
    pg_ = std::make_unique<store::PgTestSchema>(CALLPOST_TEST_PG_STATE);
    EXPECT_FALSE(pg_->url().empty()) << pg_->error();
  }
  Start();
  app::AppOptions options;
  Configure(options);
  auto account = app::CreateAccount(options, "test account");
  EXPECT_TRUE(account.has_value());
  api_key_ = account->api_key;
}

Server::~Server() { Stop(); }

void Server::Configure(app::AppOptions& o) const {
  o.data_dir = dir_.path();
  if (pg_) {
    o.database = pg_->url();
    o.secret = "a-secret-for-the-tests-of-at-least-32-characters";
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
