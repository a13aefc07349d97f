// The HTTP server: Asio coroutines for the I/O, Beast's parser for requests, a hand-written
// serializer for responses (one reused string per connection, no per-response allocation).
//
// Structure:
//   ServerCore   owns one io_context per I/O thread, the acceptor and the set of live
//                connections; runs the accept loop, which hands connections to the threads in
//                turn; implements Start() and Stop().
//   Connection   one accepted socket on one thread's io_context (no strand: only
//                that thread runs its handlers); one coroutine serves its requests one
//                after the other. A "watchdog" timer closes the socket when the current deadline
//                (idle, read or write) passes.
//   PendingResponse  what a Responder holds: it carries the response back to the connection's
//                thread from whatever thread calls it, exactly once, and answers 500 if the
//                handler drops the Responder without calling it.
//
// Lifetimes. Asio objects (sockets, timers) must not outlive their io_context, and a
// Responder may be called after the Server is gone, so each io_context is held by a shared_ptr
// and every PendingResponse holds its connection's: posting to a stopped io_context is harmless
// (the handler is destroyed, never run, when the io_context is). Connections hold a raw pointer to
// ServerCore, used only inside their coroutine, and Stop() ends every coroutine before ServerCore
// dies.
#include "http/server.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iterator>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/json_text.h"

namespace http {

std::string HostPort(std::string_view address, uint16_t port) {
  std::string s;
  if (address.find(':') != std::string_view::npos) {
    s += '[';
    s += address;
    s += ']';
  } else {
    s += address;
  }
  s += ':';
  s += std::to_string(port);
  return s;
}

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using RequestParser = bhttp::request_parser<bhttp::string_body>;

// Completion token for co_await that yields (error_code, results...) instead of throwing.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// How long, after an error response, we keep reading (and discarding) what the client still
// sends before closing, so that the close does not reset the connection before the client has
// read the response.
constexpr std::chrono::seconds kLingerTime{2};

// Timeouts beyond this are treated as "a year", to keep deadline arithmetic from overflowing.
constexpr std::chrono::seconds kMaxTimeout{365 * 24 * 3600};

std::chrono::seconds ClampTimeout(std::chrono::seconds s) {
  return std::clamp(s, std::chrono::seconds(0), kMaxTimeout);
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// The project's error body: {"error":{"code":"…","message":"…"}}.
std::string ErrorBody(std::string_view code, std::string_view message) {
  std::string body;
  core::JsonText j(body);
  j.BeginObject().Key("error").BeginObject();
  j.Key("code").String(code).Key("message").String(message);
  j.EndObject().EndObject();
  return body;
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = ErrorBody(code, message);
  return r;
}

Response InternalErrorResponse() { return ErrorResponse(500, "internal", "internal error"); }

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted at most once
// per second per thread.
std::string_view HttpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char buf[32];
  thread_local size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm t{};
    gmtime_r(&now, &t);
    int n = std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday],
                          t.tm_mday, kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min,
                          t.tm_sec);
    len = n > 0 ? std::min(static_cast<size_t>(n), sizeof(buf) - 1) : 0;
    cached_second = now;
  }
  return {buf, len};
}

// True if `id` is 1–64 characters of [A-Za-z0-9._-].
bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// 16 random lower-case hex characters (splitmix64 over a per-thread random seed).
std::string NewRequestId() {
  thread_local uint64_t state = (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                std::random_device{}() ^
                                static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, z >>= 4) id[i] = kHex[z & 0xf];
  return id;
}

std::string RequestIdFrom(std::string_view header) {
  return IsValidRequestId(header) ? std::string(header) : NewRequestId();
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A header value that cannot break the message: no CR, LF or NUL.
bool IsSafeHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// A header the handler may send: a token name and a safe value.
bool IsSendableHeader(const Header& h) {
  if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), IsTokenChar)) return false;
  return IsSafeHeaderValue(h.value);
}

bool IEquals(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

// Headers the server writes itself; the handler's copies are not sent.
bool IsFramingHeader(std::string_view name) {
  return IEquals(name, "Content-Length") || IEquals(name, "Transfer-Encoding") ||
         IEquals(name, "Connection");
}

std::string AddressToString(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// The address to listen on, or why it cannot be: not an IP literal, or (opening `acceptor` on
// it, with address reuse, so that a restart need not wait for the old connections' TIME_WAIT)
// taken or not ours.
core::Result<tcp::endpoint> BindAcceptor(Acceptor& acceptor, const std::string& host,
                                         uint16_t port) {
  const std::string where = HostPort(host, port);
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec)
    return core::InvalidArgument("cannot listen on " + where + ": not an IP address", "address");
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "cannot listen on " + where + ": " + ec.message());
  }
  return endpoint;
}

class ServerCore;

// One accepted connection. All members are used only on the connection's I/O thread, except
// executor(), which is immutable.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore* server, size_t io_index, Socket socket);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const Executor& executor() const { return executor_; }

  // Serves requests until the connection closes, then unregisters it. Takes a shared_ptr so the
  // connection lives as long as the coroutine does.
  static asio::awaitable<void> Run(std::shared_ptr<Connection> self);

  // Server shutdown, first step: closes the connection if it is waiting for a request (or
  // lingering after an error). A connection busy with a request finishes it, then closes.
  void BeginShutdown();

  // Server shutdown, last step: closes the connection whatever it is doing.
  void Abort();

  // Delivers the response for request number `generation`. Ignored if that request is no longer
  // current or already has its response.
  void Complete(uint64_t generation, Response response);

  // Where this connection sits in ServerCore's list; guarded by the ServerCore's mutex.
  std::list<std::weak_ptr<Connection>>::iterator registration;
  // Set before Run(): the server was at max_connections; answer 503 and close.
  bool over_limit = false;

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosing };

  asio::awaitable<void> Serve();

  // Reads one request into parser_. Returns false, having answered or not as the error calls
  // for, if the connection must close.
  asio::awaitable<bool> ReadRequest();

  // Reads the request line and headers into parser_. Beast's own header_limit bounds only the
  // part not yet parsed (it forgets what an earlier read completed), so the total is counted
  // here.
  asio::awaitable<error_code> ReadHeader();

  // Hands the parsed request to the handler; sets response_ unless it answers asynchronously.
  void Dispatch(Request request);

  // Writes response_ and returns false if the connection must close.
  asio::awaitable<bool> WriteResponse(std::string_view request_id, bool head_request,
                                      bool keep_alive, unsigned version);

  // Answers with a JSON error and "Connection: close", then lingers briefly.
  asio::awaitable<void> SendErrorAndLinger(int status, std::string_view code,
                                           std::string_view message);

  // Serializes the status line and headers of `r` into head_. Returns whether the body is sent.
  bool BuildHead(const Response& r, std::string_view request_id, bool head_request, bool close,
                 bool keep_alive_1_0);

  void SetDeadline(std::chrono::seconds timeout);
  void SetDeadline(Clock::time_point deadline);
  void ArmWatchdog();
  void OnWatchdog();
  void CloseNow();
  // Gives back the room the last request's large body took (max_large_bodies_bytes).
  void GiveBodyRoom();

  ServerCore* const server_;
  const size_t io_index_;  // which of the server's io_contexts runs this connection
  const Executor executor_;
  Socket socket_;
  Timer watchdog_;  // fires at min(deadline_, now + check_period_)
  Timer signal_;    // never expires; cancelled to wake the coroutine when a response arrives
  const Clock::duration check_period_;
  Clock::time_point deadline_ = Clock::time_point::max();

  boost::beast::flat_buffer buffer_;  // bytes read but not yet parsed; reused for every request
  std::optional<RequestParser> parser_;
  std::string remote_address_;
  std::string request_id_;  // of the current request; reused
  std::string head_;        // serialized status line and headers; reused

  Phase phase_ = Phase::kIdle;
  bool closed_ = false;
  uint64_t generation_ = 0;  // number of the current request
  bool waiting_for_response_ = false;
  std::optional<Response> response_;
  size_t body_room_ = 0;  // taken for the current request's large body
};

// The state behind one Responder.
class PendingResponse {
 public:
  PendingResponse(std::shared_ptr<asio::io_context> io, std::shared_ptr<Connection> connection,
                  uint64_t generation)
      : io_(std::move(io)), connection_(std::move(connection)), generation_(generation) {}

  PendingResponse(const PendingResponse&) = delete;
  PendingResponse& operator=(const PendingResponse&) = delete;

  // The handler dropped every copy of its Responder without calling it.
  ~PendingResponse() {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    try {
      Deliver(InternalErrorResponse());
    } catch (...) {
      // Out of memory while posting; the connection waits for Stop() or the client to go away.
    }
  }

  void Respond(Response response) {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;  // only the first call counts
    Deliver(std::move(response));
  }

 private:
  void Deliver(Response response) {
    if (connection_->executor().running_in_this_thread()) {
      connection_->Complete(generation_, std::move(response));  // synchronous answer: no hop
      return;
    }
    asio::post(connection_->executor(), [connection = connection_, generation = generation_,
                                         response = std::move(response)]() mutable {
      connection->Complete(generation, std::move(response));
    });
  }

  // Declared first so it is destroyed last: the connection's sockets and timers must die before
  // the io_context does.
  const std::shared_ptr<asio::io_context> io_;
  const std::shared_ptr<Connection> connection_;
  const uint64_t generation_;
  std::atomic<bool> answered_{false};
};

class ServerCore {
 public:
  ServerCore(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    options_.read_timeout = ClampTimeout(options_.read_timeout);
    options_.idle_timeout = ClampTimeout(options_.idle_timeout);
    options_.shutdown_grace = ClampTimeout(options_.shutdown_grace);
  }

  ~ServerCore() { Stop(); }

  core::Result<uint16_t> Start();
  void Stop();
  uint16_t port() const { return port_.load(std::memory_order_acquire); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  uint64_t refused_bodies() const { return refused_bodies_.load(std::memory_order_relaxed); }

  // Takes room for a large body of `n` bytes (max_large_bodies_bytes), or counts a refusal.
  bool TakeBodyRoom(size_t n) {
    const size_t limit = options_.max_large_bodies_bytes;
    size_t held = large_bodies_.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && (n > limit || held > limit - n)) {
        refused_bodies_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!large_bodies_.compare_exchange_weak(held, held + n, std::memory_order_relaxed));
    return true;
  }
  void GiveBodyRoom(size_t n) { large_bodies_.fetch_sub(n, std::memory_order_relaxed); }

  // For connections.
  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  const std::shared_ptr<asio::io_context>& io(size_t index) const { return ios_[index]; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void Unregister(Connection& connection);

 private:
  void StopLocked();  // requires lifecycle_mu_
  asio::awaitable<void> AcceptLoop();
  void StartConnection(size_t io_index, Socket socket);
  std::vector<std::shared_ptr<Connection>> LiveConnections();  // requires mu_
  bool WaitForConnections(Clock::duration timeout);

  ServerOptions options_;
  const Handler handler_;

  // Member order matters: the acceptor and the work guards must be destroyed before ios_.
  std::vector<std::shared_ptr<asio::io_context>> ios_;  // one per I/O thread
  std::optional<Acceptor> acceptor_;                    // on ios_[0]
  std::vector<asio::executor_work_guard<Executor>> work_;
  std::vector<std::thread> threads_;
  size_t next_io_ = 0;  // the io_context of the next accepted connection; accept loop only

  std::atomic<bool> stopping_{false};
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> refused_{0};         // connections refused at max_connections
  std::atomic<size_t> large_bodies_{0};      // room taken by large bodies
  std::atomic<uint64_t> refused_bodies_{0};  // requests refused at max_large_bodies_bytes

  std::mutex lifecycle_mu_;  // serializes Start() and Stop()
  bool started_ = false;     // guarded by lifecycle_mu_
  bool stopped_ = false;     // guarded by lifecycle_mu_

  std::mutex mu_;  // guards connections_; taken once per connection, never per request
  std::condition_variable connections_empty_;
  std::list<std::weak_ptr<Connection>> connections_;
};

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(ServerCore* server, size_t io_index, Socket socket)
    : server_(server),
      io_index_(io_index),
      executor_(socket.get_executor()),
      socket_(std::move(socket)),
      watchdog_(executor_),
      signal_(executor_, Clock::time_point::max()),
      check_period_(std::max<Clock::duration>(
          std::chrono::seconds(1),
          std::min(server->options().read_timeout, server->options().idle_timeout))) {
  error_code ec;
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  if (!ec) remote_address_ = AddressToString(peer.address());
}

asio::awaitable<void> Connection::Run(std::shared_ptr<Connection> self) {
  if (!self->closed_) {
    self->ArmWatchdog();
    try {
      if (self->over_limit) {
        co_await self->SendErrorAndLinger(503, "unavailable",
                                          "the server has too many open connections; retry later");
      } else {
        co_await self->Serve();
      }
    } catch (...) {
      // Out of memory or a bug; drop this connection, keep the server.
    }
  }
  if (!self->closed_) {
    error_code ec;
    self->socket_.shutdown(tcp::socket::shutdown_send, ec);
    self->CloseNow();
  }
  self->GiveBodyRoom();
  self->server_->Unregister(*self);
}

asio::awaitable<void> Connection::Serve() {
  const ServerOptions& options = server_->options();
  for (;;) {
    // Wait for the first byte of the next request: the idle (keep-alive) phase.
    if (buffer_.size() == 0) {
      phase_ = Phase::kIdle;
      if (server_->stopping()) co_return;
      if (buffer_.capacity() > (64u << 10)) buffer_.shrink_to_fit();  // after a large body
      SetDeadline(options.idle_timeout);
      // The first bytes are read at once (not waited for, then read: one operation, not two).
      auto [ec, n] = co_await socket_.async_read_some(
          buffer_.prepare(boost::beast::read_size(buffer_, 65536)), kNoThrow);
      if (ec) co_return;  // closed by the peer, the idle timeout or shutdown
      buffer_.commit(n);
    }

    phase_ = Phase::kReading;
    SetDeadline(options.read_timeout);
    if (!co_await ReadRequest()) co_return;

    auto& message = parser_->get();
    Request request;
    std::string_view method = message.method_string();
    request.method.resize(method.size());
    std::transform(method.begin(), method.end(), request.method.begin(),
                   [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
    request.target = message.target();
    request.headers.reserve(std::distance(message.begin(), message.end()));
    for (const auto& field : message) {
      request.headers.push_back(
          Header{std::string(field.name_string()), std::string(field.value())});
    }
    request.body = std::move(message.body());
    request.remote_address = remote_address_;
    request.request_id = RequestIdFrom(message["X-Request-Id"]);
    const bool head_request = message.method() == bhttp::verb::head;
    const bool keep_alive = message.keep_alive();
    const unsigned version = message.version();
    parser_.reset();
    request_id_.assign(request.request_id);  // the handler gets `request`; keep the id

    phase_ = Phase::kHandling;
    SetDeadline(Clock::time_point::max());
    Dispatch(std::move(request));
    if (!response_) {
      waiting_for_response_ = true;
      co_await signal_.async_wait(kNoThrow);  // woken by Complete() or Abort()
      waiting_for_response_ = false;
      if (!response_) co_return;  // aborted
    }

    phase_ = Phase::kWriting;
    SetDeadline(options.read_timeout);
    if (!co_await WriteResponse(request_id_, head_request, keep_alive, version)) co_return;
    GiveBodyRoom();  // the request, its body with it, is answered
  }
}

void Connection::GiveBodyRoom() {
  if (body_room_ == 0) return;
  server_->GiveBodyRoom(body_room_);
  body_room_ = 0;
}

asio::awaitable<bool> Connection::ReadRequest() {
  const ServerOptions& options = server_->options();
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  parser_->body_limit(static_cast<uint64_t>(options.max_body_bytes));

  error_code ec = co_await ReadHeader();
  if (!ec && parser_->get().count(bhttp::field::transfer_encoding) != 0 && !parser_->chunked()) {
    // RFC 9112 6.3: the body's end is unknown. Read as no body (as the parser would), the body
    // would be taken for the next request: a desync behind a proxy that reads it otherwise.
    co_await SendErrorAndLinger(400, "invalid_argument",
                                "malformed HTTP request: Transfer-Encoding must end in chunked");
    co_return false;
  }
  if (!ec && !parser_->is_done()) {
    // The parser makes room for an announced body at once (a chunked one grows as it arrives):
    // a large one must first find room among the others (max_large_bodies_bytes).
    constexpr uint64_t kSmallBody = 64 << 10;
    const uint64_t announced = parser_->content_length().value_or(0);
    if (announced > kSmallBody && announced <= options.max_body_bytes) {
      if (!server_->TakeBodyRoom(static_cast<size_t>(announced))) {
        co_await SendErrorAndLinger(
            503, "unavailable",
            "the server is receiving too many large request bodies; retry later");
        co_return false;
      }
      body_room_ = static_cast<size_t>(announced);
    }
    const auto& message = parser_->get();
    if (message.version() >= 11 && IEquals(message[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      std::tie(ec, std::ignore) =
          co_await asio::async_write(socket_, asio::buffer(kContinue), kNoThrow);
    }
    if (!ec) {
      std::tie(ec, std::ignore) = co_await bhttp::async_read(socket_, buffer_, *parser_, kNoThrow);
    }
  }
  if (!ec) co_return true;

  // Timeouts close the socket (closed_); the peer going away needs no answer either.
  if (closed_ || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec.category() != bhttp::make_error_code(bhttp::error::bad_target).category()) {
    co_return false;
  }
  if (ec == bhttp::error::body_limit) {
    std::string message = "request body is larger than the limit of ";
    AppendNumber(message, options.max_body_bytes);
    message += " bytes";
    co_await SendErrorAndLinger(413, "too_large", message);
  } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    std::string message = "request line and headers are larger than the limit of ";
    AppendNumber(message, options.max_header_bytes);
    message += " bytes";
    co_await SendErrorAndLinger(431, "headers_too_large", message);
  } else {
    std::string message = "malformed HTTP request: ";
    message += ec.message();
    co_await SendErrorAndLinger(400, "invalid_argument", message);
  }
  co_return false;
}

asio::awaitable<error_code> Connection::ReadHeader() {
  const size_t limit = server_->options().max_header_bytes;
  size_t parsed = 0;  // header bytes the parser has consumed so far
  for (;;) {
    if (buffer_.size() > 0) {
      error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);  // stops at the end of the header
      buffer_.consume(used);
      parsed += used;
      if (parser_->is_header_done()) {
        co_return parsed > limit ? error_code(bhttp::error::header_limit) : ec;
      }
      if (ec != bhttp::error::need_more) co_return ec;
      if (parsed + buffer_.size() > limit) co_return bhttp::error::header_limit;
    }
    auto [ec, n] = co_await socket_.async_read_some(
        buffer_.prepare(boost::beast::read_size(buffer_, 65536)), kNoThrow);
    if (ec == asio::error::eof) {
      co_return parser_->got_some() ? bhttp::error::partial_message : bhttp::error::end_of_stream;
    }
    if (ec) co_return ec;
    buffer_.commit(n);
  }
}

void Connection::Dispatch(Request request) {
  ++generation_;
  response_.reset();
  request.post = [io = server_->io(io_index_),
                  connection = shared_from_this()](std::function<void()> f) {
    (void)io;  // held: the io_context outlives the work posted to it
    asio::post(connection->executor(), std::move(f));
  };
  Responder respond = [pending = std::make_shared<PendingResponse>(
                           server_->io(io_index_), shared_from_this(), generation_)](
                          Response response) { pending->Respond(std::move(response)); };
  try {
    server_->handler()(std::move(request), std::move(respond));
  } catch (...) {
    Complete(generation_, InternalErrorResponse());
  }
}

void Connection::Complete(uint64_t generation, Response response) {
  if (generation != generation_ || response_ || phase_ != Phase::kHandling) return;
  response_.emplace(std::move(response));
  if (waiting_for_response_) signal_.cancel();
}

asio::awaitable<bool> Connection::WriteResponse(std::string_view request_id, bool head_request,
                                                bool keep_alive, unsigned version) {
  const Response& r = *response_;
  bool close = !keep_alive || server_->stopping();
  for (const Header& h : r.headers) {
    if (IEquals(h.name, "Connection") && IEquals(h.value, "close")) close = true;
  }
  const bool with_body =
      BuildHead(r, request_id, head_request || r.head_only, close, !close && version < 11);
  std::array<asio::const_buffer, 2> buffers = {
      asio::buffer(head_), with_body ? asio::buffer(r.body) : asio::const_buffer()};
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kNoThrow);
  response_.reset();
  co_return !ec && !close;
}

asio::awaitable<void> Connection::SendErrorAndLinger(int status, std::string_view code,
                                                     std::string_view message) {
  // The header may be incomplete; whatever fields were parsed are in the message.
  std::string request_id = parser_ ? RequestIdFrom(parser_->get()["X-Request-Id"]) : NewRequestId();
  parser_.reset();

  phase_ = Phase::kWriting;
  SetDeadline(server_->options().read_timeout);
  Response r = ErrorResponse(status, code, message);
  if (status == 503) r.headers.push_back({"Retry-After", "1"});
  BuildHead(r, request_id, /*head_request=*/false, /*close=*/true, /*keep_alive_1_0=*/false);
  std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_), asio::buffer(r.body)};
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kNoThrow);
  if (ec) co_return;

  // Lingering close: stop sending, then read and discard what the client still sends (say the
  // rest of a too-large body) until it closes or kLingerTime passes. Closing at once with unread
  // data would make the kernel send a reset, which can destroy the response in flight.
  phase_ = Phase::kClosing;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  SetDeadline(Clock::now() +
              std::min<Clock::duration>(kLingerTime, server_->options().read_timeout));
  buffer_.clear();
  for (;;) {
    auto [read_ec, read] = co_await socket_.async_read_some(buffer_.prepare(4096), kNoThrow);
    if (read_ec) break;
  }
}

bool Connection::BuildHead(const Response& r, std::string_view request_id, bool head_request,
                           bool close, bool keep_alive_1_0) {
  const int status = (r.status >= 100 && r.status <= 999) ? r.status : 500;
  // 1xx, 204 and 304 responses have neither a body nor (here) a Content-Length.
  const bool bodiless_status = status < 200 || status == 204 || status == 304;

  std::string& h = head_;
  h.clear();
  h += "HTTP/1.1 ";
  AppendNumber(h, static_cast<uint64_t>(status));
  h += ' ';
  bhttp::status known = bhttp::int_to_status(static_cast<unsigned>(status));
  h += known == bhttp::status::unknown ? std::string_view("Unknown")
                                       : std::string_view(bhttp::obsolete_reason(known));
  h += "\r\nServer: callpost\r\nDate: ";
  h += HttpDate();
  h += "\r\n";
  if (!r.content_type.empty() && IsSafeHeaderValue(r.content_type)) {
    h += "Content-Type: ";
    h += r.content_type;
    h += "\r\n";
  }
  if (!bodiless_status) {
    h += "Content-Length: ";
    AppendNumber(h, r.body.size());
    h += "\r\n";
  }
  h += "X-Request-Id: ";
  h += request_id;
  h += "\r\n";
  for (const Header& header : r.headers) {
    if (IsFramingHeader(header.name) || !IsSendableHeader(header)) continue;
    h += header.name;
    h += ": ";
    h += header.value;
    h += "\r\n";
  }
  if (close) {
    h += "Connection: close\r\n";
  } else if (keep_alive_1_0) {
    h += "Connection: keep-alive\r\n";
  }
  h += "\r\n";
  return !head_request && !bodiless_status;
}

void Connection::SetDeadline(std::chrono::seconds timeout) { SetDeadline(Clock::now() + timeout); }

void Connection::SetDeadline(Clock::time_point deadline) {
  deadline_ = deadline;
  // The watchdog never sleeps longer than check_period_, which is at most the read and idle
  // timeouts, so only an unusually short deadline (lingering) needs it woken early.
  if (deadline_ < watchdog_.expiry()) watchdog_.cancel();
}

void Connection::ArmWatchdog() {
  watchdog_.expires_at(std::min(deadline_, Clock::now() + check_period_));
  watchdog_.async_wait([self = shared_from_this()](error_code) { self->OnWatchdog(); });
}

void Connection::OnWatchdog() {
  if (closed_) return;
  if (Clock::now() >= deadline_) {
    CloseNow();  // the coroutine's pending operation fails and it ends
    return;
  }
  ArmWatchdog();
}

void Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.close(ec);
  watchdog_.cancel();
}

void Connection::BeginShutdown() {
  if (phase_ == Phase::kIdle || phase_ == Phase::kClosing) CloseNow();
}

void Connection::Abort() {
  CloseNow();
  signal_.cancel();
}

// ---------------------------------------------------------------------------------------------
// ServerCore

core::Result<uint16_t> ServerCore::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_) {
    return core::MakeError(core::ErrorCode::kUnavailable, "the server was already started");
  }
  int threads = options_.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // One io_context per thread (concurrency hint 1: Asio skips its cross-thread wake-ups for work
  // a thread posts to itself), like nginx's workers; connections are dealt out in turn.
  std::vector<std::shared_ptr<asio::io_context>> ios;
  for (int i = 0; i < threads; ++i) ios.push_back(std::make_shared<asio::io_context>(1));
  Acceptor acceptor(ios[0]->get_executor());
  auto bound = BindAcceptor(acceptor, options_.address, options_.port);
  if (!bound) return std::move(bound).error();
  error_code ec;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  uint16_t port = 0;
  if (!ec) port = acceptor.local_endpoint(ec).port();
  if (ec) {
    return core::MakeError(
        core::ErrorCode::kUnavailable,
        "cannot listen on " + HostPort(options_.address, options_.port) + ": " + ec.message());
  }

  ios_ = std::move(ios);
  acceptor_.emplace(std::move(acceptor));
  for (const auto& io : ios_) work_.push_back(asio::make_work_guard(io->get_executor()));
  port_.store(port, std::memory_order_release);
  started_ = true;
  asio::co_spawn(acceptor_->get_executor(), AcceptLoop(), asio::detached);
  try {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([io = ios_[i].get()] {
        pthread_setname_np(pthread_self(), "http-io");  // for top -H and perf
        for (;;) {
          try {
            io->run();
            return;
          } catch (...) {
            // A completion handler threw; keep the thread serving.
          }
        }
      });
    }
  } catch (const std::exception& e) {  // std::system_error: cannot create a thread
    StopLocked();
    return core::MakeError(core::ErrorCode::kUnavailable,
                           std::string("cannot start the I/O threads: ") + e.what());
  }
  return port;
}

void ServerCore::Stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  StopLocked();
}

void ServerCore::StopLocked() {
  if (!started_ || stopped_) return;
  stopped_ = true;

  // 1. Stop accepting, and close the connections that wait for a request. Connections busy with
  //    a request see stopping_ once they have written its response, and close then.
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> connections_lock(mu_);
    stopping_.store(true, std::memory_order_release);
    live = LiveConnections();
  }
  asio::post(acceptor_->get_executor(), [this] {
    error_code ec;
    acceptor_->close(ec);
  });
  for (auto& connection : live) {
    asio::post(connection->executor(), [connection] { connection->BeginShutdown(); });
  }
  live.clear();

  // 2. Give the requests in flight up to shutdown_grace, then close whatever is left.
  if (!WaitForConnections(options_.shutdown_grace)) {
    {
      std::lock_guard<std::mutex> connections_lock(mu_);
      live = LiveConnections();
    }
    for (auto& connection : live) {
      asio::post(connection->executor(), [connection] { connection->Abort(); });
    }
    live.clear();
    WaitForConnections(std::chrono::seconds(1));  // aborted coroutines end at once
  }

  // 3. Stop the I/O threads. Handlers still queued (say, a late Responder's) are destroyed with
  //    the io_context, never run.
  work_.clear();
  for (const auto& io : ios_) io->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  error_code ec;
  acceptor_->close(ec);  // in case the posted close never ran
}

std::vector<std::shared_ptr<Connection>> ServerCore::LiveConnections() {
  std::vector<std::shared_ptr<Connection>> live;
  live.reserve(connections_.size());
  for (const auto& weak : connections_) {
    if (auto connection = weak.lock()) live.push_back(std::move(connection));
  }
  return live;
}

bool ServerCore::WaitForConnections(Clock::duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return connections_empty_.wait_for(lock, timeout, [this] { return connections_.empty(); });
}

void ServerCore::Unregister(Connection& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(connection.registration);
  if (connections_.empty()) connections_empty_.notify_all();
}

asio::awaitable<void> ServerCore::AcceptLoop() {
  for (;;) {
    // Accepted on the acceptor's io_context, then handed to a thread's as a bare descriptor: a
    // pending accept thus never holds a socket of another io_context (one that Stop() may have
    // destroyed before the acceptor's, which a late Responder can keep alive).
    auto [ec, accepted] = co_await acceptor_->async_accept(kNoThrow);
    if (stopping() || !acceptor_->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of file descriptors or memory: back off instead of spinning. Other errors (the
      // client reset before we accepted) concern only that client.
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE) {
        asio::steady_timer backoff(acceptor_->get_executor(), std::chrono::milliseconds(50));
        co_await backoff.async_wait(kNoThrow);
      }
      continue;
    }
    const size_t io_index = next_io_++ % ios_.size();
    Socket socket(ios_[io_index]->get_executor());
    const tcp protocol = accepted.local_endpoint(ec).protocol();
    if (!ec) {
      const auto descriptor = accepted.release(ec);
      if (!ec) {
        socket.assign(protocol, descriptor, ec);
        if (ec) ::close(descriptor);
      }
    }
    if (ec) continue;  // the client went away meanwhile
    try {
      StartConnection(io_index, std::move(socket));
    } catch (...) {
      // Out of memory: drop this connection, keep accepting.
    }
  }
}

void ServerCore::StartConnection(size_t io_index, Socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto connection = std::make_shared<Connection>(this, io_index, std::move(socket));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping()) return;  // the socket closes with `connection`
    if (options_.max_connections > 0 && connections_.size() >= options_.max_connections) {
      // Refused connections linger a little to deliver their 503; past twice the limit they
      // are closed at once, so refusing stays bounded too.
      refused_.fetch_add(1, std::memory_order_relaxed);
      if (connections_.size() >= 2 * options_.max_connections) return;
      connection->over_limit = true;
    }
    connection->registration = connections_.insert(connections_.end(), connection);
  }
  asio::co_spawn(connection->executor(), Connection::Run(connection), asio::detached);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { impl_->Stop(); }

core::Result<uint16_t> Server::Start() { return impl_->Start(); }

core::Result<void> Server::CheckAddress(const std::string& address, uint16_t port) {
  asio::io_context io;
  Acceptor acceptor(io.get_executor());
  auto bound = BindAcceptor(acceptor, address, port);
  if (!bound) return std::move(bound).error();
  return {};
}

void Server::Stop() { impl_->Stop(); }

uint16_t Server::port() const { return impl_->port(); }

uint64_t Server::refused_connections() const { return impl_->refused(); }

uint64_t Server::refused_bodies() const { return impl_->refused_bodies(); }

}  // namespace http
