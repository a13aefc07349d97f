#include "webhook/request.h"

#include <gtest/gtest.h>

#include "core/webhook_signature.h"

namespace webhook {
namespace {

constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr core::Millis kSpecNow = 1614265330'000;
constexpr std::string_view kSpecBody = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

core::TokenTemplate T(std::string_view text) {
  auto t = core::TokenTemplate::Parse(text);
  EXPECT_TRUE(t) << text;
  return t ? *t : core::TokenTemplate();
}

config::WebhookRequest Req(std::string method, std::string_view url,
                           std::vector<std::pair<std::string, std::string>> headers = {},
                           std::optional<std::string_view> body = std::nullopt) {
  config::WebhookRequest r;
  r.method = std::move(method);
  r.url = T(url);
  for (const auto& [name, value] : headers) r.headers.emplace_back(name, T(value));
  if (body) r.body = T(*body);
  return r;
}

config::WebhookGroup Group(config::WebhookRequest request) {
  config::WebhookGroup g;
  g.id = 5;
  g.account_id = 1;
  g.requests.push_back(std::move(request));
  return g;
}

engine::Call SampleCall() {
  engine::Call c;
  c.uuid = "0b9c7c1e-5a4f-4e4e-9f0a-2d1c3b4a5e6f";
  c.campaign_id = 7;
  c.caller_number = "+15551230000";
  c.tags = {{"note", "he said \"hi\"\r\nX-Evil: 1"}, {"sub", "a b&c/é"}};
  return c;
}

// Every value of header `name` (exact case), in order.
std::vector<std::string> Values(const OutgoingRequest& r, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : r.headers) {
    if (n == name) out.push_back(v);
  }
  return out;
}

// A group outside any snapshot (as a preview's): its secrets are decoded per request.
OutgoingRequest Build(const config::WebhookGroup& g, core::Millis now = kSpecNow) {
  const config::Snapshot snap;
  auto r = BuildRequest(SampleCall(), g, 0, "KEY123", std::string(kSpecMsgId), now, snap);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : OutgoingRequest{};
}

// The same group as a snapshot's own (as the dispatcher's): signed with the keys prepared when
// the snapshot was indexed.
OutgoingRequest BuildInSnapshot(const config::WebhookGroup& g, core::Millis now = kSpecNow) {
  config::Snapshot snap;
  snap.webhook_groups.emplace(g.id, g);
  snap.Index();
  EXPECT_NE(snap.SignersOf(snap.webhook_groups.at(g.id)), nullptr);
  EXPECT_EQ(snap.SignersOf(g), nullptr);  // a copy is not the snapshot's group
  auto r = BuildRequest(SampleCall(), snap.webhook_groups.at(g.id), 0, "KEY123",
                        std::string(kSpecMsgId), now, snap);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : OutgoingRequest{};
}

using Builder = OutgoingRequest (*)(const config::WebhookGroup&, core::Millis);
constexpr Builder kBuilders[] = {Build, BuildInSnapshot};

TEST(BuildRequestTest, Encodings) {
  struct Case {
    const char* name;
    config::WebhookRequest request;
    std::string want_url, want_redacted_url, want_body;
    std::vector<std::string> want_content_type;
  };
  const Case kCases[] = {
      {"URL tokens are percent-encoded",
       Req("GET", "https://b.example/p?u=[call_uuid]&k=[call_key]&s=[sub]&x=[nope]"),
       "https://b.example/"
       "p?u=0b9c7c1e-5a4f-4e4e-9f0a-2d1c3b4a5e6f&k=KEY123&s=a%20b%26c%2F%C3%A9&x=",
       "https://b.example/"
       "p?u=0b9c7c1e-5a4f-4e4e-9f0a-2d1c3b4a5e6f&k=REDACTED&s=a%20b%26c%2F%C3%A9&x=",
       "",
       {}},
      {"a password in the URL is redacted with the key",
       Req("GET", "https://shop:s3cret@b.example/p?k=[call_key]"),
       "https://shop:s3cret@b.example/p?k=KEY123",
       "https://shop:REDACTED@b.example/p?k=REDACTED",
       "",
       {}},
      {"a password is redacted in a URL a strict parser refuses too",
       Req("GET", "https://shop:s3:c@b.example:8443/p?q=a|b&k=[call_key]"),
       "https://shop:s3:c@b.example:8443/p?q=a|b&k=KEY123",
       "https://shop:REDACTED@b.example:8443/p?q=a|b&k=REDACTED",
       "",
       {}},
      {"a user without a password, and an @ after the host, are kept",
       Req("GET", "https://token@b.example/p?to=a@b.example"),
       "https://token@b.example/p?to=a@b.example",
       "https://token@b.example/p?to=a@b.example",
       "",
       {}},
      {"a body without Content-Type is JSON",
       Req("POST", "https://b.example/", {}, R"({"caller":"[caller_number]","note":"[note]"})"),
       "https://b.example/",
       "https://b.example/",
       R"({"caller":"+15551230000","note":"he said \"hi\"\r\nX-Evil: 1"})",
       {"application/json"}},
      {"a +json Content-Type is JSON",
       Req("PUT", "https://b.example/", {{"Content-Type", "application/vnd.x+json"}},
           R"({"s":"[sub]"})"),
       "https://b.example/",
       "https://b.example/",
       R"({"s":"a b&c/é"})",
       {"application/vnd.x+json"}},
      {"form body",
       Req("POST", "https://b.example/",
           {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
           "s=[sub]&k=[call_key]"),
       "https://b.example/",
       "https://b.example/",
       "s=a+b%26c%2F%C3%A9&k=KEY123",
       {"application/x-www-form-urlencoded; charset=utf-8"}},
      {"text body is raw",
       Req("POST", "https://b.example/", {{"Content-Type", "text/plain"}}, "[sub]"),
       "https://b.example/",
       "https://b.example/",
       "a b&c/é",
       {"text/plain"}},
      {"POST without a body",
       Req("POST", "https://b.example/"),
       "https://b.example/",
       "https://b.example/",
       "",
       {}},
      {"GET never carries a body",
       Req("GET", "https://b.example/", {}, "x=[sub]"),
       "https://b.example/",
       "https://b.example/",
       "",
       {}},
      {"HEAD never carries a body",
       Req("HEAD", "https://b.example/", {}, "x"),
       "https://b.example/",
       "https://b.example/",
       "",
       {}},
  };
  for (const Case& c : kCases) {
    const OutgoingRequest r = Build(Group(c.request));
    EXPECT_EQ(r.method, c.request.method) << c.name;
    EXPECT_EQ(r.url, c.want_url) << c.name;
    EXPECT_EQ(r.redacted_url, c.want_redacted_url) << c.name;
    EXPECT_EQ(r.body, c.want_body) << c.name;
    EXPECT_EQ(Values(r, "Content-Type"), c.want_content_type) << c.name;
    EXPECT_EQ(r.redacted_url.find("KEY123"), std::string::npos) << c.name;
  }
}

TEST(BuildRequestTest, Headers) {
  const OutgoingRequest r = Build(Group(Req("GET", "https://b.example/",
                                            {{"X-Note", "[note]"},
                                             {"X-Key", "k=[call_key]"},
                                             {"webhook-id", "forged"},
                                             {"Host", "evil.example"},
                                             {"Content-Length", "5"},
                                             {"X-Empty", "[nope]"}})));
  EXPECT_EQ(Values(r, "User-Agent"), std::vector<std::string>{"callpost/0.1"});
  EXPECT_EQ(Values(r, "X-Note"), std::vector<std::string>{"he said \"hi\"X-Evil: 1"});
  EXPECT_EQ(Values(r, "X-Key"), std::vector<std::string>{"k=KEY123"});
  EXPECT_EQ(Values(r, "X-Empty"), std::vector<std::string>{""});
  EXPECT_EQ(Values(r, "webhook-id"), std::vector<std::string>{std::string(kSpecMsgId)});
  EXPECT_EQ(Values(r, "webhook-timestamp"), std::vector<std::string>{"1614265330"});
  EXPECT_TRUE(Values(r, "webhook-signature").empty());
  EXPECT_TRUE(Values(r, "Host").empty());
  EXPECT_TRUE(Values(r, "Content-Length").empty());
  for (const auto& [name, value] : r.headers) {
    EXPECT_EQ(value.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << name;
  }
  // A configured User-Agent replaces callpost's.
  const OutgoingRequest ua =
      Build(Group(Req("GET", "https://b.example/", {{"user-agent", "x/1"}})));
  EXPECT_TRUE(Values(ua, "User-Agent").empty());
  EXPECT_EQ(Values(ua, "user-agent"), std::vector<std::string>{"x/1"});
}

TEST(BuildRequestTest, SignsPerStandardWebhooksTestVector) {
  config::WebhookGroup g =
      Group(Req("POST", "https://b.example/", {{"Content-Type", "application/json"}}, kSpecBody));
  g.sign = true;
  g.signing_secret = std::string(kSpecSecret);
  for (Builder build : kBuilders) {
    const OutgoingRequest r = build(g, kSpecNow);
    EXPECT_EQ(r.body, kSpecBody);
    EXPECT_EQ(Values(r, "webhook-signature"),
              std::vector<std::string>{std::string(kSpecSignature)});
  }
}

TEST(BuildRequestTest, SignsEmptyBodyOfGet) {
  config::WebhookGroup g = Group(Req("GET", "https://b.example/?k=[call_key]"));
  g.sign = true;
  g.signing_secret = std::string(kSpecSecret);
  const OutgoingRequest r = Build(g);
  const std::string key = *core::DecodeWebhookSecret(kSpecSecret);
  ASSERT_EQ(Values(r, "webhook-signature").size(), 1u);
  EXPECT_TRUE(
      core::VerifyWebhook(key, kSpecMsgId, kSpecNow / 1000, "", Values(r, "webhook-signature")[0]));
}

TEST(BuildRequestTest, RotationSignsWithBothSecretsUntilTheOverlapEnds) {
  const std::string previous = "whsec_" + std::string(32, 'A');  // base64 of 24 zero bytes
  config::WebhookGroup g =
      Group(Req("POST", "https://b.example/", {{"Content-Type", "application/json"}}, kSpecBody));
  g.sign = true;
  g.signing_secret = std::string(kSpecSecret);
  g.previous_secret = previous;
  g.previous_secret_until = kSpecNow + 1000;
  const std::string current_key = *core::DecodeWebhookSecret(kSpecSecret);
  const std::string previous_key = *core::DecodeWebhookSecret(previous);
  const std::string other_key(32, 'z');

  struct Case {
    core::Millis now;
    size_t want_signatures;
  };
  const Case kCases[] = {
      {kSpecNow, 2}, {kSpecNow + 999, 2}, {kSpecNow + 1000, 1}, {kSpecNow + 60'000, 1}};
  for (Builder build : kBuilders) {
    for (const Case& c : kCases) {
      const OutgoingRequest r = build(g, c.now);
      const std::vector<std::string> sig = Values(r, "webhook-signature");
      ASSERT_EQ(sig.size(), 1u) << c.now;
      const int64_t ts = c.now / 1000;
      EXPECT_EQ(static_cast<size_t>(std::count(sig[0].begin(), sig[0].end(), ' ')) + 1,
                c.want_signatures)
          << c.now;
      EXPECT_TRUE(core::VerifyWebhook(current_key, kSpecMsgId, ts, kSpecBody, sig[0])) << c.now;
      EXPECT_EQ(core::VerifyWebhook(previous_key, kSpecMsgId, ts, kSpecBody, sig[0]),
                c.want_signatures == 2)
          << c.now;
      EXPECT_FALSE(core::VerifyWebhook(other_key, kSpecMsgId, ts, kSpecBody, sig[0])) << c.now;
      EXPECT_EQ(sig[0].rfind("v1,", 0), 0u) << c.now;  // the current secret signs first
      EXPECT_EQ(sig[0].substr(0, kSpecSignature.size()),
                c.now == kSpecNow ? kSpecSignature : sig[0].substr(0, kSpecSignature.size()));
    }
  }
}

TEST(BuildRequestTest, Errors) {
  const config::Snapshot snap;
  config::WebhookGroup g = Group(Req("GET", "https://b.example/"));
  auto out_of_range = BuildRequest(SampleCall(), g, 1, "KEY123", "msg_x", kSpecNow, snap);
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(out_of_range.error().code, core::ErrorCode::kNotFound);
  EXPECT_FALSE(BuildRequest(SampleCall(), g, -1, "KEY123", "msg_x", kSpecNow, snap));

  g.sign = true;
  g.signing_secret = "whsec_not*base64";
  auto bad_secret = BuildRequest(SampleCall(), g, 0, "KEY123", "msg_x", kSpecNow, snap);
  ASSERT_FALSE(bad_secret);
  EXPECT_EQ(bad_secret.error().code, core::ErrorCode::kInternal);
  EXPECT_EQ(bad_secret.error().message.find("not*base64"), std::string::npos);

  // The same group as a snapshot's own: no prepared key, the same error.
  config::Snapshot own;
  own.webhook_groups.emplace(g.id, g);
  own.Index();
  auto bad_in_snapshot =
      BuildRequest(SampleCall(), own.webhook_groups.at(g.id), 0, "KEY123", "msg_x", kSpecNow, own);
  ASSERT_FALSE(bad_in_snapshot);
  EXPECT_EQ(bad_in_snapshot.error().code, core::ErrorCode::kInternal);
}

}  // namespace
}  // namespace webhook
