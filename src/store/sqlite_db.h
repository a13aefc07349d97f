// Thin RAII over the SQLite C API: a connection with a cache of prepared statements, a
// statement with typed binds and columns, and SQLite errors translated to core::Error once.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace store {

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_reset(s_), sqlite3_clear_bindings(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds are 1-based, in order of the ?s.
  Stmt& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& Bind(int i, std::string_view v) {
    return Check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, std::string_view v) {
    return Check(sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& BindNull(int i) { return Check(sqlite3_bind_null(s_, i)); }
  template <typename T>
  Stmt& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // Steps once: true when a row is ready, false when done. Errors are remembered.
  bool Step();
  // Steps to completion (for statements without rows).
  core::Result<void> Run();
  core::Result<void> status() const;

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::optional<int64_t> OptInt(int col) const {
    return IsNull(col) ? std::nullopt : std::optional<int64_t>(Int(col));
  }
  std::string Text(int col) const;

 private:
  Stmt& Check(int rc);
  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
};

// One connection. Not thread-safe: one thread at a time.
class Db {
 public:
  // `vfs`: the name of a registered SQLite VFS, or null for the default.
  static core::Result<std::unique_ptr<Db>> Open(const std::string& path, bool read_only,
                                                const char* vfs = nullptr);
  ~Db();

  // A cached prepared statement for `sql` (keyed by the literal's address: pass constants).
  Stmt Prepare(const char* sql);
  // Runs one or more statements without results.
  core::Result<void> Exec(const char* sql);
  sqlite3* handle() { return db_; }
  core::Error LastError(std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// Translates an SQLite result code into the project's error.
core::Error SqliteError(int rc, std::string_view what, sqlite3* db = nullptr);

}  // namespace store
