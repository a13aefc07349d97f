#include "core/tag_filter.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>

namespace core {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsKeyChar(char c) {
  return IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '.' ||
         c == '-';
}
char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// A decimal number as digit strings: no leading zeros in integer, no trailing ones in fraction,
// and zero is never negative, so equal numbers have equal representations.
struct Decimal {
  bool negative = false;
  std::string_view integer;
  std::string_view fraction;
};

std::optional<Decimal> ParseDecimal(std::string_view s) {
  Decimal d;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    d.negative = true;
    ++i;
  }
  const size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == start) return std::nullopt;
  d.integer = s.substr(start, i - start);
  if (i < s.size() && s[i] == '.') {
    const size_t fraction = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == fraction) return std::nullopt;
    d.fraction = s.substr(fraction, i - fraction);
  }
  if (i != s.size()) return std::nullopt;
  while (!d.integer.empty() && d.integer.front() == '0') d.integer.remove_prefix(1);
  while (!d.fraction.empty() && d.fraction.back() == '0') d.fraction.remove_suffix(1);
  if (d.integer.empty() && d.fraction.empty()) d.negative = false;
  return d;
}

// <0, 0 or >0 as a is below, equal to or above b.
int Compare(const Decimal& a, const Decimal& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  int magnitude = a.integer.size() != b.integer.size()
                      ? (a.integer.size() < b.integer.size() ? -1 : 1)
                      : a.integer.compare(b.integer);
  if (magnitude == 0) magnitude = a.fraction.compare(b.fraction);  // no trailing zeros
  return a.negative ? -magnitude : magnitude;
}

bool ContainsIgnoringCase(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return AsciiLower(a) == AsciiLower(b); }) !=
         haystack.end();
}

// Whether a raw (unquoted) value would read back as itself after an explicit operator.
bool CanStayRaw(std::string_view v) {
  if (v.empty() || IsSpace(v.front()) || IsSpace(v.back())) return false;
  if (std::string_view("=!<>~\"").find(v.front()) != std::string_view::npos) return false;
  return v.find_first_of(",\"\\") == std::string_view::npos;
}

Error ParseError(std::string_view what, size_t index) {
  return InvalidArgument("matches: " + std::string(what) + " at position " +
                         std::to_string(index + 1));
}

}  // namespace

Result<TagFilter> TagFilter::Parse(std::string_view text) {
  TagFilter filter;
  filter.text_ = std::string(text);
  size_t i = 0;
  const auto skip_spaces = [&] {
    while (i < text.size() && IsSpace(text[i])) ++i;
  };
  const auto at = [&](std::string_view token) { return text.substr(i).starts_with(token); };
  skip_spaces();
  if (i == text.size()) return filter;
  while (true) {
    skip_spaces();
    const size_t key_start = i;
    while (i < text.size() && IsKeyChar(text[i])) ++i;
    if (i == key_start) return ParseError("expected a tag key", i);
    const std::string_view key = text.substr(key_start, i - key_start);
    skip_spaces();
    if (!at(":")) return ParseError("expected ':' after the tag key", i);
    ++i;
    skip_spaces();

    static constexpr std::pair<std::string_view, Op> kOps[] = {
        {"==", Op::kEq}, {"!=", Op::kNe}, {">=", Op::kGe},     {"<=", Op::kLe},
        {">", Op::kGt},  {"<", Op::kLt},  {"~", Op::kContains}};
    Condition condition{Op::kEq, {}};
    const auto op = std::find_if(std::begin(kOps), std::end(kOps),
                                 [&](const auto& entry) { return at(entry.first); });
    if (op != std::end(kOps)) {
      condition.op = op->second;
      i += op->first.size();
      skip_spaces();
    } else if (at("=") || at("!")) {
      return ParseError("expected an operator (== != >= <= > < ~)", i);
    }

    const size_t value_start = i;
    if (at("\"")) {
      for (++i;; ++i) {
        if (i == text.size()) return ParseError("unterminated quoted value", value_start);
        if (text[i] == '"') break;
        if (text[i] == '\\') {
          if (++i == text.size() || (text[i] != '"' && text[i] != '\\')) {
            return ParseError("expected '\"' or '\\' after '\\'", i);
          }
        }
        condition.value += text[i];
      }
      ++i;
      skip_spaces();
      if (i < text.size() && text[i] != ',') {
        return ParseError("expected ',' after the quoted value", i);
      }
    } else {
      while (i < text.size() && text[i] != ',') ++i;
      size_t end = i;
      while (end > value_start && IsSpace(text[end - 1])) --end;
      condition.value = std::string(text.substr(value_start, end - value_start));
    }
    if (condition.value.empty()) return ParseError("expected a value", value_start);
    if ((condition.op == Op::kGe || condition.op == Op::kLe || condition.op == Op::kGt ||
         condition.op == Op::kLt) &&
        !ParseDecimal(condition.value)) {
      return ParseError("expected a decimal number", value_start);
    }

    const auto group = std::find_if(
        filter.groups_.begin(), filter.groups_.end(),
        [&](const KeyGroup& g) { return g.key == key || TagOfKey(g.key) == TagOfKey(key); });
    if (group == filter.groups_.end()) {
      filter.groups_.push_back({std::string(key), {std::move(condition)}});
    } else {
      group->conditions.push_back(std::move(condition));
    }
    if (i == text.size()) return filter;
    ++i;  // the ','
  }
}

std::string_view TagOfKey(std::string_view key) {
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"campaign_id", "system_campaign_id"},
      {"publisher_id", "system_publisher_id"},
      {"buyer_id", "system_buyer_id"},
      {"number_id", "system_number_id"}};
  for (const auto& [alias, tag] : kAliases) {
    if (key == alias) return tag;
  }
  return key;
}

bool TagFilter::Test(const Condition& condition, const std::vector<std::string>* values) {
  if (condition.op == Op::kNe) {
    return values == nullptr ||
           std::find(values->begin(), values->end(), condition.value) == values->end();
  }
  if (values == nullptr) return false;
  const std::optional<Decimal> threshold = ParseDecimal(condition.value);
  return std::any_of(values->begin(), values->end(), [&](const std::string& v) {
    if (condition.op == Op::kEq) return v == condition.value;
    if (condition.op == Op::kContains) return ContainsIgnoringCase(v, condition.value);
    const std::optional<Decimal> number = ParseDecimal(v);
    if (!number || !threshold) return false;
    const int c = Compare(*number, *threshold);
    switch (condition.op) {
      case Op::kGe:
        return c >= 0;
      case Op::kLe:
        return c <= 0;
      case Op::kGt:
        return c > 0;
      default:
        return c < 0;  // Op::kLt
    }
  });
}

bool TagFilter::Matches(const TagLookup& lookup) const {
  return std::all_of(groups_.begin(), groups_.end(), [&](const KeyGroup& group) {
    const std::vector<std::string>* values = lookup(group.key);
    return std::any_of(group.conditions.begin(), group.conditions.end(),
                       [&](const Condition& c) { return Test(c, values); });
  });
}

std::vector<std::string> TagFilter::Keys() const {
  std::vector<std::string> keys;
  for (const KeyGroup& group : groups_) keys.push_back(group.key);
  return keys;
}

std::string TagFilter::Canonical() const {
  static constexpr std::string_view kNames[] = {"==", "!=", ">=", "<=", ">", "<", "~"};
  std::string out;
  for (const KeyGroup& group : groups_) {
    for (const Condition& c : group.conditions) {
      if (!out.empty()) out += ", ";
      out += group.key + ":" + std::string(kNames[static_cast<int>(c.op)]);
      if (CanStayRaw(c.value)) {
        out += c.value;
        continue;
      }
      out += '"';
      for (char ch : c.value) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
      }
      out += '"';
    }
  }
  return out;
}

}  // namespace core
