// The durable-write limit of this machine: the least a server must do to acknowledge a small
// write durably with SQLite. `clients` threads each submit one small row and wait for it to be
// committed; one writer thread commits whatever is queued in one transaction (group commit)
// in WAL mode with synchronous=FULL (the fsync inside the commit), then acknowledges: the
// durability of callpost's store, which fsyncs its WAL on a thread of its own instead.
//   bench_sqlite_limit DB_PATH SECONDS CLIENTS
// prints: commits/s, p50 ms, p99 ms (one line, space-separated)
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Request {
  int64_t call_id = 0;
  std::string value;
  bool done = false;
};

std::mutex mu;
std::condition_variable queued_cv, done_cv;
std::vector<Request*> queue;
bool stopping = false;

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "bench_sqlite_limit: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

void Writer(sqlite3* db) {
  sqlite3_stmt *begin, *insert, *commit;
  Check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr), db, "prepare");
  Check(sqlite3_prepare_v2(db, "INSERT INTO tags (call_id, key, value, at) VALUES (?, ?, ?, ?)", -1,
                           &insert, nullptr),
        db, "prepare");
  Check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr), db, "prepare");
  std::vector<Request*> batch;
  for (;;) {
    {
      std::unique_lock lock(mu);
      queued_cv.wait(lock, [] { return stopping || !queue.empty(); });
      if (queue.empty()) break;
      batch.swap(queue);
    }
    Check(sqlite3_step(begin), db, "begin");
    sqlite3_reset(begin);
    for (Request* r : batch) {
      sqlite3_bind_int64(insert, 1, r->call_id);
      sqlite3_bind_text(insert, 2, "disposition", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, r->value.data(), static_cast<int>(r->value.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, Clock::now().time_since_epoch().count());
      Check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    Check(sqlite3_step(commit), db, "commit");
    sqlite3_reset(commit);
    {
      std::lock_guard lock(mu);
      for (Request* r : batch) r->done = true;
    }
    done_cv.notify_all();
    batch.clear();
  }
  for (sqlite3_stmt* s : {begin, insert, commit}) sqlite3_finalize(s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_sqlite_limit DB_PATH SECONDS CLIENTS\n");
    return 2;
  }
  const std::string path = argv[1];
  const double seconds = std::atof(argv[2]);
  const int clients = std::atoi(argv[3]);
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db), db, "open");
  for (const char* sql :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
        "PRAGMA wal_autocheckpoint = 4000",
        "CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL,"
        " key TEXT NOT NULL, value TEXT NOT NULL, at INTEGER NOT NULL)"}) {
    Check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), db, sql);
  }
  std::thread writer(Writer, db);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([c, end, &latencies] {
      Request r;
      int64_t n = 0;
      while (Clock::now() < end) {
        r.call_id = c * 1000000 + n;
        r.value = "sold-" + std::to_string(n++);
        r.done = false;
        const auto t0 = Clock::now();
        {
          std::unique_lock lock(mu);
          queue.push_back(&r);
          queued_cv.notify_one();
          done_cv.wait(lock, [&] { return r.done; });
        }
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  const auto start = Clock::now();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  queued_cv.notify_one();
  writer.join();
  sqlite3_close(db);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) return 1;
  auto pct = [&](double p) { return all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  std::printf("%.0f %.2f %.2f\n", all.size() / elapsed, pct(0.50), pct(0.99));
  return 0;
}
