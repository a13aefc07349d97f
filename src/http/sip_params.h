// The query parameters of the SIP edge hooks (/sip/route, /sip/event), read and validated
// without IO, so the handlers stay thin and the parsing can be fuzzed (fuzz/sip_params_fuzz.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "engine/call.h"
#include "engine/engine.h"

namespace http {

// GET /sip/route?to=&from=&callid=
struct SipRouteQuery {
  std::string number;         // the dialed number, E.164
  std::string caller_number;  // E.164, or empty when the caller ID is not a phone number
  std::string edge_call_id;   // the SIP Call-ID, at most 255 bytes, may be empty
};

// `to` is required (400 when absent or empty); a `to` that is not a phone number is 404 (no
// such tracking number); `callid` is at most 255 bytes.
core::Result<SipRouteQuery> ReadSipRoute(const engine::Params& query);

// GET /sip/event?uuid=&type=answered|ended|failed[&code=][&at=]
struct SipEventQuery {
  std::string uuid;
  engine::Event event;
};

// `uuid` and `type` are required; `code` (a SIP status of 1-3 digits) is kept for failed
// calls as hung_up_by "failed:<code>"; `at` is checked by ParseSipEventTime.
core::Result<SipEventQuery> ReadSipEvent(const engine::Params& query);

// When an event happened: RFC 3339, or Unix seconds (at most 12 digits) with an optional
// fraction ("1795876796.5", what Kamailio's $TV(Sn) gives), so a queued or retried event keeps
// its own time.
std::optional<core::Millis> ParseSipEventTime(std::string_view text);

}  // namespace http
