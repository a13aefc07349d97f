#include "webhook/retry_after.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace webhook {
namespace {

constexpr int64_t kMaxDelta = 1'000'000'000;
constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::string_view kLongDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Consumes the text of an HTTP-date left to right; every method returns false (and may leave
// the cursor anywhere) when the expected piece is not next.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool Literal(std::string_view lit) {
    if (s_.substr(0, lit.size()) != lit) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly n ASCII digits.
  bool Digits(size_t n, int& out) {
    if (s_.size() < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
      if (s_[i] < '0' || s_[i] > '9') return false;
      out = out * 10 + (s_[i] - '0');
    }
    s_.remove_prefix(n);
    return true;
  }
  // One of `names`; `index` is its position.
  template <size_t N>
  bool OneOf(const std::string_view (&names)[N], int& index) {
    for (size_t i = 0; i < N; ++i) {
      if (Literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  bool Time(int& h, int& m, int& s) {
    return Digits(2, h) && Literal(":") && Digits(2, m) && Literal(":") && Digits(2, s);
  }
  bool AtEnd() const { return s_.empty(); }

 private:
  std::string_view s_;
};

struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool ParseImfFixdate(std::string_view text, DateTime& t) {
  Cursor c(text);
  int ignored;
  return c.OneOf(kDays, ignored) && c.Literal(", ") && c.Digits(2, t.day) && c.Literal(" ") &&
         c.OneOf(kMonths, t.month) && c.Literal(" ") && c.Digits(4, t.year) && c.Literal(" ") &&
         c.Time(t.hour, t.minute, t.second) && c.Literal(" GMT") && c.AtEnd();
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; the year is completed in Resolve().
bool ParseRfc850(std::string_view text, DateTime& t) {
  Cursor c(text);
  int ignored;
  return c.OneOf(kLongDays, ignored) && c.Literal(", ") && c.Digits(2, t.day) && c.Literal("-") &&
         c.OneOf(kMonths, t.month) && c.Literal("-") && c.Digits(2, t.year) && c.Literal(" ") &&
         c.Time(t.hour, t.minute, t.second) && c.Literal(" GMT") && c.AtEnd();
}

// "Sun Nov  6 08:49:37 1994"
bool ParseAsctime(std::string_view text, DateTime& t) {
  Cursor c(text);
  int ignored;
  if (!c.OneOf(kDays, ignored) || !c.Literal(" ") || !c.OneOf(kMonths, t.month) ||
      !c.Literal(" ")) {
    return false;
  }
  if (!(c.Literal(" ") ? c.Digits(1, t.day) : c.Digits(2, t.day))) return false;
  return c.Literal(" ") && c.Time(t.hour, t.minute, t.second) && c.Literal(" ") &&
         c.Digits(4, t.year) && c.AtEnd();
}

// The instant of `t` (month 0-based), validated by core::ParseRfc3339.
std::optional<core::Millis> Resolve(const DateTime& t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month + 1, t.day,
                t.hour, t.minute, t.second);
  return core::ParseRfc3339(buf);
}

// RFC 9110: a two-digit year more than 50 years in the future is the latest past year with
// those digits.
int CompleteYear(int yy, core::Millis now) {
  const int current = std::stoi(core::FormatRfc3339(now).substr(0, 4));
  int year = current - current % 100 + yy;
  if (year > current + 50) year -= 100;
  return year;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<int64_t> ParseRetryAfter(std::string_view value, core::Millis now) {
  value = TrimSpaces(value);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t seconds = 0;
    for (char ch : value) {
      seconds = std::min(kMaxDelta, seconds * 10 + (ch - '0'));
    }
    return seconds;
  }
  DateTime t;
  if (ParseRfc850(value, t)) {
    t.year = CompleteYear(t.year, now);
  } else if (!ParseImfFixdate(value, t) && !ParseAsctime(value, t)) {
    return std::nullopt;
  }
  const std::optional<core::Millis> at = Resolve(t);
  if (!at) return std::nullopt;
  if (*at <= now) return 0;
  return (*at - now + 999) / 1000;  // round up: never earlier than asked
}

}  // namespace webhook
