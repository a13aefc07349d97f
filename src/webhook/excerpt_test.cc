#include "webhook/excerpt.h"

#include <gtest/gtest.h>

namespace webhook {
namespace {

TEST(Utf8ExcerptTest, Table) {
  const std::string kEuro = "\xE2\x82\xAC";       // 3 bytes
  const std::string kEmoji = "\xF0\x9F\x98\x80";  // 4 bytes
  const std::string kFffd = "\xEF\xBF\xBD";
  struct Case {
    std::string body;
    size_t max;
    std::string want;
  };
  const Case kCases[] = {
      {"", 10, ""},
      {"hello", 10, "hello"},
      {"hello", 5, "hello"},
      {"hello", 3, "hel"},
      {"hello", 0, ""},
      {"a" + kEuro, 4, "a" + kEuro},
      {std::string("a\0b", 3), 10, "a" + kFffd + "b"},  // a receiver's NUL: not storable text
      {"a" + kEuro, 3, "a"},                            // never half a character
      {"a" + kEuro, 2, "a"},
      {kEmoji + kEmoji, 7, kEmoji},
      {"a\xFF"
       "b",
       10, "a" + kFffd + "b"},  // invalid bytes become U+FFFD
      {"a\xFF"
       "b",
       3, "a"},                                     // …which counts 3 bytes
      {"\xE2\x82", 10, kFffd + kFffd},              // truncated sequence
      {"\xC0\xAF", 10, kFffd + kFffd},              // overlong
      {"\xED\xA0\x80", 10, kFffd + kFffd + kFffd},  // surrogate
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Utf8Excerpt(c.body, c.max), c.want) << "'" << c.body << "' max " << c.max;
  }
}

TEST(ScrubKeyTest, EveryCopyAndAKeyCutAtTheEnd) {
  const std::string kKey = "c3hW9dy5zBYYPrFnSCNzimByzBzE7Zvz";
  struct Case {
    std::string excerpt;
    std::string want;
  };
  const Case kCases[] = {
      {"no key here", "no key here"},
      {"k=" + kKey + "&again=" + kKey, "k=REDACTED&again=REDACTED"},
      {"GET /echo?k=" + kKey.substr(0, 17), "GET /echo?k=REDACTED"},  // cut by the excerpt
      {"x" + kKey.substr(0, 4), "xREDACTED"},
      {"x" + kKey.substr(0, 3), "x" + kKey.substr(0, 3)},  // too little to matter
      {"", ""},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ScrubKey(c.excerpt, kKey, "REDACTED"), c.want) << c.excerpt;
  }
  EXPECT_EQ(ScrubKey("abc", "", "REDACTED"), "abc");
}

}  // namespace
}  // namespace webhook
