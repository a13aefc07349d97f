#include "webhook/excerpt.h"

#include <algorithm>

#include "core/ids.h"

namespace webhook {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 character at the start of `s`, or 0 (for NUL too: PostgreSQL
// text cannot hold one).
size_t CharLength(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  const size_t n = b0 == 0     ? 0
                   : b0 < 0x80 ? 1
                   : b0 < 0xC2 ? 0
                   : b0 < 0xE0 ? 2
                   : b0 < 0xF0 ? 3
                   : b0 < 0xF5 ? 4
                               : 0;
  if (n == 0 || n > s.size()) return 0;
  return core::IsValidUtf8(s.substr(0, n)) ? n : 0;
}

}  // namespace

std::string Utf8Excerpt(std::string_view body, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(body.size(), max_bytes));
  while (!body.empty()) {
    const size_t n = CharLength(body);
    const std::string_view piece = n > 0 ? body.substr(0, n) : kReplacement;
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    body.remove_prefix(n > 0 ? n : 1);
  }
  return out;
}

std::string ScrubKey(std::string excerpt, std::string_view key, std::string_view redacted) {
  if (key.empty()) return excerpt;
  for (size_t at = excerpt.find(key); at != std::string::npos;
       at = excerpt.find(key, at + redacted.size())) {
    excerpt.replace(at, key.size(), redacted);
  }
  constexpr size_t kShortest = 4;  // fewer characters of a key tell nothing worth hiding
  for (size_t n = std::min(key.size() - 1, excerpt.size()); n >= kShortest; --n) {
    if (std::string_view(excerpt).substr(excerpt.size() - n) == key.substr(0, n)) {
      excerpt.replace(excerpt.size() - n, n, redacted);
      break;
    }
  }
  return excerpt;
}

}  // namespace webhook
