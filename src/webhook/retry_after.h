// Reading an HTTP Retry-After header value (RFC 9110 §10.2.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/time.h"

namespace webhook {

// Seconds from `now` until the time `value` names: delta-seconds ("120") or an HTTP-date in
// any of the three forms of RFC 9110 §5.6.7 ("Sun, 06 Nov 1994 08:49:37 GMT", the obsolete
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime's "Sun Nov  6 08:49:37 1994"). Surrounding
// spaces and tabs are ignored. A date in the past gives 0; a huge delta saturates at
// 1,000,000,000. nullopt for anything else (empty, signs, fractions, other date forms, zones
// other than GMT). Pure.
std::optional<int64_t> ParseRetryAfter(std::string_view value, core::Millis now);

}  // namespace webhook
