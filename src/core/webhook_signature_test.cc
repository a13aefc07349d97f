#include "core/webhook_signature.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/crypto.h"

namespace core {
namespace {

// The test vector published with the Standard Webhooks specification.
constexpr std::string_view kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kSpecMsgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kSpecTimestamp = 1614265330;
constexpr std::string_view kSpecBody = R"({"test": 2432232314})";
constexpr std::string_view kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string SpecKey() {
  const Result<std::string> key = DecodeWebhookSecret(kSpecSecret);
  EXPECT_TRUE(key) << key.error().message;
  return key ? *key : std::string();
}

TEST(WebhookSignatureTest, SpecTestVector) {
  const std::string key = SpecKey();
  EXPECT_EQ(key.size(), 24u);
  EXPECT_EQ(SignWebhook(key, kSpecMsgId, kSpecTimestamp, kSpecBody), kSpecSignature);
  EXPECT_TRUE(VerifyWebhook(key, kSpecMsgId, kSpecTimestamp, kSpecBody, kSpecSignature));
}

TEST(WebhookSignatureTest, APreparedSignerSignsAsSignWebhook) {
  const auto signer = WebhookSigner::FromSecret(kSpecSecret);
  ASSERT_TRUE(signer) << signer.error().message;
  EXPECT_EQ((*signer)->Sign(kSpecMsgId, kSpecTimestamp, kSpecBody), kSpecSignature);
  const std::string key = SpecKey();
  EXPECT_EQ((*signer)->Sign("msg_2", 1, ""), SignWebhook(key, "msg_2", 1, ""));
  const std::string long_body(1000, 'b');  // several SHA-256 blocks
  EXPECT_EQ((*signer)->Sign("msg_3", 2, long_body), SignWebhook(key, "msg_3", 2, long_body));
  const auto bad = WebhookSigner::FromSecret("whsec_not*base64");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "webhook secret: not valid base64");
  EXPECT_FALSE(WebhookSigner::FromSecret(""));
}

TEST(WebhookSignatureTest, Verify) {
  const std::string key = SpecKey();
  const std::string other_key(32, 'k');
  const std::string other = SignWebhook(other_key, kSpecMsgId, kSpecTimestamp, kSpecBody);
  const std::string sig(kSpecSignature);
  struct Case {
    std::string header;
    bool want;
  };
  const Case kCases[] = {
      {sig, true},
      // Rotation: several signatures, in any order.
      {other + " " + sig, true},
      {sig + " " + other, true},
      {"v1a,c2lnbmF0dXJl " + other + " " + sig, true},
      {"  " + sig + "  ", true},
      {other, false},
      {"", false},
      {" ", false},
      {"v1,", false},
      {sig.substr(3), false},           // no version
      {"v2," + sig.substr(3), false},   // another version
      {"v1a," + sig.substr(3), false},  // another version
      {sig.substr(0, sig.size() - 1), false},
      {sig + "=", false},
      {sig + "," + other, false},  // comma is not a separator
      {"V1," + sig.substr(3), false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(VerifyWebhook(key, kSpecMsgId, kSpecTimestamp, kSpecBody, c.header), c.want)
        << "header \"" << c.header << "\"";
  }
  // Any change to the signed content fails.
  EXPECT_FALSE(VerifyWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJel", kSpecTimestamp, kSpecBody, sig));
  EXPECT_FALSE(VerifyWebhook(key, kSpecMsgId, kSpecTimestamp + 1, kSpecBody, sig));
  EXPECT_FALSE(VerifyWebhook(key, kSpecMsgId, kSpecTimestamp, R"({"test": 2432232315})", sig));
  EXPECT_FALSE(VerifyWebhook(other_key, kSpecMsgId, kSpecTimestamp, kSpecBody, sig));
}

TEST(WebhookSignatureTest, RoundTripWithNewSecret) {
  const std::string secret = NewWebhookSecret();
  EXPECT_EQ(secret.size(), 50u);
  EXPECT_TRUE(secret.starts_with("whsec_"));
  const Result<std::string> key = DecodeWebhookSecret(secret);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ("whsec_" + Base64Encode(*key), secret);

  const std::string id = NewWebhookId();
  const std::string body = "{\"call_uuid\":\"d95711d5\"}";
  const std::string header = SignWebhook(*key, id, 1795876796, body);
  EXPECT_TRUE(header.starts_with("v1,"));
  EXPECT_EQ(header.size(), 3u + 44u);
  EXPECT_TRUE(VerifyWebhook(*key, id, 1795876796, body, header));
  EXPECT_FALSE(VerifyWebhook(*key, id, 1795876797, body, header));

  // Rotation: the sender signs with the old and the new key during the overlap.
  const Result<std::string> new_key = DecodeWebhookSecret(NewWebhookSecret());
  ASSERT_TRUE(new_key);
  EXPECT_NE(*new_key, *key);
  const std::string both =
      SignWebhook(*key, id, 1795876796, body) + " " + SignWebhook(*new_key, id, 1795876796, body);
  EXPECT_TRUE(VerifyWebhook(*key, id, 1795876796, body, both));
  EXPECT_TRUE(VerifyWebhook(*new_key, id, 1795876796, body, both));
  EXPECT_FALSE(VerifyWebhook(std::string(32, 'x'), id, 1795876796, body, both));
}

TEST(WebhookSignatureTest, DecodeWebhookSecret) {
  struct Case {
    std::string secret;
    std::string want;  // "ok: <key length>" or the error message
  };
  const Case kCases[] = {
      {std::string(kSpecSecret), "ok: 24"},
      {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "ok: 24"},  // no prefix
      {"whsec_" + Base64Encode(std::string(32, 'a')), "ok: 32"},
      {"whsec_" + Base64Encode(std::string(64, 'a')), "ok: 64"},
      {"whsec_" + Base64Encode(std::string(34, 'a')), "ok: 34"},           // padded: "...YQ=="
      {"whsec_YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYQ", "ok: 34"},  // unpadded
      {"whsec_" + Base64Encode(std::string(23, 'a')),
       "webhook secret: the key must be 24 to 64 bytes, got 23"},
      {"whsec_" + Base64Encode(std::string(65, 'a')),
       "webhook secret: the key must be 24 to 64 bytes, got 65"},
      {"whsec_", "webhook secret: the key must be 24 to 64 bytes, got 0"},
      {"", "webhook secret: the key must be 24 to 64 bytes, got 0"},
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-aSw", "webhook secret: not valid base64"},  // URL-safe
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ", "webhook secret: not valid base64"},
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA", "webhook secret: not valid base64"},
      {"whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "webhook secret: not valid base64"},
  };
  for (const Case& c : kCases) {
    const Result<std::string> key = DecodeWebhookSecret(c.secret);
    std::string got;
    if (key) {
      got = "ok: " + std::to_string(key->size());
    } else {
      got = key.error().code == ErrorCode::kInvalidArgument && key.error().field.empty()
                ? key.error().message
                : "unexpected error: " + key.error().message;
    }
    EXPECT_EQ(got, c.want) << "secret \"" << c.secret << "\"";
  }
}

TEST(WebhookSignatureTest, NewWebhookId) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewWebhookId();
    ASSERT_EQ(id.size(), 31u) << id;
    ASSERT_TRUE(id.starts_with("msg_")) << id;
    for (char c : id.substr(4)) {
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) << id;
    }
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace core
