#include "store/wal_gather.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>

namespace store {

namespace {

constexpr int kFrameHeaderBytes = 24;      // a WAL frame: this header, then the page
constexpr size_t kMaxGathered = 8u << 20;  // past this, what is gathered is written at once
// The most the default (unix) VFS writes in one call: it cuts a longer write to its low 17 bits
// (and then reports the disk full).
constexpr size_t kMaxWrite = 0x1ffff;

sqlite3_vfs* g_default = nullptr;  // the VFS this one wraps, set once

// What a WAL file has gathered and not yet written.
struct Gathered {
  std::string bytes;                  // frames in file order, from `offset`
  sqlite3_int64 offset = 0;           // where bytes[0] goes
  sqlite3_int64 high_water = 0;       // end of what this connection has written since the WAL's
                                      // header: new frames start here or past it
  sqlite3_int64 commit_page_at = -1;  // where the page of a gathered commit frame goes
};

// A WAL file: the default VFS's file, right after this struct in the same allocation.
struct WalFile {
  sqlite3_file base;
  Gathered* gathered;
};

constexpr int kWalFileBytes = (sizeof(WalFile) + 7) & ~7;

sqlite3_file* Inner(sqlite3_file* f) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kWalFileBytes);
}
Gathered& GatheredOf(sqlite3_file* f) { return *reinterpret_cast<WalFile*>(f)->gathered; }

// Writes what is gathered; it is dropped either way (SQLite fails the statement on an error).
int WriteGathered(sqlite3_file* f) {
  Gathered& g = GatheredOf(f);
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
  return rc;
}

// The database size in a frame header: nonzero only in the frame that commits.
bool CommitsTransaction(const void* header) {
  const auto* b = static_cast<const unsigned char*>(header);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int WalWrite(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  Gathered& g = GatheredOf(f);
  if (!g.bytes.empty() && (offset != g.offset + static_cast<sqlite3_int64>(g.bytes.size()) ||
                           g.bytes.size() + static_cast<size_t>(n) > kMaxGathered)) {
    if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  }
  // Gathered: the frames appended at the end, each from its header on. Anything else (the WAL's
  // header at offset 0 when the WAL starts over, a page or checksum SQLite rewrites in place
  // within a transaction) is written through, after what is gathered.
  if (g.bytes.empty() && !(offset > 0 && offset >= g.high_water && n == kFrameHeaderBytes)) {
    sqlite3_file* inner = Inner(f);
    const int rc = inner->pMethods->xWrite(inner, data, n, offset);
    g.high_water = offset == 0 ? n : std::max(g.high_water, offset + n);
    return rc;
  }
  if (g.bytes.empty()) g.offset = offset;
  g.bytes.append(static_cast<const char*>(data), static_cast<size_t>(n));
  g.high_water = std::max(g.high_water, offset + n);
  if (n == kFrameHeaderBytes) {
    g.commit_page_at = CommitsTransaction(data) ? offset + n : -1;
    return SQLITE_OK;
  }
  // The commit frame is whole: the COMMIT writes it (and everything before it) now.
  if (offset == g.commit_page_at) return WriteGathered(f);
  return SQLITE_OK;
}

// Every other method writes what is gathered first where the file's content or size matters.
int WalRead(sqlite3_file* f, void* data, int n, sqlite3_int64 offset) {
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xRead(Inner(f), data, n, offset);
}

int WalTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xTruncate(Inner(f), size);
}

int WalSync(sqlite3_file* f, int flags) {
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xSync(Inner(f), flags);
}

int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xFileSize(Inner(f), size);
}

int WalFileControl(sqlite3_file* f, int op, void* arg) {
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xFileControl(Inner(f), op, arg);
}

int WalFetch(sqlite3_file* f, sqlite3_int64 offset, int n, void** p) {
  *p = nullptr;
  if (const int rc = WriteGathered(f); rc != SQLITE_OK) return rc;
  return Inner(f)->pMethods->xFetch(Inner(f), offset, n, p);
}

int WalClose(sqlite3_file* f) {
  const int written = WriteGathered(f);
  delete reinterpret_cast<WalFile*>(f)->gathered;
  const int closed = Inner(f)->pMethods->xClose(Inner(f));
  return written != SQLITE_OK ? written : closed;
}

const sqlite3_io_methods kWalMethods = {
    3,
    WalClose,
    WalRead,
    WalWrite,
    WalTruncate,
    WalSync,
    WalFileSize,
    [](sqlite3_file* f, int level) { return Inner(f)->pMethods->xLock(Inner(f), level); },
    [](sqlite3_file* f, int level) { return Inner(f)->pMethods->xUnlock(Inner(f), level); },
    [](sqlite3_file* f, int* out) { return Inner(f)->pMethods->xCheckReservedLock(Inner(f), out); },
    WalFileControl,
    [](sqlite3_file* f) { return Inner(f)->pMethods->xSectorSize(Inner(f)); },
    [](sqlite3_file* f) { return Inner(f)->pMethods->xDeviceCharacteristics(Inner(f)); },
    [](sqlite3_file* f, int region, int size, int extend, void volatile** p) {
      return Inner(f)->pMethods->xShmMap(Inner(f), region, size, extend, p);
    },
    [](sqlite3_file* f, int offset, int n, int flags) {
      return Inner(f)->pMethods->xShmLock(Inner(f), offset, n, flags);
    },
    [](sqlite3_file* f) { Inner(f)->pMethods->xShmBarrier(Inner(f)); },
    [](sqlite3_file* f, int remove) { return Inner(f)->pMethods->xShmUnmap(Inner(f), remove); },
    WalFetch,
    [](sqlite3_file* f, sqlite3_int64 offset, void* p) {
      return Inner(f)->pMethods->xUnfetch(Inner(f), offset, p);
    },
};

// Files other than a WAL are opened by the default VFS in place: their methods are its own.
int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) return g_default->xOpen(g_default, name, f, flags, out_flags);
  f->pMethods = nullptr;
  const int rc = g_default->xOpen(g_default, name, Inner(f), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  reinterpret_cast<WalFile*>(f)->gathered = new Gathered;
  f->pMethods = &kWalMethods;
  return SQLITE_OK;
}

sqlite3_vfs MakeVfs() {
  sqlite3_vfs v{};
  v.iVersion = 3;
  v.szOsFile = kWalFileBytes + g_default->szOsFile;
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
