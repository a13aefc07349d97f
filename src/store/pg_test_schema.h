// For tests: a database of a test's own on the tests' PostgreSQL server (a schema, dropped at
// the end). The server is the one the ctest fixture `postgres` starts (tests/pg/pg.sh writes its
// URL into CALLPOST_TEST_PG_STATE/url), or $CALLPOST_TEST_POSTGRES.
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>

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
           "options=-csearch_path%3D" + schema_ + "&application_name=" + schema_;
  }

  // Ends every connection made with url() from the server's side, as a restart does, and
  // returns once the server lists none of them (false if that takes over 10 s).
  bool TerminateConnections() {
    const std::string mine = " FROM pg_stat_activity WHERE application_name = '" + schema_ + "'";
    if (!admin_->Exec(("SELECT pg_terminate_backend(pid)" + mine).c_str())) return false;
    for (int i = 0; i < 1000; ++i) {
      auto left = admin_->Run(("SELECT count(*)" + mine).c_str());
      if (!left) return false;
      if (left->rows() == 1 && left->row(0).Int(0) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
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
