// Plain HTTP request and response values that the handlers work with. They carry no Beast or
// Asio types, so handler code compiles without the heavy networking headers; only server.cc
// converts between these and Beast's messages.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace http {

struct Header {
  std::string name;  // as received; compare case-insensitively
  std::string value;
};

struct Request {
  std::string method;  // upper case: GET, POST, ...
  std::string target;  // path and query exactly as received (still percent-encoded)
  std::vector<Header> headers;
  std::string body;
  std::string remote_address;  // peer IP, for logs and rate limits
  std::string request_id;      // set by the server: X-Request-Id if sent and sane, else generated
  // Set by the server: runs work later on the I/O thread serving this request. A handler that
  // finishes on another thread (the store's writer) hands the building of its response back
  // with it, so that thread does only its own work. Empty: there is no such thread (tests).
  std::function<void(std::function<void()>)> post;

  // The first header with this name (case-insensitive), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;  // extra headers (Retry-After, Location, ...)
  std::string body;
  bool head_only = false;  // HEAD: send status and headers, no body
};

// Completes one request. May be called from any thread, exactly once.
using Responder = std::function<void(Response)>;

// Handles one request. Must eventually call the responder exactly once; may do so after
// returning (asynchronous handlers hand it to the store, which answers from a thread of its own).
using Handler = std::function<void(Request, Responder)>;

}  // namespace http
