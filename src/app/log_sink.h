// The log sink of the server: lines are gathered in memory and written to a file descriptor
// (standard error) in batches, at most every `interval`, at once when the batch reaches 64 KiB,
// and at once for warnings and errors (the logger's flush_on level) and at shutdown.
//
// Why: the server writes an access-log line per request. spdlog's async logger wakes its thread
// for every line and that thread writes each line with its own system call; on a busy 2-core
// machine the wake-ups and writes cost more than the request's own work in the handler. Here a
// line costs its formatting and a copy under a mutex, and a write carries hundreds of lines.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace app {

class BatchingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BatchingSink(int fd, std::chrono::milliseconds interval);
  ~BatchingSink() override;  // writes what is left

  BatchingSink(const BatchingSink&) = delete;
  BatchingSink& operator=(const BatchingSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  static constexpr size_t kBatchBytes = 64 * 1024;

  const int fd_;
  std::string batch_;  // guarded by base_sink's mutex_

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread flusher_;
};

}  // namespace app
