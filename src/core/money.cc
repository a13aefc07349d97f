#include "core/money.h"

#include <cstddef>

namespace core {
namespace {

constexpr int64_t kMaxWholeUnits = Money::kMaxCents / 100;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// The error for a character that cannot appear in an amount.
Error BadCharacter(char c) {
  if (c == '-' || c == '+') {
    return InvalidArgument("amount must not have a sign (amounts are never negative)");
  }
  if (c == ',') return InvalidArgument("amount must not contain ',' (write 1234.50, not 1,234.50)");
  if (c == 'e' || c == 'E') return InvalidArgument("amount must not use an exponent");
  return InvalidArgument("amount must contain only digits, one optional '.' and a leading '$'");
}

}  // namespace

Result<DecimalAmount> Money::ParseDecimal(std::string_view text) {
  std::string_view s = TrimBlanks(text);
  if (s.empty()) return InvalidArgument("amount is empty");
  if (s.front() == '$') s.remove_prefix(1);
  if (s.empty()) return InvalidArgument("amount has no digits");

  // Whole units, accumulated with an early bound check so that it never overflows.
  DecimalAmount amount;
  size_t i = 0;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    amount.whole = amount.whole * 10 + (s[i] - '0');
    if (amount.whole > kMaxWholeUnits) return InvalidArgument("amount is above 1000000000000.00");
  }
  if (i == 0) {
    if (s[0] == '.') return InvalidArgument("amount must have a digit before '.'");
    return BadCharacter(s[0]);
  }
  if (i < s.size()) {
    if (s[i] != '.') return BadCharacter(s[i]);
    ++i;
    const size_t first = i;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (amount.scale == DecimalAmount::kMaxScale) continue;
      amount.fraction = amount.fraction * 10 + (s[i] - '0');
      ++amount.scale;
    }
    if (i < s.size()) {
      if (s[i] == '.') return InvalidArgument("amount has more than one '.'");
      return BadCharacter(s[i]);
    }
    if (i == first) return InvalidArgument("amount must have a digit after '.'");
  }
  if (Round(amount).cents() > kMaxCents) return InvalidArgument("amount is above 1000000000000.00");
  return amount;
}

Money Money::Round(const DecimalAmount& amount) {
  // Cents from the first two decimals; the rest rounds half-up: up when it is at least half a
  // cent, that is when the third decimal is 5 or more.
  int64_t fraction = amount.fraction;
  int scale = amount.scale;
  for (; scale > 3; --scale) fraction /= 10;  // the decimals after the third cannot matter
  for (; scale < 3; ++scale) fraction *= 10;
  return Money(amount.whole * 100 + fraction / 10 + (fraction % 10 >= 5 ? 1 : 0));
}

Result<Money> Money::Parse(std::string_view text) {
  auto amount = ParseDecimal(text);
  if (!amount) return std::move(amount).error();
  return Round(*amount);
}

std::string Money::ToString() const {
  // The magnitude as unsigned so that the most negative int64_t formats too.
  const bool negative = cents_ < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(cents_) : static_cast<uint64_t>(cents_);
  const uint64_t fraction = magnitude % 100;
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / 100);
  out += '.';
  out += static_cast<char>('0' + fraction / 10);
  out += static_cast<char>('0' + fraction % 10);
  return out;
}

}  // namespace core
