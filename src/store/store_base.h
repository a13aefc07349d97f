// What the stores share: the pool of connections their reads borrow (both), and the queue that
// feeds the writer threads (bounded, closed once; the PostgreSQL store's). Internal to store/.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "store/store.h"

namespace store {

// Read connections lent one at a time: Run() waits for a free one, runs `fn` on it, gives it
// back. Thread-safe.
template <typename Conn>
class ReadPool {
 public:
  explicit ReadPool(std::vector<std::unique_ptr<Conn>> conns) : conns_(std::move(conns)) {
    for (auto& c : conns_) free_.push_back(c.get());
  }

  template <typename F>
  core::Result<void> Run(F&& fn) {
    Conn* conn;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !free_.empty(); });
      conn = free_.back();
      free_.pop_back();
    }
    core::Result<void> r = fn(*conn);
    {
      std::lock_guard lock(mu_);
      free_.push_back(conn);
    }
    cv_.notify_one();
    return r;
  }

 private:
  std::vector<std::unique_ptr<Conn>> conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Conn*> free_;  // guarded by mu_
};

template <typename Conn>
class QueuedStore : public Store {
 public:
  QueuedStore(size_t max_queue, std::vector<std::unique_ptr<Conn>> readers)
      : max_queue_(max_queue), readers_(std::move(readers)) {}

  void Write(Work work, Done done) final {
    {
      std::lock_guard lock(mu_);
      if (!closed_ && queue_.size() < max_queue_) {
        queue_.push_back(Item{std::move(work), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(core::MakeError(core::ErrorCode::kUnavailable,
                         closed_ ? "the store is closed" : "the store is overloaded; retry"));
  }

  core::Result<void> Read(const std::function<core::Result<void>(Reader&)>& fn) final {
    return readers_.Run([&](Conn& conn) { return ReadOn(conn, fn); });
  }

  // Writes after this fail; the writer threads finish what is queued and stop. Derived stores
  // call it, then join their threads.
  void CloseQueue() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 protected:
  struct Item {
    Work work;
    Done done;
  };

  // Runs `fn` in a read transaction on a borrowed connection.
  virtual core::Result<void> ReadOn(Conn& conn,
                                    const std::function<core::Result<void>(Reader&)>& fn) = 0;

  // For a writer thread: waits for queued work and moves up to `max` items into `out`; false
  // once the queue is closed and drained.
  bool Take(std::vector<Item>& out, size_t max) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return false;
    while (!queue_.empty() && out.size() < max) {
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return true;
  }

 private:
  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_

  ReadPool<Conn> readers_;
};

}  // namespace store
