// Fuzzes the SIP edge hooks' parameters (http/sip_params.h): the query string as the server
// reads it (http::ParseForm), then ReadSipRoute and ReadSipEvent; and the event time parser,
// with RFC 3339 (core::ParseRfc3339), on the raw text.
// Properties: no crash, no overflow (UBSan); refusals are a 400 naming the field (or a 404 for
// a dialed number that is not one); an accepted route has E.164 numbers and a Call-ID of at
// most 255 bytes; an accepted time formats and parses back to the same instant.
#include <cstddef>
#include <cstdint>

#include "core/time.h"
#include "fuzz_check.h"
#include "http/params.h"
#include "http/sip_params.h"

namespace {

bool IsE164(const std::string& s) {
  return s.size() >= 2 && s[0] == '+' && s.find_first_not_of("0123456789", 1) == std::string::npos;
}

void CheckTime(std::string_view text) {
  auto t = http::ParseSipEventTime(text);
  if (!t) return;
  if (text.find('T') == std::string_view::npos) {
    FUZZ_CHECK(*t >= 0 && *t < 1'000'000'000'000'000);  // at most 12 digits of seconds
  }
  // FormatRfc3339 writes four-digit years: the instant must read back exactly.
  constexpr core::Millis kYear10000 = 253'402'300'800'000;
  if (*t >= 0 && *t < kYear10000) {
    auto again = core::ParseRfc3339(core::FormatRfc3339(*t));
    FUZZ_CHECK(again.has_value() && *again == *t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  CheckTime(text);

  auto query = http::ParseForm(text);
  if (!query) {
    fuzz::CheckInvalidArgument(query.error());
    return 0;
  }
  if (auto route = http::ReadSipRoute(*query)) {
    FUZZ_CHECK(IsE164(route->number));
    FUZZ_CHECK(route->caller_number.empty() || IsE164(route->caller_number));
    FUZZ_CHECK(route->edge_call_id.size() <= 255);
  } else {
    const core::Error& e = route.error();
    FUZZ_CHECK(
        (e.code == core::ErrorCode::kInvalidArgument && (e.field == "to" || e.field == "callid")) ||
        e.code == core::ErrorCode::kNotFound);
  }
  if (auto event = http::ReadSipEvent(*query)) {
    FUZZ_CHECK(http::FindParam(*query, "uuid") != nullptr);
    const std::string* at = http::FindParam(*query, "at");
    if (at != nullptr) CheckTime(*at);
    if (event->event.failed) FUZZ_CHECK(event->event.hung_up_by.rfind("failed", 0) == 0);
  } else {
    const core::Error& e = event.error();
    FUZZ_CHECK(e.code == core::ErrorCode::kInvalidArgument);
    FUZZ_CHECK(e.field == "uuid" || e.field == "type" || e.field == "at");
    FUZZ_CHECK(e.message.rfind(e.field + ": ", 0) == 0);
  }
  return 0;
}
