// The bit of a webhook response kept with each attempt, safe to store and show as text.
#pragma once

#include <string>
#include <string_view>

namespace webhook {

// At most `max_bytes` bytes of valid UTF-8 from the start of `body`: whole characters only
// (never cut inside a multi-byte character), each byte of an invalid sequence, and each NUL
// byte (PostgreSQL text cannot hold one), replaced by U+FFFD (3 bytes; counted against
// max_bytes). Stops at the first character that does not
// fit. Pure.
std::string Utf8Excerpt(std::string_view body, size_t max_bytes);

// `excerpt` with every copy of `key` replaced by `redacted` (a receiver may echo the request),
// and so is the start of the key at the excerpt's end (cut there, 4 characters or more of it
// would have been kept). An empty key changes nothing. Pure.
std::string ScrubKey(std::string excerpt, std::string_view key, std::string_view redacted);

}  // namespace webhook
