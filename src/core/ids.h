// Identifiers and text checks shared by every module: call UUIDs (v4), UTF-8 validation and
// E.164 phone numbers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace core {

// A new random (version 4) UUID in canonical lower-case form.
std::string NewUuidV4();

// The canonical lower-case form of `text` if it is a UUID written as 8-4-4-4-12 hex digits
// (either case); nullopt otherwise.
std::optional<std::string> NormalizeUuid(std::string_view text);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// An E.164 number "+" followed by 8–15 digits. A 10-digit US national number ("5551230000",
// "(555) 123-0000") or an 11-digit one starting with 1 is normalised to "+1…". Spaces, dots,
// dashes and parentheses are ignored. nullopt when it is not a phone number.
std::optional<std::string> NormalizePhone(std::string_view text);

// The NANP national form "5551230000" of a +1 number, else the number unchanged.
std::string NanpNational(std::string_view e164);

}  // namespace core
