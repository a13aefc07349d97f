// What the stores share: the pool of connections their reads borrow (both), their write
// metrics (both), and the queue that feeds the writer threads (bounded, closed once; the
// PostgreSQL store's). Internal to store/.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/histogram.h"
#include "store/store.h"

namespace store {

// Counts what the writers did, for Store::RenderMetrics. Thread-safe.
class WriteMetrics {
 public:
  // `wal_syncs`: the store fsyncs its WAL apart from its commits (SQLite), and says how often.
  explicit WriteMetrics(bool wal_syncs = false) : wal_syncs_(wal_syncs) {}

  // One transaction ended: committed (taking `commit_seconds` to COMMIT) or not, holding
  // `committed` units that took effect and `failed` units that did not.
  void Record(bool was_committed, double commit_seconds, size_t committed, size_t failed) {
    std::lock_guard lock(mu_);
    if (was_committed) {
      ++commits_;
      commit_.Observe(commit_seconds);
    }
    units_committed_ += committed;
    units_failed_ += failed;
  }

  // One fsync of the WAL, making durable every commit written since the previous one.
  void RecordSync(double seconds) {
    std::lock_guard lock(mu_);
    ++syncs_;
    sync_.Observe(seconds);
  }

  void Render(std::string& out, size_t queued) const {
    std::lock_guard lock(mu_);
    out +=
        "# HELP callpost_store_units_total Units of work (one change of a call or of the "
        "configuration) by outcome.\n# TYPE callpost_store_units_total counter\n";
    out += "callpost_store_units_total{outcome=\"committed\"} " + std::to_string(units_committed_) +
           "\n";
    out += "callpost_store_units_total{outcome=\"failed\"} " + std::to_string(units_failed_) + "\n";
    out +=
        "# HELP callpost_store_commits_total Transactions committed.\n"
        "# TYPE callpost_store_commits_total counter\n";
    out += "callpost_store_commits_total " + std::to_string(commits_) + "\n";
    out +=
        "# HELP callpost_store_commit_duration_seconds Time of each COMMIT (PostgreSQL: the "
        "durable round trip; SQLite: the WAL write, its fsync counted apart).\n"
        "# TYPE callpost_store_commit_duration_seconds histogram\n";
    commit_.Render(out, "callpost_store_commit_duration_seconds");
    if (wal_syncs_) {
      out +=
          "# HELP callpost_store_wal_syncs_total fsyncs of the WAL (each makes every commit "
          "before it durable; answers wait for it).\n# TYPE callpost_store_wal_syncs_total "
          "counter\n";
      out += "callpost_store_wal_syncs_total " + std::to_string(syncs_) + "\n";
      out +=
          "# HELP callpost_store_wal_sync_duration_seconds Time of each fsync of the WAL.\n"
          "# TYPE callpost_store_wal_sync_duration_seconds histogram\n";
      sync_.Render(out, "callpost_store_wal_sync_duration_seconds");
    }
    out +=
        "# HELP callpost_store_write_queue Units of work waiting for a writer.\n"
        "# TYPE callpost_store_write_queue gauge\n";
    out += "callpost_store_write_queue " + std::to_string(queued) + "\n";
  }

 private:
  const bool wal_syncs_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  uint64_t commits_ = 0, units_committed_ = 0, units_failed_ = 0, syncs_ = 0;
  // Durations of writes to disk: 0.1 ms to 1 s.
  static core::Histogram DiskWriteSeconds() {
    return core::Histogram{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                           0.01,   0.025,   0.05,   0.1,   0.25,   1};
  }
  core::Histogram commit_ = DiskWriteSeconds();
  core::Histogram sync_ = DiskWriteSeconds();
};

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

  void RenderMetrics(std::string& out) const final {
    size_t queued;
    {
      std::lock_guard lock(mu_);
      queued = queue_.size();
    }
    metrics_.Render(out, queued);
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

  WriteMetrics metrics_;

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
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_

  ReadPool<Conn> readers_;
};

}  // namespace store
