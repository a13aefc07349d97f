#include "store/pg_db.h"

#include <charconv>
#include <cstdlib>

#include "core/crypto.h"

namespace store {

namespace {

// SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
core::ErrorCode CodeFor(std::string_view state) {
  if (state.substr(0, 2) == "23") return core::ErrorCode::kConflict;  // integrity constraint
  if (state.substr(0, 2) == "08" || state.substr(0, 2) == "40" || state.substr(0, 2) == "53" ||
      state.substr(0, 2) == "57" || state.empty()) {
    // connection, transaction rollback, insufficient resources, operator intervention; none
    // (the connection is gone before the server said anything)
    return core::ErrorCode::kUnavailable;
  }
  return core::ErrorCode::kInternal;
}

// No statement runs or waits for a lock for ever, and a node that stops in the middle of a
// transaction (paused, cut off) lets go of the calls it locked.
constexpr const char* kSessionSettings =
    "SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

PgParams& PgParams::AddBytes(std::string_view bytes) { return Put("\\x" + core::HexEncode(bytes)); }

PgArray& PgArray::Add(int64_t v) {
  Comma();
  body_ += std::to_string(v);
  return *this;
}

PgArray& PgArray::Add(std::string_view v) {
  Comma();
  body_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') body_ += '\\';
    body_ += c;
  }
  body_ += '"';
  return *this;
}

PgArray& PgArray::Add(const std::optional<int64_t>& v) {
  if (v) return Add(*v);
  Comma();
  body_ += "NULL";
  return *this;
}

std::vector<const char*> PgParams::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

int64_t PgRow::Int(int col) const {
  const char* p = PQgetvalue(r_, row_, col);
  int64_t v = 0;
  std::from_chars(p, p + PQgetlength(r_, row_, col), v);
  return v;
}

std::string PgRow::Bytes(int col) const {
  // Text output of bytea is "\x" followed by hex digits (bytea_output = hex, the default).
  std::string_view hex(PQgetvalue(r_, row_, col), static_cast<size_t>(PQgetlength(r_, row_, col)));
  if (hex.substr(0, 2) == "\\x") hex.remove_prefix(2);
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(hex[i]) * 16 + HexValue(hex[i + 1])));
  }
  return out;
}

int64_t PgResult::changed() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

std::string RedactUrlPassword(std::string message, std::string_view url) {
  // The user information is what comes before the URL's last '@' (a password with '/', ':' or
  // an unencoded '@' in it makes libpq take part of it for the host, port or database, and
  // quote that part); the password, what follows its first ':'.
  const size_t scheme = url.find("://");
  const size_t at = url.substr(0, url.find('?')).rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
    return message;
  }
  const std::string_view userinfo = url.substr(scheme + 3, at - scheme - 3);
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return message;
  const std::string_view password = userinfo.substr(colon + 1);
  // The whole password, then each part of it between the characters libpq splits a URL at.
  std::vector<std::string_view> parts{password};
  for (size_t begin = 0; begin <= password.size();) {
    const size_t end = std::min(password.find_first_of("@:/?#", begin), password.size());
    if (end - begin >= 3) parts.push_back(password.substr(begin, end - begin));
    begin = end + 1;
  }
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    for (size_t i = message.find(part); i != std::string::npos; i = message.find(part, i)) {
      message.replace(i, part.size(), "[redacted]");
      i += 10;
    }
  }
  return message;
}

core::Result<std::unique_ptr<PgConn>> PgConn::Open(const std::string& url) {
  // A URL libpq cannot parse is refused without libpq's message, which quotes the text it could
  // not read (a password with a '%' that is no escape, say).
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    PQfreemem(parse_error);
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "cannot connect to PostgreSQL: the database URL is malformed (a user "
                           "name or password needs its special characters percent-encoded)");
  }
  PQconninfoFree(parsed);
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    // libpq's message names the host and the reason; any part of the password it quotes (one
    // it took for the host or port) is redacted.
    std::string msg =
        RedactUrlPassword(std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(c), url);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(c);
    return core::MakeError(core::ErrorCode::kUnavailable, msg);
  }
  auto conn = std::unique_ptr<PgConn>(new PgConn(c));
  // Warnings (notices) would go to stderr as plain text; the store's logs are JSON.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (auto s = conn->Exec(kSessionSettings); !s) return std::move(s).error();
  return conn;
}

PgConn::~PgConn() { PQfinish(conn_); }

core::Error PgConn::Failure(const PGresult* r, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  std::string msg =
      std::string(what) + ": " + (r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return core::MakeError(CodeFor(sqlstate_), msg);
}

core::Result<PgResult> PgConn::Run(const char* sql, const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    PgResult p(PQprepare(conn_, name.c_str(), sql, 0, nullptr));
    if (PQresultStatus(p.raw()) != PGRES_COMMAND_OK) {
      // A bug in a statement, or a database changed behind callpost's back (a dropped table,
      // a role without rights): the request fails with the server's message.
      return Failure(p.raw(), "database");
    }
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  auto values = params.pointers();
  PgResult r(
      PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
  const auto status = PQresultStatus(r.raw());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure(r.raw(), "database");
  sqlstate_.clear();
  return r;
}

core::Result<void> PgConn::Exec(const char* sql) {
  PgResult r(PQexec(conn_, sql));
  const auto status = PQresultStatus(r.raw());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure(r.raw(), "database");
  sqlstate_.clear();
  return {};
}

core::Result<void> PgConn::Reset() {
  PQreset(conn_);
  prepared_.clear();
  if (broken()) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           std::string("cannot reconnect to PostgreSQL: ") + PQerrorMessage(conn_));
  }
  return Exec(kSessionSettings);
}

bool PgRetryable(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization failure, deadlock
}

}  // namespace store
