// Turning results into HTTP responses: the one place where an Error becomes a status code.
#pragma once

#include <boost/json/value.hpp>

#include "core/result.h"
#include "http/message.h"

namespace http {

int StatusOf(core::ErrorCode code);
// "invalid_argument", "not_found", ... (the API's error codes).
const char* CodeName(core::ErrorCode code);

// {"error":{"code","message","field"?}} with the error's status.
Response ErrorResponse(const core::Error& error);
Response JsonResponse(int status, const boost::json::value& body);
// `body`: JSON text already written.
Response JsonTextResponse(int status, std::string body);

}  // namespace http
