// FileOps: the file-system calls the chunk store makes, behind an interface
// so tests can make them fail (a full disk, EIO, a crash between two
// steps) without root or a real broken disk.
//
// Every failure is a typed status: ENOSPC and EDQUOT -> Errc::kNoSpace,
// ENOENT -> kNotFound, EEXIST -> kExists, EACCES -> kAccess, EPERM ->
// kPermission, anything else -> kIo; the message names the call and path.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cairn::chunk {

// The status for a failed call `what` (e.g. "open /x/y") with errno `err`.
absl::Status ErrnoStatus(int err, const std::string& what);

struct DirEntry {
  std::string name;
  bool is_dir = false;
  bool is_regular = false;
};

struct FsSpace {
  uint64_t fs_id = 0;            // identifies the file system (statvfs f_fsid)
  uint64_t capacity_bytes = 0;   // f_blocks * f_frsize
  uint64_t available_bytes = 0;  // f_bavail * f_frsize (what we may still use)
};

class FileOps {
 public:
  virtual ~FileOps() = default;

  // open(2); returns the descriptor. O_CLOEXEC is always added.
  virtual absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) = 0;
  virtual absl::Status Close(int fd) = 0;
  // Writes all `n` bytes at `offset` (retrying short writes) or fails.
  virtual absl::Status PwriteAll(int fd, const void* data, size_t n, uint64_t offset) = 0;
  // Reads up to `n` bytes at `offset`, retrying short reads; returns the
  // number read, less than `n` only at end of file.
  virtual absl::StatusOr<size_t> PreadAll(int fd, void* data, size_t n, uint64_t offset) = 0;
  virtual absl::Status Fdatasync(int fd) = 0;
  virtual absl::Status Fsync(int fd) = 0;
  // The size of the open file.
  virtual absl::StatusOr<uint64_t> FileSize(int fd) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Unlink(const std::string& path) = 0;
  // mkdir(2); Errc::kExists when it is already there.
  virtual absl::Status Mkdir(const std::string& path, mode_t mode) = 0;
  // The entries of a directory except "." and "..", in no particular order.
  virtual absl::StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) = 0;
  virtual absl::StatusOr<FsSpace> StatFs(const std::string& path) = 0;

  // syncfs(2) on the file system holding `path`: makes every file and
  // directory change on it durable.
  virtual absl::Status SyncFs(const std::string& path) = 0;

  // fallocate(2) mode 0: reserves [offset, offset+len) of the open file
  // (growing its size), so later writes there need no block allocation.
  virtual absl::Status Fallocate(int fd, uint64_t offset, uint64_t len) = 0;
  // ftruncate(2): sets the size of the open file.
  virtual absl::Status Truncate(int fd, uint64_t size) = 0;

  // Opens `dir`, fsyncs it and closes it: makes its entries durable.
  absl::Status SyncDir(const std::string& dir);

  // The real file system (never destroyed).
  static FileOps* Real();
};

// Operations a FaultInjectingFileOps can make fail.
enum class FileOp {
  kOpen,
  kClose,
  kPwrite,
  kPread,
  kFdatasync,
  kFsync,
  kRename,
  kUnlink,
  kMkdir,
  kListDir,
  kSyncfs,
  kFallocate,
  kTruncate,
};

// Passes every call to a base FileOps (default: the real one) unless a
// fault is armed for it. Faults:
//  - Arm(op, err, skip, count): the (skip+1)-th to (skip+count)-th calls
//    of `op` fail with errno `err` without reaching the base; count < 0
//    means every call from then on.
//  - SetWriteBudget(bytes): pwrites succeed until `bytes` in total have
//    been written, then the call that would pass the budget writes what
//    still fits and fails with ENOSPC, like a disk that fills up midway.
//  - SetSyncDelay(d): fsync, fdatasync and syncfs take `d` longer, like a slow
//    disk (used to test group commit deterministically).
// Counters of calls seen per op help tests assert what happened.
class FaultInjectingFileOps final : public FileOps {
 public:
  explicit FaultInjectingFileOps(FileOps* base = FileOps::Real()) : base_(base) {}

  void Arm(FileOp op, int err, int skip = 0, int count = 1);
  void SetWriteBudget(uint64_t bytes);
  void ClearWriteBudget();
  void SetSyncDelay(std::chrono::microseconds delay);
  // Removes every armed fault and the write budget.
  void Reset();
  int Calls(FileOp op) const;

  absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) override;
  absl::Status Close(int fd) override;
  absl::Status PwriteAll(int fd, const void* data, size_t n, uint64_t offset) override;
  absl::StatusOr<size_t> PreadAll(int fd, void* data, size_t n, uint64_t offset) override;
  absl::Status Fdatasync(int fd) override;
  absl::Status Fsync(int fd) override;
  absl::StatusOr<uint64_t> FileSize(int fd) override { return base_->FileSize(fd); }
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Unlink(const std::string& path) override;
  absl::Status Mkdir(const std::string& path, mode_t mode) override;
  absl::StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override;
  absl::StatusOr<FsSpace> StatFs(const std::string& path) override { return base_->StatFs(path); }
  absl::Status SyncFs(const std::string& path) override;
  absl::Status Fallocate(int fd, uint64_t offset, uint64_t len) override;
  absl::Status Truncate(int fd, uint64_t size) override;

 private:
  struct Fault {
    int err = 0;
    int skip = 0;
    int count = 0;  // < 0: forever
  };
  static constexpr int kNumOps = static_cast<int>(FileOp::kTruncate) + 1;

  // The errno to fail this call of `op` with, or 0 to pass it on.
  int Check(FileOp op, const std::string& what);
  void SyncDelay();

  FileOps* const base_;
  mutable absl::Mutex mu_;
  Fault faults_[kNumOps] ABSL_GUARDED_BY(mu_);
  int calls_[kNumOps] ABSL_GUARDED_BY(mu_) = {};
  bool budget_on_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t budget_left_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::microseconds sync_delay_ ABSL_GUARDED_BY(mu_){0};
};

}  // namespace cairn::chunk
