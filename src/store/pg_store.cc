// The shared store: PostgreSQL through libpq. Each unit of work runs in its own transaction on
// one of a pool of writer connections (PostgreSQL's own group commit joins the flushes of
// concurrent commits); the calls a unit changes are locked with SELECT … FOR UPDATE, so units
// on one call run one after the other whichever node runs them. Reads use a pool of read-only
// REPEATABLE READ transactions.
#include <chrono>
#include <thread>

#include "store/pg_db.h"
#include "store/pg_txn.h"
#include "store/schema.h"
#include "store/store_base.h"

namespace store {

namespace {

using core::Result;

// How many times a unit runs when PostgreSQL asks for it again (deadlock, serialization).
constexpr int kMaxAttempts = 5;

class PgStore final : public QueuedStore<PgConn> {
 public:
  PgStore(const PostgresOptions& options, std::vector<std::unique_ptr<PgConn>> writers,
          std::vector<std::unique_ptr<PgConn>> readers)
      : QueuedStore(options.max_queue, std::move(readers)), writers_(std::move(writers)) {
    for (auto& w : writers_) threads_.emplace_back([this, conn = w.get()] { WriterLoop(*conn); });
  }

  ~PgStore() override { Close(); }

  void Close() override {
    CloseQueue();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  bool shared() const override { return true; }

 private:
  // BEGIN, on a connection opened again first if the server closed it while it sat idle (a
  // restart, a failover, an idle timeout): libpq learns of that only from the next command,
  // and nothing of the transaction has reached the server then, so beginning again is safe.
  static Result<void> Begin(PgConn& db, const char* begin) {
    Result<void> r = db.broken() ? db.Reset() : Result<void>();
    if (r) r = db.Exec(begin);
    if (!r && db.broken()) {
      r = db.Reset();
      if (r) r = db.Exec(begin);
    }
    return r;
  }

  Result<void> ReadOn(PgConn& db, const std::function<Result<void>(Reader&)>& fn) override {
    Result<void> r = Begin(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    if (r) {
      PgTxn txn(db, false);
      r = Guarded([&] { return fn(txn); });
      (void)db.Exec("COMMIT");
    }
    return r;
  }

  template <typename F>
  static Result<void> Guarded(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return core::Internal(std::string("unit of work failed: ") + e.what());
    }
  }

  void WriterLoop(PgConn& db) {
    std::vector<Item> one;
    while (Take(one, 1)) {
      one[0].done(RunUnit(db, one[0].work));
      one.clear();
    }
  }

  // One unit in one transaction, run again when PostgreSQL says so: after a deadlock or a
  // serialization failure, and once after a unique violation (another node inserted the same
  // row first; running again finds it). Never after a lost connection: the commit may have
  // happened.
  Result<void> RunUnit(PgConn& db, const Work& work) {
    Result<void> r = core::Internal("unit of work");
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (auto b = Begin(db, "BEGIN"); !b) {
        metrics_.Record(false, 0, 0, 1);
        return b;
      }
      PgTxn txn(db, true);
      r = Guarded([&] { return work(txn); });
      double commit_seconds = 0;
      if (r) {
        const auto start = std::chrono::steady_clock::now();
        r = db.Exec("COMMIT");
        commit_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      const std::string state = db.last_sqlstate();
      if (r) {
        metrics_.Record(true, commit_seconds, 1, 0);
        return r;
      }
      (void)db.Exec("ROLLBACK");
      const bool again = PgRetryable(state) || (PgUniqueViolation(state) && attempt == 0);
      if (!again || db.broken()) {
        metrics_.Record(false, 0, 0, 1);
        return r;
      }
    }
    metrics_.Record(false, 0, 0, 1);
    return r;
  }

  std::vector<std::unique_ptr<PgConn>> writers_;  // one a writer thread
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgres(const PostgresOptions& options) {
  auto first = PgConn::Open(options.url);
  if (!first) return std::move(first).error();
  if (auto m = MigratePostgres(**first); !m) return std::move(m).error();
  std::vector<std::unique_ptr<PgConn>> writers, readers;
  writers.push_back(std::move(*first));
  for (int i = 1; i < std::max(1, options.writers); ++i) {
    auto c = PgConn::Open(options.url);
    if (!c) return std::move(c).error();
    writers.push_back(std::move(*c));
  }
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    auto c = PgConn::Open(options.url);
    if (!c) return std::move(c).error();
    readers.push_back(std::move(*c));
  }
  return std::unique_ptr<Store>(new PgStore(options, std::move(writers), std::move(readers)));
}

}  // namespace store
