// Fuzzes webhook token templates (core/token_template.h). The input is the template text, then
// optionally a NUL byte and a token value (any bytes).
// Properties: no crash; a refusal names the position of a '[' inside the text; the literal text
// of an accepted template, escaped again, parses to a template without tokens that renders the
// same; lookup is asked once per token occurrence; a value rendered with kJson inside quotes is
// a valid JSON string (the value itself when it is valid UTF-8); kUrl and kForm give only
// unreserved characters and %XX and decode back to the value.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/ids.h"
#include "core/token_template.h"
#include "fuzz_check.h"

namespace {

bool NameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // the encoder writes upper-case hex only
}

// Decodes what kUrl / kForm produced, checking that it holds nothing else.
std::string PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < s.size());
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      FUZZ_CHECK(hi >= 0 && lo >= 0);
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      FUZZ_CHECK(NameChar(c) || c == '~');
      out += c;
    }
  }
  return out;
}

std::string EscapeLiteral(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '[' || c == ']') out += c;
    out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::AsText(data, size);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const std::string value(nul == std::string_view::npos ? std::string_view()
                                                        : input.substr(nul + 1));

  (void)core::EncodingForBody(value);

  auto tmpl = core::TokenTemplate::Parse(text);
  if (!tmpl) {
    fuzz::CheckPosition(tmpl.error(), "template: ", text.size());
    FUZZ_CHECK(tmpl.error().message.find(" at position ") != std::string::npos ||
               text.size() > core::TokenTemplate::kMaxLength);
    return 0;
  }
  FUZZ_CHECK(tmpl->text() == text);
  const std::vector<std::string> names = tmpl->Tokens();
  FUZZ_CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  FUZZ_CHECK(tmpl->has_tokens() == !names.empty());
  for (const std::string& name : names) {
    FUZZ_CHECK(!name.empty() && name.size() <= core::TokenTemplate::kMaxNameLength);
    for (char c : name) FUZZ_CHECK(NameChar(c));
  }

  // Literal text only: escape it again and it is a constant template rendering the same.
  size_t occurrences = 0;
  const std::string literal = tmpl->Render(
      [&](std::string_view) -> std::optional<std::string> {
        ++occurrences;
        return std::nullopt;
      },
      core::Encoding::kNone);
  FUZZ_CHECK(literal.size() <= text.size());
  FUZZ_CHECK((occurrences == 0) == names.empty());
  auto constant = core::TokenTemplate::Parse(EscapeLiteral(literal));
  if (constant) {  // the escaped text may be longer than kMaxLength
    FUZZ_CHECK(!constant->has_tokens());
    FUZZ_CHECK(constant->Render([](std::string_view) { return std::nullopt; },
                                core::Encoding::kNone) == literal);
  }

  // Every token rendered with the value, in each encoding.
  for (auto enc : {core::Encoding::kNone, core::Encoding::kUrl, core::Encoding::kForm,
                   core::Encoding::kJson}) {
    size_t calls = 0;
    const std::string out = tmpl->Render(
        [&](std::string_view name) -> std::optional<std::string> {
          ++calls;
          FUZZ_CHECK(std::find(names.begin(), names.end(), std::string(name)) != names.end());
          return value;
        },
        enc);
    FUZZ_CHECK(calls == occurrences);
    if (enc == core::Encoding::kNone)
      FUZZ_CHECK(out.size() == literal.size() + calls * value.size());
  }

  // The encodings of the value itself, through the one-token template "[v]".
  auto single = core::TokenTemplate::Parse("[v]");
  FUZZ_CHECK(single.has_value());
  const auto lookup = [&](std::string_view) -> std::optional<std::string> { return value; };
  const std::string json = single->Render(lookup, core::Encoding::kJson);
  FUZZ_CHECK(core::IsValidUtf8(json));
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse("\"" + json + "\"", ec);
  FUZZ_CHECK(!ec && parsed.is_string());
  if (core::IsValidUtf8(value)) FUZZ_CHECK(parsed.get_string() == value);
  FUZZ_CHECK(PercentDecode(single->Render(lookup, core::Encoding::kUrl), false) == value);
  FUZZ_CHECK(PercentDecode(single->Render(lookup, core::Encoding::kForm), true) == value);
  return 0;
}
