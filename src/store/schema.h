// Versioned migrations of the SQLite schema, applied in order on open (PRAGMA user_version
// records the last one applied). Append new migrations; never edit an applied one.
#pragma once

#include "core/result.h"
#include "store/sqlite_db.h"

namespace store {

core::Result<void> MigrateSqlite(Db& db);

}  // namespace store
