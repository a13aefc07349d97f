#include "core/payout_modifier.h"

#include <cmath>
#include <cstddef>
#include <optional>

namespace core {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 Uint128;

// An exact value num / den, with den > 0.
struct Rational {
  Int128 num;
  Int128 den;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Uint128 Magnitude(Int128 v) { return v < 0 ? Uint128{0} - static_cast<Uint128>(v) : v; }

Int128 Gcd(Int128 a, Int128 b) {
  Uint128 x = Magnitude(a), y = Magnitude(b);
  while (y != 0) {
    const Uint128 t = x % y;
    x = y;
    y = t;
  }
  return x == 0 ? 1 : static_cast<Int128>(x);  // the operands never make x exceed Int128
}

bool Mul(Int128 a, Int128 b, Int128* out) { return !__builtin_mul_overflow(a, b, out); }

// a * (num / den), both reduced, giving a reduced result; nullopt on overflow.
std::optional<Rational> Multiply(const Rational& a, Int128 num, Int128 den) {
  const Int128 g1 = Gcd(a.num, den), g2 = Gcd(num, a.den);
  Rational r;
  if (!Mul(a.num / g1, num / g2, &r.num) || !Mul(a.den / g2, den / g1, &r.den)) {
    return std::nullopt;
  }
  return r;
}

// a + (num / den) (num may be negative); nullopt on overflow.
std::optional<Rational> Add(const Rational& a, Int128 num, Int128 den) {
  const Int128 g = Gcd(a.den, den);
  Int128 left, right;
  Rational r;
  if (!Mul(a.num, den / g, &left) || !Mul(num, a.den / g, &right) ||
      __builtin_add_overflow(left, right, &r.num) || !Mul(a.den / g, den, &r.den)) {
    return std::nullopt;
  }
  const Int128 reduce = Gcd(r.num, r.den);
  return Rational{r.num / reduce, r.den / reduce};
}

Error ParseError(std::string_view what, size_t index) {
  return InvalidArgument("payout modifier: " + std::string(what) + " at position " +
                         std::to_string(index + 1));
}

}  // namespace

Result<PayoutModifier> PayoutModifier::Parse(std::string_view text) {
  PayoutModifier result;
  result.text_ = std::string(text);
  size_t i = 0;
  const auto skip_spaces = [&] {
    while (i < text.size() && IsSpace(text[i])) ++i;
  };
  for (skip_spaces(); i < text.size(); skip_spaces()) {
    const char op = text[i];
    if (op != '*' && op != '/' && op != '-' && op != '+') {
      return ParseError("expected an operator (* / - +)", i);
    }
    if (result.operations_.size() == kMaxOperations) {
      return ParseError("more than " + std::to_string(kMaxOperations) + " operations", i);
    }
    ++i;
    skip_spaces();
    const size_t start = i;
    int64_t numerator = 0, denominator = 1;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      if (i - start == kMaxIntegerDigits) {
        return ParseError(
            "number with more than " + std::to_string(kMaxIntegerDigits) + " integer digits",
            start);
      }
      numerator = numerator * 10 + (text[i] - '0');
    }
    if (i == start) return ParseError("expected a number", i);
    if (i < text.size() && text[i] == '.') {
      const size_t fraction = ++i;
      for (; i < text.size() && IsDigit(text[i]); ++i) {
        if (i - fraction == kMaxFractionDigits) {
          return ParseError(
              "number with more than " + std::to_string(kMaxFractionDigits) + " fraction digits",
              start);
        }
        numerator = numerator * 10 + (text[i] - '0');
        denominator *= 10;
      }
      if (i == fraction) return ParseError("expected a digit after '.'", i);
    }
    if (op == '/' && numerator == 0) return ParseError("division by zero", start);
    const int64_t g = static_cast<int64_t>(Gcd(numerator, denominator));
    result.operations_.push_back({op, numerator / g, denominator / g});
  }
  return result;
}

Money PayoutModifier::Apply(Money revenue) const {
  return Apply(DecimalAmount{revenue.cents() / 100, revenue.cents() % 100, 2});
}

Money PayoutModifier::Apply(const DecimalAmount& revenue) const {
  // The revenue in cents: (whole * 10^scale + fraction) * 100 / 10^scale, below 10^33.
  Int128 pow10 = 1;
  for (int i = 0; i < revenue.scale; ++i) pow10 *= 10;
  const Int128 num = (Int128{revenue.whole} * pow10 + revenue.fraction) * 100;
  const Int128 g = Gcd(num, pow10);
  Rational value{num / g, pow10 / g};
  size_t next = 0;
  for (; next < operations_.size(); ++next) {
    const Operation& o = operations_[next];
    // '+' and '-' literals are in units; the value is in cents.
    const Int128 cents = Int128{o.numerator} * 100;
    std::optional<Rational> r;
    switch (o.op) {
      case '*':
        r = Multiply(value, o.numerator, o.denominator);
        break;
      case '/':
        r = Multiply(value, o.denominator, o.numerator);
        break;
      case '+':
        r = Add(value, cents, o.denominator);
        break;
      default:
        r = Add(value, -cents, o.denominator);
        break;
    }
    if (!r) break;  // overflow: finish in long double below
    value = *r;
  }

  if (next == operations_.size()) {  // exact: round half-up (the value is positive here)
    if (value.num <= 0) return Money::FromCents(0);
    Int128 q = value.num / value.den;
    const Int128 rem = value.num % value.den;
    if (rem >= value.den - rem) ++q;
    return Money::FromCents(q > Money::kMaxCents ? Money::kMaxCents : static_cast<int64_t>(q));
  }

  // Fallback after an overflow. long double reaches ~1e4932, far beyond what 32 operations
  // within the parse limits can produce, so this never overflows.
  long double x = static_cast<long double>(value.num) / static_cast<long double>(value.den);
  for (; next < operations_.size(); ++next) {
    const Operation& o = operations_[next];
    const long double literal = static_cast<long double>(o.numerator) / o.denominator;
    switch (o.op) {
      case '*':
        x *= literal;
        break;
      case '/':
        x /= literal;
        break;
      case '+':
        x += literal * 100;
        break;
      default:
        x -= literal * 100;
        break;
    }
  }
  if (!(x > 0)) return Money::FromCents(0);
  if (x >= Money::kMaxCents) return Money::FromCents(Money::kMaxCents);
  return Money::FromCents(static_cast<int64_t>(std::floor(x + 0.5L)));
}

}  // namespace core
