// FieldReader: errors name their field, with the inputs the fuzzers (fuzz/) found.
#include "config/field_reader.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace config {
namespace {

boost::json::object Object(const char* text) { return boost::json::parse(text).as_object(); }

TEST(FieldReader, NamesTheFirstUnknownField) {
  const auto o = Object(R"({"name":"a","colour":"red"})");
  FieldReader r(o, "buyers[0].");
  std::string name;
  r.String("name", name, true);
  auto f = r.Finish();
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().field, "buyers[0].colour");
  EXPECT_EQ(f.error().message, "buyers[0].colour: unknown field");
}

// Found by fuzz/json_config_fuzz.cc: {"": 1} was refused as ": unknown field", naming nothing.
TEST(FieldReader, NamesAnEmptyUnknownField) {
  const auto o = Object(R"({"": "x"})");
  FieldReader r(o);
  auto f = r.Finish();
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.error().field, "\"\"");
  EXPECT_EQ(f.error().message, "\"\": unknown field");
}

TEST(FieldReader, RefusesWrongTypesAndRanges) {
  const auto o = Object(R"({"n":1.5,"m":-1,"b":"yes","s":7})");
  FieldReader r(o);
  int64_t n = 0;
  r.Int("n", n, false, 0, 10);
  EXPECT_EQ(r.Finish().error().message, "n: must be an integer");
  FieldReader r2(o);
  r2.Int("m", n, false, 0, 10);
  EXPECT_EQ(r2.Finish().error().message, "m: must be between 0 and 10");
  FieldReader r3(o);
  bool b = false;
  r3.Bool("b", b);
  EXPECT_EQ(r3.Finish().error().message, "b: must be true or false");
  FieldReader r4(o);
  std::string s;
  r4.String("s", s, false);
  EXPECT_EQ(r4.Finish().error().message, "s: must be a string");
}

}  // namespace
}  // namespace config
