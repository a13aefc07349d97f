// Versioned migrations, applied in order on open. SQLite: PRAGMA user_version records the last
// one applied; PostgreSQL: the callpost_schema table. Append new migrations; never edit an
// applied one.
#pragma once

#include <cstdint>
#include <optional>

#include "core/result.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"

namespace store {

// Applies the migrations the database lacks, up to `up_to` when given (tests of an upgrade
// make an older schema with it), else all.
core::Result<void> MigrateSqlite(Db& db, std::optional<int64_t> up_to = std::nullopt);
core::Result<void> MigratePostgres(PgConn& db);

}  // namespace store
