#include "http/errors.h"

#include <boost/json.hpp>

namespace http {

int StatusOf(core::ErrorCode code) {
  using core::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kGone:
      return 410;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

const char* CodeName(core::ErrorCode code) {
  using core::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kGone:
      return "gone";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kUnprocessable:
      return "unprocessable";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "internal";
}

Response ErrorResponse(const core::Error& error) {
  boost::json::object e{{"code", CodeName(error.code)}, {"message", error.message}};
  if (!error.field.empty()) e["field"] = error.field;
  Response r = JsonResponse(StatusOf(error.code), boost::json::object{{"error", std::move(e)}});
  if (error.code == core::ErrorCode::kUnavailable || error.code == core::ErrorCode::kRateLimited) {
    r.headers.push_back({"Retry-After", "1"});
  }
  return r;
}

Response JsonResponse(int status, const boost::json::value& body) {
  return JsonTextResponse(status, boost::json::serialize(body));
}

Response JsonTextResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace http
