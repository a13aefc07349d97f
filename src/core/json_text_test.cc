// The JSON text writer: commas at every depth, every int64, escapes.
#include "core/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>

namespace core {
namespace {

namespace json = boost::json;

TEST(JsonText, PutsCommasBetweenValuesAtEveryDepth) {
  std::string out;
  JsonText j(out);
  j.BeginObject();
  j.Key("a").Int(1);
  j.Key("b")
      .BeginArray()
      .Int(-2)
      .BeginObject()
      .EndObject()
      .BeginArray()
      .EndArray()
      .Null()
      .EndArray();
  j.Key("c").BeginObject().Key("d").Bool(true).Key("e").Bool(false).EndObject();
  j.Key("f").Raw(R"({"x":[1,2]})");
  j.Key("g").OptionalInt(std::nullopt).Key("h").OptionalInt(7);
  const std::string name = "i\"j";  // a name from data is escaped; a literal is written as is
  j.Key(name).Int(8);
  j.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[-2,{},[],null],"c":{"d":true,"e":false},"f":{"x":[1,2]},)"
                 R"("g":null,"h":7,"i\"j":8})");
  EXPECT_NO_THROW(json::parse(out));
}

TEST(JsonText, WritesEveryInt64AndEscapesStrings) {
  std::string out;
  JsonText j(out);
  j.BeginArray();
  j.Int(std::numeric_limits<int64_t>::min()).Int(std::numeric_limits<int64_t>::max()).Int(0);
  j.String("quote \" backslash \\ newline \n tab \t bell \x07 é").String("bad \xff byte");
  j.EndArray();
  const json::array a = json::parse(out).as_array();
  EXPECT_EQ(a[0].as_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(a[1].as_int64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(a[3].as_string(), "quote \" backslash \\ newline \n tab \t bell \x07 é");
  EXPECT_EQ(a[4].as_string(), "bad \xEF\xBF\xBD byte");  // U+FFFD: always valid JSON
}

// One member a key, in the order the keys first appear, each with all of its items in order.
TEST(JsonText, WritesOneMemberForEachKey) {
  const std::vector<std::pair<std::string, std::string>> items = {
      {"b", "1"}, {"a", "2"}, {"b", "3"}, {"q\"", "4"}, {"a", "5"}};
  std::string out;
  JsonText j(out);
  j.BeginObject();
  WriteGroupedByKey(
      j, items, [](const auto& item) -> const std::string& { return item.first; },
      [](JsonText& member, auto each) {
        member.BeginArray();
        each([&](const auto& item) { member.String(item.second); });
        member.EndArray();
      });
  j.EndObject();
  EXPECT_EQ(out, R"({"b":["1","3"],"a":["2","5"],"q\"":["4"]})");
  out.clear();
  JsonText empty(out);
  empty.BeginObject();
  WriteGroupedByKey(
      empty, std::vector<std::pair<std::string, std::string>>{},
      [](const auto& item) -> const std::string& { return item.first; },
      [](JsonText& member, auto) { member.Null(); });
  empty.EndObject();
  EXPECT_EQ(out, "{}");
}

}  // namespace
}  // namespace core
