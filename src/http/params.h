// Request inputs: query strings and form bodies (percent-decoded with Boost.URL), flat JSON
// postback bodies, and operator JSON bodies. Each refuses malformed input with an error that
// names the problem: bad percent-encoding, invalid UTF-8, nested JSON, not an object.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "core/result.h"
#include "engine/call.h"
#include "http/message.h"

namespace http {

// Splits a target into its path and raw query (without the '?').
struct Target {
  std::string_view path;
  std::string_view query;
};
Target SplitTarget(std::string_view target);

// Percent-decodes a path segment; error on bad encoding or invalid UTF-8.
core::Result<std::string> DecodeSegment(std::string_view segment);

// key=value pairs of a query string or an application/x-www-form-urlencoded body, in order,
// '+' as space. A bare key ("&sale") is a pair with an empty value.
core::Result<engine::Params> ParseForm(std::string_view text);

// A flat JSON object as pairs: strings, numbers and booleans as text; an array of those as
// several pairs; null skipped. Nested objects are refused.
core::Result<engine::Params> ParseFlatJson(std::string_view body);

// The body of an operator or edge request: a JSON object (empty body = {}).
core::Result<boost::json::object> ParseJsonObject(std::string_view body);

// The parameters of a buyer postback or a data writing request: the query's pairs followed by
// a POST body's (flat JSON when the media type is application/json, else a form), or why not.
core::Result<engine::Params> RequestParams(const Request& request, std::string_view query);

// The first value of `name` among the pairs, if any.
const std::string* FindParam(const engine::Params& params, std::string_view name);

// The body's media type in lower case without parameters ("application/json").
std::string MediaType(const Request& request);

}  // namespace http
