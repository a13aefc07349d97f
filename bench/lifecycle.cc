// Load driver for the whole call lifecycle: each of `connections` threads keeps one keep-alive
// connection to callpost and runs calls one after another until the time is up: create (routed),
// answered, ended, then a converting postback with the call's key.
//   bench_lifecycle HOST PORT API_KEY NUMBER SECONDS CONNECTIONS
// prints: calls completed, elapsed seconds, errors (one line, space-separated)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  Connection(const std::string& host, int port) : host_(host), port_(port) {}
  ~Connection() { Close(); }

  // Sends one request and reads the answer; returns the status (0 on a broken connection, after
  // which the next request reconnects).
  int Request(const std::string& method, const std::string& target, const std::string& headers,
              const std::string& body, std::string& response_body) {
    if (fd_ < 0 && !Connect()) return 0;
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n" + headers;
    if (!body.empty() || method == "POST") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += "\r\n" + body;
    if (!SendAll(req)) return Close(), 0;
    // Headers.
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return Close(), 0;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::atoi(head.c_str() + 9);
    size_t length = 0;
    for (size_t i = 0; i < head.size();) {
      size_t eol = head.find("\r\n", i);
      if (eol == std::string::npos) eol = head.size();
      if (strncasecmp(head.c_str() + i, "content-length:", 15) == 0) {
        length = std::strtoul(head.c_str() + i + 15, nullptr, 10);
      }
      i = eol + 2;
    }
    while (buf_.size() < length) {
      if (!Fill()) return Close(), 0;
    }
    response_body = buf_.substr(0, length);
    buf_.erase(0, length);
    return status;
  }

 private:
  bool Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Close(), false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool SendAll(const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  std::string host_;
  int port_;
  int fd_ = -1;
  std::string buf_;
};

std::optional<std::string> JsonString(const std::string& body, const std::string& field) {
  std::string needle = "\"" + field + "\":\"";
  size_t at = body.find(needle);
  if (at == std::string::npos) return std::nullopt;
  at += needle.size();
  size_t end = body.find('"', at);
  if (end == std::string::npos) return std::nullopt;
  return body.substr(at, end - at);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: bench_lifecycle HOST PORT API_KEY NUMBER SECONDS CONNECTIONS\n");
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string auth = std::string("Authorization: Bearer ") + argv[3] + "\r\n";
  const std::string number = argv[4];
  const double seconds = std::atof(argv[5]);
  const int connections = std::atoi(argv[6]);
  std::atomic<int64_t> calls{0}, errors{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      Connection c(host, port);
      std::string body;
      int64_t i = 0;
      while (Clock::now() < end) {
        char caller[32];
        std::snprintf(caller, sizeof caller, "+1555%03d%04lld", t % 1000,
                      static_cast<long long>(i++ % 10000));
        if (c.Request("POST", "/api/v1/calls", auth,
                      "{\"number\":\"" + number + "\",\"caller_number\":\"" + caller +
                          "\",\"route\":true}",
                      body) != 201) {
          ++errors;
          continue;
        }
        auto uuid = JsonString(body, "uuid");
        auto key = JsonString(body, "key");
        if (!uuid || !key) {
          ++errors;
          continue;
        }
        const std::string events = "/api/v1/calls/" + *uuid + "/events";
        if (c.Request("POST", events, auth, "{\"type\":\"answered\"}", body) != 200 ||
            c.Request("POST", events, auth,
                      "{\"type\":\"ended\",\"hung_up_by\":\"caller\",\"duration_seconds\":95}",
                      body) != 200 ||
            c.Request("GET", "/calls/" + *uuid + "/postback?key=" + *key + "&value=12.50", "", "",
                      body) != 200 ||
            body.find("\"converted\"") == std::string::npos) {
          ++errors;
          continue;
        }
        ++calls;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%lld %.3f %lld\n", static_cast<long long>(calls.load()), elapsed,
              static_cast<long long>(errors.load()));
  return errors.load() > 0 && calls.load() == 0 ? 1 : 0;
}
