#include "cli/transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "chunk/aligned_buffer.h"

namespace cairn::cli {
namespace {

// read(2) until `n` bytes or the end; -1 on error (errno set).
ssize_t ReadFull(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool WriteAll(int fd, const uint8_t* buf, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A failed File operation: it may have been the chunk servers, not meta,
// that could not be reached, so the message says which.
int ReportIo(const std::string& path, const absl::Status& s) {
  Errc code = ErrcOf(s);
  if (code == Errc::kUnavailable || code == Errc::kTimeout) {
    int err = ToErrno(s);
    return ReportMessage(path + ": " + std::strerror(err == 0 ? EIO : err) + " (" +
                         std::string(s.message()) + ")");
  }
  return Report(path, s);
}

}  // namespace

int ReportLocal(const std::string& path, int err) {
  return ReportMessage(path + ": " + std::strerror(err));
}

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

int UploadFile(Client& client, const ClientFlags& flags, const std::string& local,
               const std::string& remote, uint32_t mode, Progress* progress) {
  const bool from_stdin = local == "-";
  int fd = from_stdin ? STDIN_FILENO : ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ReportLocal(local, errno);
  if (!from_stdin) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto close_local = [&] {
    if (!from_stdin) ::close(fd);
  };
  auto file = client.Open(remote, kOpenWrite | kOpenCreate | kOpenTruncate, mode & 07777);
  if (!file.ok()) {
    close_local();
    return Report(remote, file.status(), &flags);
  }
  AlignedBuffer buf(kCopyBuffer);
  for (;;) {
    ssize_t n = ReadFull(fd, buf.data(), buf.size());
    if (n < 0) {
      int err = errno;
      close_local();
      (void)(*file)->Close();
      return ReportLocal(local, err);
    }
    if (n == 0) break;
    absl::Status s = (*file)->Write(buf.data(), static_cast<size_t>(n));
    if (!s.ok()) {
      close_local();
      return ReportIo(remote, s);
    }
    if (progress) progress->Add(static_cast<uint64_t>(n));
  }
  close_local();
  absl::Status s = (*file)->Close();
  if (!s.ok()) return ReportIo(remote, s);
  if (progress) progress->AddFile();
  return kExitOk;
}

int DownloadToFd(Client& client, const ClientFlags& flags, const std::string& remote, int fd,
                 const std::string& fd_name, Progress* progress) {
  auto file = client.Open(remote, kOpenRead);
  if (!file.ok()) return Report(remote, file.status(), &flags);
  AlignedBuffer buf(kCopyBuffer);
  for (;;) {
    absl::StatusOr<size_t> n = (*file)->Read(buf.data(), buf.size());
    if (!n.ok()) return ReportIo(remote, n.status());
    if (*n == 0) break;
    if (!WriteAll(fd, buf.data(), *n)) return ReportLocal(fd_name, errno);
    if (progress) progress->Add(*n);
  }
  absl::Status s = (*file)->Close();
  if (!s.ok()) return ReportIo(remote, s);
  if (progress) progress->AddFile();
  return kExitOk;
}

int DownloadFile(Client& client, const ClientFlags& flags, const std::string& remote,
                 const std::string& local, uint32_t mode, Progress* progress) {
  if (local == "-") return DownloadToFd(client, flags, remote, STDOUT_FILENO, "stdout", progress);
  int fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  if (fd < 0) return ReportLocal(local, errno);
  int rc = DownloadToFd(client, flags, remote, fd, local, progress);
  if (::close(fd) != 0 && rc == kExitOk) rc = ReportLocal(local, errno);
  return rc;
}

int RunJobs(int jobs, std::vector<std::function<int()>> tasks) {
  std::atomic<size_t> next{0};
  std::atomic<int> rc{kExitOk};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < tasks.size();) {
      if (tasks[i]() != kExitOk) rc = kExitFailure;
    }
  };
  const int n = std::max(1, std::min<int>(jobs, static_cast<int>(tasks.size())));
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return rc;
}

}  // namespace cairn::cli
