#include "app/log_sink.h"

#include <unistd.h>

#include <cerrno>

namespace app {

BatchingSink::BatchingSink(int fd, std::chrono::milliseconds interval) : fd_(fd) {
  batch_.reserve(kBatchBytes);
  flusher_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      flush();
      lock.lock();
    }
  });
}

BatchingSink::~BatchingSink() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  flusher_.join();
  flush();
}

void BatchingSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  batch_.append(formatted.data(), formatted.size());
  if (batch_.size() >= kBatchBytes) flush_();
}

void BatchingSink::flush_() {
  size_t done = 0;
  while (done < batch_.size()) {
    const ssize_t n = ::write(fd_, batch_.data() + done, batch_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to write (closed, full disk): the lines are dropped
    done += static_cast<size_t>(n);
  }
  batch_.clear();
}

}  // namespace app
