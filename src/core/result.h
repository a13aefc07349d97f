// Result<T>: a value or an Error, with the member names of std::expected so a later switch to
// C++23 is mechanical. The one error type of the project: every layer returns it, and the HTTP
// layer turns it into a status code in exactly one function (http/errors.h).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace core {

// What went wrong, in the vocabulary of the API's error codes.
enum class ErrorCode {
  kInvalidArgument,   // 400
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kConflict,          // 409
  kGone,              // 410
  kTooLarge,          // 413
  kUnprocessable,     // 422
  kHeadersTooLarge,   // 431
  kRateLimited,       // 429
  kInternal,          // 500
  kUnavailable,       // 503
};

// An error with a human sentence and, for bad input, the field it is about.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // empty when the error is not about one field
};

inline Error MakeError(ErrorCode code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), std::move(field)};
}
inline Error InvalidArgument(std::string message, std::string field = {}) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message), std::move(field));
}
inline Error NotFound(std::string message) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}
inline Error Internal(std::string message) {
  return MakeError(ErrorCode::kInternal, std::move(message));
}

// Wraps an Error so that it converts to any Result<T> (like std::unexpected).
class Unexpected {
 public:
  explicit Unexpected(Error error) : error_(std::move(error)) {}
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}               // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT
  Result(Error e) : error_(std::move(e)), ok_(false) {}               // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace core
