// Load driver for the whole call lifecycle: `connections` keep-alive connections to callpost, each
// running calls one after another until the time is up: create (routed), answered, ended, then a
// converting postback with the call's key. A call in progress when the time is up is finished.
//   bench_lifecycle HOST PORT API_KEY NUMBER SECONDS CONNECTIONS
// prints: calls completed, elapsed seconds, errors (one line, space-separated)
//
// One thread drives every connection through epoll, as wrk drives nginx for the limit it is
// compared with: the driver shares the machine's two cores with callpost, and a thread per
// connection cost it a fifth of a core in wake-ups alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host;
  int port = 0;
  std::string auth;  // "Authorization: Bearer …\r\n"
  std::string number;
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

// One connection and the call it is driving.
class Driver {
 public:
  enum class Step { kCreate, kAnswered, kEnded, kPostback };

  Driver(const Options& o, int index) : o_(o), index_(index) {}
  ~Driver() { Close(); }

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }

  // Connects (when needed) and sends the first request of a new call.
  bool StartCall(int epoll) {
    if (fd_ < 0 && !Connect(epoll)) return false;
    char caller[32];
    std::snprintf(caller, sizeof caller, "+1555%03d%04lld", index_ % 1000,
                  static_cast<long long>(next_caller_++ % 10000));
    step_ = Step::kCreate;
    return Send(
        "POST", "/api/v1/calls", o_.auth,
        "{\"number\":\"" + o_.number + "\",\"caller_number\":\"" + caller + "\",\"route\":true}");
  }

  // Reads what arrived. Returns the status of a complete response (its body in body_), 0 when
  // more is needed, -1 when the connection broke.
  int Receive() {
    char tmp[16384];
    for (;;) {
      const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        in_.append(tmp, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      return -1;  // closed or failed
    }
    const size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    size_t length = 0;
    for (size_t i = 0; i < end;) {
      size_t eol = in_.find("\r\n", i);
      if (eol == std::string::npos || eol > end) eol = end;
      if (strncasecmp(in_.c_str() + i, "content-length:", 15) == 0) {
        length = std::strtoul(in_.c_str() + i + 15, nullptr, 10);
      }
      i = eol + 2;
    }
    if (in_.size() < end + 4 + length) return 0;
    const int status = std::atoi(in_.c_str() + 9);
    body_ = in_.substr(end + 4, length);
    in_.erase(0, end + 4 + length);
    return status;
  }

  // Handles a complete response: kSent when the call's next request is on its way, kCallDone
  // when the call converted, kError on an unexpected answer.
  enum class Next { kSent, kCallDone, kError };
  Next Advance(int status) {
    if (step_ == Step::kCreate) {
      auto uuid = JsonString(body_, "uuid");
      auto key = JsonString(body_, "key");
      if (status != 201 || !uuid || !key) return Next::kError;
      uuid_ = *uuid, key_ = *key;
    } else if (step_ == Step::kPostback) {
      return status == 200 && body_.find("\"converted\"") != std::string::npos ? Next::kCallDone
                                                                               : Next::kError;
    } else if (status != 200) {
      return Next::kError;
    }
    step_ = static_cast<Step>(static_cast<int>(step_) + 1);
    const NextRequest r = RequestOfStep();
    return Send(r.method, r.target, r.headers, r.body) ? Next::kSent : Next::kError;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);  // also leaves the epoll set
    fd_ = -1;
    in_.clear();
  }

 private:
  struct NextRequest {
    const char* method;
    std::string target, headers, body;
  };
  // The request of step_, once the call exists.
  NextRequest RequestOfStep() const {
    const std::string events = "/api/v1/calls/" + uuid_ + "/events";
    switch (step_) {
      case Step::kAnswered:
        return {"POST", events, o_.auth, R"({"type":"answered"})"};
      case Step::kEnded:
        return {"POST", events, o_.auth,
                R"({"type":"ended","hung_up_by":"caller","duration_seconds":95})"};
      default:
        return {"GET", "/calls/" + uuid_ + "/postback?key=" + key_ + "&value=12.50", "", ""};
    }
  }

  bool Connect(int epoll) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(o_.port));
    inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr);
    // Connected while blocking (once per connection), then non-blocking for the requests.
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Close(), false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int flags = fcntl(fd_, F_GETFL, 0);
    fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = this;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd_, &ev) != 0) return Close(), false;
    return true;
  }

  // Requests are a few hundred bytes: the socket's buffer always takes them whole.
  bool Send(const char* method, const std::string& target, const std::string& headers,
            const std::string& body) {
    std::string req =
        std::string(method) + " " + target + " HTTP/1.1\r\nHost: " + o_.host + "\r\n" + headers;
    if (!body.empty() || std::strcmp(method, "POST") == 0) {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += "\r\n" + body;
    for (size_t off = 0; off < req.size();) {
      const ssize_t n = send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  const Options& o_;
  const int index_;
  int fd_ = -1;
  int64_t next_caller_ = 0;
  Step step_ = Step::kCreate;
  std::string uuid_, key_;
  std::string in_, body_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: bench_lifecycle HOST PORT API_KEY NUMBER SECONDS CONNECTIONS\n");
    return 2;
  }
  Options o;
  o.host = argv[1];
  o.port = std::atoi(argv[2]);
  o.auth = std::string("Authorization: Bearer ") + argv[3] + "\r\n";
  o.number = argv[4];
  const double seconds = std::atof(argv[5]);
  const int connections = std::atoi(argv[6]);
  int64_t calls = 0, errors = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  const int epoll = epoll_create1(0);
  std::vector<std::unique_ptr<Driver>> drivers;
  int busy = 0;  // connections with a call in progress
  // Starts the next call on `d` while there is time; a failed start counts as an error and is
  // tried again on the next round (after a broken connection, with a new one).
  auto next_call = [&](Driver& d) {
    while (Clock::now() < end) {
      if (d.StartCall(epoll)) return true;
      ++errors;
      d.Close();
    }
    d.Close();
    return false;
  };
  for (int i = 0; i < connections; ++i) {
    drivers.push_back(std::make_unique<Driver>(o, i));
    if (next_call(*drivers.back())) ++busy;
  }
  std::vector<epoll_event> events(256);
  while (busy > 0) {
    const int n = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 1000);
    for (int i = 0; i < n; ++i) {
      Driver& d = *static_cast<Driver*>(events[i].data.ptr);
      if (!d.open()) continue;
      const int status = d.Receive();
      if (status == 0) continue;
      Driver::Next next = status < 0 ? Driver::Next::kError : d.Advance(status);
      if (next == Driver::Next::kSent) continue;
      if (next == Driver::Next::kCallDone) {
        ++calls;
      } else {
        ++errors;
        if (status < 0) d.Close();
      }
      if (!next_call(d)) --busy;
    }
  }
  close(epoll);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%lld %.3f %lld\n", static_cast<long long>(calls), elapsed,
              static_cast<long long>(errors));
  return errors > 0 && calls == 0 ? 1 : 0;
}
