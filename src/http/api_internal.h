// Shared by the API's source files: the request context and small helpers.
#pragma once

#include <boost/json.hpp>
#include <chrono>

#include "core/result.h"
#include "http/api.h"
#include "http/errors.h"
#include "http/params.h"

namespace http {

struct Api::Ctx {
  Request request;
  Responder respond;
  Metrics* metrics = nullptr;
  std::string route = "unmatched";  // the route pattern, for logs and metrics
  std::string path;                 // decoded path (no query: keys never reach a log)
  std::vector<std::string> segments;
  std::string_view query;
  config::Id account_id = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  void Reply(Response response);
  void Fail(const core::Error& error) { Reply(ErrorResponse(error)); }
  void Json(int status, const boost::json::value& body) { Reply(JsonResponse(status, body)); }
  // `body`: JSON text already written.
  void JsonBody(int status, std::string body) { Reply(JsonTextResponse(status, std::move(body))); }
  // Wraps the completion of a service call, which the store calls on a thread of its own, so
  // that it runs on the request's I/O thread: building the answer and its log line is the
  // request's work, and the store's threads are the ones every write waits for.
  template <typename T>
  std::function<void(T)> OnConnection(std::function<void(T)> done) const {
    if (!request.post) return done;
    return [post = request.post, done = std::move(done)](T value) mutable {
      post(
          [done = std::move(done), value = std::move(value)]() mutable { done(std::move(value)); });
    };
  }
  // The query string's parameters, or a 400 (and false).
  bool Query(engine::Params& out);
};

// The `limit` and `cursor` of a list request, validated.
struct PageRequest {
  int limit = 50;
  config::Id after_id = 0;
};
// Drops every parameter of a list's query left empty (`?status=&limit=`, as a filled-in
// template sends them: an empty filter is no filter), then refuses any other than `limit` and
// `cursor` (when `paged`) and `filters`, which the caller reads: "foo: unknown filter".
core::Result<void> CheckListQuery(engine::Params& query,
                                  std::initializer_list<std::string_view> filters,
                                  bool paged = true);
// CheckListQuery, then reads `limit` and `cursor`.
core::Result<PageRequest> ReadPage(engine::Params& query,
                                   std::initializer_list<std::string_view> filters = {});

// Parses a positive integer id from a path segment.
std::optional<config::Id> ParseId(std::string_view text);

}  // namespace http
