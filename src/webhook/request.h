// Rendering one webhook request of a group for one call: URL, headers and body filled from the
// call's tokens, plus the Standard Webhooks headers (and signature) every request carries.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/model.h"
#include "config/snapshot.h"
#include "core/result.h"
#include "core/time.h"
#include "engine/call.h"

namespace webhook {

// The product sent by the dispatcher. Holds the call key inside `url` (and possibly headers and
// body): log and store `redacted_url` only.
struct OutgoingRequest {
  std::string method;        // GET, POST, PUT or HEAD
  std::string url;           // rendered with the real call key
  std::string redacted_url;  // the same with the call key, and a password, as "REDACTED"
  std::vector<std::pair<std::string, std::string>> headers;  // in the order to send
  std::string body;  // the exact bytes sent (and signed); always empty for GET and HEAD
};

inline constexpr std::string_view kUserAgent = "callpost/0.1";
inline constexpr std::string_view kRedactedKey = "REDACTED";

// The URL of request `request_index` of `group` for `call` as BuildRequest renders it (`url` with
// `call_key`, `redacted_url`): the dispatcher picks the queue of its host by it before it builds
// the request. kNotFound when request_index is out of range. Pure; thread-safe.
struct RenderedUrl {
  std::string url;
  std::string redacted_url;
};
core::Result<RenderedUrl> RenderUrl(const engine::Call& call, const config::WebhookGroup& group,
                                    int request_index, const std::string& call_key,
                                    const config::Snapshot& snap);

// Builds request `request_index` of `group` for `call`:
//   * the URL with token values percent-encoded (core::Encoding::kUrl);
//   * configured headers with values as is, CR, LF and NUL removed (no header injection);
//     headers callpost sets itself (webhook-*, Content-Length, Host, Transfer-Encoding,
//     Connection) are skipped should the configuration hold one;
//   * for POST and PUT, the body encoded per the configured Content-Type
//     (core::EncodingForBody); a body with no configured Content-Type is sent as
//     "application/json" and that header is added;
//   * User-Agent "callpost/0.1" unless configured, webhook-id = `webhook_id` (the same on every
//     attempt), webhook-timestamp = now in whole seconds, and when group.sign a
//     webhook-signature over the exact body: "v1,<current>" and, while now <
//     previous_secret_until, " v1,<previous>" (rotation; an undecodable previous secret is
//     skipped).
// Errors: kNotFound when request_index is out of range; kInternal when the group signs but its
// secret cannot be decoded (the message never includes the secret). Pure; thread-safe.
core::Result<OutgoingRequest> BuildRequest(const engine::Call& call,
                                           const config::WebhookGroup& group, int request_index,
                                           const std::string& call_key,
                                           const std::string& webhook_id, core::Millis now,
                                           const config::Snapshot& snap);

}  // namespace webhook
