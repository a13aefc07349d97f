// An HTTP/1.1 server that hands each request to one Handler as plain http::Request values.
//
// The networking (Boost.Asio and Boost.Beast) lives entirely in server.cc; this header and the
// handlers see only message.h. Typical use:
//
//   http::Server server(options, [](http::Request req, http::Responder respond) {
//     respond(http::Response{.status = 200, .body = "{}"});
//   });
//   core::Result<uint16_t> port = server.Start();
//   if (!port) { ... port.error().message ... }
//   ...
//   server.Stop();  // or let the destructor do it
//
// What the server does on its own, without calling the handler:
//   - request body larger than max_body_bytes        -> 413 {"error":{"code":"too_large",...}}
//   - request line + headers larger than
//     max_header_bytes (a long URL included)         -> 431
//     {"error":{"code":"headers_too_large",...}}
//   - malformed HTTP                                 -> 400
//   {"error":{"code":"invalid_argument",...}}
//   - a new connection while max_connections are
//     open                                           -> 503 {"error":{"code":"unavailable",...}}
//     with Retry-After: 1, sent at once (the request is not read); past twice the limit new
//     connections are closed without an answer
//   - a handler that throws, or that drops its
//     Responder without calling it                   -> 500 {"error":{"code":"internal",...}}
//   - a request not fully received within read_timeout, or a keep-alive connection idle for
//     idle_timeout: the connection is closed without a response.
// Error answers always carry "Connection: close", and the connection is closed after them.
//
// Every response carries "Server: callpost", "Date", "Content-Length" and "X-Request-Id" (the
// request's request_id). Content-Type is sent unless Response::content_type is empty. Headers
// named Content-Length, Transfer-Encoding or Connection in Response::headers are not sent (the
// server frames the message itself), but "Connection: close" there makes the server close the
// connection after the response. Responses to HEAD requests, and responses with head_only, carry
// the Content-Length of their body but no body; 204 and 304 responses carry neither. A status
// outside 100–999 is sent as 500.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/message.h"

namespace http {

struct ServerOptions {
  std::string address = "127.0.0.1";        // IPv4 or IPv6 literal to listen on ("0.0.0.0", "::")
  uint16_t port = 8080;                     // 0 = any free port; Start() returns the one bound
  int threads = 0;                          // I/O threads; 0 = std::thread::hardware_concurrency()
  size_t max_body_bytes = 1 << 20;          // a larger request body is answered with 413
  size_t max_header_bytes = 16 << 10;       // a larger request line + headers is answered with 431
  std::chrono::seconds read_timeout{30};    // to receive one whole request; also to send a response
  std::chrono::seconds idle_timeout{75};    // a keep-alive connection waiting for its next request
  std::chrono::seconds shutdown_grace{10};  // Stop() waits at most this for in-flight requests
  size_t max_connections = 0;               // open connections served at once; 0 = no limit
  // Bodies larger than 64 KiB (small ones never count) that requests announce in their
  // Content-Length, all connections together, from their headers until their answer is sent:
  // the parser makes room for such a body as soon as it reads the headers. A request whose body
  // would pass this is answered 503 unread, so that connections announcing large bodies cannot
  // make the server hold max_body_bytes each. (A chunked body grows only as it arrives.)
  // 0 = no limit.
  size_t max_large_bodies_bytes = 256 << 20;
};

// Serves HTTP/1.1 (and 1.0) with keep-alive on `threads` I/O threads.
//
// Handler contract: the handler is called on an I/O thread, once per request, and must not block
// for long (hand slow work to another thread). It must call the Responder exactly once, from any
// thread, before or after returning; extra calls are ignored, and a Responder called after its
// connection closed or after the Server was destroyed does nothing (it is always safe to call or
// destroy). The handler may be called concurrently for requests on different connections;
// requests on one connection are handled one after the other.
//
// Thread-safety: Start() must be called once, before any Stop(). Stop() and port() are
// thread-safe. Neither Stop() nor the destructor may be called from the handler or from an I/O
// thread (they join the I/O threads).
// "address:port", an IPv6 address in brackets ("[::1]:8080").
std::string HostPort(std::string_view address, uint16_t port);

class Server {
 public:
  // `handler` must be callable and is kept until the Server is destroyed.
  Server(ServerOptions options, Handler handler);
  ~Server();  // calls Stop()

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on options.address:options.port, starts the I/O threads and returns the
  // bound port. On failure returns ErrorCode::kUnavailable (kInvalidArgument for an address that
  // is not an IP literal) with a message naming address:port and the OS reason; the Server then
  // holds no socket or thread. Calling Start() a second time, or after Stop(), is an error.
  core::Result<uint16_t> Start();
  // Whether Start() could listen on `address`:`port` now, with Start()'s errors, by binding a
  // socket there and closing it (what holds the address may change before Start()).
  static core::Result<void> CheckAddress(const std::string& address, uint16_t port);

  // Graceful shutdown: stops accepting at once, closes idle keep-alive connections, lets the
  // requests in flight finish and their responses be written (with "Connection: close"), and
  // after shutdown_grace closes whatever is left. Then joins the I/O threads. Returns when all of
  // that is done. Idempotent; a no-op before Start().
  void Stop();

  // The bound port after a successful Start(), else 0.
  uint16_t port() const;
  // Connections refused at max_connections since Start() (answered 503 or closed unanswered):
  // the handler never sees them.
  uint64_t refused_connections() const;
  // Requests answered 503 unread at max_large_bodies_bytes since Start().
  uint64_t refused_bodies() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace http
