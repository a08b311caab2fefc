#include "bench/data_bench.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "chunk/aligned_buffer.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::bench {
namespace {

std::string Name(const std::string& dir, const char* prefix, uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%s%08llu", prefix, static_cast<unsigned long long>(i));
  return dir + buf;
}

// Runs op(i) for i in [0, n) over `threads` threads; the wall time.
absl::StatusOr<double> Phase(const std::string& name, uint64_t n, int threads,
                             const std::function<absl::Status(uint64_t)>& op) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (uint64_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
        absl::Status s = op(i);
        if (!s.ok()) {
          absl::MutexLock l(&mu);
          if (first.ok()) first = s;
          failed = true;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return absl::Status(first.code(), name + ": " + std::string(first.message()));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A buffer of pseudo-random bytes (incompressible, and not all zeros).
AlignedBuffer Pattern(size_t n) {
  AlignedBuffer buf(n);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf.data()[i] = static_cast<uint8_t>(x);
  }
  return buf;
}

void Fill(DataBenchResult& r, const DataBenchOptions& o, double w, double rd, double sw,
          double sr) {
  const double big = static_cast<double>(o.size) * o.threads / (1 << 20);
  r.write_seconds = w;
  r.read_seconds = rd;
  r.small_write_seconds = sw;
  r.small_read_seconds = sr;
  r.write_mib_s = w > 0 ? big / w : 0;
  r.read_mib_s = rd > 0 ? big / rd : 0;
  r.small_write_files_s = sw > 0 ? static_cast<double>(o.small_files) / sw : 0;
  r.small_read_files_s = sr > 0 ? static_cast<double>(o.small_files) / sr : 0;
}

// ---- Through the client library

absl::Status PutRemote(Client& c, const std::string& path, const AlignedBuffer& pattern,
                       uint64_t size, size_t io) {
  ASSIGN_OR_RETURN(std::unique_ptr<File> f,
                   c.Open(path, kOpenWrite | kOpenCreate | kOpenTruncate, 0644));
  for (uint64_t done = 0; done < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>({io, size - done, pattern.size()}));
    RETURN_IF_ERROR(f->Write(pattern.data(), n));
    done += n;
  }
  return f->Close();
}

absl::Status GetRemote(Client& c, const std::string& path, AlignedBuffer& buf, uint64_t size) {
  ASSIGN_OR_RETURN(std::unique_ptr<File> f, c.Open(path, kOpenRead));
  uint64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, f->Read(buf.data(), buf.size()));
    if (n == 0) break;
    total += n;
  }
  RETURN_IF_ERROR(f->Close());
  if (total != size) return Error(Errc::kInternal, path + ": read back a different size");
  return absl::OkStatus();
}

absl::StatusOr<DataBenchResult> RemotePhases(Client& c, const DataBenchOptions& o) {
  const AlignedBuffer pattern = Pattern(std::max(o.io_size, o.small_size));
  const std::string& dir = o.dir;
  ASSIGN_OR_RETURN(double w, Phase("write", o.threads, o.threads, [&](uint64_t i) {
                     return PutRemote(c, Name(dir, "big", i), pattern, o.size, o.io_size);
                   }));
  ASSIGN_OR_RETURN(double r, Phase("read", o.threads, o.threads, [&](uint64_t i) {
                     AlignedBuffer buf(o.io_size);
                     return GetRemote(c, Name(dir, "big", i), buf, o.size);
                   }));
  ASSIGN_OR_RETURN(double sw, Phase("small write", o.small_files, o.threads, [&](uint64_t i) {
                     return PutRemote(c, Name(dir, "s", i), pattern, o.small_size, o.small_size);
                   }));
  ASSIGN_OR_RETURN(double sr, Phase("small read", o.small_files, o.threads, [&](uint64_t i) {
                     thread_local AlignedBuffer buf(256 << 10);
                     return GetRemote(c, Name(dir, "s", i), buf, o.small_size);
                   }));
  DataBenchResult result;
  Fill(result, o, w, r, sw, sr);
  return result;
}

// ---- On a local directory

absl::Status Errno(const std::string& what) {
  int err = errno;
  return Error(err == ENOENT   ? Errc::kNotFound
               : err == ENOSPC ? Errc::kNoSpace
                               : Errc::kIo,
               what + ": " + std::strerror(err));
}

absl::Status PutLocal(const std::string& path, const AlignedBuffer& pattern, uint64_t size,
                      size_t io) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open " + path);
  absl::Status s;
  for (uint64_t done = 0; done < size && s.ok();) {
    size_t n = static_cast<size_t>(std::min<uint64_t>({io, size - done, pattern.size()}));
    ssize_t w = ::write(fd, pattern.data(), n);
    if (w < 0) {
      if (errno == EINTR) continue;
      s = Errno("write " + path);
    } else {
      done += static_cast<uint64_t>(w);
    }
  }
  if (s.ok() && ::fsync(fd) != 0) s = Errno("fsync " + path);
  // Clean pages can be dropped now: the read phase goes to the disk.
  if (s.ok()) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  return s;
}

absl::Status GetLocal(const std::string& path, AlignedBuffer& buf, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  uint64_t total = 0;
  absl::Status s;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      s = Errno("read " + path);
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  if (s.ok() && total != size) s = Error(Errc::kInternal, path + ": read back a different size");
  return s;
}

}  // namespace

absl::StatusOr<DataBenchResult> RunDataBench(Client& client, const DataBenchOptions& o) {
  if (o.threads < 1 || o.size == 0 || o.io_size == 0) return Invalid("bad data bench options");
  absl::Status made = client.MkdirAll(o.dir, 0755);
  if (!made.ok()) return made;
  absl::StatusOr<DataBenchResult> result = RemotePhases(client, o);
  absl::Status removed = client.RemoveAll(o.dir);
  if (result.ok() && !removed.ok()) return removed;
  return result;
}

absl::StatusOr<DataBenchResult> RunLocalDataBench(const DataBenchOptions& o) {
  if (o.threads < 1 || o.size == 0 || o.io_size == 0) return Invalid("bad data bench options");
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return Error(Errc::kIo, "mkdir " + o.dir + ": " + ec.message());
  const AlignedBuffer pattern = Pattern(std::max(o.io_size, o.small_size));
  const std::string& dir = o.dir;
  auto run = [&]() -> absl::StatusOr<DataBenchResult> {
    ASSIGN_OR_RETURN(double w, Phase("write", o.threads, o.threads, [&](uint64_t i) {
                       return PutLocal(Name(dir, "big", i), pattern, o.size, o.io_size);
                     }));
    ASSIGN_OR_RETURN(double r, Phase("read", o.threads, o.threads, [&](uint64_t i) {
                       AlignedBuffer buf(o.io_size);
                       return GetLocal(Name(dir, "big", i), buf, o.size);
                     }));
    ASSIGN_OR_RETURN(double sw, Phase("small write", o.small_files, o.threads, [&](uint64_t i) {
                       return PutLocal(Name(dir, "s", i), pattern, o.small_size, o.small_size);
                     }));
    ASSIGN_OR_RETURN(double sr, Phase("small read", o.small_files, o.threads, [&](uint64_t i) {
                       thread_local AlignedBuffer buf(256 << 10);
                       return GetLocal(Name(dir, "s", i), buf, o.small_size);
                     }));
    DataBenchResult result;
    Fill(result, o, w, r, sw, sr);
    return result;
  };
  absl::StatusOr<DataBenchResult> result = run();
  // Only what the bench made: the files, then the directory if now empty.
  for (uint64_t i = 0; i < static_cast<uint64_t>(o.threads); ++i) {
    std::filesystem::remove(Name(dir, "big", i), ec);
  }
  for (uint64_t i = 0; i < o.small_files; ++i) std::filesystem::remove(Name(dir, "s", i), ec);
  std::filesystem::remove(dir, ec);
  return result;
}

}  // namespace cairn::bench
