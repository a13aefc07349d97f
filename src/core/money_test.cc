#include "core/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace core {
namespace {

// "12.50" for a parsed amount, "invalid: <message>" for a refusal with an empty field, and
// something else for anything unexpected.
std::string Outcome(const Result<Money>& result) {
  if (result) return result->ToString();
  const Error& e = result.error();
  if (e.code == ErrorCode::kInvalidArgument && e.field.empty()) return "invalid: " + e.message;
  return "unexpected error: " + e.message + " [" + e.field + "]";
}

TEST(MoneyTest, Parse) {
  struct Case {
    std::string_view text;
    std::string_view want;
  };
  constexpr Case kCases[] = {
      {"12", "12.00"},
      {"12.5", "12.50"},
      {"12.50", "12.50"},
      {"0", "0.00"},
      {"0.05", "0.05"},
      {"007.10", "7.10"},
      {"0.999", "1.00"},
      {"0.994", "0.99"},
      {"0.995", "1.00"},
      {"0.125", "0.13"},
      {"0.12499999999", "0.12"},
      {"2.3450000000000000000000001", "2.35"},
      {"$12.50", "12.50"},
      {"  $8 ", "8.00"},
      {"\t3.1\t", "3.10"},
      {"1000000000000", "1000000000000.00"},
      {"1000000000000.00", "1000000000000.00"},
      {"1000000000000.004", "1000000000000.00"},
      {"999999999999.995", "1000000000000.00"},
      {"0000000000000000000000001", "1.00"},
      {"", "invalid: amount is empty"},
      {"   ", "invalid: amount is empty"},
      {"$", "invalid: amount has no digits"},
      {"-5", "invalid: amount must not have a sign (amounts are never negative)"},
      {"+5", "invalid: amount must not have a sign (amounts are never negative)"},
      {"$-5", "invalid: amount must not have a sign (amounts are never negative)"},
      {"1e3", "invalid: amount must not use an exponent"},
      {"1.5E3", "invalid: amount must not use an exponent"},
      {"1,234.50", "invalid: amount must not contain ',' (write 1234.50, not 1,234.50)"},
      {"1.2.3", "invalid: amount has more than one '.'"},
      {".5", "invalid: amount must have a digit before '.'"},
      {"5.", "invalid: amount must have a digit after '.'"},
      {"12abc", "invalid: amount must contain only digits, one optional '.' and a leading '$'"},
      {"1 2", "invalid: amount must contain only digits, one optional '.' and a leading '$'"},
      {"12$", "invalid: amount must contain only digits, one optional '.' and a leading '$'"},
      {"$$1", "invalid: amount must contain only digits, one optional '.' and a leading '$'"},
      {"0x10", "invalid: amount must contain only digits, one optional '.' and a leading '$'"},
      {"1000000000000.01", "invalid: amount is above 1000000000000.00"},
      {"1000000000000.005", "invalid: amount is above 1000000000000.00"},
      {"1000000000001", "invalid: amount is above 1000000000000.00"},
      {"99999999999999999999999999", "invalid: amount is above 1000000000000.00"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Outcome(Money::Parse(c.text)), c.want) << "case \"" << c.text << "\"";
  }
}

TEST(MoneyTest, ToString) {
  struct Case {
    int64_t cents;
    std::string_view want;
  };
  constexpr Case kCases[] = {
      {0, "0.00"},
      {5, "0.05"},
      {800, "8.00"},
      {123450, "1234.50"},
      {-125, "-1.25"},
      {-5, "-0.05"},
      {Money::kMaxCents, "1000000000000.00"},
      {std::numeric_limits<int64_t>::max(), "92233720368547758.07"},
      {std::numeric_limits<int64_t>::min(), "-92233720368547758.08"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(Money::FromCents(c.cents).ToString(), c.want) << "case " << c.cents << " cents";
  }
}

TEST(MoneyTest, Compare) {
  struct Case {
    int64_t a;
    int64_t b;
    std::string_view want;  // "<", "==" or ">"
  };
  constexpr Case kCases[] = {
      {0, 0, "=="}, {1, 2, "<"}, {2, 1, ">"}, {-1, 0, "<"}, {100, 100, "=="},
  };
  for (const Case& c : kCases) {
    const Money a = Money::FromCents(c.a);
    const Money b = Money::FromCents(c.b);
    const std::string got = a == b ? "==" : a < b ? "<" : a > b ? ">" : "inconsistent";
    EXPECT_EQ(got, c.want) << "case " << c.a << " vs " << c.b;
  }
}

TEST(MoneyTest, RoundTrip) {
  constexpr int64_t kCases[] = {0, 1, 99, 100, 101, 123456789, Money::kMaxCents};
  for (int64_t cents : kCases) {
    const Result<Money> parsed = Money::Parse(Money::FromCents(cents).ToString());
    EXPECT_TRUE(parsed && parsed->cents() == cents) << "case " << cents << " cents";
  }
}

}  // namespace
}  // namespace core
