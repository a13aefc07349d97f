#include "http/sip_params.h"

#include "core/ids.h"
#include "http/params.h"

namespace http {

std::optional<core::Millis> ParseSipEventTime(std::string_view text) {
  if (text.find('T') != std::string_view::npos) return core::ParseRfc3339(text);
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 ||
      whole.find_first_not_of("0123456789") != std::string_view::npos ||
      fraction.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  core::Millis millis = 0;
  for (char c : whole) millis = millis * 10 + (c - '0');
  millis *= 1000;
  for (size_t i = 0, scale = 100; i < 3; ++i, scale /= 10) {
    if (i < fraction.size()) millis += (fraction[i] - '0') * static_cast<core::Millis>(scale);
  }
  return millis;
}

core::Result<SipRouteQuery> ReadSipRoute(const engine::Params& query) {
  const std::string* to = FindParam(query, "to");
  const std::string* from = FindParam(query, "from");
  const std::string* callid = FindParam(query, "callid");
  if (to == nullptr || to->empty()) {
    return core::InvalidArgument("to: the dialed number is required", "to");
  }
  if (callid != nullptr && callid->size() > 255) {
    return core::InvalidArgument("callid: at most 255 bytes", "callid");
  }
  if (callid != nullptr && callid->find('\0') != std::string::npos) {
    return core::InvalidArgument("callid: must not contain a NUL byte", "callid");
  }
  auto number = core::NormalizePhone(*to);
  if (!number) return core::NotFound("no tracking number " + *to);
  SipRouteQuery out;
  out.number = std::move(*number);
  if (from != nullptr) {
    // A caller ID that is not a phone number (anonymous, a SIP user name) is kept out.
    if (auto caller = core::NormalizePhone(*from)) out.caller_number = std::move(*caller);
  }
  if (callid != nullptr) out.edge_call_id = *callid;
  return out;
}

core::Result<SipEventQuery> ReadSipEvent(const engine::Params& query) {
  const std::string* type = FindParam(query, "type");
  const std::string* uuid = FindParam(query, "uuid");
  const std::string* code = FindParam(query, "code");
  const std::string* at = FindParam(query, "at");
  if (uuid == nullptr) return core::InvalidArgument("uuid: is required", "uuid");
  SipEventQuery out;
  out.uuid = *uuid;
  engine::Event& event = out.event;
  if (type != nullptr && *type == "answered") {
    event.type = engine::EventType::kAnswered;
  } else if (type != nullptr && (*type == "ended" || *type == "failed")) {
    event.type = engine::EventType::kEnded;
    if (*type == "failed") {
      event.failed = true;
      const bool numeric = code != nullptr && !code->empty() && code->size() <= 3 &&
                           code->find_first_not_of("0123456789") == std::string::npos;
      event.hung_up_by = numeric ? "failed:" + *code : "failed";
    }
  } else {
    return core::InvalidArgument("type: must be answered, ended or failed", "type");
  }
  if (at != nullptr) {
    auto t = ParseSipEventTime(*at);
    if (!t) {
      return core::InvalidArgument(
          "at: must be an RFC 3339 time or Unix seconds such as 1795876796.250", "at");
    }
    event.at = *t;
  }
  return out;
}

}  // namespace http
