// TokenTemplate: a webhook URL, header or body template with replacement tokens in square
// brackets, e.g. "https://buyer.example/ping?uuid=[call_uuid]&key=[call_key]", rendered with
// the values of one call, each encoded for where it lands (URL, form body, JSON body).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace core {

// How Render encodes token values. Literal template text is never encoded.
enum class Encoding {
  kNone,  // the value as is
  kUrl,   // RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~ (upper-case hex)
  kJson,  // JSON string escaping, WITHOUT the surrounding quotes (see Render)
  kForm,  // application/x-www-form-urlencoded: like kUrl, but a space becomes '+'
};

// The encoding for the values of a body template sent with this Content-Type (media type
// parameters such as "; charset=utf-8" are ignored; the comparison ignores ASCII case and
// surrounding whitespace): "application/json" and any "<type>/<subtype>+json" (e.g.
// "application/problem+json") give kJson, "application/x-www-form-urlencoded" gives kForm,
// anything else (including an empty text) gives kNone.
Encoding EncodingForBody(std::string_view content_type);

// A parsed template: literal text and tokens. The default value is the empty template (renders
// to "").
class TokenTemplate {
 public:
  static constexpr size_t kMaxLength = 8192;       // bytes of template text, unless Parse is told
  static constexpr size_t kMaxBodyLength = 65536;  // bytes of a body template
  static constexpr size_t kMaxNameLength = 64;     // bytes of a token name

  // A token's value, or nullopt for an unknown token.
  using Lookup = std::function<std::optional<std::string>(std::string_view token)>;

  TokenTemplate() = default;

  // Parses literal text with tokens "[name]", where name is 1 to kMaxNameLength characters of
  // [A-Za-z0-9_.-] (case-sensitive, passed to the lookup as written). "[[" is a literal '[' and
  // "]]" a literal ']'; a lone ']' is also literal. Scanning is left to right, so "[[a]" is the
  // literal "[a]" and "[a]]]" is the token a followed by a literal ']'. A bracketed IPv6
  // address, as a URL writes its host ("http://[2001:db8::1]:8080/", "[::1]", with a zone
  // "[fe80::1%25eth0]"), is literal text too: an address has a ':', a name never. Any other '['
  // ("[]", "[a b]", "[a", "[1:2]", a name longer than kMaxNameLength) is refused. Errors are
  // kInvalidArgument with an empty field (the caller sets it) and a message naming the 1-based
  // byte position of the offending '[', e.g. "template: unclosed or invalid token at position
  // 12", or "template: longer than 8192 bytes" (`max_length`). Empty text is the empty template.
  static Result<TokenTemplate> Parse(std::string_view text, size_t max_length = kMaxLength);

  // The text with each token replaced by lookup(name) encoded per `enc`; an unknown token
  // (nullopt) renders as "". lookup is called once per occurrence, in order. With kJson, '"',
  // '\\' and control characters U+0000-U+001F are escaped (\" \\ \n \r \t \b \f, others as
  // \u00XX); valid UTF-8 is kept as is, and each byte of an invalid UTF-8 sequence (stray
  // continuation byte, truncated or overlong sequence, surrogate, above U+10FFFF) becomes
  // U+FFFD, so that a body template like {"uuid":"[call_uuid]"} always stays valid JSON.
  std::string Render(const Lookup& lookup, Encoding enc) const;

  // The text given to Parse, unchanged.
  const std::string& text() const { return text_; }

  // True when the template has no token (it renders to a constant).
  bool has_tokens() const;

  // What the template renders before its first token (escapes resolved), the same for every
  // call; all of it when it has no token. A URL whose authority ends in it has a fixed host.
  std::string LiteralPrefix() const;

  // The distinct token names, in order of first appearance.
  std::vector<std::string> Tokens() const;

 private:
  struct Segment {
    bool is_token;
    std::string text;  // literal text (escapes resolved) or the token name
  };

  std::string text_;
  std::vector<Segment> segments_;
};

// Appends `value` as the inside of a JSON string, escaped as TokenTemplate's kJson encoding
// does (invalid UTF-8 becomes U+FFFD): the output is always valid JSON. Also the escaping of
// http::JsonText (call answers, log lines, the HTTP server's own error bodies).
void AppendJsonEscaped(std::string_view value, std::string& out);

}  // namespace core
