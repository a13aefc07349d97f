#include "config/field_reader.h"

#include "core/ids.h"

namespace config {

FieldReader::FieldReader(const boost::json::object& object, std::string prefix, Nulls nulls)
    : object_(object), prefix_(std::move(prefix)), nulls_(nulls) {}

const boost::json::value* FieldReader::Raw(std::string_view name) {
  seen_.emplace(name);
  return object_.if_contains(name);
}

const boost::json::value* FieldReader::NonNull(std::string_view name) {
  const auto* v = Raw(name);
  if (v == nullptr || !v->is_null()) return v;
  if (nulls_ == Nulls::kRefused) Fail(name, "must not be null");
  return nullptr;
}

void FieldReader::Ignore(std::string_view name) { seen_.emplace(name); }

void FieldReader::Fail(std::string_view name, std::string message) {
  if (!error_) error_ = core::InvalidArgument(FieldName(name) + ": " + message, FieldName(name));
}

void FieldReader::String(std::string_view name, std::string& out, bool required, size_t max_len,
                         bool non_empty) {
  const auto* v = NonNull(name);
  if (v == nullptr) {
    if (required) Fail(name, "is required");
    return;
  }
  if (!v->is_string()) return Fail(name, "must be a string");
  const auto& s = v->get_string();
  if (s.size() > max_len) {
    return Fail(name, "must be at most " + std::to_string(max_len) + " bytes");
  }
  if (!core::IsValidUtf8(s)) return Fail(name, "must be valid UTF-8");
  // Text is passed to PostgreSQL as C strings: a NUL would end it early.
  if (std::string_view(s).find('\0') != std::string_view::npos) {
    return Fail(name, "must not contain a NUL byte");
  }
  if ((required || non_empty) && s.empty()) return Fail(name, "must not be empty");
  out.assign(s.data(), s.size());
}

void FieldReader::Int(std::string_view name, int64_t& out, bool required, int64_t min,
                      int64_t max) {
  if (NonNull(name) == nullptr) {
    if (required) Fail(name, "is required");
    return;
  }
  std::optional<int64_t> v;
  OptionalInt(name, v, min, max);
  if (v) out = *v;
}

void FieldReader::OptionalInt(std::string_view name, std::optional<int64_t>& out, int64_t min,
                              int64_t max) {
  const auto* v = Raw(name);
  if (v == nullptr || v->is_null()) {
    if (v != nullptr) out.reset();
    return;
  }
  int64_t n;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v->get_uint64());
  } else {
    return Fail(name, "must be an integer");
  }
  if (n < min || n > max) {
    return Fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = n;
}

void FieldReader::Bool(std::string_view name, bool& out) {
  const auto* v = NonNull(name);
  if (v == nullptr) return;
  if (!v->is_bool()) return Fail(name, "must be true or false");
  out = v->get_bool();
}

core::Result<void> FieldReader::Finish() {
  if (error_) return *error_;
  for (const auto& kv : object_) {
    if (!seen_.contains(std::string_view(kv.key()))) {
      // An empty name is shown as "" so the error still names the field.
      std::string field =
          FieldName(kv.key().empty() ? std::string_view("\"\"") : std::string_view(kv.key()));
      return core::InvalidArgument(field + ": unknown field", field);
    }
  }
  return {};
}

}  // namespace config
