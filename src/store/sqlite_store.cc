// The embedded store: SQLite in WAL mode, one writer thread with group commit and
// synchronous=FULL, read-only connections for reads.
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/sqlite_txn.h"
#include "store/store.h"

namespace store {

namespace {

using core::Result;

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<Db> writer,
              std::vector<std::unique_ptr<Db>> readers)
      : options_(std::move(options)), writer_db_(std::move(writer)) {
    for (auto& r : readers) free_readers_.push_back(r.get()), readers_.push_back(std::move(r));
    thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteStore() override { Close(); }

  void Write(Work work, Done done) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_ && queue_.size() < options_.max_queue) {
        queue_.push_back(Item{std::move(work), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(core::MakeError(core::ErrorCode::kUnavailable,
                         closed_ ? "the store is closed" : "the store is overloaded; retry"));
  }

  Result<void> Read(const std::function<Result<void>(Reader&)>& fn) override {
    Db* db;
    {
      std::unique_lock lock(readers_mu_);
      readers_cv_.wait(lock, [this] { return !free_readers_.empty(); });
      db = free_readers_.back();
      free_readers_.pop_back();
    }
    Result<void> r = core::Internal("read");
    if (auto b = db->Exec("BEGIN"); !b) {
      r = b;
    } else {
      SqliteTxn txn(*db);
      r = fn(txn);
      (void)db->Exec("COMMIT");
    }
    {
      std::lock_guard lock(readers_mu_);
      free_readers_.push_back(db);
    }
    readers_cv_.notify_one();
    return r;
  }

  bool shared() const override { return false; }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

 private:
  struct Item {
    Work work;
    Done done;
  };

  void WriterLoop() {
    SqliteTxn txn(*writer_db_);
    std::vector<Item> batch;
    std::vector<Result<void>> results;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closed and drained
        while (!queue_.empty() && batch.size() < options_.max_batch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunBatch(txn, batch, results);
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
      batch.clear();
      results.clear();
    }
  }

  void RunBatch(SqliteTxn& txn, std::vector<Item>& batch, std::vector<Result<void>>& results) {
    Db& db = *writer_db_;
    if (auto b = db.Exec("BEGIN IMMEDIATE"); !b) {
      results.assign(batch.size(), b);
      return;
    }
    for (auto& item : batch) {
      (void)db.Exec("SAVEPOINT unit");
      Result<void> r = core::Internal("unit of work threw");
      try {
        r = item.work(txn);
      } catch (const std::exception& e) {
        r = core::Internal(std::string("unit of work failed: ") + e.what());
      }
      if (!r) (void)db.Exec("ROLLBACK TO unit");
      (void)db.Exec("RELEASE unit");
      results.push_back(std::move(r));
    }
    if (auto c = db.Exec("COMMIT"); !c) {
      (void)db.Exec("ROLLBACK");
      core::Error e = c.error();
      e.code = core::ErrorCode::kUnavailable;
      results.assign(batch.size(), e);
    }
  }

  const SqliteOptions options_;
  std::unique_ptr<Db> writer_db_;  // used by the writer thread only
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_

  std::vector<std::unique_ptr<Db>> readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<Db*> free_readers_;  // guarded by readers_mu_
};

}  // namespace

Result<void> Store::WriteSync(Work work) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<void>> result;
  Write(std::move(work), [&](Result<void> r) {
    std::lock_guard lock(mu);
    result = std::move(r);
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& options) {
  auto writer = Db::Open(options.path, false);
  if (!writer) return std::move(writer).error();
  Db& w = **writer;
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                             "PRAGMA foreign_keys = ON", "PRAGMA wal_autocheckpoint = 4000",
                             "PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"}) {
    if (auto r = w.Exec(pragma); !r) return std::move(r).error();
  }
  if (auto r = MigrateSqlite(w); !r) return std::move(r).error();
  std::vector<std::unique_ptr<Db>> readers;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    auto r = Db::Open(options.path, true);
    if (!r) return std::move(r).error();
    readers.push_back(std::move(*r));
  }
  return std::unique_ptr<Store>(new SqliteStore(options, std::move(*writer), std::move(readers)));
}

}  // namespace store
