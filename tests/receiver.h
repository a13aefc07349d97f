// A real HTTP receiver for webhook tests: callpost's own Beast server on 127.0.0.1 (or another
// loopback address), port 0, recording every request and answering as the test scripts it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/server.h"

namespace testing_harness {

struct Received {
  std::string method;
  std::string target;
  std::vector<http::Header> headers;
  std::string body;
  std::string Header(std::string_view name) const;
};

class Receiver {
 public:
  // `answer` decides each response (default: 200 "ok"); it runs on a thread of its own per
  // request, so it may sleep to play a slow endpoint. `address` is where it listens ("::1" for
  // an IPv6 receiver).
  using Answer = std::function<http::Response(const Received&, int index)>;
  explicit Receiver(Answer answer = nullptr, const std::string& address = "127.0.0.1");
  ~Receiver();

  std::string url(const std::string& path = "/") const;
  std::vector<Received> requests() const;
  size_t count() const;
  // Waits until at least `n` requests arrived; false on timeout.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  Answer answer_;
  std::string host_;  // as in a URL: an IPv6 address in brackets
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Received> requests_;  // guarded by mu_
  std::unique_ptr<http::Server> server_;
};

}  // namespace testing_harness
