#include "core/token_template.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace core {
namespace {

using Values = std::map<std::string, std::string, std::less<>>;

// A lookup over a fixed map; names not in it are unknown.
TokenTemplate::Lookup LookupIn(const Values& values) {
  return [&values](std::string_view name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// The rendering of a parsed template, or the error message of a refusal with an empty field.
std::string Outcome(std::string_view text, const Values& values, Encoding enc) {
  const Result<TokenTemplate> t = TokenTemplate::Parse(text);
  if (!t) {
    const Error& e = t.error();
    if (e.code == ErrorCode::kInvalidArgument && e.field.empty()) return "error: " + e.message;
    return "unexpected error: " + e.message + " [" + e.field + "]";
  }
  return t->Render(LookupIn(values), enc);
}

TEST(TokenTemplateTest, RendersTheDocumentedPostbackUrl) {
  // The postback URL of docs/api.md, with REVENUE left as literal text.
  const Values values = {{"call_uuid", "d95711d5-51a5-4ffa-84fd-a0e7779b0786"},
                         {"call_key", "ck_AbC-_09"}};
  EXPECT_EQ(Outcome("http://127.0.0.1:8080/calls/[call_uuid]/postback?key=[call_key]&value=REVENUE",
                    values, Encoding::kUrl),
            "http://127.0.0.1:8080/calls/d95711d5-51a5-4ffa-84fd-a0e7779b0786/postback"
            "?key=ck_AbC-_09&value=REVENUE");
}

TEST(TokenTemplateTest, Render) {
  struct Case {
    std::string text;
    Encoding enc;
    std::string want;
  };
  const Values values = {
      {"call_uuid", "d95711d5"},
      {"caller_number", "+1 (555) 010-9999"},
      {"space", "a b"},
      {"specials", "&=/+?#%"},
      {"unreserved", "AZaz09-._~"},
      {"e_acute", "caf\xC3\xA9"},
      {"quote", "say \"hi\""},
      {"newline", "line1\nline2\r\n"},
      {"backslash", "C:\\dir"},
      {"controls", std::string("\t\b\f\x01\x1f\x7f", 6) + std::string(1, '\0')},
      {"emoji", "\xF0\x9F\x93\x9E"},  // U+1F4DE
      {"bad_utf8", "a\xC3(b\xFF\xED\xA0\x80\xC0\xAF"},
      {"truncated_utf8", "x\xE2\x82"},
      {"brackets", "[x]"},
      {"empty", ""},
  };
  const Case kCases[] = {
      // The example of the brief.
      {"https://buyer.example/ping?uuid=[call_uuid]&cid=[caller_number]", Encoding::kUrl,
       "https://buyer.example/ping?uuid=d95711d5&cid=%2B1%20%28555%29%20010-9999"},
      // Unknown and empty values render as "".
      {"a=[nope]&b=[empty]&c", Encoding::kUrl, "a=&b=&c"},
      {"[nope]", Encoding::kJson, ""},
      {"", Encoding::kUrl, ""},
      // Literal text is never encoded, whatever the encoding.
      {"a b&c=\"é\"\n[space]", Encoding::kUrl, "a b&c=\"é\"\na%20b"},
      {"a b&c=\"é\"\n[space]", Encoding::kJson, "a b&c=\"é\"\na b"},
      // kNone: raw.
      {"[specials][quote][newline]", Encoding::kNone, "&=/+?#%say \"hi\"line1\nline2\r\n"},
      // kUrl.
      {"[space]", Encoding::kUrl, "a%20b"},
      {"[specials]", Encoding::kUrl, "%26%3D%2F%2B%3F%23%25"},
      {"[unreserved]", Encoding::kUrl, "AZaz09-._~"},
      {"[e_acute]", Encoding::kUrl, "caf%C3%A9"},
      {"[quote]", Encoding::kUrl, "say%20%22hi%22"},
      {"[newline]", Encoding::kUrl, "line1%0Aline2%0D%0A"},
      {"[backslash]", Encoding::kUrl, "C%3A%5Cdir"},
      {"[brackets]", Encoding::kUrl, "%5Bx%5D"},
      // kForm: like kUrl, but a space is '+' (and a literal '+' is encoded).
      {"[space]", Encoding::kForm, "a+b"},
      {"[specials]", Encoding::kForm, "%26%3D%2F%2B%3F%23%25"},
      {"[caller_number]", Encoding::kForm, "%2B1+%28555%29+010-9999"},
      {"[e_acute]", Encoding::kForm, "caf%C3%A9"},
      {"[newline]", Encoding::kForm, "line1%0Aline2%0D%0A"},
      // kJson: escaped without surrounding quotes, so the body stays valid JSON.
      {"{\"uuid\":\"[call_uuid]\",\"q\":\"[quote]\"}", Encoding::kJson,
       "{\"uuid\":\"d95711d5\",\"q\":\"say \\\"hi\\\"\"}"},
      {"[space][specials]", Encoding::kJson, "a b&=/+?#%"},
      {"[e_acute]", Encoding::kJson, "caf\xC3\xA9"},
      {"[emoji]", Encoding::kJson, "\xF0\x9F\x93\x9E"},
      {"[newline]", Encoding::kJson, "line1\\nline2\\r\\n"},
      {"[backslash]", Encoding::kJson, "C:\\\\dir"},
      {"[controls]", Encoding::kJson, "\\t\\b\\f\\u0001\\u001F\x7f\\u0000"},
      // Each byte of an invalid UTF-8 sequence becomes U+FFFD.
      {"[bad_utf8]", Encoding::kJson,
       "a\xEF\xBF\xBD(b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"[truncated_utf8]", Encoding::kJson, "x\xEF\xBF\xBD\xEF\xBF\xBD"},
      // Escapes.
      {"[[call_uuid]]", Encoding::kUrl, "[call_uuid]"},
      {"[[[call_uuid]]]", Encoding::kUrl, "[d95711d5]"},
      {"[[a]", Encoding::kUrl, "[a]"},
      {"a]b", Encoding::kUrl, "a]b"},
      {"[call_uuid]]]", Encoding::kUrl, "d95711d5]"},
      {"[call_uuid]]", Encoding::kUrl, "d95711d5]"},
      {"]]]", Encoding::kUrl, "]]"},
      {"http://[[::1]]:8080/[call_uuid]", Encoding::kUrl, "http://[::1]:8080/d95711d5"},
      {"[call_uuid][call_uuid]", Encoding::kUrl, "d95711d5d95711d5"},
      // A bracketed IPv6 address is literal text, sent as written.
      {"http://[::1]:18432/x", Encoding::kUrl, "http://[::1]:18432/x"},
      {"http://[2001:db8::1]:8080/path?u=[call_uuid]", Encoding::kUrl,
       "http://[2001:db8::1]:8080/path?u=d95711d5"},
      {"https://[2001:DB8:0:0:0:0:0:1]/", Encoding::kUrl, "https://[2001:DB8:0:0:0:0:0:1]/"},
      {"http://[::ffff:192.0.2.1]/", Encoding::kUrl, "http://[::ffff:192.0.2.1]/"},
      {"http://[fe80::1%25eth0]:80/", Encoding::kUrl, "http://[fe80::1%25eth0]:80/"},
      {"{\"host\":\"[::1]\",\"u\":\"[call_uuid]\"}", Encoding::kJson,
       "{\"host\":\"[::1]\",\"u\":\"d95711d5\"}"},
      {"[::1]]", Encoding::kUrl, "[::1]]"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Outcome(c.text, values, c.enc), c.want)
        << "template \"" << c.text << "\" encoding " << static_cast<int>(c.enc);
  }
}

TEST(TokenTemplateTest, ParseErrors) {
  struct Case {
    std::string text;
    std::string want;  // "ok" or the error message
  };
  const std::string kName64(64, 'n');
  const Case kCases[] = {
      {"", "ok"},
      {"plain text", "ok"},
      {"[a]", "ok"},
      {"[A.b-c_9]", "ok"},
      {"[" + kName64 + "]", "ok"},
      {"[[", "ok"},
      {"]", "ok"},
      {"[[]]", "ok"},
      {std::string(TokenTemplate::kMaxLength, 'x'), "ok"},
      {"https://x/[call_uuid", "template: unclosed or invalid token at position 11"},
      {"https://x/?[a b]", "template: unclosed or invalid token at position 12"},
      {"[", "template: unclosed or invalid token at position 1"},
      {"abc[", "template: unclosed or invalid token at position 4"},
      {"[]", "template: unclosed or invalid token at position 1"},
      {"[" + kName64 + "n]", "template: unclosed or invalid token at position 1"},
      {"[a][b", "template: unclosed or invalid token at position 4"},
      {"[[a][b c]", "template: unclosed or invalid token at position 5"},
      {"[a/b]", "template: unclosed or invalid token at position 1"},
      {"[é]", "template: unclosed or invalid token at position 1"},
      {"[a[b]]", "template: unclosed or invalid token at position 1"},
      // Only an address inet_pton accepts is literal; other text with ':' is not a token.
      {"http://[::1]/", "ok"},
      {"http://[1:2]/", "template: unclosed or invalid token at position 8"},
      {"http://[::1/", "template: unclosed or invalid token at position 8"},
      {"http://[2001:db8::1::2]/", "template: unclosed or invalid token at position 8"},
      {"http://[fe80::1%]/", "template: unclosed or invalid token at position 8"},
      {"http://[fe80::1%25a b]/", "template: unclosed or invalid token at position 8"},
      {std::string(TokenTemplate::kMaxLength + 1, 'x'), "template: longer than 8192 bytes"},
  };
  for (const Case& c : kCases) {
    const Result<TokenTemplate> t = TokenTemplate::Parse(c.text);
    std::string got = "ok";
    if (!t) {
      got = t.error().code == ErrorCode::kInvalidArgument && t.error().field.empty()
                ? t.error().message
                : "unexpected error: " + t.error().message;
    } else {
      EXPECT_EQ(t->text(), c.text);
    }
    EXPECT_EQ(got, c.want) << "template \"" << c.text.substr(0, 80) << "\"";
  }
}

TEST(TokenTemplateTest, Tokens) {
  struct Case {
    std::string text;
    std::vector<std::string> want;
    bool has_tokens;
  };
  const Case kCases[] = {
      {"", {}, false},
      {"no tokens [[here]]", {}, false},
      {"https://b.example/p?uuid=[call_uuid]&key=[call_key]&again=[call_uuid]&[[x]]",
       {"call_uuid", "call_key"},
       true},
      {"[B][a][B][A]", {"B", "a", "A"}, true},
      {"http://[2001:db8::1]:8080/", {}, false},
  };
  for (const Case& c : kCases) {
    const Result<TokenTemplate> t = TokenTemplate::Parse(c.text);
    ASSERT_TRUE(t) << c.text << ": " << t.error().message;
    EXPECT_EQ(t->Tokens(), c.want) << c.text;
    EXPECT_EQ(t->has_tokens(), c.has_tokens) << c.text;
  }
}

TEST(TokenTemplateTest, LiteralPrefix) {
  const std::pair<std::string, std::string> kCases[] = {
      {"", ""},
      {"https://b.example/p", "https://b.example/p"},
      {"https://b.example/p?u=[call_uuid]&x=1", "https://b.example/p?u="},
      {"[host]/p", ""},
      {"http://[[::1]]:80/[a]", "http://[::1]:80/"},
      {"http://[::1]:80[a]", "http://[::1]:80"},
  };
  for (const auto& [text, want] : kCases) {
    const Result<TokenTemplate> t = TokenTemplate::Parse(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(t->LiteralPrefix(), want) << text;
  }
  EXPECT_EQ(TokenTemplate().LiteralPrefix(), "");
}

TEST(TokenTemplateTest, DefaultIsEmpty) {
  const TokenTemplate t;
  EXPECT_EQ(t.text(), "");
  EXPECT_TRUE(t.Tokens().empty());
  EXPECT_FALSE(t.has_tokens());
  EXPECT_EQ(
      t.Render([](std::string_view) { return std::optional<std::string>("x"); }, Encoding::kUrl),
      "");
}

TEST(TokenTemplateTest, LookupIsCalledOncePerOccurrenceInOrder) {
  const Result<TokenTemplate> t = TokenTemplate::Parse("[b]-[a]-[b]");
  ASSERT_TRUE(t);
  std::vector<std::string> calls;
  const std::string got = t->Render(
      [&calls](std::string_view name) -> std::optional<std::string> {
        calls.emplace_back(name);
        return std::to_string(calls.size());
      },
      Encoding::kNone);
  EXPECT_EQ(got, "1-2-3");
  EXPECT_EQ(calls, (std::vector<std::string>{"b", "a", "b"}));
}

TEST(TokenTemplateTest, EncodingForBody) {
  struct Case {
    std::string content_type;
    Encoding want;
  };
  const Case kCases[] = {
      {"application/json", Encoding::kJson},
      {"Application/JSON; charset=utf-8", Encoding::kJson},
      {"  application/json  ", Encoding::kJson},
      {"application/problem+json", Encoding::kJson},
      {"application/vnd.api+json;charset=UTF-8", Encoding::kJson},
      {"application/x-www-form-urlencoded", Encoding::kForm},
      {"application/x-www-form-urlencoded; charset=utf-8", Encoding::kForm},
      {"APPLICATION/X-WWW-FORM-URLENCODED", Encoding::kForm},
      {"text/plain", Encoding::kNone},
      {"text/xml", Encoding::kNone},
      {"multipart/form-data; boundary=x", Encoding::kNone},
      {"application/jsonx", Encoding::kNone},
      {"application/+json", Encoding::kNone},
      {"+json", Encoding::kNone},
      {"json", Encoding::kNone},
      {"", Encoding::kNone},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(EncodingForBody(c.content_type), c.want) << "\"" << c.content_type << "\"";
  }
}

}  // namespace
}  // namespace core
