// Thin RAII over libpq: a connection with a cache of prepared statements, parameters in
// text form, results with typed columns, and PostgreSQL errors translated to core::Error once
// (the SQLSTATE is kept for the store's retry decisions).
#pragma once

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace store {

// Statement parameters, $1 … $n in order, sent as text.
class PgParams {
 public:
  PgParams& Add(int64_t v) { return Put(std::to_string(v)); }
  PgParams& Add(std::string_view v) { return Put(std::string(v)); }
  PgParams& Add(const std::string& v) { return Put(v); }
  PgParams& Add(const char* v) { return Put(v); }
  template <typename T>
  PgParams& Add(const std::optional<T>& v) {
    return v ? Add(*v) : AddNull();
  }
  PgParams& AddNull() {
    values_.emplace_back();
    return *this;
  }
  // A bytea value (hex input form).
  PgParams& AddBytes(std::string_view bytes);

  int size() const { return static_cast<int>(values_.size()); }
  // The values as libpq wants them (pointers into this object).
  std::vector<const char*> pointers() const;

 private:
  PgParams& Put(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// A PostgreSQL array literal ({…}) built element by element, for unnest() over many rows in
// one statement.
class PgArray {
 public:
  PgArray& Add(int64_t v);
  PgArray& Add(std::string_view v);  // quoted and escaped
  PgArray& Add(const std::optional<int64_t>& v);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void Comma() {
    if (!body_.empty()) body_ += ',';
  }
  std::string body_;
};

// One row of a result: the column readers store/rows.h expects.
class PgRow {
 public:
  PgRow(const PGresult* r, int row) : r_(r), row_(row) {}
  bool IsNull(int col) const { return PQgetisnull(r_, row_, col) != 0; }
  int64_t Int(int col) const;
  std::optional<int64_t> OptInt(int col) const {
    return IsNull(col) ? std::nullopt : std::optional<int64_t>(Int(col));
  }
  std::string Text(int col) const {
    return std::string(PQgetvalue(r_, row_, col), static_cast<size_t>(PQgetlength(r_, row_, col)));
  }
  // A bytea column's bytes.
  std::string Bytes(int col) const;

 private:
  const PGresult* r_;
  int row_;
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool has_column(int col) const { return col < PQnfields(r_.get()); }
  PgRow row(int i) const { return PgRow(r_.get(), i); }
  // Rows a command changed (UPDATE, DELETE, INSERT).
  int64_t changed() const;
  const PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// `message` (libpq's, about connecting to `url`) with the URL's password, and each part of it
// libpq may have taken for the host, port or database, replaced by "[redacted]".
std::string RedactUrlPassword(std::string message, std::string_view url);

// One connection. Not thread-safe: one thread at a time.
class PgConn {
 public:
  static core::Result<std::unique_ptr<PgConn>> Open(const std::string& url);
  ~PgConn();

  // Runs a cached prepared statement for `sql` (keyed by the literal's address: pass
  // constants).
  core::Result<PgResult> Run(const char* sql, const PgParams& params = {});
  // Runs one or more statements without parameters (BEGIN, COMMIT, migrations).
  core::Result<void> Exec(const char* sql);
  // The SQLSTATE of the last failure ("" after a success).
  const std::string& last_sqlstate() const { return sqlstate_; }
  // True when the connection is gone (the server restarted or the network failed).
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Connects again after broken(); prepared statements are prepared again as used.
  core::Result<void> Reset();

 private:
  explicit PgConn(PGconn* c) : conn_(c) {}
  core::Error Failure(const PGresult* r, std::string_view what);
  PGconn* conn_;
  std::map<const char*, std::string> prepared_;  // sql → statement name
  std::string sqlstate_;
};

// The SQLSTATEs after which a transaction is worth running again.
bool PgRetryable(std::string_view sqlstate);
inline bool PgUniqueViolation(std::string_view sqlstate) { return sqlstate == "23505"; }

}  // namespace store
