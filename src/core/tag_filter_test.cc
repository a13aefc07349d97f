#include "core/tag_filter.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace core {
namespace {

using Tags = std::map<std::string, std::vector<std::string>, std::less<>>;

// The canonical text of a parsed filter, or the error message of a refusal with an empty field.
std::string Outcome(const Result<TagFilter>& result) {
  if (result) return "ok: " + result->Canonical();
  const Error& e = result.error();
  if (e.code == ErrorCode::kInvalidArgument && e.field.empty()) return e.message;
  return "unexpected error: " + e.message + " [" + e.field + "]";
}

TEST(TagFilterTest, Parse) {
  struct Case {
    std::string text;
    std::string want;
  };
  const Case kCases[] = {
      {"", "ok: "},
      {" \t\n ", "ok: "},
      {"system_buyer_id:==42, publisher_id:7", "ok: system_buyer_id:==42, publisher_id:==7"},
      {"  a : != 1 ,b:>=2.5,c:<=-3,d:>0,e:<10,f:~Foo  ",
       "ok: a:!=1, b:>=2.5, c:<=-3, d:>0, e:<10, f:~Foo"},
      {"a:1, b:2, a:3", "ok: a:==1, a:==3, b:==2"},
      {"a:hello world ", "ok: a:==hello world"},
      {"a:x:y", "ok: a:==x:y"},
      {"A.b-c_9:v", "ok: A.b-c_9:==v"},
      {"a:\"x, y\"", "ok: a:==\"x, y\""},
      {"a: \"q\\\"b\\\\s\" , b:1", "ok: a:==\"q\\\"b\\\\s\", b:==1"},
      {"a:\" padded \"", "ok: a:==\" padded \""},
      {"a:==\"=5\"", "ok: a:==\"=5\""},
      {"a:===5", "ok: a:==\"=5\""},
      {"a:<\"-1.50\"", "ok: a:<-1.50"},
      {"a:x\"y", "ok: a:==\"x\\\"y\""},
      {"buyer_i=42", "matches: expected ':' after the tag key at position 8"},
      {"buyer_id 42", "matches: expected ':' after the tag key at position 10"},
      {"a", "matches: expected ':' after the tag key at position 2"},
      {":1", "matches: expected a tag key at position 1"},
      {"a:1,", "matches: expected a tag key at position 5"},
      {"a:1,,b:2", "matches: expected a tag key at position 5"},
      {"a b:1", "matches: expected ':' after the tag key at position 3"},
      {"é:1", "matches: expected a tag key at position 1"},
      {"a:", "matches: expected a value at position 3"},
      {"a: , b:1", "matches: expected a value at position 4"},
      {"a:==", "matches: expected a value at position 5"},
      {"a:\"\"", "matches: expected a value at position 3"},
      {"a:=5", "matches: expected an operator (== != >= <= > < ~) at position 3"},
      {"a:!5", "matches: expected an operator (== != >= <= > < ~) at position 3"},
      {"a:\"abc", "matches: unterminated quoted value at position 3"},
      {"a:\"a\\nb\"", "matches: expected '\"' or '\\' after '\\' at position 6"},
      {"a:\"a\\", "matches: expected '\"' or '\\' after '\\' at position 6"},
      {"a:\"x\" y", "matches: expected ',' after the quoted value at position 7"},
      {"a:>abc", "matches: expected a decimal number at position 4"},
      {"a:>= 1e3", "matches: expected a decimal number at position 6"},
      {"a:<.5", "matches: expected a decimal number at position 4"},
      {"a:<5.", "matches: expected a decimal number at position 4"},
      {"a:<+5", "matches: expected a decimal number at position 4"},
      {"a:~-", "ok: a:~-"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Outcome(TagFilter::Parse(c.text)), c.want) << "case \"" << c.text << "\"";
  }
}

TEST(TagFilterTest, CanonicalParsesBackToAnEqualFilter) {
  const std::string kCases[] = {
      "system_buyer_id:==42, publisher_id:7",
      "a:1, b:2, a:3",
      " a : != 1 ,b:>=2.5,c:<=-3,d:>0,e:<10,f:~Foo",
      "a:\"x, y\", a:\" padded \", a:\"q\\\"b\\\\s\"",
      "a:===5, a:~<1, a:==>~, a:~\"\\\"\", a:!=!x",
      "a:x\"y\\z",
      "",
  };
  for (const std::string& text : kCases) {
    const Result<TagFilter> filter = TagFilter::Parse(text);
    const Result<TagFilter> again =
        filter ? TagFilter::Parse(filter->Canonical()) : Result<TagFilter>(filter.error());
    EXPECT_TRUE(filter && again && *filter == *again && again->text() == filter->Canonical())
        << "case \"" << text << "\": " << Outcome(filter) << " then " << Outcome(again);
  }
}

TEST(TagFilterTest, Matches) {
  struct Case {
    std::string filter;
    Tags tags;
    bool want;
  };
  const Tags kCall = {{"system_buyer_id", {"42"}}, {"publisher_id", {"7"}},
                      {"state", {"CA", "NY"}},     {"duration", {"95", "n/a"}},
                      {"score", {"-1.5"}},         {"caller", {"John O'Brien, Esq."}}};
  const Case kCases[] = {
      {"", kCall, true},
      {"", {}, true},
      {"system_buyer_id:==42, publisher_id:7", kCall, true},
      {"system_buyer_id:==42, publisher_id:8", kCall, false},
      {"system_buyer_id:42.0", kCall, false},  // == compares text, not numbers
      {"a:1, a:2", {{"a", {"2"}}}, true},      // same key: OR
      {"a:1, a:2", {{"a", {"3"}}}, false},
      {"a:1, b:2", {{"a", {"1"}}, {"b", {"2"}}}, true},  // different keys: AND
      {"a:1, b:2", {{"a", {"1"}}, {"b", {"3"}}}, false},
      {"a:1, b:2", {{"a", {"1"}}}, false},
      {"a:1, a:2, b:3", {{"a", {"2"}}, {"b", {"3"}}}, true},
      {"state:NY", kCall, true},  // any value of the key
      {"state:TX", kCall, false},
      {"state:!=TX", kCall, true},
      {"state:!=NY", kCall, false},  // != holds when no value equals
      {"missing:!=x", kCall, true},  // ... including when the key is absent
      {"missing:x", kCall, false},
      {"missing:>0", kCall, false},
      {"missing:~x", kCall, false},
      {"duration:>90", kCall, true},  // "n/a" is skipped, "95" compares
      {"duration:>=95", kCall, true},
      {"duration:>95", kCall, false},
      {"duration:<95.0001", kCall, true},
      {"duration:<=94.999", kCall, false},
      {"duration:>-1", {{"duration", {"abc", "1e3", " 5", "5."}}}, false},  // none is numeric
      {"score:<-1.49", kCall, true},
      {"score:<-1.5", kCall, false},
      {"score:<=-1.50", kCall, true},
      {"score:>-2", kCall, true},
      {"n:>=0", {{"n", {"-0"}}}, true},
      {"n:<0", {{"n", {"-0.000"}}}, false},
      {"n:>99999999999999999999", {{"n", {"100000000000000000000"}}}, true},  // exact
      {"n:<0.1", {{"n", {"0.0999999999999999999999"}}}, true},
      {"n:>7", {{"n", {"007.5"}}}, true},
      {"n:>10", {{"n", {"9.99"}}}, false},
      {"state:~ny", kCall, true},  // ~ ignores ASCII case
      {"caller:~o'brien", kCall, true},
      {"caller:~smith", kCall, false},
      {"caller:\"John O'Brien, Esq.\"", kCall, true},  // quoted value with a comma
      {"caller:~\", esq\"", kCall, true},
      {"caller:John O'Brien", kCall, false},
      {"empty:x", {{"empty", {}}}, false},
      {"empty:!=x", {{"empty", {}}}, true},
  };
  for (const Case& c : kCases) {
    const Result<TagFilter> filter = TagFilter::Parse(c.filter);
    const TagLookup lookup = [&](std::string_view key) -> const std::vector<std::string>* {
      const auto it = c.tags.find(key);
      return it == c.tags.end() ? nullptr : &it->second;
    };
    EXPECT_TRUE(filter && filter->Matches(lookup) == c.want)
        << "case \"" << c.filter << "\": " << Outcome(filter) << ", want " << c.want;
  }
}

TEST(TagFilterTest, KeysTextAndEmpty) {
  struct Case {
    std::string text;
    std::vector<std::string> want_keys;
  };
  const Case kCases[] = {
      {"", {}},
      {"  ", {}},
      {"b:1, a:2, b:3", {"b", "a"}},
      {"system_buyer_id:==42, publisher_id:7", {"system_buyer_id", "publisher_id"}},
  };
  for (const Case& c : kCases) {
    const Result<TagFilter> filter = TagFilter::Parse(c.text);
    EXPECT_TRUE(filter && filter->Keys() == c.want_keys && filter->text() == c.text &&
                filter->empty() == c.want_keys.empty())
        << "case \"" << c.text << "\"";
  }
}

}  // namespace
}  // namespace core
