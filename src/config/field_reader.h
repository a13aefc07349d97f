// Reads the fields of one JSON object with validation, remembering the first error (named by
// its field path, e.g. "buyers[0].weight") and refusing fields nobody asked for. Keeps the
// decoders linear: read every field, then ask Finish() for the verdict.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <set>
#include <string>

#include "core/result.h"

namespace config {

class FieldReader {
 public:
  // What `null` on a field that cannot be null means.
  enum class Nulls {
    kAbsent,   // the field is absent (edge bodies; stored rows, which must always load)
    kRefused,  // an error, "name: must not be null" (operator configuration)
  };

  // `prefix` is prepended to field names in errors ("buyers[0].").
  explicit FieldReader(const boost::json::object& object, std::string prefix = {},
                       Nulls nulls = Nulls::kAbsent);

  // Each reader leaves `out` unchanged when the field is absent; `required` makes absence an
  // error. Null is read as `nulls` says, except by OptionalInt and Raw (fields that may be
  // null).
  // An empty string is refused when `required` (create) or `non_empty` (names on update).
  void String(std::string_view name, std::string& out, bool required, size_t max_len = 255,
              bool non_empty = false);
  void Int(std::string_view name, int64_t& out, bool required, int64_t min, int64_t max);
  // A field that may be null: null resets `out`.
  void OptionalInt(std::string_view name, std::optional<int64_t>& out, int64_t min, int64_t max);
  void Bool(std::string_view name, bool& out);
  // The raw value of a nested field that may be null, or nullptr when absent; the caller
  // validates it.
  const boost::json::value* Raw(std::string_view name);
  // The raw value of a nested field that cannot be null, or nullptr when absent or null (null
  // read as `nulls` says); the caller validates it.
  const boost::json::value* NonNull(std::string_view name);
  // Accepts and ignores a field (read-only fields echoed back by clients).
  void Ignore(std::string_view name);

  // Records an error about `name` unless one is already recorded.
  void Fail(std::string_view name, std::string message);
  std::string FieldName(std::string_view name) const { return prefix_ + std::string(name); }
  bool ok() const { return !error_; }
  // For the readers of nested objects, which read null as this one does.
  Nulls nulls() const { return nulls_; }

  // The first error, or an error for the first unknown field, or success.
  core::Result<void> Finish();

 private:
  const boost::json::object& object_;
  std::string prefix_;
  Nulls nulls_;
  std::set<std::string, std::less<>> seen_;
  std::optional<core::Error> error_;
};

}  // namespace config
