#include "core/webhook_signature.h"

#include "core/crypto.h"

namespace core {

std::string NewWebhookSecret() {
  return std::string(kWebhookSecretPrefix) + Base64Encode(RandomBytes(32));
}

Result<std::string> DecodeWebhookSecret(std::string_view secret) {
  if (secret.starts_with(kWebhookSecretPrefix)) secret.remove_prefix(kWebhookSecretPrefix.size());
  std::string key;
  if (!Base64Decode(secret, key)) {
    return InvalidArgument("webhook secret: not valid base64");
  }
  if (key.size() < kMinWebhookKeyBytes || key.size() > kMaxWebhookKeyBytes) {
    return InvalidArgument(
        "webhook secret: the key must be " + std::to_string(kMinWebhookKeyBytes) + " to " +
        std::to_string(kMaxWebhookKeyBytes) + " bytes, got " + std::to_string(key.size()));
  }
  return key;
}

namespace {

// What is signed: msg_id + "." + timestamp + "." + body.
std::string SignedContent(std::string_view msg_id, int64_t timestamp_seconds,
                          std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + 22 + body.size());
  content.append(msg_id);
  content.push_back('.');
  content.append(std::to_string(timestamp_seconds));
  content.push_back('.');
  content.append(body);
  return content;
}

}  // namespace

std::string SignWebhook(std::string_view raw_key, std::string_view msg_id,
                        int64_t timestamp_seconds, std::string_view body) {
  return "v1," + Base64Encode(HmacSha256(raw_key, SignedContent(msg_id, timestamp_seconds, body)));
}

Result<std::unique_ptr<WebhookSigner>> WebhookSigner::FromSecret(std::string_view secret) {
  auto key = DecodeWebhookSecret(secret);
  if (!key) return std::move(key).error();
  return std::unique_ptr<WebhookSigner>(new WebhookSigner(*key));
}

std::string WebhookSigner::Sign(std::string_view msg_id, int64_t timestamp_seconds,
                                std::string_view body) const {
  return "v1," + Base64Encode(key_.Sign(SignedContent(msg_id, timestamp_seconds, body)));
}

bool VerifyWebhook(std::string_view raw_key, std::string_view msg_id, int64_t timestamp_seconds,
                   std::string_view body, std::string_view signature_header) {
  const std::string expected = SignWebhook(raw_key, msg_id, timestamp_seconds, body);
  bool match = false;
  while (!signature_header.empty()) {
    const size_t space = signature_header.find(' ');
    const std::string_view part = signature_header.substr(0, space);
    signature_header.remove_prefix(space == std::string_view::npos ? signature_header.size()
                                                                   : space + 1);
    if (!part.starts_with("v1,")) continue;
    match |= ConstantTimeEquals(part, expected);  // no early exit
  }
  return match;
}

std::string NewWebhookId() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  constexpr size_t kChars = 27;
  std::string id = "msg_";
  id.reserve(4 + kChars);
  while (id.size() < 4 + kChars) {
    // Rejection sampling: bytes 248..255 would make some characters likelier (248 = 4 * 62).
    for (unsigned char b : RandomBytes(kChars)) {
      if (b >= 248) continue;
      id.push_back(kAlphabet[b % 62]);
      if (id.size() == 4 + kChars) break;
    }
  }
  return id;
}

}  // namespace core
