// PayoutModifier: how a publisher's payout is derived from the revenue a buyer posted, e.g.
// "*0.8" (80 % of revenue) or "-5*0.5" (half of what is left after a 5.00 fee).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/result.h"

namespace core {

// A compiled payout modifier: a list of operations, each an operator (* / - +) and an unsigned
// decimal literal, applied to the revenue LEFT TO RIGHT with no precedence ("-5*0.5" on 100.00
// is (100.00 - 5.00) * 0.5 = 47.50). The literal of '+' and '-' is an amount of money in units
// (dollars), the one of '*' and '/' a plain factor. The default value is the identity.
class PayoutModifier {
 public:
  static constexpr int kMaxOperations = 32;
  static constexpr int kMaxIntegerDigits = 12;
  static constexpr int kMaxFractionDigits = 6;

  // The identity: the payout equals the revenue.
  PayoutModifier() = default;

  // Parses "op number op number ...". A literal is digits with an optional '.' followed by
  // digits ("0.8", "5"; not ".5", "5.", "1e3", "-1"), with at most kMaxIntegerDigits digits
  // before the '.' and kMaxFractionDigits after it. ASCII whitespace may surround every token.
  // Blank text is the identity. Refuses more than kMaxOperations operations and division by a
  // zero literal. Errors are kInvalidArgument, with an empty field (the caller sets it) and a
  // message naming the 1-based byte position, e.g. "payout modifier: expected an operator
  // (* / - +) at position 3"; for division by zero the position is the literal's.
  static Result<PayoutModifier> Parse(std::string_view text);

  // The payout for this revenue. Arithmetic is exact (rationals over 128-bit integers) and the
  // result is rounded half-up to cents only at the end, then clamped to [0, Money::kMaxCents]: a
  // publisher is never owed a negative payout. Intermediate values are not clamped ("-20+15"
  // on 10.00 is 5.00). Never fails and never overflows: should an exact intermediate not fit
  // in 128 bits (it takes an unusual modifier, such as "*999999999999" three times or seven
  // factors with six decimals each), the remaining operations are computed in long double
  // (64-bit mantissa: off by at most a cent, next to a half-cent boundary), with the same
  // rounding and clamping.
  Money Apply(Money revenue) const;
  // The same for a revenue as posted, before its rounding to cents: money rounds once, at the
  // end ("*0.8" on 10.005 is 8.004, so 8.00, where the rounded revenue 10.01 would give 8.01).
  Money Apply(const DecimalAmount& revenue) const;

  // The text given to Parse, unchanged.
  const std::string& text() const { return text_; }

  // True when there is no operation (the identity).
  bool empty() const { return operations_.empty(); }

 private:
  struct Operation {
    char op;              // one of * / - +
    int64_t numerator;    // the literal is numerator / denominator, reduced
    int64_t denominator;  // > 0
  };

  std::string text_;
  std::vector<Operation> operations_;
};

}  // namespace core
