// The embedded store: SQLite in WAL mode, one writer thread with group commit, read-only
// connections for reads. A group's answers wait for the fsync of the WAL that holds its commit,
// done on a thread of its own while the writer goes on with the next group. Checkpoints (copying
// the WAL into the database file, with its fsync) run on a thread of their own, with a connection
// of its own, so that a commit never waits for one.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/sqlite_txn.h"
#include "store/store_base.h"
#include "store/wal_gather.h"

namespace store {

namespace {

using core::Result;

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, int wal_fd, std::unique_ptr<Db> writer,
              std::unique_ptr<Db> checkpointer, std::vector<std::unique_ptr<Db>> readers)
      : options_(std::move(options)),
        wal_fd_(wal_fd),
        writer_db_(std::move(writer)),
        checkpoint_db_(std::move(checkpointer)),
        readers_(std::move(readers)) {
    // Instead of the automatic checkpoint inside a commit: a WAL of checkpoint_pages or more
    // wakes the checkpoint thread.
    sqlite3_wal_hook(writer_db_->handle(), &SqliteStore::OnWal, this);
    // Named for top -H and perf.
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "store-writer");
      WriterLoop();
    });
    sync_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "store-sync");
      SyncLoop();
    });
    checkpoint_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "store-ckpt");
      CheckpointLoop();
    });
  }

  ~SqliteStore() override { Close(); }

  void Write(Work work, Done done) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_ && queue_.size() < options_.max_queue) {
        queue_.push_back(Item{std::move(work), std::move(done)});
        if (queue_.size() == 1) cv_.notify_one();
        return;
      }
    }
    done(core::MakeError(core::ErrorCode::kUnavailable,
                         closed_ ? "the store is closed" : "the store is overloaded; retry"));
  }

  Result<void> Read(const std::function<Result<void>(Reader&)>& fn) override {
    return readers_.Run([&](Db& db) -> Result<void> {
      if (auto b = Run(db, "BEGIN"); !b) return b;
      SqliteTxn txn(db);
      Result<void> r = fn(txn);
      (void)Run(db, "COMMIT");
      return r;
    });
  }

  bool shared() const override { return false; }

  void RenderMetrics(std::string& out) const override {
    size_t queued;
    {
      std::lock_guard lock(mu_);
      queued = queue_.size();
    }
    metrics_.Render(out, queued);
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_one();
    }
    thread_.join();
    {
      std::lock_guard lock(sync_mu_);
      writer_done_ = true;
      sync_cv_.notify_one();
    }
    sync_thread_.join();
    ::close(wal_fd_);
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_closed_ = true;
      checkpoint_cv_.notify_one();
    }
    checkpoint_thread_.join();
  }

 private:
  struct Item {
    Work work;
    Done done;
  };

  // A committed (or failed) group whose answers wait for the WAL's fsync.
  struct Group {
    std::vector<Item> items;
    std::vector<Result<void>> results;
    bool wrote = false;  // its COMMIT wrote frames into the WAL
  };

  void WriterLoop() {
    SqliteTxn txn(*writer_db_, &cache_);
    std::vector<Item> batch;
    std::vector<Result<void>> results;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closed and drained
        // Group commit: one fsync for everything queued. No waiting for more to come: while
        // this group runs, the next gathers (measured: waiting up to 1 ms for three quarters
        // of the senders left the writer idle a third of the time once answers were built
        // on the I/O threads, and cost a fifth of the throughput).
        while (!queue_.empty() && batch.size() < options_.max_batch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      RunBatch(txn, batch, results);
      // The commit is in the WAL (synchronous=NORMAL: not yet on disk); the sync thread makes
      // it durable and then answers, while this thread goes on with the next group (measured:
      // about a tenth more postbacks and call lifecycles a second than waiting for the fsync
      // here).
      {
        std::lock_guard lock(sync_mu_);
        sync_queue_.push_back(
            Group{std::move(batch), std::move(results), std::exchange(wal_written_, false)});
        sync_cv_.notify_one();
      }
      batch = {};
      results = {};
      if (wal_pages_ >= 4 * options_.checkpoint_pages) FinishCheckpoint();  // see OnWal
    }
  }

  // Under steady writes the checkpoint thread never copies the whole WAL: the writer appends
  // while it copies, and SQLite starts the WAL again from its beginning only when a write
  // begins with every frame copied. The WAL then grows without end (measured: 365 MB after 20 s
  // of postbacks), and every page lookup through it gets slower. So once it is this long, the
  // writer copies the rest itself between two groups (the checkpoint thread has copied most
  // of it) and its next write starts the WAL over. Busy when a checkpoint runs: tried again
  // after the next commit. (4 × checkpoint_pages: 64 MB by default.)
  void FinishCheckpoint() {
    int log_frames = 0;
    int copied = 0;
    if (sqlite3_wal_checkpoint_v2(writer_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                  &log_frames, &copied) == SQLITE_OK) {
      wal_pages_ = 0;
    }
  }

  // One fsync for every group committed since the last one began; then their answers, in
  // order. An answer therefore never tells of a change a power cut could still take away. Readers
  // and later units may see a change before its fsync ends (SQLite makes a commit visible when
  // it is in the WAL); a change lost to a power cut in that window was never acknowledged.
  void SyncLoop() {
    std::vector<Group> groups;
    for (;;) {
      {
        std::unique_lock lock(sync_mu_);
        sync_cv_.wait(lock, [this] { return writer_done_ || !sync_queue_.empty(); });
        if (sync_queue_.empty()) return;  // the writer has stopped and every group is answered
        groups.swap(sync_queue_);
      }
      if (std::any_of(groups.begin(), groups.end(), [](const Group& g) { return g.wrote; })) {
        const auto start = std::chrono::steady_clock::now();
        const int rc = options_.sync_wal ? options_.sync_wal(wal_fd_) : ::fdatasync(wal_fd_);
        if (rc != 0) {
          // The WAL's pages may be lost, and the changes are already visible: answering with
          // an error would deny changes that may well stay. Stop; the restart recovers what
          // the disk holds (as PostgreSQL does on a failed fsync).
          std::fprintf(stderr, "callpost: fsync of the SQLite WAL failed: %s; stopping\n",
                       std::strerror(errno));
          std::abort();
        }
        metrics_.RecordSync(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      for (Group& g : groups) {
        for (size_t i = 0; i < g.items.size(); ++i) g.items[i].done(std::move(g.results[i]));
      }
      groups.clear();
    }
  }

  static constexpr size_t kCachedCalls = 16384;  // ~2 KB each with a dozen tags

  // Called on the writer thread by each COMMIT that wrote into the WAL.
  static int OnWal(void* self, sqlite3*, const char*, int pages) {
    auto* store = static_cast<SqliteStore*>(self);
    store->wal_written_ = true;
    store->wal_pages_ = pages;
    // Past four times the threshold the writer finishes the checkpoint (FinishCheckpoint); the
    // checkpoint thread is not started again meanwhile, or its passes would keep the writer's
    // from getting the checkpoint lock.
    if (pages >= store->options_.checkpoint_pages && pages < 4 * store->options_.checkpoint_pages) {
      std::lock_guard lock(store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
      store->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  // PASSIVE checkpoints never block the writer or the readers; a WAL that is fully copied is
  // started again from its beginning by the next commit.
  void CheckpointLoop() {
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_cv_.wait(lock, [this] { return checkpoint_closed_ || checkpoint_wanted_; });
      if (checkpoint_closed_) return;
      checkpoint_wanted_ = false;
      lock.unlock();
      sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                nullptr, nullptr);
      lock.lock();
    }
  }

  // Transaction control through cached prepared statements: sqlite3_exec would parse each
  // statement again for every unit of work.
  static Result<void> Run(Db& db, const char* sql) { return db.Prepare(sql).Run(); }

  // Begins the group's transaction; on failure every unit gets the error.
  bool Begin(size_t units, std::vector<Result<void>>& results) {
    Db& db = *writer_db_;
    if (auto b = Run(db, "BEGIN IMMEDIATE"); !b) {
      results.assign(units, b);
      metrics_.Record(false, 0, 0, units);
      return false;
    }
    // Another connection committed since our last group (a second process on the file, the
    // command line): the cached calls may be older than the database.
    Stmt v = db.Prepare("PRAGMA data_version");
    const int64_t version = v.Step() ? v.Int(0) : -1;
    if (version == -1 || version != data_version_) cache_.Clear();
    data_version_ = version;
    return true;
  }

  // How the units of a group ran.
  enum class UnitsRan {
    kAll,                // every unit ran (some may have failed, undone)
    kAgainInSavepoints,  // a unit failed after changing rows: only a rollback undoes it
    kTransactionLost,    // SQLite rolled the whole transaction back (an I/O error, say), or a
                         // savepoint failed: the group is failed (FailGroup)
  };

  // Runs the units of a group in order. Without savepoints, stops when a unit fails after
  // changing rows. Either way, stops when a failure has ended the transaction: the units after
  // it would run outside any transaction, each statement committing on its own.
  UnitsRan RunUnits(SqliteTxn& txn, std::vector<Item>& batch, std::vector<Result<void>>& results,
                    bool savepoints) {
    Db& db = *writer_db_;
    // The transaction is gone: SQLite rolled it back, or a savepoint failed.
    auto lost = [&](core::Error why) {
      FailGroup(batch.size(), results, std::move(why));
      return UnitsRan::kTransactionLost;
    };
    for (auto& item : batch) {
      // A savepoint that fails to begin, undo or end leaves the group beyond undoing unit by
      // unit (and the checks of autocommit keep SAVEPOINT from beginning a transaction of its
      // own, which RELEASE would commit).
      if (savepoints) {
        if (auto sp = Run(db, "SAVEPOINT unit"); !sp) return lost(sp.error());
      }
      cache_.BeginUnit();
      const sqlite3_int64 changes_before = sqlite3_total_changes64(db.handle());
      Result<void> r = core::Internal("unit of work threw");
      try {
        r = item.work(txn);
      } catch (const std::exception& e) {
        r = core::Internal(std::string("unit of work failed: ") + e.what());
      }
      if (sqlite3_get_autocommit(db.handle())) {
        return lost(r ? core::Internal("the transaction ended inside a unit of work") : r.error());
      }
      if (!r) {
        if (savepoints) {
          // A failed undo leaves the unit's changes in the group, or has ended the transaction.
          if (auto rb = Run(db, "ROLLBACK TO unit"); !rb) return lost(rb.error());
        } else if (sqlite3_total_changes64(db.handle()) != changes_before) {
          return UnitsRan::kAgainInSavepoints;
        }
        cache_.RollbackUnit();
      }
      if (savepoints) {
        if (auto rel = Run(db, "RELEASE unit"); !rel) return lost(rel.error());
      }
      results.push_back(std::move(r));
    }
    return UnitsRan::kAll;
  }

  // Group commit. The units run without savepoints: a savepoint makes SQLite copy every page a
  // unit changes into its statement journal first (measured: a tenth of the writer's time). A
  // unit that fails before it changes a row (most failures: no such call) needs no undoing; one
  // that fails after sends the group back: rolled back and run again, each unit in a savepoint.
  void RunBatch(SqliteTxn& txn, std::vector<Item>& batch, std::vector<Result<void>>& results) {
    Db& db = *writer_db_;
    if (!Begin(batch.size(), results)) return;
    UnitsRan ran = RunUnits(txn, batch, results, false);
    if (ran == UnitsRan::kAgainInSavepoints) {
      (void)Run(db, "ROLLBACK");
      cache_.Clear();
      results.clear();
      if (!Begin(batch.size(), results)) return;
      ran = RunUnits(txn, batch, results, true);
    }
    if (ran == UnitsRan::kTransactionLost) return;  // RunUnits failed the group
    const auto commit_start = std::chrono::steady_clock::now();
    auto c = Run(db, "COMMIT");
    const double commit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count();
    if (c) {
      const size_t failed =
          std::count_if(results.begin(), results.end(), [](const Result<void>& r) { return !r; });
      metrics_.Record(true, commit_seconds, results.size() - failed, failed);
    } else {
      FailGroup(batch.size(), results, c.error());
    }
  }

  // Nothing of the group stays: its transaction is rolled back (if SQLite has not done so) and
  // every unit fails with `why`, as unavailable (clients try again).
  void FailGroup(size_t units, std::vector<Result<void>>& results, core::Error why) {
    Db& db = *writer_db_;
    if (!sqlite3_get_autocommit(db.handle())) (void)Run(db, "ROLLBACK");
    metrics_.Record(false, 0, 0, units);
    cache_.Clear();
    why.code = core::ErrorCode::kUnavailable;
    results.assign(units, why);
  }

  const SqliteOptions options_;
  const int wal_fd_;               // the WAL file, opened by this store to fsync it
  std::unique_ptr<Db> writer_db_;  // used by the writer thread only
  bool wal_written_ = false;       // writer thread only: a commit wrote frames since the last group
  int wal_pages_ = 0;              // writer thread only: the WAL's length after the last commit
  CallCache cache_{kCachedCalls};  // the writer thread's
  int64_t data_version_ = -1;      // writer thread only: PRAGMA data_version when cache_ was right
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  WriteMetrics metrics_{true};
  bool closed_ = false;  // guarded by mu_

  std::thread sync_thread_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<Group> sync_queue_;  // guarded by sync_mu_
  bool writer_done_ = false;       // guarded by sync_mu_

  std::unique_ptr<Db> checkpoint_db_;  // used by the checkpoint thread only
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // guarded by checkpoint_mu_
  bool checkpoint_closed_ = false;  // guarded by checkpoint_mu_

  ReadPool<Db> readers_;
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
  // No memory statistics: they take a process-wide mutex on every allocation SQLite makes. Only
  // possible before SQLite initialises (the first open); later calls change nothing.
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  // The writer's COMMITs write their WAL frames in a few calls each (store/wal_gather.h).
  auto writer = Db::Open(options.path, false, WalGatherVfs());
  if (!writer) return std::move(writer).error();
  Db& w = **writer;
  // synchronous=NORMAL: a COMMIT writes the WAL without an fsync; the store's sync thread
  // fsyncs it before any answer (see SyncLoop), so an acknowledged change is as durable as with
  // FULL. Migrations run before that thread exists, so they commit with FULL.
  for (const char* pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON",
        "PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"}) {
    if (auto r = w.Exec(pragma); !r) return std::move(r).error();
  }
  if (auto r = MigrateSqlite(w); !r) return std::move(r).error();
  auto checkpointer = Db::Open(options.path, false);
  if (!checkpointer) return std::move(checkpointer).error();
  if (auto r = (*checkpointer)->Exec("PRAGMA synchronous = FULL"); !r) return std::move(r).error();
  std::vector<std::unique_ptr<Db>> readers;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    auto r = Db::Open(options.path, true);
    if (!r) return std::move(r).error();
    readers.push_back(std::move(*r));
  }
  // The WAL exists once the connection has read the database (the migrations did). Its
  // directory entry is made durable once, as SQLite does on the first fsync of a new WAL.
  const std::string wal_path = options.path + "-wal";
  const int wal_fd = ::open(wal_path.c_str(), O_RDWR | O_CLOEXEC);
  if (wal_fd < 0) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "opening " + wal_path + ": " + std::strerror(errno));
  }
  const std::string dir = std::filesystem::path(options.path).parent_path().string();
  if (const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_CLOEXEC);
      dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  if (auto r = w.Exec("PRAGMA synchronous = NORMAL"); !r) {
    ::close(wal_fd);
    return std::move(r).error();
  }
  return std::unique_ptr<Store>(new SqliteStore(options, wal_fd, std::move(*writer),
                                                std::move(*checkpointer), std::move(readers)));
}

}  // namespace store
