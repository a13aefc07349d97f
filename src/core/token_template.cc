#include "core/token_template.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace core {
namespace {

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool IsUnreserved(char c) { return IsNameChar(c) || c == '~'; }

char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

constexpr char kHex[] = "0123456789ABCDEF";

void AppendPercentEncoded(std::string_view value, bool space_as_plus, std::string& out) {
  for (char c : value) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else if (c == ' ' && space_as_plus) {
      out.push_back('+');
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
}

// The length of the valid UTF-8 sequence starting at s[i], or 0 if there is none there
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = at(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  }
  return n;
}

// The length of "[address]" when text[i] is the '[' of a bracketed IPv6 address (as a URL's
// host is written, RFC 3986 and RFC 6874): an address inet_pton accepts, optionally followed by
// a zone ("%25eth0", or "%eth0" as libcurl also takes), then ']'. 0 otherwise. A token name has
// no ':' and every IPv6 address has one, so the two never overlap.
size_t Ipv6LiteralLength(std::string_view text, size_t i) {
  constexpr size_t kMaxInside = INET6_ADDRSTRLEN + 64;  // address and zone
  const size_t length = text.substr(i + 1, kMaxInside + 1).find(']');
  if (length == std::string_view::npos) return 0;
  std::string_view inside = text.substr(i + 1, length);
  if (const size_t percent = inside.find('%'); percent != std::string_view::npos) {
    const std::string_view zone = inside.substr(percent + 1);
    if (zone.empty() || !std::all_of(zone.begin(), zone.end(), [](char c) {
          return IsNameChar(c) || c == '~' || c == '%';
        })) {
      return 0;
    }
    inside = inside.substr(0, percent);
  }
  if (inside.find(':') == std::string_view::npos) return 0;
  const std::string address(inside);
  in6_addr parsed;
  if (inet_pton(AF_INET6, address.c_str(), &parsed) != 1) return 0;
  return length + 2;
}

Error ParseError(std::string what) { return InvalidArgument("template: " + std::move(what)); }

// The bytes that stand for themselves in a JSON string: printable ASCII but the quote and the
// backslash.
constexpr std::array<bool, 256> kJsonPlain = [] {
  std::array<bool, 256> plain{};
  for (int b = 0x20; b < 0x80; ++b) plain[b] = b != '"' && b != '\\';
  return plain;
}();

}  // namespace

void AppendJsonEscaped(std::string_view value, std::string& out) {
  for (size_t i = 0; i < value.size();) {
    // A run of plain bytes is appended at once (byte by byte, escaping was a sixth of the I/O
    // threads' work in the call lifecycle).
    size_t run = i;
    while (run < value.size() && kJsonPlain[static_cast<unsigned char>(value[run])]) ++run;
    if (run != i) {
      out.append(value.data() + i, run - i);
      i = run;
      continue;
    }
    const char c = value[i];
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) {
      const size_t n = Utf8SequenceLength(value, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(value.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (b < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[b >> 4]);
          out.push_back(kHex[b & 15]);
        }
    }
    ++i;
  }
}

Encoding EncodingForBody(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  media = Trim(media);
  std::string lower(media.size(), '\0');
  std::transform(media.begin(), media.end(), lower.begin(), ToLower);
  if (lower == "application/x-www-form-urlencoded") return Encoding::kForm;
  if (lower == "application/json") return Encoding::kJson;
  const size_t slash = lower.find('/');
  constexpr std::string_view kSuffix = "+json";
  if (slash != std::string::npos && slash > 0 && lower.size() > slash + 1 + kSuffix.size() &&
      lower.ends_with(kSuffix)) {
    return Encoding::kJson;
  }
  return Encoding::kNone;
}

Result<TokenTemplate> TokenTemplate::Parse(std::string_view text, size_t max_length) {
  if (text.size() > max_length) {
    return ParseError("longer than " + std::to_string(max_length) + " bytes");
  }
  TokenTemplate result;
  result.text_ = std::string(text);
  std::string literal;
  const auto flush_literal = [&] {
    if (!literal.empty()) result.segments_.push_back({false, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == ']') {
      literal.push_back(']');
      i += (i + 1 < text.size() && text[i + 1] == ']') ? 2 : 1;
      continue;
    }
    if (c != '[') {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '[') {
      literal.push_back('[');
      i += 2;
      continue;
    }
    if (const size_t n = Ipv6LiteralLength(text, i); n != 0) {
      literal.append(text.substr(i, n));
      i += n;
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && IsNameChar(text[end])) ++end;
    const size_t length = end - (i + 1);
    if (length == 0 || length > kMaxNameLength || end == text.size() || text[end] != ']') {
      return ParseError("unclosed or invalid token at position " + std::to_string(i + 1));
    }
    flush_literal();
    result.segments_.push_back({true, std::string(text.substr(i + 1, length))});
    i = end + 1;
  }
  flush_literal();
  return result;
}

std::string TokenTemplate::Render(const Lookup& lookup, Encoding enc) const {
  std::string out;
  out.reserve(text_.size());
  for (const Segment& s : segments_) {
    if (!s.is_token) {
      out.append(s.text);
      continue;
    }
    const std::optional<std::string> value = lookup(s.text);
    if (!value) continue;
    switch (enc) {
      case Encoding::kNone:
        out.append(*value);
        break;
      case Encoding::kUrl:
        AppendPercentEncoded(*value, false, out);
        break;
      case Encoding::kForm:
        AppendPercentEncoded(*value, true, out);
        break;
      case Encoding::kJson:
        AppendJsonEscaped(*value, out);
        break;
    }
  }
  return out;
}

bool TokenTemplate::has_tokens() const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [](const Segment& s) { return s.is_token; });
}

std::string TokenTemplate::LiteralPrefix() const {
  // Parse merges adjacent literal text: the first segment, if literal, is all of the prefix.
  if (segments_.empty() || segments_.front().is_token) return "";
  return segments_.front().text;
}

std::vector<std::string> TokenTemplate::Tokens() const {
  std::vector<std::string> names;
  for (const Segment& s : segments_) {
    if (s.is_token && std::find(names.begin(), names.end(), s.text) == names.end()) {
      names.push_back(s.text);
    }
  }
  return names;
}

}  // namespace core
