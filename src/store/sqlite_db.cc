#include "store/sqlite_db.h"

#include <cstdlib>

namespace store {

core::Error SqliteError(int rc, std::string_view what, sqlite3* db) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return core::MakeError(core::ErrorCode::kConflict, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return core::MakeError(core::ErrorCode::kUnavailable, msg);
    default:
      return core::Internal(msg);
  }
}

Stmt& Stmt::Check(int rc) {
  if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
  return *this;
}

bool Stmt::Step() {
  if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE) return false;
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  rc_ = rc == SQLITE_DONE ? SQLITE_OK : rc;
  return false;
}

core::Result<void> Stmt::Run() {
  while (Step()) {
  }
  return status();
}

core::Result<void> Stmt::status() const {
  if (rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE) return {};
  return SqliteError(rc_, "database", sqlite3_db_handle(s_));
}

std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

core::Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool read_only,
                                           const char* vfs) {
  sqlite3* db = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    core::Error e = SqliteError(rc, "opening " + path, db);
    e.code = core::ErrorCode::kUnavailable;
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<Db>(new Db(db));
}

Db::~Db() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

Stmt Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      // Statements are constants of this program: failing to prepare one is a bug.
      std::fprintf(stderr, "callpost: bad SQL (%s): %s\n", sqlite3_errmsg(db_), sql);
      std::abort();
    }
    it = cache_.emplace(sql, s).first;
  }
  return Stmt(it->second);
}

core::Result<void> Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return SqliteError(rc, msg);
  }
  return {};
}

core::Error Db::LastError(std::string_view what) const {
  return SqliteError(sqlite3_errcode(db_), what, db_);
}

}  // namespace store
