#include "webhook/tokens.h"

#include "core/ids.h"
#include "core/time.h"

namespace webhook {
namespace {

template <typename T>
std::string OptionalText(const std::optional<T>& v) {
  return v ? std::to_string(*v) : std::string();
}

std::string OptionalTime(const std::optional<core::Millis>& t) {
  return t ? core::FormatRfc3339(*t) : std::string();
}

std::string OptionalMoney(const std::optional<core::Money>& m) {
  return m ? m->ToString() : std::string();
}

// The built-in token's value, or nullopt when `token` is not built in.
std::optional<std::string> BuiltIn(const engine::Call& call, std::string_view token,
                                   const std::string& call_key) {
  if (token == "call_uuid") return call.uuid;
  if (token == "call_key") return call_key;
  if (token == "caller_number" || token == "caller_id") return call.caller_number;
  if (token == "nanp_caller_number") return core::NanpNational(call.caller_number);
  if (token == "campaign_id") return std::to_string(call.campaign_id);
  if (token == "publisher_id") return OptionalText(call.publisher_id);
  if (token == "buyer_id" || token == "system_buyer_id") return OptionalText(call.buyer_id);
  if (token == "dialed_number") return call.number;
  if (token == "call_duration") return std::to_string(call.duration_seconds.value_or(0));
  if (token == "revenue") return OptionalMoney(call.conversion.revenue);
  if (token == "payout") return OptionalMoney(call.conversion.payout);
  if (token == "converted") {
    return std::string(call.conversion.state == engine::ConversionState::kConverted ? "true"
                                                                                    : "false");
  }
  if (token == "started_at") return core::FormatRfc3339(call.started_at);
  if (token == "answered_at") return OptionalTime(call.answered_at);
  if (token == "ended_at") return OptionalTime(call.ended_at);
  if (token == "conversion_state") return std::string(engine::ToString(call.conversion.state));
  return std::nullopt;
}

}  // namespace

std::optional<std::string> TokenValue(const engine::Call& call, std::string_view token,
                                      const std::string& call_key, const config::Snapshot& snap) {
  if (auto v = BuiltIn(call, token, call_key)) return v;
  std::optional<std::string> joined;
  for (const engine::Tag& t : call.tags) {
    if (t.key != token) continue;
    if (joined) {
      joined->push_back(',');
      joined->append(t.value);
    } else {
      joined = t.value;
    }
  }
  return joined;
}

}  // namespace webhook
