#include "store/wal_gather.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace store {

namespace {

constexpr int kWalHeaderBytes = 32;        // the WAL file's header, at offset 0
constexpr int kFrameHeaderBytes = 24;      // a WAL frame: this header, then the page
constexpr size_t kMaxGathered = 8u << 20;  // past this, what is gathered is written at once
// The most the default (unix) VFS writes in one call: it cuts a longer write to its low 17 bits
// (and then reports the disk full).
constexpr size_t kMaxWrite = 0x1ffff;

sqlite3_vfs* g_default = nullptr;  // the VFS this one wraps, set once

// What a WAL file has gathered and not yet written. Only while its connection holds the WAL's
// write lock: SQLite appends frames only then, and a commit writes them before it ends.
struct Gathered {
  std::string bytes;                  // frames in file order, from `offset`
  sqlite3_int64 offset = 0;           // where bytes[0] goes
  sqlite3_int64 high_water = 0;       // end of what was appended under the current write lock:
                                      // below it, SQLite rewrites its own frames in place
  sqlite3_int64 commit_page_at = -1;  // where the page of a gathered commit frame goes
  int page_size = 0;                  // from the WAL's header; 0 until known
  const char* name = nullptr;         // the WAL's (SQLite keeps it until the file closes)
};

// A file opened through this VFS: the default VFS's file follows in the same allocation. Only
// the database file and its WAL are wrapped; other files are the default VFS's own.
struct File {
  sqlite3_file base;
  Gathered* gathered;    // a WAL file's
  const char* wal_name;  // a database file's: the name of its WAL (SQLite's, as long as it is open)
  File* wal;             // a database file's: its WAL, while that gathers under its write lock
};

constexpr int kFileBytes = (sizeof(File) + 7) & ~7;

File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* Inner(sqlite3_file* f) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kFileBytes);
}

// The database files opened through this VFS whose connection holds the WAL's write lock: a WAL
// gathers only while its database file is here. Taken once a transaction (the lock, its
// release, the first frame), so one mutex for the process costs nothing.
struct WriteLocked {
  std::mutex mu;
  std::vector<File*> files;  // guarded by mu
};
WriteLocked& Locked() {
  static WriteLocked* locked = new WriteLocked;  // never destroyed: files may close at exit
  return *locked;
}

// Writes what is gathered, in order. On a failure the rest is dropped and the error is an
// SQLITE_IOERR, which makes SQLite roll the whole transaction back (SQLITE_FULL would undo only
// the statement, leaving frames it believes written missing from the file).
int WriteGathered(sqlite3_file* f) {
  Gathered& g = *Of(f)->gathered;
  if (g.bytes.empty()) return SQLITE_OK;
  sqlite3_file* inner = Inner(f);
  int rc = SQLITE_OK;
  for (size_t done = 0; done < g.bytes.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const size_t n = std::min(kMaxWrite, g.bytes.size() - done);
    rc = inner->pMethods->xWrite(inner, g.bytes.data() + done, static_cast<int>(n),
                                 g.offset + static_cast<sqlite3_int64>(done));
  }
  g.bytes.clear();
  g.commit_page_at = -1;
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_IOERR) rc = SQLITE_IOERR_WRITE;
  return rc;
}

using Io = sqlite3_io_methods;

// A method of the default VFS's file under this one: Pass calls it; AfterGathered writes what
// is gathered first (for a WAL's methods where the file's content or size matters).
template <auto Method>
struct Forward;
template <typename R, typename... Args, R (*Io::*Method)(sqlite3_file*, Args...)>
struct Forward<Method> {
  static R Pass(sqlite3_file* f, Args... args) {
    return (Inner(f)->pMethods->*Method)(Inner(f), args...);
  }
  static R AfterGathered(sqlite3_file* f, Args... args) {
    if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
    return Pass(f, args...);
  }
};

constexpr auto WriteThrough = Forward<&Io::xWrite>::Pass;

uint32_t BigEndian32(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// The page size a WAL header gives (1 stands for 65536).
int PageSizeOf(const void* wal_header) {
  const uint32_t v = BigEndian32(static_cast<const unsigned char*>(wal_header) + 8);
  return v == 1 ? 65536 : static_cast<int>(v);
}

// Whether this WAL's database file holds the write lock (the lock is exclusive: one file at
// most); links the two until the lock is let go.
bool UnderWriteLock(File* wal) {
  WriteLocked& locked = Locked();
  std::lock_guard lock(locked.mu);
  for (File* db : locked.files) {
    if (db->wal == wal) return true;
    if (db->wal == nullptr && std::strcmp(db->wal_name, wal->gathered->name) == 0) {
      db->wal = wal;
      return true;
    }
  }
  return false;
}

// Gathered: the frames appended past the high-water mark of this write lock, each from its
// header on (a header is 24 bytes at a frame's offset). Anything else (the WAL's header when
// the WAL starts over, a page or checksum SQLite rewrites in place within a transaction, a
// write while the write lock is not held) is written through, after what is gathered.
int WalWrite(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  Gathered& g = *Of(f)->gathered;
  if (!g.bytes.empty() && (offset != g.offset + static_cast<sqlite3_int64>(g.bytes.size()) ||
                           g.bytes.size() + static_cast<size_t>(n) > kMaxGathered)) {
    if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  }
  if (offset == 0 && n >= kWalHeaderBytes) g.page_size = PageSizeOf(data);
  if (g.bytes.empty()) {
    const bool locked = UnderWriteLock(Of(f));
    bool starts_frame = locked && n == kFrameHeaderBytes && offset >= g.high_water;
    if (starts_frame && g.page_size == 0) {
      unsigned char header[kWalHeaderBytes];
      if (Inner(f)->pMethods->xRead(Inner(f), header, kWalHeaderBytes, 0) == SQLITE_OK) {
        g.page_size = PageSizeOf(header);
      }
    }
    starts_frame = starts_frame && g.page_size >= 512 && offset >= kWalHeaderBytes &&
                   (offset - kWalHeaderBytes) % (g.page_size + kFrameHeaderBytes) == 0;
    if (!starts_frame) {
      const int rc = WriteThrough(f, data, n, offset);
      if (locked) g.high_water = offset == 0 ? n : std::max(g.high_water, offset + n);
      return rc;
    }
    g.offset = offset;
  }
  try {
    g.bytes.append(static_cast<const char*>(data), static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
    return WriteThrough(f, data, n, offset);
  }
  g.high_water = std::max(g.high_water, offset + n);
  if (n == kFrameHeaderBytes) {
    // The database size in a frame header: nonzero only in the frame that commits.
    g.commit_page_at = BigEndian32(static_cast<const char*>(data) + 4) != 0 ? offset + n : -1;
    return SQLITE_OK;
  }
  // The commit frame is whole: the COMMIT writes it (and everything before it) now.
  if (offset == g.commit_page_at) return WriteGathered(f);
  return SQLITE_OK;
}

// Drops what is gathered: called when the write lock is let go, when anything gathered belongs
// to a transaction that did not commit (a commit writes its frames before it ends). Written
// later, it could overwrite frames another connection has committed since.
void DropGathered(File* wal) {
  wal->gathered->bytes.clear();
  wal->gathered->commit_page_at = -1;
  wal->gathered->high_water = 0;
}

int WalClose(sqlite3_file* f) {
  {  // a write lock is let go before its WAL closes, so nothing is gathered here
    WriteLocked& locked = Locked();
    std::lock_guard lock(locked.mu);
    for (File* db : locked.files) {
      if (db->wal == Of(f)) db->wal = nullptr;
    }
  }
  delete Of(f)->gathered;
  return Inner(f)->pMethods->xClose(Inner(f));
}

// Whether a shared-memory lock call takes or lets go of an exclusive lock on slot 0, the WAL's
// write lock.
bool CoversWriteLock(int offset, int n, int flags) {
  return (flags & SQLITE_SHM_EXCLUSIVE) != 0 && offset == 0 && n >= 1;
}

int DbShmLock(sqlite3_file* f, int offset, int n, int flags) {
  File* db = Of(f);
  const bool write_lock = CoversWriteLock(offset, n, flags);
  WriteLocked& locked = Locked();
  if (write_lock && (flags & SQLITE_SHM_UNLOCK) != 0) {
    std::lock_guard lock(locked.mu);
    if (db->wal != nullptr) DropGathered(db->wal);
    db->wal = nullptr;
    std::erase(locked.files, db);
  }
  const int rc = Inner(f)->pMethods->xShmLock(Inner(f), offset, n, flags);
  if (write_lock && (flags & SQLITE_SHM_LOCK) != 0 && rc == SQLITE_OK) {
    std::lock_guard lock(locked.mu);
    try {
      locked.files.push_back(db);
    } catch (const std::bad_alloc&) {  // unlisted: its WAL writes everything through
    }
  }
  return rc;
}

int DbClose(sqlite3_file* f) {
  {
    WriteLocked& locked = Locked();
    std::lock_guard lock(locked.mu);
    std::erase(locked.files, Of(f));
  }
  return Inner(f)->pMethods->xClose(Inner(f));
}

constexpr Io kWalMethods = {
    3,
    WalClose,
    Forward<&Io::xRead>::AfterGathered,
    WalWrite,
    Forward<&Io::xTruncate>::AfterGathered,
    Forward<&Io::xSync>::AfterGathered,
    Forward<&Io::xFileSize>::AfterGathered,
    Forward<&Io::xLock>::Pass,
    Forward<&Io::xUnlock>::Pass,
    Forward<&Io::xCheckReservedLock>::Pass,
    Forward<&Io::xFileControl>::AfterGathered,
    Forward<&Io::xSectorSize>::Pass,
    Forward<&Io::xDeviceCharacteristics>::Pass,
    Forward<&Io::xShmMap>::Pass,
    Forward<&Io::xShmLock>::Pass,
    Forward<&Io::xShmBarrier>::Pass,
    Forward<&Io::xShmUnmap>::Pass,
    Forward<&Io::xFetch>::AfterGathered,
    Forward<&Io::xUnfetch>::Pass,
};
constexpr Io kDbMethods = {
    3,
    DbClose,
    Forward<&Io::xRead>::Pass,
    Forward<&Io::xWrite>::Pass,
    Forward<&Io::xTruncate>::Pass,
    Forward<&Io::xSync>::Pass,
    Forward<&Io::xFileSize>::Pass,
    Forward<&Io::xLock>::Pass,
    Forward<&Io::xUnlock>::Pass,
    Forward<&Io::xCheckReservedLock>::Pass,
    Forward<&Io::xFileControl>::Pass,
    Forward<&Io::xSectorSize>::Pass,
    Forward<&Io::xDeviceCharacteristics>::Pass,
    Forward<&Io::xShmMap>::Pass,
    DbShmLock,
    Forward<&Io::xShmBarrier>::Pass,
    Forward<&Io::xShmUnmap>::Pass,
    Forward<&Io::xFetch>::Pass,
    Forward<&Io::xUnfetch>::Pass,
};

// The database file and its WAL are wrapped; other files (a temporary file, the journal of a
// database not in WAL mode) are opened by the default VFS in place, with its own methods.
int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  const bool db = (flags & SQLITE_OPEN_MAIN_DB) != 0 && name != nullptr;
  if (!wal && !db) return g_default->xOpen(g_default, name, f, flags, out_flags);
  f->pMethods = nullptr;
  File* file = Of(f);
  file->gathered = nullptr;
  file->wal_name = nullptr;
  file->wal = nullptr;
  if (wal) {
    file->gathered = new (std::nothrow) Gathered;
    if (file->gathered == nullptr) return SQLITE_NOMEM;
    file->gathered->name = name;
  } else {
    file->wal_name = sqlite3_filename_wal(name);
  }
  const int rc = g_default->xOpen(g_default, name, Inner(f), flags, out_flags);
  if (rc != SQLITE_OK) {
    delete file->gathered;
    return rc;
  }
  f->pMethods = wal ? &kWalMethods : &kDbMethods;
  return SQLITE_OK;
}

sqlite3_vfs MakeVfs() {
  sqlite3_vfs v{};
  v.iVersion = 3;
  v.szOsFile = kFileBytes + g_default->szOsFile;
  v.mxPathname = g_default->mxPathname;
  v.zName = "callpost-wal-gather";
  v.xOpen = Open;
  // The rest is the default VFS's, called with its own object (it keeps state in it).
  v.xDelete = [](sqlite3_vfs*, const char* name, int sync) {
    return g_default->xDelete(g_default, name, sync);
  };
  v.xAccess = [](sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_default->xAccess(g_default, name, flags, out);
  };
  v.xFullPathname = [](sqlite3_vfs*, const char* name, int n, char* out) {
    return g_default->xFullPathname(g_default, name, n, out);
  };
  v.xDlOpen = [](sqlite3_vfs*, const char* name) { return g_default->xDlOpen(g_default, name); };
  v.xDlError = [](sqlite3_vfs*, int n, char* out) { g_default->xDlError(g_default, n, out); };
  v.xDlSym = [](sqlite3_vfs*, void* h, const char* sym) {
    return g_default->xDlSym(g_default, h, sym);
  };
  v.xDlClose = [](sqlite3_vfs*, void* h) { g_default->xDlClose(g_default, h); };
  v.xRandomness = [](sqlite3_vfs*, int n, char* out) {
    return g_default->xRandomness(g_default, n, out);
  };
  v.xSleep = [](sqlite3_vfs*, int us) { return g_default->xSleep(g_default, us); };
  v.xCurrentTime = [](sqlite3_vfs*, double* out) {
    return g_default->xCurrentTime(g_default, out);
  };
  v.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
    return g_default->xGetLastError(g_default, n, out);
  };
  v.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* out) {
    return g_default->xCurrentTimeInt64(g_default, out);
  };
  v.xSetSystemCall = [](sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
    return g_default->xSetSystemCall(g_default, name, p);
  };
  v.xGetSystemCall = [](sqlite3_vfs*, const char* name) {
    return g_default->xGetSystemCall(g_default, name);
  };
  v.xNextSystemCall = [](sqlite3_vfs*, const char* name) {
    return g_default->xNextSystemCall(g_default, name);
  };
  return v;
}

}  // namespace

const char* WalGatherVfs() {
  static std::once_flag once;
  static sqlite3_vfs vfs;
  std::call_once(once, [] {
    g_default = sqlite3_vfs_find(nullptr);
    vfs = MakeVfs();
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs.zName;
}

}  // namespace store
