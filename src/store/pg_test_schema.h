// For tests: a database of a test's own on the tests' PostgreSQL server (a schema, dropped at
// the end). The server is the one the ctest fixture `postgres` starts (tests/pg/pg.sh writes its
// URL into CALLPOST_TEST_PG_STATE/url), or $CALLPOST_TEST_POSTGRES.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "store/pg_db.h"

namespace store {

class PgTestSchema {
 public:
  explicit PgTestSchema(const std::string& state_dir) {
    std::string server;
    if (const char* env = std::getenv("CALLPOST_TEST_POSTGRES"); env && *env) {
      server = env;
    } else {
      std::ifstream in(state_dir + "/url");
      std::getline(in, server);
    }
    if (server.empty()) {
      error_ =
          "no PostgreSQL for the tests: run through ctest (fixture `postgres`) or set "
          "CALLPOST_TEST_POSTGRES";
      return;
    }
    auto admin = PgConn::Open(server);
    if (!admin) {
      error_ = admin.error().message;
      return;
    }
    admin_ = std::move(*admin);
    std::random_device rd;
    schema_ = "test_" + std::to_string(rd()) + std::to_string(rd());
    if (auto c = admin_->Exec(("CREATE SCHEMA " + schema_).c_str()); !c) {
      error_ = c.error().message;
      return;
    }
    url_ = server + (server.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + schema_;
  }
  ~PgTestSchema() {
    if (!url_.empty()) (void)admin_->Exec(("DROP SCHEMA " + schema_ + " CASCADE").c_str());
  }
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  // The URL of the schema (empty, with error(), when there is no server).
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<PgConn> admin_;
  std::string schema_, url_, error_;
};

}  // namespace store
