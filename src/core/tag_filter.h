// TagFilter: the compiled "matches" filter of a route, e.g. "system_buyer_id:==42,
// publisher_id:7", tested against the tags of a call.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace core {

// The tag a filter's key means: the four id keys campaign_id, publisher_id, buyer_id and
// number_id are aliases of the system tags (system_campaign_id, …), so that a tag posted under
// such a name cannot steer a filter; any other key means the tag of its own name.
std::string_view TagOfKey(std::string_view key);  // a view of `key`, or of a constant

// The values of one tag of a call, or nullptr when the call has no such tag.
using TagLookup = std::function<const std::vector<std::string>*(std::string_view key)>;

// A list of conditions "key:op value". Conditions on the same tag are OR-ed (an alias and its
// system tag are one tag, TagOfKey), conditions on different tags are AND-ed; no condition
// matches every call. The default value is empty.
class TagFilter {
 public:
  TagFilter() = default;

  // Parses a comma-separated list of conditions; ASCII whitespace around tokens is ignored and
  // blank text is the empty filter. A condition is a key of [A-Za-z0-9_.-]+, ':', an optional
  // operator (== when absent, !=, >=, <=, >, <, ~) and a value: a double-quoted string (escapes
  // \" and \\ only; may hold commas and whitespace) or the raw text up to the next comma,
  // trimmed. A lone '=' or '!' is refused rather than read as the start of a raw value (quote
  // such values). The value must not be empty; for > >= < <= it must be a decimal number
  // (optional '-', digits, optional '.' and digits). Errors are kInvalidArgument with an empty
  // field and a message naming the 1-based byte position, e.g. "matches: expected ':' after
  // the tag key at position 8".
  static Result<TagFilter> Parse(std::string_view text);

  // Whether a call with these tags passes; lookup is called at most once per distinct key.
  // Against the values of the key: == is true when one value equals the text exactly
  // (bytewise: "42" does not equal "42.0"); != when none does, including when the key is
  // absent; > >= < <= when one value is a decimal number (same syntax as above, no spaces)
  // that compares true, exactly (digit by digit, no rounding); ~ when one value contains the
  // text, ignoring ASCII case. Any other operator is false for an absent key.
  bool Matches(const TagLookup& lookup) const;

  // The text given to Parse, unchanged.
  const std::string& text() const { return text_; }

  // True when the filter has no condition (it matches every call).
  bool empty() const { return groups_.empty(); }

  // The distinct keys, in order of first appearance (an alias and its system tag count once,
  // as first written).
  std::vector<std::string> Keys() const;

  // A normalized text: conditions grouped by key (keys in order of first appearance), each
  // with an explicit operator, joined by ", ", e.g. "system_buyer_id:==42, publisher_id:==7".
  // Values are quoted only when needed. Parse(Canonical()) gives an equal filter.
  std::string Canonical() const;

  // Equal when the conditions are (text() is ignored).
  friend bool operator==(const TagFilter& a, const TagFilter& b) { return a.groups_ == b.groups_; }

 private:
  enum class Op { kEq, kNe, kGe, kLe, kGt, kLt, kContains };
  struct Condition {
    Op op;
    std::string value;
    bool operator==(const Condition&) const = default;
  };
  struct KeyGroup {  // the OR-ed conditions on one key
    std::string key;
    std::vector<Condition> conditions;
    bool operator==(const KeyGroup&) const = default;
  };

  static bool Test(const Condition& condition, const std::vector<std::string>* values);

  std::string text_;
  std::vector<KeyGroup> groups_;
};

}  // namespace core
