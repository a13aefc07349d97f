// JSON text written straight into a string, member by member: the server's answers about calls
// and postbacks, the access-log line of every request, its own error bodies and a postback's
// logged parameters. Building a boost::json object first (each member checked against the others
// for a duplicate key) and then serializing it cost a twentieth of the server's CPU in the call
// lifecycle. The writer puts the commas and escapes the strings (as AppendJsonEscaped does:
// invalid UTF-8 becomes U+FFFD); the caller opens and closes what it begins, and writes each key
// of an object once.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_template.h"  // AppendJsonEscaped

namespace core {

class JsonText {
 public:
  explicit JsonText(std::string& out) : out_(out) {}

  JsonText& BeginObject() { return Open('{'); }
  JsonText& EndObject() { return Close('}'); }
  JsonText& BeginArray() { return Open('['); }
  JsonText& EndArray() { return Close(']'); }

  // An object's member name; its value comes next.
  JsonText& Key(std::string_view name) {
    Separate();
    Quoted(name);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  // A member name written in the source (a string literal: chosen over the overload above), so
  // plain ASCII with nothing to escape: appended as it is.
  template <size_t N>
  JsonText& Key(const char (&name)[N]) {
    static_assert(N > 1, "a member name");
    Separate();
    out_ += '"';
    out_.append(name, N - 1);
    out_ += "\":";
    after_key_ = true;
    return *this;
  }

  JsonText& String(std::string_view value) {
    Separate();
    Quoted(value);
    return *this;
  }
  JsonText& Int(int64_t value) {
    Separate();
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, end);
    return *this;
  }
  JsonText& Bool(bool value) {
    Separate();
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonText& Null() {
    Separate();
    out_ += "null";
    return *this;
  }
  // Text that is already one JSON value.
  JsonText& Raw(std::string_view json) {
    Separate();
    out_ += json;
    return *this;
  }
  JsonText& OptionalInt(const std::optional<int64_t>& value) {
    return value ? Int(*value) : Null();
  }

 private:
  JsonText& Open(char bracket) {
    Separate();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonText& Close(char bracket) {
    out_ += bracket;
    first_ = false;  // the value just closed precedes any next one
    return *this;
  }
  // A comma before every value of an object or array but its first; none after a key.
  void Separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  void Quoted(std::string_view text) {
    out_ += '"';
    AppendJsonEscaped(text, out_);
    out_ += '"';
  }

  std::string& out_;
  bool first_ = true;
  bool after_key_ = false;
};

// Writes one member of an object for each distinct key of `items`, in the order the keys first
// appear (a JSON object holds each key once; tags and parameters may repeat one):
// write(j, each) writes the member's value, where each(fn) calls fn(item) for the items with
// that key, in order.
template <typename Item, typename KeyOf, typename Write>
void WriteGroupedByKey(JsonText& j, const std::vector<Item>& items, KeyOf key_of, Write write) {
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& key = key_of(items[i]);
    bool seen = false;
    for (size_t k = 0; k < i && !seen; ++k) seen = key_of(items[k]) == key;
    if (seen) continue;
    write(j.Key(key), [&](auto fn) {
      for (size_t k = i; k < items.size(); ++k) {
        if (key_of(items[k]) == key) fn(items[k]);
      }
    });
  }
}

}  // namespace core
