#include "core/payout_modifier.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/money.h"

namespace core {
namespace {

// n copies of s.
std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(PayoutModifierTest, Apply) {
  struct Case {
    std::string modifier;
    int64_t revenue_cents;
    std::string want;
  };
  const std::string kBig = "*999999999999";
  const Case kCases[] = {
      {"*0.8", 1000, "8.00"},
      {"-5*0.5", 10000, "47.50"},
      {"", 1234, "12.34"},
      {"   ", 1234, "12.34"},
      {"*0", 1234, "0.00"},
      {"/3", 1000, "3.33"},
      {"/3", 2000, "6.67"},
      {"*0.125", 100, "0.13"},
      {"*0.124999", 100, "0.12"},
      {"+1.005", 0, "1.01"},
      {"+0.004", 0, "0.00"},
      {"+0.005", 0, "0.01"},
      {"-20", 1000, "0.00"},
      {"-20+15", 1000, "5.00"},  // the intermediate -10.00 is not clamped, only the result
      {" * 0.5 + 1 ", 1000, "6.00"},
      {"+1*2", 1000, "22.00"},  // left to right, no precedence
      {"*2+1", 1000, "21.00"},
      {"/3*3", 1000, "10.00"},  // exact: no rounding between operations
      {"/7/11/13*1001", 12345, "123.45"},
      {"*1.5/1.5", 1, "0.01"},
      {"/0.5", 1001, "20.02"},
      {"/0.000001", 1, "10000.00"},
      {"*2", -100, "0.00"},  // a negative revenue never yields a negative payout
      {"*999999999999.999999", 100000000000000, "1000000000000.00"},  // clamped to the maximum
      {"+999999999999.999999+999999999999.999999", 0, "1000000000000.00"},
      // 10000 * 999999999999^3 overflows 128 bits: the rest is computed in long double.
      {kBig + kBig + kBig, 10000, "1000000000000.00"},
      {kBig + kBig + kBig + "/999999999999/999999999999/999999999999", 10000, "100.00"},
      {kBig + kBig + kBig + "*0", 10000, "0.00"},
      {kBig + kBig + kBig + "-999999999999", 10000, "1000000000000.00"},
      {Repeat("/999999.999999", 32), 100000000000000, "0.00"},
      {Repeat("/3", 20), 100000000000000, "286.80"},  // 28679.7199 cents
      {Repeat("/3", 16) + Repeat("*3", 16), 100000000000000, "1000000000000.00"},  // exact
      {Repeat("*1.000001", 32), 100000000, "1000032.00"},
  };
  for (const Case& c : kCases) {
    const Result<PayoutModifier> m = PayoutModifier::Parse(c.modifier);
    const std::string got = m ? m->Apply(Money::FromCents(c.revenue_cents)).ToString()
                              : "parse error: " + m.error().message;
    EXPECT_EQ(got, c.want) << "case \"" << c.modifier << "\" on " << c.revenue_cents << " cents";
  }
}

// A posted revenue goes to the modifier as written and rounds once, at the end (PRODUCT: "Money
// is exact decimal ... and rounds half-up to cents at the end").
TEST(PayoutModifierTest, AppliesToTheRevenueAsPostedBeforeItsRounding) {
  struct Case {
    std::string modifier;
    std::string revenue;
    std::string want_revenue;
    std::string want_payout;
  };
  const Case kCases[] = {
      {"*0.8", "10.005", "10.01", "8.00"},  // 8.004; the rounded 10.01 would give 8.01
      {"*100", "0.005", "0.01", "0.50"},
      {"*0.5", "0.015", "0.02", "0.01"},  // 0.0075
      {"", "12.345", "12.35", "12.35"},   // the identity rounds as the revenue does
      {"/3*3", "1.004", "1.00", "1.00"},
      {"-0.0049", "1.0099", "1.01", "1.01"},  // 1.005 exactly
      {"*0.8", "$ 10.005", "invalid", "invalid"},
      // 18 decimals are kept: 0.001666666666666667 * 3 is just above half a cent ...
      {"*3", "0.001666666666666667", "0.00", "0.01"},
      // ... and later ones dropped: 0.001666666666666666|667 * 3 is just below.
      {"*3", "0.001666666666666666667", "0.00", "0.00"},
  };
  for (const Case& c : kCases) {
    const Result<PayoutModifier> m = PayoutModifier::Parse(c.modifier);
    ASSERT_TRUE(m) << c.modifier;
    const Result<DecimalAmount> revenue = Money::ParseDecimal(c.revenue);
    if (!revenue) {
      EXPECT_EQ(c.want_revenue, "invalid") << c.revenue << ": " << revenue.error().message;
      continue;
    }
    EXPECT_EQ(Money::Round(*revenue).ToString(), c.want_revenue) << c.revenue;
    EXPECT_EQ(m->Apply(*revenue).ToString(), c.want_payout) << c.modifier << " on " << c.revenue;
  }
}

TEST(PayoutModifierTest, Parse) {
  struct Case {
    std::string text;
    std::string want;  // "ok" or the error message
  };
  const Case kCases[] = {
      {"*0.8", "ok"},
      {"\t*\n0.8 ", "ok"},
      {"/0.5", "ok"},
      {"*999999999999.999999", "ok"},
      {Repeat("*1", 32), "ok"},
      {"0.8", "payout modifier: expected an operator (* / - +) at position 1"},
      {"*", "payout modifier: expected a number at position 2"},
      {"*0.8x", "payout modifier: expected an operator (* / - +) at position 5"},
      {"**2", "payout modifier: expected a number at position 2"},
      {"/0", "payout modifier: division by zero at position 2"},
      {"/ 0.00", "payout modifier: division by zero at position 3"},
      {"*1e3", "payout modifier: expected an operator (* / - +) at position 3"},
      {"*-1", "payout modifier: expected a number at position 2"},
      {"*.5", "payout modifier: expected a number at position 2"},
      {"*5.", "payout modifier: expected a digit after '.' at position 4"},
      {"*5. 1", "payout modifier: expected a digit after '.' at position 4"},
      {"*5 5", "payout modifier: expected an operator (* / - +) at position 4"},
      {"*0.8 x", "payout modifier: expected an operator (* / - +) at position 6"},
      {"* 1,5", "payout modifier: expected an operator (* / - +) at position 4"},
      {"=5", "payout modifier: expected an operator (* / - +) at position 1"},
      {"*1234567890123", "payout modifier: number with more than 12 integer digits at position 2"},
      {"*99999999999999999999999999999",
       "payout modifier: number with more than 12 integer digits at position 2"},
      {"+1 *1.1234567", "payout modifier: number with more than 6 fraction digits at position 5"},
      {Repeat("*1", 33), "payout modifier: more than 32 operations at position 65"},
  };
  for (const Case& c : kCases) {
    const Result<PayoutModifier> m = PayoutModifier::Parse(c.text);
    std::string got = "ok";
    if (!m) {
      const Error& e = m.error();
      got = e.code == ErrorCode::kInvalidArgument && e.field.empty()
                ? e.message
                : "unexpected error: " + e.message + " [" + e.field + "]";
    }
    EXPECT_EQ(got, c.want) << "case \"" << c.text << "\"";
  }
}

TEST(PayoutModifierTest, TextAndEmpty) {
  struct Case {
    std::string text;
    bool want_empty;
  };
  const Case kCases[] = {{"", true}, {" \t ", true}, {"*1", false}, {" * 0.5 + 1 ", false}};
  for (const Case& c : kCases) {
    const Result<PayoutModifier> m = PayoutModifier::Parse(c.text);
    EXPECT_TRUE(m && m->text() == c.text && m->empty() == c.want_empty)
        << "case \"" << c.text << "\"";
  }
}

}  // namespace
}  // namespace core
