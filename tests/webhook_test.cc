// Webhooks end to end with real HTTP receivers on loopback: the answered ping with the call's
// UUID and key, post-call webhooks held until the conversion is decided, retries and receiver
// misbehaviour, signatures, the SSRF guard, resend, and the delivery log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "core/webhook_signature.h"
#include "harness.h"
#include "receiver.h"

namespace testing_harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

int64_t AddWebhook(const Server& s, int64_t campaign, const std::string& trigger,
                   const std::string& url, const std::string& matches = "",
                   const std::string& method = "GET", json::value body = nullptr,
                   bool sign = false) {
  return s.Create(
      "/api/v1/campaigns/" + std::to_string(campaign) + "/webhook_groups",
      json::object{
          {"name", trigger + " hook"},
          {"trigger", trigger},
          {"matches", matches},
          {"sign", sign},
          {"requests",
           json::array{json::object{
               {"method", method}, {"url", url}, {"headers", json::object()}, {"body", body}}}}});
}

// A receiver's answers that end the first attempt for good (410 Gone) and take the next (204).
http::Response GoneThenNoContent(int index) {
  http::Response res;
  res.status = index == 0 ? 410 : 204;
  res.content_type.clear();
  return res;
}

json::array Webhooks(const Server& s, const std::string& uuid) {
  return s.Api("GET", "/api/v1/calls/" + uuid).json().at("webhooks").as_array();
}

TEST(Webhooks, AnsweredPingReachesOnlyTheMatchingBuyer) {
  Server s;
  Fixture f = MakeFixture(s);
  int64_t other =
      s.Create("/api/v1/buyers", json::object{{"name", "B2"}, {"destination", "+15550000002"}});
  Receiver mine, theirs;
  AddWebhook(s, f.campaign, "answered",
             mine.url("/ping?uuid=[call_uuid]&key=[call_key]&cid=[caller_number]&t=[traffic]"),
             "system_buyer_id:==" + std::to_string(f.buyer));
  AddWebhook(s, f.campaign, "answered", theirs.url("/ping?uuid=[call_uuid]"),
             "system_buyer_id:==" + std::to_string(other));
  json::object call = StartCall(s);
  std::string uuid = Str(call.at("uuid")), key = Str(call.at("key"));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(mine.count(), 0u) << "nothing before the buyer answers";
  Event(s, uuid, {{"type", "answered"}});
  ASSERT_TRUE(mine.WaitFor(1));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  auto got = mine.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "GET");
  EXPECT_EQ(got[0].target, "/ping?uuid=" + uuid + "&key=" + key + "&cid=%2B15551230000&t=search");
  EXPECT_FALSE(got[0].Header("webhook-id").empty());
  EXPECT_EQ(theirs.count(), 0u);
  json::array hooks = Webhooks(s, uuid);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].at("state"), "delivered");
  EXPECT_EQ(hooks[0].at("trigger"), "answered");
  EXPECT_EQ(hooks[0].at("attempts").as_array()[0].at("http_status"), 200);
  EXPECT_EQ(Str(hooks[0].at("url")).find(key), std::string::npos) << "the key is redacted";
}

TEST(Webhooks, PostCallWebhooksWaitForTheDecision) {
  Server s;
  Fixture f = MakeFixture(s);
  s.Create(
      "/api/v1/campaigns/" + std::to_string(f.campaign) + "/conversion_groups",
      json::object{{"name", "sales"}, {"type", "postback_value"}, {"payout_modifier", "*0.8"}});
  Receiver r;
  for (const char* t : {"ended", "completed", "converted", "not_converted"}) {
    AddWebhook(s, f.campaign, t,
               r.url(std::string("/") + t + "?rev=[revenue]&pay=[payout]&c=[converted]"));
  }
  json::object a = StartCall(s, "+15551230001");
  json::object b = StartCall(s, "+15551230002");
  Event(s, Str(a.at("uuid")), {{"type", "ended"}});
  Event(s, Str(b.at("uuid")), {{"type", "ended"}});
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  auto targets = [&] {
    std::vector<std::string> out;
    for (const auto& q : r.requests()) out.push_back(q.target);
    std::sort(out.begin(), out.end());
    return out;
  };
  // Only `ended` so far: post-call webhooks wait for the postback or the timeout.
  EXPECT_EQ(targets(),
            (std::vector<std::string>{"/ended?rev=&pay=&c=false", "/ended?rev=&pay=&c=false"}));
  ASSERT_EQ(Postback(s, Str(a.at("uuid")), Str(a.at("key")), "value=10", "postback").status, 200);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  s.clock().Advance(600'000);
  ASSERT_EQ(*s.app().FireDueDeadlines(), 1);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  // A late conversion fires `converted` only.
  ASSERT_EQ(Postback(s, Str(b.at("uuid")), Str(b.at("key")), "value=5", "postback").status, 200);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(targets(), (std::vector<std::string>{
                           "/completed?rev=&pay=&c=false", "/completed?rev=10.00&pay=8.00&c=true",
                           "/converted?rev=10.00&pay=8.00&c=true",
                           "/converted?rev=5.00&pay=4.00&c=true", "/ended?rev=&pay=&c=false",
                           "/ended?rev=&pay=&c=false", "/not_converted?rev=&pay=&c=false"}));
}

// The deliveries a change makes are handed to the dispatcher at its commit while it has room,
// and claimed from the outbox when it has none; either way each is sent once.
TEST(Webhooks, DeliveriesAreHandedOverAtTheirCommitOrClaimedWhenTheDispatcherIsFull) {
  Server s(ConfigureOptions([](app::AppOptions& o) { o.webhook_max_in_flight = 1; }));
  Fixture f = MakeFixture(s);
  std::atomic<bool> release{false};
  Receiver r([&](const Received&, int index) {
    // The first request holds the dispatcher's one slot until the test lets it go.
    for (int i = 0; index == 0 && !release.load() && i < 2000; ++i) {
      std::this_thread::sleep_for(5ms);
    }
    http::Response ok;
    ok.content_type = "text/plain";
    ok.body = "ok";
    return ok;
  });
  AddWebhook(s, f.campaign, "ended", r.url("/ended?uuid=[call_uuid]"));
  json::object a = StartCall(s, "+15551230001");
  json::object b = StartCall(s, "+15551230002");
  Event(s, Str(a.at("uuid")), {{"type", "ended"}});
  ASSERT_TRUE(r.WaitFor(1));                         // a's, handed over, on the wire
  Event(s, Str(b.at("uuid")), {{"type", "ended"}});  // no room: left for a claim
  release = true;
  ASSERT_TRUE(r.WaitFor(2));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  const auto got = r.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].target, "/ended?uuid=" + Str(a.at("uuid")));
  EXPECT_EQ(got[1].target, "/ended?uuid=" + Str(b.at("uuid")));
  const std::string metrics = Http("GET", s.url("/metrics")).body;
  EXPECT_NE(metrics.find("callpost_webhook_taken_total{how=\"handed\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("callpost_webhook_taken_total{how=\"claimed\"} 1\n"), std::string::npos)
      << metrics;
  for (const auto* call : {&a, &b}) {
    json::array hooks = Webhooks(s, Str(call->at("uuid")));
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].at("state"), "delivered");
    EXPECT_EQ(hooks[0].at("attempts").as_array().size(), 1u);
  }
}

TEST(Webhooks, RetriesKeepTheWebhookIdAndHonourRetryAfter) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r([](const Received&, int index) {
    http::Response res;
    res.content_type = "text/plain";
    if (index == 0) {
      res.status = 503;
      res.headers.push_back({"Retry-After", "7"});
      res.body = "busy";
    } else if (index == 1) {
      res.status = 302;  // redirects are not followed
      res.headers.push_back({"Location", "http://169.254.169.254/"});
    } else {
      res.body = "thanks";
    }
    return res;
  });
  AddWebhook(s, f.campaign, "started", r.url("/hook"));
  json::object call = StartCall(s);
  std::string uuid = Str(call.at("uuid"));
  ASSERT_TRUE(r.WaitFor(1));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  json::array hooks = Webhooks(s, uuid);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].at("state"), "retrying");
  EXPECT_EQ(hooks[0].at("attempts").as_array()[0].at("http_status"), 503);
  EXPECT_EQ(hooks[0].at("attempts").as_array()[0].at("response_excerpt"), "busy");
  EXPECT_EQ(Str(hooks[0].at("next_attempt_at")), core::FormatRfc3339(s.clock().Now() + 7000));
  s.clock().Advance(6999);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(r.count(), 1u) << "not before Retry-After";
  s.clock().Advance(1);
  ASSERT_TRUE(r.WaitFor(2));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(Webhooks(s, uuid)[0].at("state"), "retrying");  // the 302
  s.clock().Advance(239'000);  // the third attempt waits 5 min ± 20 %: not yet
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(r.count(), 2u);
  s.clock().Advance(121'000);
  ASSERT_TRUE(r.WaitFor(3));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  hooks = Webhooks(s, uuid);
  EXPECT_EQ(hooks[0].at("state"), "delivered");
  EXPECT_EQ(hooks[0].at("attempts").as_array().size(), 3u);
  auto got = r.requests();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].Header("webhook-id"), got[1].Header("webhook-id"));
  EXPECT_EQ(got[1].Header("webhook-id"), got[2].Header("webhook-id"));
}

TEST(Webhooks, GoneStopsAndResendSendsAgain) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r([](const Received&, int index) { return GoneThenNoContent(index); });
  AddWebhook(s, f.campaign, "started", r.url("/gone"));
  std::string uuid = Str(StartCall(s).at("uuid"));
  ASSERT_TRUE(r.WaitFor(1));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  json::array hooks = Webhooks(s, uuid);
  EXPECT_EQ(hooks[0].at("state"), "failed");
  EXPECT_TRUE(hooks[0].at("next_attempt_at").is_null());
  s.clock().Advance(3 * 86400'000LL);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(r.count(), 1u) << "410 stops retrying";
  int64_t id = hooks[0].at("id").as_int64();
  HttpResponse resend =
      s.Api("POST", "/api/v1/webhook_deliveries/" + std::to_string(id) + "/resend");
  ASSERT_EQ(resend.status, 202) << resend.body;
  ASSERT_TRUE(r.WaitFor(2));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(Webhooks(s, uuid)[0].at("state"), "delivered");
  HttpResponse list =
      s.Api("GET", "/api/v1/webhook_deliveries?call_uuid=" + uuid + "&state=delivered");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json().at("data").as_array().size(), 1u);
  std::string other = s.NewAccount("other");
  EXPECT_EQ(
      s.ApiWithKey(other, "POST", "/api/v1/webhook_deliveries/" + std::to_string(id) + "/resend")
          .status,
      404);
  EXPECT_EQ(
      s.ApiWithKey(other, "GET", "/api/v1/webhook_deliveries").json().at("data").as_array().size(),
      0u);
}

// The count of deliveries the dispatcher claimed from the outbox (/metrics).
int64_t Claimed(const Server& s) {
  const std::string metrics = Http("GET", s.url("/metrics")).body;
  const std::string name = "callpost_webhook_taken_total{how=\"claimed\"} ";
  const size_t at = metrics.find(name);
  return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + name.size()));
}

// A resend asked for while an attempt is on the wire is not undone by that attempt's verdict
// (here a 410, which would end the delivery): the attempt is logged, and the delivery is sent
// again as soon as the attempt is over, under the claim the resend made.
TEST(Webhooks, AResendDuringAnAttemptIsNotUndoneByItsVerdict) {
  Server s;
  Fixture f = MakeFixture(s);
  std::atomic<bool> release{false};
  Receiver r([&](const Received&, int index) {
    while (index == 0 && !release) std::this_thread::sleep_for(5ms);  // hold the first answer
    return GoneThenNoContent(index);
  });
  AddWebhook(s, f.campaign, "started", r.url("/held"));
  std::string uuid = Str(StartCall(s).at("uuid"));
  ASSERT_TRUE(r.WaitFor(1));
  const int64_t id = Webhooks(s, uuid)[0].at("id").as_int64();
  // A lease is told apart by when it ends: a claim a second after the first holds another.
  s.clock().Advance(1000);
  const int64_t claimed = Claimed(s);
  ASSERT_EQ(s.Api("POST", "/api/v1/webhook_deliveries/" + std::to_string(id) + "/resend").status,
            202);
  // The resend wakes the dispatcher, which claims the delivery again while its attempt is still
  // on the wire.
  for (int i = 0; i < 400 && Claimed(s) == claimed; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(Claimed(s), claimed + 1);
  release = true;
  ASSERT_TRUE(r.WaitFor(2)) << "the resend was undone: " << json::serialize(Webhooks(s, uuid));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  json::object hook = Webhooks(s, uuid)[0].as_object();
  EXPECT_EQ(hook.at("state"), "delivered");
  ASSERT_EQ(hook.at("attempts").as_array().size(), 2u);
  EXPECT_EQ(hook.at("attempts").as_array()[0].at("http_status"), 410);
}

// R7: keys are never stored in plaintext. After every path that handles one (an API key made,
// a publisher postback key made and used, a call key handed out, rendered into a webhook URL,
// echoed back in the receiver's answer, and used for postbacks right and wrong), the database
// files hold none of them; they do hold the call's UUID, so the scan reads what is stored.
TEST(Secrets, NoKeyIsStoredInTheDatabase) {
  if (const char* store = std::getenv("CALLPOST_TEST_STORE"); store && *store) {
    GTEST_SKIP() << "scans the SQLite files (both stores write the same values)";
  }
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r([](const Received& got, int) {
    http::Response res;
    res.body = "you sent " + got.target;  // the answer's excerpt is kept in the delivery log
    return res;
  });
  AddWebhook(s, f.campaign, "started", r.url("/hook?key=[call_key]&uuid=[call_uuid]"));
  HttpResponse api_key = s.Api("POST", "/api/v1/api_keys", json::object{{"name", "edge"}});
  ASSERT_EQ(api_key.status, 201) << api_key.body;
  HttpResponse publisher_key =
      s.Api("POST", "/api/v1/publishers/" + std::to_string(f.publisher) + "/postback_keys",
            json::object{{"name", "form"}});
  ASSERT_EQ(publisher_key.status, 201) << publisher_key.body;
  const std::string pkey = Str(publisher_key.json().at("key"));
  ASSERT_EQ(
      Http("GET", s.url("/data_writing/" + pkey + "?caller_number=%2B15557770000&a=1")).status,
      200);
  json::object call = StartCall(s);
  const std::string uuid = Str(call.at("uuid")), key = Str(call.at("key"));
  ASSERT_TRUE(r.WaitFor(1));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_NE(r.requests()[0].target.find(key), std::string::npos) << "the webhook carried the key";
  EXPECT_EQ(Postback(s, uuid, key, "disposition=sold").status, 200);
  EXPECT_EQ(Postback(s, uuid, key + "x", "disposition=wrong").status, 401);
  s.Stop();

  std::string stored;
  for (const auto& entry : std::filesystem::directory_iterator(s.data_dir())) {
    if (entry.path().filename().string().rfind("callpost.db", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    stored += bytes.str();
  }
  ASSERT_NE(stored.find(uuid), std::string::npos) << "the scan does not read the stored rows";
  for (const std::string& secret :
       {s.api_key(), Str(api_key.json().at("key")), pkey, key, key + "x"}) {
    EXPECT_EQ(stored.find(secret), std::string::npos) << "stored in plaintext: " << secret;
  }
}

TEST(Webhooks, SignedRequestsVerifyAndBodiesAreEscaped) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r;
  int64_t group = AddWebhook(s, f.campaign, "started", r.url("/signed"), "", "POST",
                             R"({"uuid":"[call_uuid]","note":"[note]"})", true);
  HttpResponse g = s.Api("GET", "/api/v1/webhook_groups/" + std::to_string(group));
  std::string secret = Str(g.json().at("signing_secret"));
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u);
  HttpResponse started =
      s.Api("POST", "/api/v1/calls",
            json::object{{"number", f.number}, {"tags", {{"note", "say \"hi\"\n"}}}});
  ASSERT_EQ(started.status, 201);
  ASSERT_TRUE(r.WaitFor(1));
  Received got = r.requests()[0];
  EXPECT_EQ(got.method, "POST");
  json::value body = json::parse(got.body);
  EXPECT_EQ(body.at("note"), "say \"hi\"\n");
  auto key = core::DecodeWebhookSecret(secret);
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(core::VerifyWebhook(*key, got.Header("webhook-id"),
                                  std::stoll(got.Header("webhook-timestamp")), got.body,
                                  got.Header("webhook-signature")));
  // The same check as a receiver would write it from the Standard Webhooks text, with OpenSSL
  // alone (none of callpost's code): the secret's base64 after "whsec_" is the key; the
  // signature is "v1," and the base64 of HMAC-SHA256(key, id "." timestamp "." body).
  {
    const std::string b64 = secret.substr(6);
    std::string raw(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    ASSERT_GT(n, 0);
    raw.resize(static_cast<size_t>(n) - std::count(b64.end() - 2, b64.end(), '='));
    const std::string signed_text =
        got.Header("webhook-id") + "." + got.Header("webhook-timestamp") + "." + got.body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    ASSERT_NE(HMAC(EVP_sha256(), raw.data(), static_cast<int>(raw.size()),
                   reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(),
                   mac, &mac_len),
              nullptr);
    std::string encoded(4 * ((mac_len + 2) / 3) + 1, '\0');
    encoded.resize(static_cast<size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac, mac_len)));
    EXPECT_EQ(got.Header("webhook-signature"), "v1," + encoded);
  }
  // Rotation: both the new and the old secret sign for a while.
  HttpResponse rotated =
      s.Api("POST", "/api/v1/webhook_groups/" + std::to_string(group) + "/rotate_secret",
            json::object{{"overlap_seconds", 3600}});
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  std::string fresh = Str(rotated.json().at("signing_secret"));
  EXPECT_NE(fresh, secret);
  EXPECT_EQ(Str(rotated.json().at("previous_secret")), secret);
  // An RFC 3339 time, like every time of the API: an hour after the server's clock.
  auto until = core::ParseRfc3339(Str(rotated.json().at("previous_secret_until")));
  ASSERT_TRUE(until.has_value()) << rotated.body;
  EXPECT_EQ(*until, s.clock().Now() + 3600 * 1000);
  // The group read back may be sent back as it is: the secrets in it are ignored.
  const std::string path = "/api/v1/webhook_groups/" + std::to_string(group);
  json::object back = s.Api("GET", path).json().as_object();
  back["previous_secret"] = "whsec_" + std::string(44, 'A');
  back["signing_secret"] = "whsec_" + std::string(44, 'B');
  HttpResponse patched = s.Api("PATCH", path, back);
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(Str(patched.json().at("signing_secret")), fresh);
  EXPECT_EQ(Str(patched.json().at("previous_secret")), secret);
  ASSERT_EQ(s.Api("POST", "/api/v1/calls", json::object{{"number", f.number}}).status, 201);
  ASSERT_TRUE(r.WaitFor(2));
  got = r.requests()[1];
  int64_t ts = std::stoll(got.Header("webhook-timestamp"));
  EXPECT_TRUE(core::VerifyWebhook(*core::DecodeWebhookSecret(fresh), got.Header("webhook-id"), ts,
                                  got.body, got.Header("webhook-signature")));
  EXPECT_TRUE(core::VerifyWebhook(*key, got.Header("webhook-id"), ts, got.body,
                                  got.Header("webhook-signature")));
}

// Turning signing off forgets the previous secret of a rotation too: turned on again, the group
// signs with its new secret alone, never with the one an operator meant to drop.
TEST(Webhooks, TurningSigningOffForgetsThePreviousSecretToo) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r;
  int64_t group = AddWebhook(s, f.campaign, "started", r.url("/signed"), "", "POST",
                             R"({"uuid":"[call_uuid]"})", true);
  const std::string path = "/api/v1/webhook_groups/" + std::to_string(group);
  std::string leaked = Str(s.Api("GET", path).json().at("signing_secret"));
  HttpResponse rotated =
      s.Api("POST", path + "/rotate_secret", json::object{{"overlap_seconds", 3600}});
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  ASSERT_EQ(Str(rotated.json().at("previous_secret")), leaked);
  HttpResponse off = s.Api("PATCH", path, json::object{{"sign", false}});
  ASSERT_EQ(off.status, 200) << off.body;
  for (const char* field : {"signing_secret", "previous_secret", "previous_secret_until"}) {
    EXPECT_FALSE(off.json().as_object().contains(field)) << field << ": " << off.body;
  }
  HttpResponse on = s.Api("PATCH", path, json::object{{"sign", true}});
  ASSERT_EQ(on.status, 200) << on.body;
  const std::string fresh = Str(on.json().at("signing_secret"));
  EXPECT_NE(fresh, leaked);
  EXPECT_NE(fresh, Str(rotated.json().at("signing_secret")));
  EXPECT_FALSE(on.json().as_object().contains("previous_secret")) << on.body;
  EXPECT_FALSE(on.json().as_object().contains("previous_secret_until")) << on.body;
  EXPECT_FALSE(s.Api("GET", path).json().as_object().contains("previous_secret"));
  // The next delivery carries one signature, by the new secret.
  ASSERT_EQ(s.Api("POST", "/api/v1/calls", json::object{{"number", f.number}}).status, 201);
  ASSERT_TRUE(r.WaitFor(1));
  Received got = r.requests()[0];
  const std::string signature = got.Header("webhook-signature");
  EXPECT_EQ(signature.find(' '), std::string::npos) << "one signature: " << signature;
  const int64_t ts = std::stoll(got.Header("webhook-timestamp"));
  EXPECT_TRUE(core::VerifyWebhook(*core::DecodeWebhookSecret(fresh), got.Header("webhook-id"), ts,
                                  got.body, signature));
  EXPECT_FALSE(core::VerifyWebhook(*core::DecodeWebhookSecret(leaked), got.Header("webhook-id"), ts,
                                   got.body, signature));
}

// A host that is a literal non-public address (or localhost) is refused when the group is
// saved, on create and on PATCH, in every spelling the resolver reads as that address; names
// and hosts that a token fills are left to the check when connecting.
TEST(Webhooks, PrivateAddressesAreRefusedWhenSavedUnlessAllowed) {
  Server s(/*allow_private_webhooks=*/false);
  Fixture f = MakeFixture(s);
  const std::string base = "/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups";
  auto group = [](const std::string& url) {
    return json::object{{"name", "x"},
                        {"trigger", "started"},
                        {"requests", json::array{json::object{{"url", "https://ok.example/"}},
                                                 json::object{{"url", url}}}}};
  };
  const std::string kRefused[] = {
      "http://127.0.0.1/x",
      "http://127.1:8080/x",
      "http://0x7f000001/x",
      "http://2130706433/x",
      "http://10.0.0.1/x",
      "http://169.254.169.254/latest/meta-data/",
      "http://0.0.0.0:18432/x",
      "http://[::1]:18432/x",
      "http://[[::1]]:18432/x",
      "http://[::ffff:127.0.0.1]/x",
      "https://localhost/x?u=[call_uuid]",
      "http://LOCALHOST.:80",
      "http://api.localhost/x",
      "http://user:pw@192.168.1.1:8080?u=[call_uuid]",
  };
  for (const std::string& url : kRefused) {
    HttpResponse r = s.Api("POST", base, group(url));
    EXPECT_EQ(r.status, 400) << url << " → " << r.body;
    EXPECT_EQ(Str(r.json().at("error").at("field")), "requests[1].url") << r.body;
    EXPECT_NE(Str(r.json().at("error").at("message")).find("non-public address"), std::string::npos)
        << r.body;
  }
  // One sentence that says how the operator allows such an address.
  EXPECT_EQ(Str(s.Api("POST", base, group("http://127.0.0.1/x")).json().at("error").at("message")),
            "requests[1].url: the host 127.0.0.1 is a private, loopback or other non-public "
            "address, which this server does not send webhooks to unless it runs with "
            "--allow-private-webhooks");
  const std::string kSaved[] = {
      "https://buyer.example/x",
      "http://8.8.8.8/x",
      "http://[2606:4700:4700::1111]:8080/x",
      "http://localhost.example.com/x",
      "http://[host]/x",  // filled from the call: checked when connecting
      "http://127.0.0.1[port]/x",
  };
  int64_t id = 0;
  for (const std::string& url : kSaved) {
    HttpResponse r = s.Api("POST", base, group(url));
    EXPECT_EQ(r.status, 201) << url << " → " << r.body;
    if (r.status == 201) id = r.json().at("id").as_int64();
  }
  // PATCH: the same refusal; a change that leaves the requests alone is not checked again.
  HttpResponse r =
      s.Api("PATCH", "/api/v1/webhook_groups/" + std::to_string(id),
            json::object{{"requests", json::array{json::object{{"url", "http://127.0.0.1:9/x"}}}}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Str(r.json().at("error").at("field")), "requests[0].url") << r.body;
  r = s.Api("PATCH", "/api/v1/webhook_groups/" + std::to_string(id),
            json::object{{"name", "renamed"}});
  EXPECT_EQ(r.status, 200) << r.body;
  // The preview applies the same rules.
  r = s.Api("POST", "/api/v1/preview/webhook_requests",
            json::object{{"requests", json::array{json::object{{"url", "http://127.1/"}}}}});
  EXPECT_EQ(r.status, 400) << r.body;

  // A server that allows private webhooks saves them.
  Server lab;
  Fixture lf = MakeFixture(lab);
  r = lab.Api("POST", "/api/v1/campaigns/" + std::to_string(lf.campaign) + "/webhook_groups",
              group("http://127.0.0.1:9/x"));
  EXPECT_EQ(r.status, 201) << r.body;
}

// An attempt refused for an address that cannot change (the host, once rendered, is a literal
// address) fails the delivery at once instead of retrying for days.
TEST(Webhooks, ARefusedLiteralAddressFailsAtOnce) {
  Server s(/*allow_private_webhooks=*/false);
  Fixture f = MakeFixture(s);
  Receiver r;
  const std::string port = r.url("").substr(std::string("http://127.0.0.1:").size());
  AddWebhook(s, f.campaign, "started", "http://[target]:" + port + "/private");
  HttpResponse call =
      s.Api("POST", "/api/v1/calls",
            json::object{{"number", f.number}, {"tags", json::object{{"target", "127.0.0.1"}}}});
  ASSERT_EQ(call.status, 201) << call.body;
  std::string uuid = Str(call.json().at("uuid"));
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  EXPECT_EQ(r.count(), 0u);
  json::array hooks = Webhooks(s, uuid);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].at("state"), "failed");
  EXPECT_TRUE(hooks[0].at("next_attempt_at").is_null());
  ASSERT_EQ(hooks[0].at("attempts").as_array().size(), 1u);
  EXPECT_EQ(hooks[0].at("attempts").as_array()[0].at("error"), "refused_address");
  EXPECT_TRUE(hooks[0].at("attempts").as_array()[0].at("http_status").is_null());
}

// A URL whose host is an IPv6 address in brackets is saved and sent as written: the brackets
// are the host's, not a token's.
TEST(Webhooks, AnIpv6HostIsSentAsWritten) {
  Server s;
  Fixture f = MakeFixture(s);
  Receiver r(nullptr, "::1");
  const std::string url = r.url("/v6?u=[call_uuid]");
  ASSERT_EQ(url.rfind("http://[::1]:", 0), 0u) << url;
  HttpResponse saved =
      s.Api("POST", "/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups",
            json::object{{"name", "x"},
                         {"trigger", "started"},
                         {"requests", json::array{json::object{{"url", url}}}}});
  ASSERT_EQ(saved.status, 201) << saved.body;
  EXPECT_EQ(Str(saved.json().at("requests").at(0).at("url")), url);
  std::string uuid = Str(StartCall(s).at("uuid"));
  ASSERT_TRUE(r.WaitFor(1));
  EXPECT_EQ(r.requests()[0].target, "/v6?u=" + uuid);
  ASSERT_TRUE(s.app().WaitForWebhooks(10s));
  json::array hooks = Webhooks(s, uuid);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].at("state"), "delivered");
  EXPECT_EQ(Str(hooks[0].at("url")), url.substr(0, url.find('[', 8)) + uuid);
}

TEST(Webhooks, ValidationOfGroups) {
  Server s;
  Fixture f = MakeFixture(s);
  std::string base = "/api/v1/campaigns/" + std::to_string(f.campaign) + "/webhook_groups";
  struct Case {
    json::object body;
    std::string field;
  } cases[] = {
      {{{"name", "x"},
        {"trigger", "hung_up"},
        {"requests", json::array{json::object{{"url", "http://a/"}}}}},
       "trigger"},
      {{{"name", "x"}, {"trigger", "answered"}}, "requests"},
      {{{"name", "x"},
        {"trigger", "answered"},
        {"requests", json::array{json::object{{"url", "ftp://a/"}}}}},
       "requests[0].url"},
      {{{"name", "x"},
        {"trigger", "answered"},
        {"requests", json::array{json::object{{"url", "http://a/[bad token]"}}}}},
       "requests[0].url"},
      {{{"name", "x"},
        {"trigger", "answered"},
        {"requests", json::array{json::object{{"url", "http://a/"}, {"method", "DELETE"}}}}},
       "requests[0].method"},
      {{{"name", "x"},
        {"trigger", "answered"},
        {"requests",
         json::array{json::object{{"url", "http://a/"}, {"headers", {{"webhook-id", "x"}}}}}}},
       "requests[0].headers.webhook-id"},
      {{{"name", "x"},
        {"trigger", "answered"},
        {"matches", "a:>x"},
        {"requests", json::array{json::object{{"url", "http://a/"}}}}},
       "matches"},
  };
  for (const auto& c : cases) {
    HttpResponse r = s.Api("POST", base, c.body);
    EXPECT_EQ(r.status, 400) << json::serialize(c.body) << " → " << r.body;
    EXPECT_EQ(Str(r.json().at("error").at("field")), c.field) << r.body;
  }
}

// R3: the server dies after sending a webhook and before recording the answer; after a
// restart the delivery is sent again with the same webhook-id, and nothing is lost.
pid_t Serve(const std::string& data_dir, uint16_t port) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string listen = "127.0.0.1:" + std::to_string(port);
    std::string log = LogDir() + "/webhook-serve-" + std::to_string(getppid()) + ".log";
    freopen(log.c_str(), "a", stderr);
    execl(CALLPOST_BINARY, CALLPOST_BINARY, "serve", "--listen", listen.c_str(), "--data-dir",
          data_dir.c_str(), "--allow-private-webhooks", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 400; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (up) break;
    usleep(25'000);  // waiting for a process to listen, not for a timer
  }
  return pid;
}

TEST(Webhooks, KilledBetweenSendAndRecordSendsAgainWithTheSameId) {
  TempDir dir;
  uint16_t port;
  {
    Server probe;
    port = probe.app().port();
  }
  FILE* p = popen(
      (std::string(CALLPOST_BINARY) + " accounts create --name a --data-dir " + dir.path()).c_str(),
      "r");
  char buf[512] = {};
  fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  std::string key(json::parse(buf).at("api_key").as_string());
  RecordSecret(key);
  std::atomic<bool> release{false};
  Receiver r([&](const Received&, int index) {
    while (index == 0 && !release) std::this_thread::sleep_for(5ms);  // hold the first answer
    return http::Response{200, "text/plain", {}, "ok", false};
  });
  pid_t pid = Serve(dir.path(), port);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto api = [&](const std::string& path, const json::value& body) {
    return Http("POST", base + path, json::serialize(body), {"Authorization: Bearer " + key});
  };
  int64_t buyer =
      api("/api/v1/buyers", json::object{{"name", "B"}, {"destination", "+15550000001"}})
          .json()
          .at("id")
          .as_int64();
  int64_t campaign =
      api("/api/v1/campaigns",
          json::object{{"name", "C"}, {"buyers", json::array{json::object{{"buyer_id", buyer}}}}})
          .json()
          .at("id")
          .as_int64();
  ASSERT_EQ(
      api("/api/v1/numbers", json::object{{"number", "+18005550100"}, {"campaign_id", campaign}})
          .status,
      201);
  ASSERT_EQ(
      api("/api/v1/campaigns/" + std::to_string(campaign) + "/webhook_groups",
          json::object{{"name", "w"},
                       {"trigger", "started"},
                       {"requests", json::array{json::object{{"url", r.url("/[call_uuid]")}}}}})
          .status,
      201);
  HttpResponse call = api("/api/v1/calls", json::object{{"number", "+18005550100"}});
  ASSERT_EQ(call.status, 201);
  std::string uuid(call.json().at("uuid").as_string());
  ASSERT_TRUE(r.WaitFor(1));
  kill(pid, SIGKILL);  // sent, not recorded
  waitpid(pid, nullptr, 0);
  release = true;
  pid = Serve(dir.path(), port);
  ASSERT_TRUE(r.WaitFor(2, 20s));
  auto got = r.requests();
  EXPECT_EQ(got[0].Header("webhook-id"), got[1].Header("webhook-id"));
  EXPECT_EQ(got[1].target, "/" + uuid);
  std::string state;
  for (int i = 0; i < 200 && state != "delivered"; ++i) {
    HttpResponse d =
        Http("GET", base + "/api/v1/calls/" + uuid, "", {"Authorization: Bearer " + key});
    state = std::string(d.json().at("webhooks").as_array()[0].at("state").as_string());
    if (state != "delivered") usleep(25'000);
  }
  EXPECT_EQ(state, "delivered");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace testing_harness
