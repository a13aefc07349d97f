#include "webhook/request.h"

#include <strings.h>

#include <algorithm>

#include "core/token_template.h"
#include "core/webhook_signature.h"
#include "webhook/tokens.h"

namespace webhook {
namespace {

// `url` with the password of its user info, if any, as REDACTED: the logs and the delivery log
// keep a receiver's URL, not its credentials. Read by hand, as libcurl reads it, since a URL
// that a strict parser refuses (a `|` in its query) is still sent.
std::string WithoutPassword(std::string url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t start = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?#", start), url.size());
  const std::string_view authority(url.data() + start, end - start);
  const size_t at = authority.rfind('@');
  const size_t colon = authority.find(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) return url;
  url.replace(start + colon + 1, at - colon - 1, kRedactedKey);
  return url;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Headers that only callpost (or libcurl) may set.
bool Reserved(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"content-length", "host", "transfer-encoding",
                                                   "connection"};
  for (std::string_view r : kReserved) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  return name.size() >= 8 && EqualsIgnoreCase(name.substr(0, 8), "webhook-");
}

std::string StripLineBreaks(std::string value) {
  std::erase_if(value, [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
  return value;
}

core::TokenTemplate::Lookup LookupFor(const engine::Call& call, const std::string& key,
                                      const config::Snapshot& snap) {
  return
      [&call, &key, &snap](std::string_view token) { return TokenValue(call, token, key, snap); };
}

}  // namespace

core::Result<RenderedUrl> RenderUrl(const engine::Call& call, const config::WebhookGroup& group,
                                    int request_index, const std::string& call_key,
                                    const config::Snapshot& snap) {
  if (request_index < 0 || static_cast<size_t>(request_index) >= group.requests.size()) {
    return core::NotFound("webhook group " + std::to_string(group.id) + " has no request " +
                          std::to_string(request_index));
  }
  const core::TokenTemplate& url = group.requests[request_index].url;
  const std::string redacted_key(kRedactedKey);
  RenderedUrl out;
  out.url = url.Render(LookupFor(call, call_key, snap), core::Encoding::kUrl);
  out.redacted_url =
      WithoutPassword(url.Render(LookupFor(call, redacted_key, snap), core::Encoding::kUrl));
  return out;
}

core::Result<OutgoingRequest> BuildRequest(const engine::Call& call,
                                           const config::WebhookGroup& group, int request_index,
                                           const std::string& call_key,
                                           const std::string& webhook_id, core::Millis now,
                                           const config::Snapshot& snap) {
  auto url = RenderUrl(call, group, request_index, call_key, snap);
  if (!url) return std::move(url).error();
  const config::WebhookRequest& spec = group.requests[request_index];
  const auto lookup = LookupFor(call, call_key, snap);

  OutgoingRequest out;
  out.method = spec.method;
  out.url = std::move(url->url);
  out.redacted_url = std::move(url->redacted_url);

  bool has_user_agent = false;
  std::optional<std::string> content_type;
  for (const auto& [name, value] : spec.headers) {
    if (Reserved(name)) continue;
    std::string rendered = StripLineBreaks(value.Render(lookup, core::Encoding::kNone));
    if (EqualsIgnoreCase(name, "user-agent")) has_user_agent = true;
    if (EqualsIgnoreCase(name, "content-type")) content_type = rendered;
    out.headers.emplace_back(name, std::move(rendered));
  }
  if (!has_user_agent) out.headers.emplace(out.headers.begin(), "User-Agent", kUserAgent);

  const bool may_have_body = out.method == "POST" || out.method == "PUT";
  if (may_have_body && spec.body) {
    if (!content_type) {
      content_type = "application/json";
      out.headers.emplace_back("Content-Type", *content_type);
    }
    out.body = spec.body->Render(lookup, core::EncodingForBody(*content_type));
  }

  const int64_t timestamp = now / 1000;
  out.headers.emplace_back(core::kWebhookIdHeader, webhook_id);
  out.headers.emplace_back(core::kWebhookTimestampHeader, std::to_string(timestamp));
  if (group.sign) {
    // The snapshot's prepared keys for its own groups; a group from elsewhere (a preview) has
    // its secrets decoded here.
    const config::Snapshot::WebhookSigners* prepared = snap.SignersOf(group);
    config::Snapshot::WebhookSigners decoded;
    if (prepared == nullptr) {
      if (auto k = core::WebhookSigner::FromSecret(group.signing_secret)) {
        decoded.current = std::move(*k);
      }
      if (auto k = core::WebhookSigner::FromSecret(group.previous_secret)) {
        decoded.previous = std::move(*k);
      }
      prepared = &decoded;
    }
    if (prepared->current == nullptr) {
      return core::Internal("webhook group " + std::to_string(group.id) +
                            ": the signing secret cannot be decoded");
    }
    std::string signature = prepared->current->Sign(webhook_id, timestamp, out.body);
    if (prepared->previous != nullptr && now < group.previous_secret_until) {
      signature += ' ';
      signature += prepared->previous->Sign(webhook_id, timestamp, out.body);
    }
    out.headers.emplace_back(core::kWebhookSignatureHeader, std::move(signature));
  }
  return out;
}

}  // namespace webhook
