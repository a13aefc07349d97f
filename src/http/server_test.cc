#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace http {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

struct RawResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;

  // The value of the first header with this name (case-insensitive), or nullopt.
  std::optional<std::string> Get(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.name.size() == name.size() &&
          strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
        return h.value;
      }
    }
    return std::nullopt;
  }
};

// A blocking HTTP/1.1 client over a raw socket, just enough for these tests.
class Client {
 public:
  explicit Client(uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response. For a response to HEAD, pass head=true (no body is read). Returns
  // nullopt if the connection closes or times out first.
  std::optional<RawResponse> Read(bool head = false) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::string head_text = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);

    RawResponse r;
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end + 2;
    while (pos < head_text.size()) {
      size_t next = head_text.find("\r\n", pos);
      std::string line = head_text.substr(pos, next - pos);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.push_back(Header{line.substr(0, colon), value});
      pos = next + 2;
    }
    if (r.status < 200) return r;  // 100 Continue
    size_t length = 0;
    if (auto cl = r.Get("Content-Length")) length = std::stoul(*cl);
    if (head) return r;
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // True if the server closes the connection (EOF or reset) before the receive timeout and
  // without sending anything more.
  bool ClosedByPeer() {
    if (!buffer_.empty()) return false;
    char c;
    ssize_t n = recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  // Bytes received but not yet consumed by Read().
  const std::string& pending() const { return buffer_; }

 private:
  bool Fill() {
    char buf[16384];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  std::string s = "GET ";
  s += target;
  s += " HTTP/1.1\r\nHost: test\r\n";
  s += extra_headers;
  s += "\r\n";
  return s;
}

ServerOptions TestOptions() {
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  return options;
}

Response MakeResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Answers every request at once with 200 and a body naming method and target.
void EchoHandler(Request request, Responder respond) {
  Response response;
  response.body = request.method + " " + request.target;
  respond(std::move(response));
}

// Starts `server` and returns its port, failing the test if it cannot start.
uint16_t StartOrDie(Server& server) {
  core::Result<uint16_t> port = server.Start();
  EXPECT_TRUE(port.has_value()) << (port ? "" : port.error().message);
  return port ? *port : 0;
}

bool IsHex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(ServerTest, AnswersGet) {
  std::mutex mu;
  Request seen;
  Server server(TestOptions(), [&](Request request, Responder respond) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = request;
    }
    Response response;
    response.body = R"({"ok":true})";
    response.headers.push_back({"Cache-Control", "no-store"});
    respond(std::move(response));
  });
  uint16_t port = StartOrDie(server);
  ASSERT_NE(port, 0);
  EXPECT_EQ(server.port(), port);

  Client client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(Get("/v1/calls?x=%20y", "X-Custom: abc\r\n")));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->Get("Server"), "callpost");
  EXPECT_EQ(r->Get("Content-Type"), "application/json");
  EXPECT_EQ(r->Get("Content-Length"), "11");
  EXPECT_EQ(r->Get("Cache-Control"), "no-store");
  EXPECT_TRUE(r->Get("Date").has_value());
  EXPECT_FALSE(r->Get("Connection").has_value());

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/v1/calls?x=%20y");
  EXPECT_EQ(seen.remote_address, "127.0.0.1");
  ASSERT_NE(seen.FindHeader("x-custom"), nullptr);
  EXPECT_EQ(*seen.FindHeader("x-custom"), "abc");
  EXPECT_EQ(*seen.FindHeader("host"), "test");
  EXPECT_TRUE(seen.body.empty());
}

TEST(ServerTest, PassesBodyAndMethod) {
  std::promise<Request> seen;
  Server server(TestOptions(), [&](Request request, Responder respond) {
    seen.set_value(request);
    respond(MakeResponse(201, "{}"));
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(
      client.Send("POST /v1/postbacks HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{}");
  Request request = seen.get_future().get();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, "hello");
}

TEST(ServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
  Server server(TestOptions(), EchoHandler);
  uint16_t port = StartOrDie(server);
  Client client(port);
  for (int i = 0; i < 5; ++i) {
    std::string target = "/r" + std::to_string(i);
    ASSERT_TRUE(client.Send(Get(target)));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->body, "GET " + target);
  }
  // Two pipelined requests in one write are answered in order.
  ASSERT_TRUE(client.Send(Get("/a") + Get("/b")));
  std::optional<RawResponse> a = client.Read();
  std::optional<RawResponse> b = client.Read();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->body, "GET /a");
  EXPECT_EQ(b->body, "GET /b");
}

TEST(ServerTest, HonoursConnectionCloseAndHttp10) {
  Server server(TestOptions(), EchoHandler);
  uint16_t port = StartOrDie(server);
  {
    Client client(port);
    ASSERT_TRUE(client.Send(Get("/", "Connection: close\r\n")));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->Get("Connection"), "close");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(port);
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "GET /old");
    EXPECT_EQ(r->Get("Connection"), "close");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(port);
    ASSERT_TRUE(client.Send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->Get("Connection"), "keep-alive");
    ASSERT_TRUE(client.Send("GET /ka2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "GET /ka2");
  }
}

TEST(ServerTest, ResponderMayBeCalledFromAnotherThread) {
  std::mutex mu;
  std::vector<std::thread> workers;
  Server server(TestOptions(), [&](Request request, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([request = std::move(request), respond = std::move(respond)] {
      std::this_thread::sleep_for(50ms);
      respond(MakeResponse(202, "later " + request.target));
    });
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.Send(Get("/x" + std::to_string(i))));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(r->body, "later /x" + std::to_string(i));
  }
  server.Stop();
  for (auto& t : workers) t.join();
}

TEST(ServerTest, HeadSendsContentLengthWithoutBody) {
  Server server(TestOptions(), [](Request request, Responder respond) {
    respond(MakeResponse(200, "hello world"));
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = client.Read(/*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Get("Content-Length"), "11");
  // No body bytes follow: the next response on the connection starts right away.
  ASSERT_TRUE(client.Send(Get("/")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_TRUE(client.pending().empty());
}

TEST(ServerTest, HeadOnlyResponseAndEmptyContentType) {
  Server server(TestOptions(), [](Request request, Responder respond) {
    Response response = MakeResponse(200, "abc");
    response.content_type.clear();
    response.head_only = true;
    respond(std::move(response));
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send(Get("/")));
  std::optional<RawResponse> r = client.Read(/*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Get("Content-Length"), "3");
  EXPECT_FALSE(r->Get("Content-Type").has_value());
  ASSERT_TRUE(client.Send(Get("/")));
  ASSERT_TRUE(client.Read(/*head=*/true).has_value());
  EXPECT_TRUE(client.pending().empty());
}

TEST(ServerTest, BodyTooLargeIs413) {
  std::atomic<int> calls{0};
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  Server server(options, [&](Request request, Responder respond) {
    ++calls;
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  {
    Client client(port);
    ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" +
                            std::string(4096, 'x')));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->Get("Connection"), "close");
    EXPECT_EQ(r->Get("Content-Type"), "application/json");
    EXPECT_NE(r->body.find(R"({"error":{"code":"too_large","message":")"), std::string::npos)
        << r->body;
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    // Chunked: the limit applies as the body arrives.
    Client client(port);
    std::string chunk(800, 'y');
    ASSERT_TRUE(
        client.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" +
                    chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
  }
  {
    // Exactly at the limit is fine.
    Client client(port);
    ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" +
                            std::string(1024, 'x')));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(calls.load(), 1);
}

// A request's announced body takes its room at once (the parser reserves it): bodies over
// 64 KiB share max_large_bodies_bytes, and a request whose body would pass it is answered 503
// unread. Small bodies and chunked ones (which grow as they arrive) never count, and the room
// comes back once the request is answered, or when its connection closes.
TEST(ServerTest, LargeBodiesBeyondTheirRoomAre503) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 1 << 20;
  options.max_large_bodies_bytes = 2 << 20;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  const auto announce = [](size_t n) {
    return "POST /large HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
           std::to_string(n) + "\r\n\r\n";
  };
  // Two connections announce 1 MiB each and send nothing more: the room is taken once the server
  // has read their headers (it answers 100 Continue).
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(held.back()->Send(announce(1 << 20)));
    auto r = held.back()->Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 100) << i;
  }
  {
    Client extra(port);
    ASSERT_TRUE(extra.Send(announce(100 << 10)));
    auto r = extra.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->Get("Retry-After"), "1");
    EXPECT_NE(r->body.find("\"unavailable\""), std::string::npos) << r->body;
  }
  {
    Client small(port);
    ASSERT_TRUE(small.Send("POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n" +
                           std::string(65536, 'x')));
    auto r = small.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  {
    Client chunked(port);
    ASSERT_TRUE(
        chunked.Send("POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    auto r = chunked.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.refused_bodies(), 1u);
  // The first connection sends its body and is answered: its room is back, though the
  // connection stays open.
  ASSERT_TRUE(held[0]->Send(std::string(1 << 20, 'x')));
  auto answered = held[0]->Read();
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 200);
  // A connection that announces 1 MiB once there is room again (the server gives the room back
  // just after it answers, or once it notices a close), kept open so that it holds the room.
  const auto admitted = [&]() -> std::unique_ptr<Client> {
    for (int i = 0; i < 100; ++i) {
      auto c = std::make_unique<Client>(port);
      c->Send(announce(1 << 20));
      auto r = c->Read();
      if (r && r->status == 100) return c;
      std::this_thread::sleep_for(20ms);
    }
    return nullptr;
  };
  auto again = admitted();
  EXPECT_NE(again, nullptr);
  // A closed connection gives its room back too.
  held[1].reset();
  EXPECT_NE(admitted(), nullptr);
}

TEST(ServerTest, HeadersOrUrlTooLargeIs431) {
  std::atomic<int> calls{0};
  ServerOptions options = TestOptions();
  options.max_header_bytes = 2048;
  Server server(options, [&](Request request, Responder respond) {
    ++calls;
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  {
    Client client(port);
    ASSERT_TRUE(client.Send(Get("/", "X-Big: " + std::string(4000, 'a') + "\r\n")));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(r->Get("Connection"), "close");
    EXPECT_NE(r->body.find(R"({"error":{"code":"headers_too_large","message":")"),
              std::string::npos)
        << r->body;
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    Client client(port);
    ASSERT_TRUE(client.Send(Get("/" + std::string(5000, 'u'))));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 431);
  }
  {
    // Many small headers count too.
    std::string many;
    for (int i = 0; i < 200; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
    Client client(port);
    ASSERT_TRUE(client.Send(Get("/", many)));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 431);
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(ServerTest, MalformedRequestIs400) {
  std::atomic<int> calls{0};
  Server server(TestOptions(), [&](Request request, Responder respond) {
    ++calls;
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->Get("Connection"), "close");
  EXPECT_NE(r->body.find(R"({"error":{"code":"invalid_argument","message":")"), std::string::npos)
      << r->body;
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_EQ(calls.load(), 0);
}

// RFC 9112 6.3: a Transfer-Encoding whose last coding is not chunked leaves the body's end
// unknown; read as no body, its body would be taken for the next request (a desync behind a
// lenient proxy). It is refused and the connection closed.
TEST(ServerTest, TransferEncodingNotEndingInChunkedIs400) {
  std::atomic<int> calls{0};
  Server server(TestOptions(), [&](Request request, Responder respond) {
    ++calls;
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  for (const char* coding : {"identity", "chunked, identity", "xchunked"}) {
    Client client(port);
    ASSERT_TRUE(client.Send(std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") +
                            coding + "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value()) << coding;
    EXPECT_EQ(r->status, 400) << coding;
    EXPECT_TRUE(client.ClosedByPeer()) << coding;
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(ServerTest, RequestIdIsEchoedOrGenerated) {
  std::mutex mu;
  std::vector<std::string> seen;
  Server server(TestOptions(), [&](Request request, Responder respond) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(request.request_id);
    }
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  Client client(port);

  ASSERT_TRUE(client.Send(Get("/", "X-Request-Id: abc-123_x.Y\r\n")));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Get("X-Request-Id"), "abc-123_x.Y");

  ASSERT_TRUE(client.Send(Get("/")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  std::string generated = r->Get("X-Request-Id").value_or("");
  EXPECT_TRUE(IsHex16(generated)) << generated;

  ASSERT_TRUE(client.Send(Get("/", "X-Request-Id: has space\r\n")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(IsHex16(r->Get("X-Request-Id").value_or(""))) << *r->Get("X-Request-Id");

  ASSERT_TRUE(client.Send(Get("/", "X-Request-Id: " + std::string(65, 'a') + "\r\n")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(IsHex16(r->Get("X-Request-Id").value_or("")));

  ASSERT_TRUE(client.Send(Get("/", "X-Request-Id: " + std::string(64, 'a') + "\r\n")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Get("X-Request-Id"), std::string(64, 'a'));

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], "abc-123_x.Y");
  EXPECT_EQ(seen[1], generated);
  EXPECT_NE(seen[1], seen[2]);
}

TEST(ServerTest, ErrorResponsesCarryTheRequestId) {
  ServerOptions options = TestOptions();
  options.max_body_bytes = 10;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(
      client.Send("POST / HTTP/1.1\r\nHost: t\r\nX-Request-Id: big-1\r\nContent-Length: "
                  "11\r\n\r\nhello world"));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Get("X-Request-Id"), "big-1");
}

TEST(ServerTest, HandlerExceptionIs500) {
  Server server(TestOptions(), [](Request request, Responder respond) {
    if (request.target == "/throw") throw std::runtime_error("boom");
    if (request.target == "/throw-int") throw 42;
    respond(Response{});
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  for (const char* target : {"/throw", "/throw-int"}) {
    ASSERT_TRUE(client.Send(Get(target)));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, R"({"error":{"code":"internal","message":"internal error"}})");
  }
  // The connection and the server still work.
  ASSERT_TRUE(client.Send(Get("/")));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, DroppedResponderIs500AndExtraCallsAreIgnored) {
  std::mutex mu;
  std::vector<std::thread> workers;
  Server server(TestOptions(), [&](Request request, Responder respond) {
    if (request.target == "/drop") return;  // never answers
    if (request.target == "/drop-later") {
      std::lock_guard<std::mutex> lock(mu);
      workers.emplace_back([respond = std::move(respond)]() mutable {
        std::this_thread::sleep_for(20ms);
        respond = nullptr;
      });
      return;
    }
    respond(MakeResponse(200, "first"));
    respond(MakeResponse(404, "second"));
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  for (const char* target : {"/drop", "/drop-later"}) {
    ASSERT_TRUE(client.Send(Get(target)));
    std::optional<RawResponse> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 500) << target;
  }
  ASSERT_TRUE(client.Send(Get("/twice")));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "first");
  server.Stop();
  for (auto& t : workers) t.join();
}

TEST(ServerTest, ExpectContinue) {
  Server server(TestOptions(), [](Request request, Responder respond) {
    respond(MakeResponse(200, request.body));
  });
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send(
      "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  std::optional<RawResponse> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 100);
  ASSERT_TRUE(client.Send("data"));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data");
}

TEST(ServerTest, StopLetsInFlightRequestFinish) {
  ServerOptions options = TestOptions();
  options.shutdown_grace = 5s;
  std::promise<void> handler_called;
  std::thread worker;
  Server server(options, [&](Request request, Responder respond) {
    worker = std::thread([respond = std::move(respond)] {
      std::this_thread::sleep_for(300ms);
      respond(MakeResponse(200, "finished"));
    });
    handler_called.set_value();
  });
  uint16_t port = StartOrDie(server);
  Client in_flight(port);
  Client idle(port);
  ASSERT_TRUE(in_flight.Send(Get("/slow")));
  handler_called.get_future().wait();

  auto started = std::chrono::steady_clock::now();
  server.Stop();  // returns once the response is written
  auto took = std::chrono::steady_clock::now() - started;
  worker.join();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3s);

  std::optional<RawResponse> r = in_flight.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->Get("Connection"), "close");
  EXPECT_TRUE(in_flight.ClosedByPeer());
  EXPECT_TRUE(idle.ClosedByPeer());
  Client late(port);  // nothing listens any more
  EXPECT_FALSE(late.connected());
}

TEST(ServerTest, StopClosesIdleConnectionsWithoutWaitingForGrace) {
  ServerOptions options = TestOptions();
  options.shutdown_grace = 10s;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send(Get("/")));
  ASSERT_TRUE(client.Read().has_value());  // now idle on keep-alive
  Client never_sent(port);
  std::this_thread::sleep_for(50ms);  // let the server accept it

  auto started = std::chrono::steady_clock::now();
  server.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_TRUE(never_sent.ClosedByPeer());
  server.Stop();  // idempotent
}

TEST(ServerTest, StopAbortsAfterGraceAndLateResponderIsHarmless) {
  ServerOptions options = TestOptions();
  options.shutdown_grace = 1s;
  std::promise<Responder> stash;
  auto server = std::make_unique<Server>(
      options, [&](Request request, Responder respond) { stash.set_value(std::move(respond)); });
  uint16_t port = StartOrDie(*server);
  Client client(port);
  ASSERT_TRUE(client.Send(Get("/")));
  Responder respond = stash.get_future().get();

  auto started = std::chrono::steady_clock::now();
  server.reset();  // Stop(): waits the grace, then closes the connection
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(client.ClosedByPeer());

  respond(Response{});  // after the server is gone: does nothing
  respond = nullptr;
}

TEST(ServerTest, ConcurrentStopCallsAreSafe) {
  Server server(TestOptions(), EchoHandler);
  StartOrDie(server);
  std::thread a([&] { server.Stop(); });
  std::thread b([&] { server.Stop(); });
  a.join();
  b.join();
}

TEST(ServerTest, ReadTimeoutClosesTheConnection) {
  ServerOptions options = TestOptions();
  options.read_timeout = 1s;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: t\r\n"));  // never finishes the headers
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ClosedByPeer());
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, 3s);
}

TEST(ServerTest, IdleTimeoutClosesTheConnection) {
  ServerOptions options = TestOptions();
  options.idle_timeout = 1s;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  Client client(port);
  ASSERT_TRUE(client.Send(Get("/")));
  ASSERT_TRUE(client.Read().has_value());
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(ServerTest, StartFailsOnPortInUse) {
  Server first(TestOptions(), EchoHandler);
  uint16_t port = StartOrDie(first);
  ServerOptions options = TestOptions();
  options.port = port;
  Server second(options, EchoHandler);
  core::Result<uint16_t> result = second.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << result.error().message;
  EXPECT_EQ(second.port(), 0);
  // The first server is unaffected.
  Client client(port);
  ASSERT_TRUE(client.Send(Get("/")));
  EXPECT_TRUE(client.Read().has_value());
}

TEST(ServerTest, StartRejectsNonIpAddressAndSecondStart) {
  ServerOptions options = TestOptions();
  options.address = "not an address";
  Server bad(options, EchoHandler);
  core::Result<uint16_t> result = bad.Start();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, core::ErrorCode::kInvalidArgument);

  Server server(TestOptions(), EchoHandler);
  StartOrDie(server);
  EXPECT_FALSE(server.Start().has_value());
}

TEST(ServerTest, ManyConnectionsWithAsynchronousAnswers) {
  // A single "writer" thread answers everything, like the store's writer does.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<Request, Responder>> queue;
  bool done = false;
  std::thread writer([&] {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return done || !queue.empty(); });
      if (queue.empty() && done) return;
      auto batch = std::move(queue);
      queue.clear();
      lock.unlock();
      for (auto& [request, respond] : batch) respond(MakeResponse(200, request.target));
      lock.lock();
    }
  });
  Server server(TestOptions(), [&](Request request, Responder respond) {
    if (request.target.ends_with("/sync")) {
      respond(MakeResponse(200, request.target));
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    queue.emplace_back(std::move(request), std::move(respond));
    cv.notify_one();
  });
  uint16_t port = StartOrDie(server);

  constexpr int kClients = 16;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(port);
      for (int i = 0; i < kRequests; ++i) {
        std::string target = "/c" + std::to_string(c) + "/" + std::to_string(i);
        if (i % 3 == 0) target += "/sync";
        if (!client.Send(Get(target))) return;
        std::optional<RawResponse> r = client.Read();
        if (!r || r->body != target) return;
        ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  server.Stop();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  writer.join();
}

}  // namespace
}  // namespace http

namespace http {
namespace {

// R10: past max_connections a new connection gets 503 with Retry-After at once; once a
// connection closes, new ones are served again.
TEST(ServerTest, MaxConnectionsAnswers503ThenRecovers) {
  ServerOptions options = TestOptions();
  options.max_connections = 4;
  Server server(options, EchoHandler);
  uint16_t port = StartOrDie(server);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(held.back()->Send(Get("/held")));
    ASSERT_TRUE(held.back()->Read().has_value()) << i;  // served, now idle on keep-alive
  }
  {
    Client extra(port);
    ASSERT_TRUE(extra.connected());
    extra.Send(Get("/extra"));
    auto r = extra.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->Get("Retry-After"), "1");
    EXPECT_EQ(r->Get("Connection"), "close");
    EXPECT_NE(r->body.find("\"unavailable\""), std::string::npos) << r->body;
  }
  // The held connections still work.
  ASSERT_TRUE(held[0]->Send(Get("/again")));
  auto again = held[0]->Read();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(server.refused_connections(),
            1u);  // for the metric and the log: the handler never saw it
  held.clear();
  // Closed connections free their places (the server notices the close asynchronously).
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    Client c(port);
    c.Send(Get("/after"));
    auto r = c.Read();
    status = r ? r->status : 0;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace http
