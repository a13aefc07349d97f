// Signing of outgoing webhooks per Standard Webhooks v1 (https://www.standardwebhooks.com):
// the request carries the headers webhook-id, webhook-timestamp and webhook-signature, the
// latter "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.h"
#include "core/result.h"

namespace core {

// The names of the three Standard Webhooks request headers.
inline constexpr std::string_view kWebhookIdHeader = "webhook-id";
inline constexpr std::string_view kWebhookTimestampHeader = "webhook-timestamp";
inline constexpr std::string_view kWebhookSignatureHeader = "webhook-signature";

// The prefix of a secret as shown to users.
inline constexpr std::string_view kWebhookSecretPrefix = "whsec_";

// Bounds on the length of a decoded secret key, in bytes.
inline constexpr size_t kMinWebhookKeyBytes = 24;
inline constexpr size_t kMaxWebhookKeyBytes = 64;

// A new random secret: "whsec_" + standard padded base64 of 32 CSPRNG bytes (50 characters).
std::string NewWebhookSecret();

// The raw key bytes of a secret: strips the "whsec_" prefix when present (a bare base64 key is
// accepted too) and decodes standard base64 (padding optional). Errors are kInvalidArgument
// with an empty field (the caller sets it): "webhook secret: not valid base64" or "webhook
// secret: the key must be 24 to 64 bytes, got 16". Messages never include the secret.
Result<std::string> DecodeWebhookSecret(std::string_view secret);

// The webhook-signature header value for one delivery: "v1," + standard padded base64 of
// HMAC-SHA256(raw_key, msg_id + "." + decimal timestamp_seconds + "." + body). msg_id and the
// timestamp must be the values sent in webhook-id and webhook-timestamp; body is the exact bytes
// sent.
std::string SignWebhook(std::string_view raw_key, std::string_view msg_id,
                        int64_t timestamp_seconds, std::string_view body);

// A signing secret decoded and keyed once (its base64 and the HMAC's key schedule), for a
// webhook group's many deliveries: Sign gives what SignWebhook gives for the decoded key.
class WebhookSigner {
 public:
  // Errors as DecodeWebhookSecret's.
  static Result<std::unique_ptr<WebhookSigner>> FromSecret(std::string_view secret);
  std::string Sign(std::string_view msg_id, int64_t timestamp_seconds, std::string_view body) const;

 private:
  explicit WebhookSigner(std::string_view raw_key) : key_(raw_key) {}
  HmacSha256Key key_;
};

// True when signature_header (space-separated signatures, e.g. "v1,abc= v1,def=" while a key
// is rotated) holds the v1 signature of this message under raw_key. Signatures of other
// versions ("v1a,...") and empty parts are ignored. Every v1 candidate is compared in constant
// time. Does NOT check that the timestamp is recent: a receiver should also refuse timestamps
// more than a few minutes from its clock (replay protection).
bool VerifyWebhook(std::string_view raw_key, std::string_view msg_id, int64_t timestamp_seconds,
                   std::string_view body, std::string_view signature_header);

// A new unique message id for webhook-id: "msg_" + 27 random base62 characters
// ([0-9A-Za-z], about 160 bits from the CSPRNG), URL- and header-safe. A retry of the same
// delivery must reuse its id (receivers deduplicate on it).
std::string NewWebhookId();

}  // namespace core
