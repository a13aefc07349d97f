// The operator's configuration as typed values: accounts, API keys, publishers, buyers,
// campaigns, numbers and conversion groups. Values are validated when decoded (codec.h), so
// everything here is known good; filters and modifiers are compiled once, when saved.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/payout_modifier.h"
#include "core/tag_filter.h"
#include "core/time.h"
#include "core/token_template.h"

namespace config {

using Id = int64_t;

// Fields every stored configuration object has.
struct Meta {
  Id id = 0;
  Id account_id = 0;
  core::Millis created_at = 0;
  core::Millis updated_at = 0;
};

struct Account {
  Id id = 0;
  std::string name;
  bool carry_over_postback_tags = true;
  int64_t call_key_ttl_seconds = 30 * 86400;
  core::Millis created_at = 0;
};

struct ApiKey {
  Id id = 0;
  Id account_id = 0;
  std::string name;
  std::string prefix;  // the first characters of the key, shown so people can tell keys apart
  std::string hash;    // hex SHA-256 of the whole key; the key itself is never stored
  core::Millis created_at = 0;
};

struct Publisher : Meta {
  std::string name;
  std::string external_id;
};

// A sip:/sips: destination (a buyer's other kind is an E.164 number).
inline bool IsSipAddress(std::string_view destination) {
  return destination.starts_with("sip:") || destination.starts_with("sips:");
}

struct Buyer : Meta {
  std::string name;
  std::string destination;  // E.164 number or sip:/sips: URI
  std::optional<int64_t> concurrency_cap;

  // Whether a SIP edge can hand a call to this buyer (IsSipAddress).
  bool HasSipAddress() const { return IsSipAddress(destination); }
};

enum class RepeatRoute { kSameBuyer, kNewBuyer, kAny };

struct CampaignBuyer {
  Id buyer_id = 0;
  int64_t priority = 1;  // lower first
  int64_t weight = 1;    // share among buyers of equal priority
};

struct RepeatCallers {
  bool enabled = false;
  int64_t window_seconds = 30 * 86400;
  RepeatRoute route = RepeatRoute::kSameBuyer;
};

struct Campaign : Meta {
  std::string name;
  std::vector<CampaignBuyer> buyers;
  RepeatCallers repeat_callers;
};

struct Number : Meta {
  std::string number;  // E.164
  Id campaign_id = 0;
  std::optional<Id> publisher_id;
  std::map<std::string, std::string> tags;
};

enum class ConversionType { kDuration, kPostbackValue, kPostbackTrigger };

struct ConversionGroup : Meta {
  Id campaign_id = 0;
  std::string name;
  core::TagFilter matches;
  ConversionType type = ConversionType::kPostbackValue;
  int64_t position = 0;
  // duration
  int64_t seconds = 0;
  // postback_value
  std::string value_param = "value";
  core::PayoutModifier payout_modifier;
  // postback_trigger
  std::string trigger;
  // duration and postback_trigger
  core::Money revenue;
  core::Money payout;
  // both postback kinds
  int64_t postback_timeout_seconds = 600;

  bool IsPostback() const { return type != ConversionType::kDuration; }
};

// One HTTP request of a webhook group; every part is a template with replacement tokens.
struct WebhookRequest {
  std::string method = "POST";  // GET, POST, PUT or HEAD
  core::TokenTemplate url;
  std::vector<std::pair<std::string, core::TokenTemplate>> headers;
  std::optional<core::TokenTemplate> body;
};

// Webhook triggers, in the order a call meets them.
inline constexpr const char* kWebhookTriggers[] = {
    "started", "routed", "answered", "ended", "completed", "converted", "not_converted"};

struct WebhookGroup : Meta {
  Id campaign_id = 0;
  std::string name;
  std::string trigger;
  core::TagFilter matches;
  std::vector<WebhookRequest> requests;
  int64_t position = 0;
  bool enabled = true;
  bool sign = false;
  std::string signing_secret;              // whsec_…, when sign
  std::string previous_secret;             // the secret before the last rotation, also signed with
  core::Millis previous_secret_until = 0;  // … until then
};

// A publisher postback key: lets one publisher write tags about callers (data writing).
// Only the key's hash is kept.
struct PublisherKey : Meta {
  Id publisher_id = 0;
  std::string name;
  std::string action = "data_writing";  // the one action such a key may do
  int64_t storage_seconds = 86400;      // how long tags for a caller with no call are kept
  bool paused = false;
  std::string prefix;  // the key's first characters, to tell keys apart
  std::string hash;    // hex SHA-256 of the key
};

const char* ToString(RepeatRoute r);
const char* ToString(ConversionType t);

}  // namespace config
