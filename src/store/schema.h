// Versioned migrations, applied in order on open. SQLite: PRAGMA user_version records the last
// one applied; PostgreSQL: the callpost_schema table. Append new migrations; never edit an
// applied one.
#pragma once

#include "core/result.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"

namespace store {

core::Result<void> MigrateSqlite(Db& db);
core::Result<void> MigratePostgres(PgConn& db);

}  // namespace store
