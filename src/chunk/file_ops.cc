#include "chunk/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/errors.h"

namespace cairn::chunk {

absl::Status ErrnoStatus(int err, const std::string& what) {
  Errc code;
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      code = Errc::kNoSpace;
      break;
    case ENOENT:
      code = Errc::kNotFound;
      break;
    case EEXIST:
      code = Errc::kExists;
      break;
    case EACCES:
      code = Errc::kAccess;
      break;
    case EPERM:
      code = Errc::kPermission;
      break;
    default:
      code = Errc::kIo;
  }
  return Error(code, what + ": " + std::strerror(err));
}

absl::Status FileOps::SyncDir(const std::string& dir) {
  auto fd = Open(dir, O_RDONLY | O_DIRECTORY, 0);
  if (!fd.ok()) return fd.status();
  absl::Status s = Fsync(*fd);
  absl::Status c = Close(*fd);
  return s.ok() ? c : s;
}

namespace {

class RealFileOps final : public FileOps {
 public:
  absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) override {
    int fd;
    do {
      fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return ErrnoStatus(errno, "open " + path);
    return fd;
  }

  absl::Status Close(int fd) override {
    // Linux releases the descriptor even when close fails: never retry.
    if (::close(fd) != 0 && errno != EINTR) return ErrnoStatus(errno, "close");
    return absl::OkStatus();
  }

  absl::Status PwriteAll(int fd, const void* data, size_t n, uint64_t offset) override {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "pwrite");
      }
      if (w == 0) return ErrnoStatus(EIO, "pwrite wrote nothing");
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> PreadAll(int fd, void* data, size_t n, uint64_t offset) override {
    char* p = static_cast<char*>(data);
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "pread");
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  absl::Status Fdatasync(int fd) override {
    if (::fdatasync(fd) != 0) return ErrnoStatus(errno, "fdatasync");
    return absl::OkStatus();
  }

  absl::Status Fsync(int fd) override {
    if (::fsync(fd) != 0) return ErrnoStatus(errno, "fsync");
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> FileSize(int fd) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat");
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "rename " + from);
    return absl::OkStatus();
  }

  absl::Status Unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "unlink " + path);
    return absl::OkStatus();
  }

  absl::Status Mkdir(const std::string& path, mode_t mode) override {
    if (::mkdir(path.c_str(), mode) != 0) return ErrnoStatus(errno, "mkdir " + path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "opendir " + path);
    std::vector<DirEntry> out;
    while (true) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        int err = errno;
        ::closedir(d);
        if (err != 0) return ErrnoStatus(err, "readdir " + path);
        return out;
      }
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      DirEntry entry{name, e->d_type == DT_DIR, e->d_type == DT_REG};
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          entry.is_dir = S_ISDIR(st.st_mode);
          entry.is_regular = S_ISREG(st.st_mode);
        }
      }
      out.push_back(std::move(entry));
    }
  }

  absl::Status SyncFs(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open " + path);
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus(err, "syncfs " + path);
    return absl::OkStatus();
  }

  absl::Status Fallocate(int fd, uint64_t offset, uint64_t len) override {
    int rc;
    do {
      rc = ::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return ErrnoStatus(errno, "fallocate");
    return absl::OkStatus();
  }

  absl::Status Truncate(int fd, uint64_t size) override {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return ErrnoStatus(errno, "ftruncate");
    return absl::OkStatus();
  }

  absl::StatusOr<FsSpace> StatFs(const std::string& path) override {
    struct statvfs s;
    if (::statvfs(path.c_str(), &s) != 0) return ErrnoStatus(errno, "statvfs " + path);
    FsSpace out;
    out.fs_id = s.f_fsid;
    out.capacity_bytes = static_cast<uint64_t>(s.f_blocks) * s.f_frsize;
    out.available_bytes = static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
    return out;
  }
};

}  // namespace

FileOps* FileOps::Real() {
  static RealFileOps* real = new RealFileOps();
  return real;
}

void FaultInjectingFileOps::Arm(FileOp op, int err, int skip, int count) {
  absl::MutexLock l(&mu_);
  faults_[static_cast<int>(op)] = Fault{err, skip, count};
}

void FaultInjectingFileOps::SetWriteBudget(uint64_t bytes) {
  absl::MutexLock l(&mu_);
  budget_on_ = true;
  budget_left_ = bytes;
}

void FaultInjectingFileOps::ClearWriteBudget() {
  absl::MutexLock l(&mu_);
  budget_on_ = false;
}

void FaultInjectingFileOps::SetSyncDelay(std::chrono::microseconds delay) {
  absl::MutexLock l(&mu_);
  sync_delay_ = delay;
}

void FaultInjectingFileOps::Reset() {
  absl::MutexLock l(&mu_);
  for (auto& f : faults_) f = Fault{};
  budget_on_ = false;
  sync_delay_ = std::chrono::microseconds{0};
}

void FaultInjectingFileOps::SyncDelay() {
  std::chrono::microseconds d;
  {
    absl::MutexLock l(&mu_);
    d = sync_delay_;
  }
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

int FaultInjectingFileOps::Calls(FileOp op) const {
  absl::MutexLock l(&mu_);
  return calls_[static_cast<int>(op)];
}

int FaultInjectingFileOps::Check(FileOp op, const std::string& what) {
  absl::MutexLock l(&mu_);
  int i = static_cast<int>(op);
  ++calls_[i];
  Fault& f = faults_[i];
  if (f.err == 0 || f.count == 0) return 0;
  if (f.skip > 0) {
    --f.skip;
    return 0;
  }
  if (f.count > 0) --f.count;
  return f.err;
}

absl::StatusOr<int> FaultInjectingFileOps::Open(const std::string& path, int flags, mode_t mode) {
  if (int err = Check(FileOp::kOpen, path)) return ErrnoStatus(err, "open " + path + " (injected)");
  return base_->Open(path, flags, mode);
}

absl::Status FaultInjectingFileOps::Close(int fd) {
  if (int err = Check(FileOp::kClose, "")) {
    base_->Close(fd).IgnoreError();  // the descriptor is gone either way, as on Linux
    return ErrnoStatus(err, "close (injected)");
  }
  return base_->Close(fd);
}

absl::Status FaultInjectingFileOps::PwriteAll(int fd, const void* data, size_t n, uint64_t offset) {
  if (int err = Check(FileOp::kPwrite, "")) return ErrnoStatus(err, "pwrite (injected)");
  size_t allowed = n;
  {
    absl::MutexLock l(&mu_);
    if (budget_on_) {
      allowed = n < budget_left_ ? n : static_cast<size_t>(budget_left_);
      budget_left_ -= allowed;
    }
  }
  if (allowed > 0) {
    absl::Status s = base_->PwriteAll(fd, data, allowed, offset);
    if (!s.ok()) return s;
  }
  if (allowed < n) return ErrnoStatus(ENOSPC, "pwrite (injected: write budget used up)");
  return absl::OkStatus();
}

absl::StatusOr<size_t> FaultInjectingFileOps::PreadAll(int fd, void* data, size_t n,
                                                       uint64_t offset) {
  if (int err = Check(FileOp::kPread, "")) return ErrnoStatus(err, "pread (injected)");
  return base_->PreadAll(fd, data, n, offset);
}

absl::Status FaultInjectingFileOps::Fdatasync(int fd) {
  if (int err = Check(FileOp::kFdatasync, "")) return ErrnoStatus(err, "fdatasync (injected)");
  SyncDelay();
  return base_->Fdatasync(fd);
}

absl::Status FaultInjectingFileOps::Fsync(int fd) {
  if (int err = Check(FileOp::kFsync, "")) return ErrnoStatus(err, "fsync (injected)");
  SyncDelay();
  return base_->Fsync(fd);
}

absl::Status FaultInjectingFileOps::Rename(const std::string& from, const std::string& to) {
  if (int err = Check(FileOp::kRename, from)) {
    return ErrnoStatus(err, "rename " + from + " (injected)");
  }
  return base_->Rename(from, to);
}

absl::Status FaultInjectingFileOps::Unlink(const std::string& path) {
  if (int err = Check(FileOp::kUnlink, path)) {
    return ErrnoStatus(err, "unlink " + path + " (injected)");
  }
  return base_->Unlink(path);
}

absl::Status FaultInjectingFileOps::Mkdir(const std::string& path, mode_t mode) {
  if (int err = Check(FileOp::kMkdir, path))
    return ErrnoStatus(err, "mkdir " + path + " (injected)");
  return base_->Mkdir(path, mode);
}

absl::Status FaultInjectingFileOps::SyncFs(const std::string& path) {
  if (int err = Check(FileOp::kSyncfs, path))
    return ErrnoStatus(err, "syncfs " + path + " (injected)");
  SyncDelay();
  return base_->SyncFs(path);
}

absl::StatusOr<std::vector<DirEntry>> FaultInjectingFileOps::ListDir(const std::string& path) {
  if (int err = Check(FileOp::kListDir, path)) {
    return ErrnoStatus(err, "opendir " + path + " (injected)");
  }
  return base_->ListDir(path);
}

absl::Status FaultInjectingFileOps::Fallocate(int fd, uint64_t offset, uint64_t len) {
  if (int err = Check(FileOp::kFallocate, "")) return ErrnoStatus(err, "fallocate (injected)");
  return base_->Fallocate(fd, offset, len);
}

absl::Status FaultInjectingFileOps::Truncate(int fd, uint64_t size) {
  if (int err = Check(FileOp::kTruncate, "")) return ErrnoStatus(err, "ftruncate (injected)");
  return base_->Truncate(fd, size);
}

}  // namespace cairn::chunk
