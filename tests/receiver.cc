#include "receiver.h"

#include <strings.h>

#include <thread>

namespace testing_harness {

std::string Received::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return {};
}

Receiver::Receiver(Answer answer, const std::string& address)
    : answer_(std::move(answer)),
      host_(address.find(':') == std::string::npos ? address : "[" + address + "]") {
  http::ServerOptions o;
  o.address = address;
  o.port = 0;
  o.threads = 2;
  o.shutdown_grace = std::chrono::seconds(1);
  server_ = std::make_unique<http::Server>(o, [this](http::Request req, http::Responder respond) {
    Received r{req.method, req.target, req.headers, req.body};
    int index;
    {
      std::lock_guard lock(mu_);
      index = static_cast<int>(requests_.size());
      requests_.push_back(r);
    }
    cv_.notify_all();
    std::thread([this, r = std::move(r), index, respond = std::move(respond)] {
      http::Response res;
      res.content_type = "text/plain";
      res.body = "ok";
      if (answer_) res = answer_(r, index);
      respond(std::move(res));
    }).detach();
  });
  (void)server_->Start();
}

Receiver::~Receiver() { server_->Stop(); }

std::string Receiver::url(const std::string& path) const {
  return "http://" + host_ + ":" + std::to_string(server_->port()) + path;
}

std::vector<Received> Receiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t Receiver::count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool Receiver::WaitFor(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

}  // namespace testing_harness
