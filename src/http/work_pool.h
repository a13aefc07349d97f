// A few threads for the requests that wait on the store: a configuration write waits for its
// commit, and a list of calls or deliveries reads many rows. On an I/O thread such a request
// would hold up every connection of that thread meanwhile (postbacks among them), so the API
// runs it here and answers from here. Postbacks, call starts and events never wait (the store
// answers them on its own threads) and stay on their I/O thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace http {

class WorkPool {
 public:
  // `threads` threads named `name` (for top -H and perf); at most `max_queued` pieces of work
  // wait for one.
  WorkPool(int threads, size_t max_queued, const char* name);
  // Stop(), if it has not run.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `work` to run on one of the threads; false (and nothing queued) when `max_queued`
  // are waiting already, or once Stop() has begun. Thread-safe.
  bool Post(std::function<void()> work);
  // Takes no more work, runs what is queued, and joins the threads. Thread-safe; once.
  void Stop();

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace http
