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
    Exec("BEGIN IMMEDIATE");
    Insert(200);
    Exec("COMMIT");
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
  Exec("BEGIN IMMEDIATE");
  Insert(3000);
  Exec("COMMIT");
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
  Exec("BEGIN IMMEDIATE");
  Insert(10);
  Exec("COMMIT");
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{5010}, int64_t{15010}));
}

// Once checkpointed, the WAL starts again from its beginning, its header written first.
TEST_F(WalGather, TheWalStartedOverHoldsTheNextCommits) {
  Exec("BEGIN IMMEDIATE");
  Insert(500);
  Exec("COMMIT");
  Exec("PRAGMA wal_checkpoint(PASSIVE)");
  for (int commit = 1; commit <= 3; ++commit) {
    Exec("BEGIN IMMEDIATE");
    Insert(100);
    Exec("COMMIT");
    EXPECT_EQ(OnDisk(), std::make_pair(int64_t{500 + 100 * commit}, int64_t{500 + 100 * commit}));
  }
}

// A write of what was gathered that fails fails the COMMIT, and changes nothing.
int failing_writes = 0;  // fail writes of more than a frame while > 0
sqlite3_syscall_ptr real_pwrite64 = nullptr;
ssize_t FailingPwrite64(int fd, const void* data, size_t n, off_t offset) {
  if (failing_writes > 0 && n > 4200) {
    --failing_writes;
    errno = ENOSPC;
    return -1;
  }
  using Fn = ssize_t (*)(int, const void*, size_t, off_t);
  return reinterpret_cast<Fn>(real_pwrite64)(fd, data, n, offset);
}

TEST_F(WalGather, AFailedWriteFailsTheCommit) {
  sqlite3_vfs* unix = sqlite3_vfs_find(nullptr);
  const char* call = unix->xGetSystemCall(unix, "pwrite64") ? "pwrite64" : "pwrite";
  real_pwrite64 = unix->xGetSystemCall(unix, call);
  ASSERT_EQ(
      unix->xSetSystemCall(unix, call, reinterpret_cast<sqlite3_syscall_ptr>(FailingPwrite64)),
      SQLITE_OK);
  Exec("BEGIN IMMEDIATE");
  Insert(100);
  Exec("COMMIT");
  Exec("BEGIN IMMEDIATE");
  Insert(100);
  failing_writes = 1;
  EXPECT_FALSE(db_->Exec("COMMIT"));
  EXPECT_EQ(failing_writes, 0);
  (void)db_->Exec("ROLLBACK");
  Exec("BEGIN IMMEDIATE");
  Insert(10);
  Exec("COMMIT");
  unix->xSetSystemCall(unix, call, nullptr);
  EXPECT_EQ(OnDisk(), std::make_pair(int64_t{110}, int64_t{110}));
}

}  // namespace
}  // namespace store
