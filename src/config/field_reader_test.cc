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

// Operator configuration refuses null where a field cannot be null (sent to clear it, it
// would otherwise be kept without a word); fields that may be null take it. Edge bodies and
// stored rows read null as absent.
TEST(FieldReader, RefusesNullWhereAFieldCannotBeNull) {
  const auto o = Object(R"({"s":null,"i":null,"b":null,"n":null,"o":null})");
  const FieldReader::Nulls refused = FieldReader::Nulls::kRefused;
  std::string s = "kept";
  int64_t i = 7;
  bool b = true;
  FieldReader r1(o, "x.", refused);
  r1.String("s", s, false);
  EXPECT_EQ(r1.Finish().error().message, "x.s: must not be null");
  EXPECT_EQ(r1.Finish().error().field, "x.s");
  FieldReader r2(o, {}, refused);
  r2.Int("i", i, true, 0, 10);
  EXPECT_EQ(r2.Finish().error().message, "i: must not be null");
  FieldReader r3(o, {}, refused);
  r3.Bool("b", b);
  EXPECT_EQ(r3.Finish().error().message, "b: must not be null");
  FieldReader r4(o, {}, refused);
  EXPECT_EQ(r4.NonNull("o"), nullptr);
  EXPECT_EQ(r4.Finish().error().message, "o: must not be null");
  EXPECT_EQ(s, "kept");
  EXPECT_EQ(i, 7);
  EXPECT_TRUE(b);

  // Fields that may be null.
  FieldReader r5(o, {}, refused);
  std::optional<int64_t> n = 3;
  r5.OptionalInt("n", n, 0, 10);
  ASSERT_NE(r5.Raw("o"), nullptr);
  for (const char* f : {"s", "i", "b"}) r5.Ignore(f);
  EXPECT_TRUE(r5.Finish().has_value());
  EXPECT_FALSE(n.has_value());

  // Null read as absent.
  FieldReader r6(o);
  r6.String("s", s, false);
  r6.Int("i", i, false, 0, 10);
  r6.Bool("b", b);
  r6.OptionalInt("n", n, 0, 10);
  EXPECT_EQ(r6.NonNull("o"), nullptr);
  EXPECT_TRUE(r6.Finish().has_value());
  EXPECT_EQ(s, "kept");
  FieldReader r7(o);
  r7.String("s", s, true);
  EXPECT_EQ(r7.Finish().error().message, "s: is required");
}

}  // namespace
}  // namespace config
