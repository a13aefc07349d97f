// Money: an exact amount of money in cents. Revenue posted by buyers and the payouts derived
// from it are always Money, never floating point.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace core {

// A non-negative decimal amount as it was written, before any rounding: whole units plus
// fraction / 10^scale. A posted revenue is kept this way until its payout is derived, so that
// money rounds once, at the end (a payout modifier runs on 10.005, not on 10.01).
struct DecimalAmount {
  static constexpr int kMaxScale = 18;  // decimals kept; later ones cannot change a rounding
  int64_t whole = 0;
  int64_t fraction = 0;  // below 10^scale
  int scale = 0;
};

// An exact amount in cents (int64_t). Cheap to copy; the default value is 0.00.
class Money {
 public:
  // The largest amount Parse accepts: 1,000,000,000,000.00.
  static constexpr int64_t kMaxCents = 100'000'000'000'000;

  constexpr Money() = default;

  // Parses a non-negative decimal amount: "12", "12.5", "12.50", "$12.50", " 12.50 ".
  // Leading and trailing ASCII spaces and tabs are ignored, then an optional '$' may come
  // first. At least one digit is required before a '.' and after it (".5" and "5." are
  // refused). More than two decimals are rounded half-up to cents ("0.999" -> 1.00,
  // "0.125" -> 0.13). Refuses empty text, signs ('-', '+'), exponents, commas, more than one
  // '.', any other non-digit, and amounts above kMaxCents after rounding. Errors are
  // kInvalidArgument with a human sentence and an empty field (the caller sets the field).
  static Result<Money> Parse(std::string_view text);
  // The same checks as Parse, giving the amount unrounded. Decimals after the 18th are
  // dropped: they never change the amount's rounding, and a payout's only when a modifier
  // lands within 10^-16 of a half cent.
  static Result<DecimalAmount> ParseDecimal(std::string_view text);
  // `amount` rounded half-up to cents.
  static Money Round(const DecimalAmount& amount);

  // Any number of cents, including negative ones (which Parse never produces).
  static constexpr Money FromCents(int64_t cents) { return Money(cents); }

  // The amount in cents.
  constexpr int64_t cents() const { return cents_; }

  // Formats with exactly two decimals and no grouping: "8.00", "0.05", "1234.50", "-1.25".
  // Parse(ToString()) gives the same amount for every amount in [0, kMaxCents].
  std::string ToString() const;

  // Orders by amount.
  constexpr auto operator<=>(const Money&) const = default;
  constexpr bool operator==(const Money&) const = default;

 private:
  explicit constexpr Money(int64_t cents) : cents_(cents) {}

  int64_t cents_ = 0;
};

}  // namespace core
