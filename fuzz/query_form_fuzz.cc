// Fuzzes the query-string / form parser (http/params.h): SplitTarget, DecodeSegment, ParseForm.
// Properties: no crash; a refusal is a 400 with a sentence; every accepted pair is valid UTF-8;
// re-encoding the pairs and parsing again gives the same pairs (parse -> print -> parse).
#include <cstddef>
#include <cstdint>

#include "core/ids.h"
#include "fuzz_check.h"
#include "http/params.h"

namespace {

bool Unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void Encode(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    if (Unreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);

  const http::Target target = http::SplitTarget(text);
  FUZZ_CHECK(target.path.size() + target.query.size() <= text.size());
  FUZZ_CHECK(target.path.find('?') == std::string_view::npos);
  if (auto segment = http::DecodeSegment(target.path)) {
    FUZZ_CHECK(core::IsValidUtf8(*segment));
    FUZZ_CHECK(segment->size() <= target.path.size());
  } else {
    fuzz::CheckInvalidArgument(segment.error());
  }

  auto form = http::ParseForm(text);
  if (!form) {
    fuzz::CheckInvalidArgument(form.error());
    return 0;
  }
  std::string again;
  for (const auto& [key, value] : *form) {
    FUZZ_CHECK(core::IsValidUtf8(key) && core::IsValidUtf8(value));
    if (!again.empty()) again += '&';
    Encode(key, again);
    again += '=';
    Encode(value, again);
  }
  auto reparsed = http::ParseForm(again);
  FUZZ_CHECK(reparsed.has_value());
  FUZZ_CHECK(*reparsed == *form);
  if (!form->empty()) {
    const std::string* first = http::FindParam(*form, form->front().first);
    FUZZ_CHECK(first != nullptr && *first == form->front().second);
  }
  return 0;
}
