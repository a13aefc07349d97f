// For the store's tests: one of the system calls of SQLite's default (unix) VFS replaced through
// its table of system calls (sqlite3_vfs::xSetSystemCall), to make a read or a write fail on
// demand, and put back when the test ends.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace store {

// The name of the file open on a descriptor ("" if none).
inline std::string PathOfFd(int fd) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
}

// `name` (say "pwrite64") replaced by `with` while this lives. `*real` is set to the call it
// replaces before `with` can be called, for `with` to call on.
class ReplacedSystemCall {
 public:
  template <typename Fn>
  ReplacedSystemCall(const char* name, Fn* with, Fn** real) : name_(name) {
    *real = reinterpret_cast<Fn*>(vfs_->xGetSystemCall(vfs_, name));
    EXPECT_NE(*real, nullptr) << name;
    EXPECT_EQ(vfs_->xSetSystemCall(vfs_, name, reinterpret_cast<sqlite3_syscall_ptr>(with)),
              SQLITE_OK)
        << name;
  }
  ~ReplacedSystemCall() { vfs_->xSetSystemCall(vfs_, name_, nullptr); }
  ReplacedSystemCall(const ReplacedSystemCall&) = delete;
  ReplacedSystemCall& operator=(const ReplacedSystemCall&) = delete;

 private:
  sqlite3_vfs* vfs_ = sqlite3_vfs_find(nullptr);
  const char* name_;
};

}  // namespace store
