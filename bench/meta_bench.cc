#include "bench/meta_bench.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace cairn::bench {
namespace {

std::string FileName(const std::string& dir, const char* prefix, uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%s%08llu", prefix, static_cast<unsigned long long>(i));
  return dir + buf;
}

// Runs op(i) for every i in [0, n), split over `threads` threads (thread t
// takes i = t, t + T, ...). Stops early at the first error.
absl::StatusOr<PhaseResult> RunPhase(const std::string& name, uint64_t n, int threads,
                                     const std::function<absl::Status(uint64_t)>& op) {
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first_error;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint64_t i = static_cast<uint64_t>(t); i < n && !failed.load(std::memory_order_relaxed);
           i += static_cast<uint64_t>(threads)) {
        absl::Status s = op(i);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          failed.store(true);
        }
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed.load()) {
    return absl::Status(first_error.code(), name + ": " + std::string(first_error.message()));
  }
  PhaseResult r;
  r.name = name;
  r.ops = n;
  r.seconds = seconds;
  r.ops_per_second = seconds > 0 ? static_cast<double>(n) / seconds : 0;
  return r;
}

absl::StatusOr<MetaBenchResult> RunPhases(Client& client, const MetaBenchOptions& o) {
  MetaBenchResult result;
  const std::string& dir = o.dir;
  ASSIGN_OR_RETURN(PhaseResult create, RunPhase("create", o.files, o.threads, [&](uint64_t i) {
                     return client.Create(FileName(dir, "f", i), 0644, /*exclusive=*/true).status();
                   }));
  result.phases.push_back(create);
  ASSIGN_OR_RETURN(PhaseResult stat, RunPhase("stat", o.files, o.threads, [&](uint64_t i) {
                     return client.Stat(FileName(dir, "f", i)).status();
                   }));
  result.phases.push_back(stat);
  ASSIGN_OR_RETURN(PhaseResult rename, RunPhase("rename", o.files, o.threads, [&](uint64_t i) {
                     return client.Rename(FileName(dir, "f", i), FileName(dir, "r", i), 0);
                   }));
  result.phases.push_back(rename);
  ASSIGN_OR_RETURN(PhaseResult unlink, RunPhase("unlink", o.files, o.threads, [&](uint64_t i) {
                     return client.Unlink(FileName(dir, "r", i));
                   }));
  result.phases.push_back(unlink);
  return result;
}

}  // namespace

absl::StatusOr<MetaBenchResult> RunMetaBench(Client& client, const MetaBenchOptions& options) {
  if (options.threads < 1) return Invalid("threads must be at least 1");
  if (options.files < 1) return Invalid("files must be at least 1");
  if (options.dir.empty() || options.dir.front() != '/' || options.dir == "/") {
    return Invalid("bench directory must be an absolute path other than /");
  }
  absl::StatusOr<Attr> existing = client.Stat(options.dir);
  if (existing.ok()) {
    if (existing->type != FileType::kDirectory) return Error(Errc::kNotDir, options.dir);
    ASSIGN_OR_RETURN(DirPage page, client.ReadDirPage(options.dir, "", 1, false));
    if (!page.entries.empty()) {
      return Error(Errc::kNotEmpty, options.dir + " is not empty (remove it or pick --dir)");
    }
  } else if (ErrcOf(existing.status()) == Errc::kNotFound) {
    RETURN_IF_ERROR(client.MkdirAll(options.dir, 0755));
  } else {
    return existing.status();
  }
  absl::StatusOr<MetaBenchResult> result = RunPhases(client, options);
  absl::Status cleaned = client.RemoveAll(options.dir);
  if (!result.ok()) return result;
  if (!cleaned.ok() && ErrcOf(cleaned) != Errc::kNotFound) return cleaned;
  return result;
}

}  // namespace cairn::bench
