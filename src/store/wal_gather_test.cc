// The VFS that gathers a commit's WAL frames (store/wal_gather.h), on real files: after each
// COMMIT the database and its WAL are copied as they are on disk, without the writer closing
// anything, and the copy opened by a connection of its own, which recovers the WAL from the
// bytes the file holds. A commit still in memory would be missing from it.
#include "store/wal_gather.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <string>

#include "store/sqlite_db.h"
#include "store/test_system_calls.h"

namespace store {
namespace {

namespace fs = std::filesystem;

class WalGather : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("callpost-wal-gather-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "copy");
    auto db = Db::Open((dir_ / "db").string(), false, WalGatherVfs());
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = NORMAL");  // as the store's writer: no fsync in a COMMIT
    Exec("PRAGMA wal_autocheckpoint = 0");
    Exec("CREATE TABLE t (k BLOB PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID");
  }
  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }

  void Exec(const char* sql) { ASSERT_TRUE(db_->Exec(sql)) << sql; }

  // Rows with random keys, so that each commit dirties pages all over the table.
  void Insert(int rows) {
    for (int i = 0; i < rows; ++i) {
      std::string key(64, '\0');
      for (char& c : key) c = static_cast<char>(rng_());
      Stmt s = db_->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
      ASSERT_TRUE(s.BindBlob(1, key).Bind(2, int64_t{1}).Run());
    }
  }

  // Inserts in a transaction of their own.
  void Commit(int rows) {
    Exec("BEGIN IMMEDIATE");
    Insert(rows);
    Exec("COMMIT");
  }

  // count(*) and sum(v) of the table in a copy of the files as they are on disk now.
  std::pair<int64_t, int64_t> OnDisk() {
    const fs::path copy = dir_ / "copy" / ("db" + std::to_string(++copies_));
    fs::copy_file(dir_ / "db", copy);
    if (fs::exists(dir_ / "db-wal")) fs::copy_file(dir_ / "db-wal", copy.string() + "-wal");
    auto db = Db::Open(copy.string(), false);
    EXPECT_TRUE(db);
    if (!db) return {-1, -1};
    Stmt check = (*db)->Prepare("PRAGMA integrity_check");
    EXPECT_TRUE(check.Step());
    EXPECT_EQ(check.Text(0), "ok");
    Stmt s = (*db)->Prepare("SELECT count(*), coalesce(sum(v), 0) FROM t");
    EXPECT_TRUE(s.Step());
    return {s.Int(0), s.Int(1)};
  }

  fs::path dir_;
  std::unique_ptr<Db> db_;
  std::mt19937_64 rng_{7};
  int copies_ = 0;
};

TEST_F(WalGather, EveryCommitIsInTheFileWhenItsCommitReturns) {
  auto reader = Db::Open((dir_ / "db").string(), true);
  ASSERT_TRUE(reader);
  for (int commit = 1; commit <= 20; ++commit) {
    Commit(200);
    EXPECT_EQ(OnDisk(), std::make_pair(int64_t{200} * commit, int64_t{200} * commit));
    // Another connection of the process sees it too.
    Stmt s = (*reader)->Prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(s.Step());
    EXPECT_EQ(s.Int(0), 200 * commit);
  }
}

// A transaction larger than the page cache writes frames before its COMMIT, and writes a page
// again in place when it changes after that; SQLite then rewrites the frames' checksums.
TEST_F(WalGather, ATransactionLargerThanTheCacheCommitsWhole) {
  Commit(3000);
  Exec("PRAGMA cache_size = 10");
  Exec("BEGIN IMMEDIATE");
  Insert(2000);
  Exec("UPDATE t SET v = v + 1");
  Exec("UPDATE t SET v = v + 1");
  Exec("COMMIT");
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{5000}, int64_t{15000}));
  // Rolled back after writing frames: nothing of it, and the next commit is whole.
  Exec("BEGIN IMMEDIATE");
  Insert(2000);
  Exec("UPDATE t SET v = 0");
  Exec("ROLLBACK");
  Commit(10);
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{5010}, int64_t{15010}));
}

// Once checkpointed, the WAL starts again from its beginning, its header written first.
TEST_F(WalGather, TheWalStartedOverHoldsTheNextCommits) {
  Commit(500);
  Exec("PRAGMA wal_checkpoint(PASSIVE)");
  for (int commit = 1; commit <= 3; ++commit) {
    Commit(100);
    EXPECT_EQ(OnDisk(), std::make_pair(int64_t{500 + 100 * commit}, int64_t{500 + 100 * commit}));
  }
}

// The default VFS's pwrite64, replaced for a test (xSetSystemCall) by one that counts the
// writes and fails those to a WAL of a whole frame or more (only gathered frames are) while
// `fail` > 0.
struct PwriteHook {
  using Pwrite64 = ssize_t(int, const void*, size_t, off_t);
  static inline int fail = 0;
  static inline int writes = 0;
  static inline Pwrite64* real = nullptr;
  static ssize_t Pwrite(int fd, const void* data, size_t n, off_t offset) {
    ++writes;
    if (fail > 0 && n >= 4096 + 24 && PathOfFd(fd).ends_with("-wal")) {
      --fail;
      errno = ENOSPC;
      return -1;
    }
    return real(fd, data, n, offset);
  }
  PwriteHook() { fail = writes = 0; }
  ReplacedSystemCall replaced{"pwrite64", &Pwrite, &real};
};

TEST_F(WalGather, ACommitWritesItsFramesInAFewCalls) {
  PwriteHook hook;
  Exec("BEGIN IMMEDIATE");
  Insert(3000);
  const auto wal_before = fs::exists(dir_ / "db-wal") ? fs::file_size(dir_ / "db-wal") : 0;
  PwriteHook::writes = 0;
  Exec("COMMIT");
  const auto frames = (fs::file_size(dir_ / "db-wal") - wal_before) / (4096 + 24);
  EXPECT_GE(frames, 20u);
  EXPECT_LE(PwriteHook::writes, static_cast<int>(frames * (4096 + 24) / 0x1ffff + 2));
}

// A write of what was gathered that fails fails the COMMIT, and changes nothing.
TEST_F(WalGather, AFailedWriteFailsTheCommit) {
  PwriteHook hook;
  Commit(100);
  Exec("BEGIN IMMEDIATE");
  Insert(100);
  PwriteHook::fail = 1;
  EXPECT_FALSE(db_->Exec("COMMIT"));
  EXPECT_EQ(PwriteHook::fail, 0);
  (void)db_->Exec("ROLLBACK");
  Commit(10);
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{110}, int64_t{110}));
}

// Frames gathered in a transaction larger than the cache and written when a statement reads
// the WAL: a failure there undoes the whole transaction, not just the statement, which would
// leave frames SQLite believes written missing from the file.
TEST_F(WalGather, AFailedWriteBeforeAReadUndoesTheTransaction) {
  PwriteHook hook;
  Commit(1000);
  Exec("PRAGMA cache_size = 10");
  Exec("BEGIN IMMEDIATE");
  PwriteHook::fail = 1;
  // One statement (with a statement journal) that spills frames and reads pages back.
  EXPECT_FALSE(
      db_->Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
                " INSERT INTO t (k, v) SELECT randomblob(64), 1 FROM n"));
  EXPECT_EQ(PwriteHook::fail, 0);
  EXPECT_TRUE(sqlite3_get_autocommit(db_->handle())) << "the transaction is still open";
  (void)db_->Exec("COMMIT");
  Commit(10);
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{1010}, int64_t{1010}));
}

// Frames still gathered when a rolled-back transaction lets go of the write lock (spilled last,
// with nothing read since: a rollback drops the transaction's pages from the cache without
// reading the WAL) are dropped then. Written later, they would overwrite the frames another
// writer has committed in their place (without the drop: the reader sees the rolled-back
// values, and the other writer's commit is gone from the file).
TEST_F(WalGather, FramesSpilledJustBeforeARollbackAreNeverWritten) {
  Commit(1000);
  Exec("BEGIN IMMEDIATE");
  Exec("UPDATE t SET v = 3");
  ASSERT_EQ(sqlite3_db_cacheflush(db_->handle()), SQLITE_OK);  // spilled as frames, gathered
  Exec("ROLLBACK");
  {
    auto other = Db::Open((dir_ / "db").string(), false);  // the default VFS: another writer
    ASSERT_TRUE(other);
    ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE; UPDATE t SET v = 2; COMMIT"));
  }
  Stmt s = db_->Prepare("SELECT count(*), sum(v) FROM t");  // reads pages from the WAL
  ASSERT_TRUE(s.Step());
  EXPECT_EQ(s.Int(1), 2000);
  s.Run();
  Commit(10);
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{1010}, int64_t{2010}));
}

// With synchronous=FULL and no powersafe overwrite, SQLite pads each commit to a sector
// boundary with copies of its last frame, splitting the frame that crosses it around an fsync.
// With pages smaller than a sector, the part after the fsync can be exactly 24 bytes without
// being a frame header: taken for one, it would stay gathered after the commit is published.
TEST(WalGatherPadding, PaddedCommitsAreWholeForReaders) {
  const fs::path dir =
      fs::temp_directory_path() / ("callpost-wal-pad-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string uri = "file:" + (dir / "db").string() + "?psow=0";
  sqlite3* db = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2(uri.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, WalGatherVfs()),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;"
                         "PRAGMA synchronous = FULL;"
                         "PRAGMA wal_autocheckpoint = 0;"
                         "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto reader = Db::Open((dir / "db").string(), true);
  ASSERT_TRUE(reader);
  int64_t expected = 0;
  for (int commit = 1; commit <= 600; ++commit) {
    ASSERT_EQ(
        sqlite3_exec(db, "INSERT INTO t (v) VALUES (randomblob(100))", nullptr, nullptr, nullptr),
        SQLITE_OK);
    Stmt s = (*reader)->Prepare("SELECT count(*), sum(length(v)) FROM t");
    ASSERT_TRUE(s.Step()) << (*reader)->LastError("reading").message;
    ASSERT_EQ(s.Int(0), commit);
    ASSERT_EQ(s.Int(1), 100 * commit);
  }
  {
    Stmt check = (*reader)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.Step());
    EXPECT_EQ(check.Text(0), "ok");
  }
  reader->reset();
  sqlite3_close(db);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace store
