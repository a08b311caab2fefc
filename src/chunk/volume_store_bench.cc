// Small-chunk write rates: FileChunkStore (a file per chunk) against
// VolumeChunkStore (records in volume files, group commit), side by side in
// one run on one directory, with the syncs each chunk cost.
//
//   volume_store_bench [--dir DIR] [--seconds S] [--small BYTES] [--only SUBSTRING]
//
// DIR (default $TMPDIR or /tmp) should be on the disk being measured. Each
// case runs S seconds (default 3) on a fresh store in its own
// subdirectory, removed afterwards. BYTES (default 65536) is the small
// chunk size of the main cases. Output: one line per case with
// chunks/s, MiB/s and (fdatasync + fsync) calls per chunk, counted through
// a FaultInjectingFileOps with no fault armed.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "chunk/file_chunk_store.h"
#include "chunk/file_ops.h"
#include "chunk/volume_chunk_store.h"

namespace cairn::chunk {
namespace {

struct Case {
  std::string store;  // "file" or "volume"
  Preallocation prealloc = Preallocation::kZeroFill;
  uint32_t alignment = 4096;
  size_t bytes = 0;
  int threads = 1;
  int lanes = 1;  // active volumes

  std::string Name() const {
    std::string n = store;
    if (store == "volume") {
      n += prealloc == Preallocation::kZeroFill    ? "/zerofill"
           : prealloc == Preallocation::kFallocate ? "/fallocate"
                                                   : "/none";
      n += "/align" + std::to_string(alignment);
      if (lanes > 1) n += "/lanes" + std::to_string(lanes);
    }
    n += "/" + (bytes >= (1 << 20)   ? std::to_string(bytes >> 20) + "MiB"
                : bytes >= (1 << 10) ? std::to_string(bytes >> 10) + "KiB"
                                     : std::to_string(bytes) + "B");
    n += "/threads:" + std::to_string(threads);
    return n;
  }
};

std::unique_ptr<ChunkStore> OpenStore(const Case& c, const std::string& dir, FileOps* ops) {
  if (c.store == "file") {
    FileChunkStoreOptions o;
    o.dirs = {dir};
    o.file_ops = ops;
    auto s = FileChunkStore::Open(o);
    if (!s.ok()) return nullptr;
    return std::move(*s);
  }
  VolumeChunkStoreOptions o;
  o.dir = dir;
  o.file_ops = ops;
  o.preallocation = c.prealloc;
  o.record_alignment = c.alignment;
  o.active_volumes = c.lanes;
  auto s = VolumeChunkStore::Open(o);
  if (!s.ok()) return nullptr;
  return std::move(*s);
}

void Run(const Case& c, const std::string& base, double seconds) {
  const std::string dir = base + "/case";
  std::filesystem::remove_all(dir);
  FaultInjectingFileOps ops;
  std::unique_ptr<ChunkStore> store = OpenStore(c, dir, &ops);
  if (store == nullptr) {
    std::printf("%-48s  open failed\n", c.Name().c_str());
    return;
  }
  std::vector<uint8_t> data(c.bytes);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  const std::vector<uint32_t> crcs = crc32c::BlockCrcs(data, kBlockSize);
  const int syncs0 = ops.Calls(FileOp::kFdatasync) + ops.Calls(FileOp::kFsync);
  std::atomic<uint64_t> puts{0}, errors{0};
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < c.threads; ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (store->Put(ChunkId::Random(), data, crcs).ok()) {
          puts.fetch_add(1, std::memory_order_relaxed);
        } else {
          errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : threads) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int syncs = ops.Calls(FileOp::kFdatasync) + ops.Calls(FileOp::kFsync) - syncs0;
  const double n = static_cast<double>(puts.load());
  std::printf("%-48s %9.0f chunks/s %8.1f MiB/s %6.3f syncs/chunk%s\n", c.Name().c_str(),
              n / elapsed, n * static_cast<double>(c.bytes) / elapsed / (1 << 20),
              n > 0 ? syncs / n : 0.0, errors.load() > 0 ? "  (errors!)" : "");
  std::fflush(stdout);
  store.reset();
  std::filesystem::remove_all(dir);
}

int Main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr ? tmp : "/tmp";
  double seconds = 3;
  std::string only;
  size_t small = 64 << 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) {
      base = argv[i + 1];
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--small") == 0) {
      small = static_cast<size_t>(std::atoll(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--only") == 0) {
      only = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--dir DIR] [--seconds S] [--small BYTES] [--only SUBSTRING]\n",
                   argv[0]);
      return 2;
    }
  }
  base += "/cairn-volume-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(base);
  std::vector<Case> cases;
  for (int threads : {1, 16, 48}) {
    cases.push_back(Case{"file", {}, 4096, small, threads});
    cases.push_back(Case{"volume", Preallocation::kZeroFill, 4096, small, threads});
    cases.push_back(Case{"volume", Preallocation::kZeroFill, 512, small, threads, 2});
  }
  // Preallocation and alignment variants at 16 writers.
  cases.push_back(Case{"volume", Preallocation::kFallocate, 4096, small, 16});
  cases.push_back(Case{"volume", Preallocation::kNone, 4096, small, 16});
  cases.push_back(Case{"volume", Preallocation::kZeroFill, 512, small, 16});
  // Several active volumes (each with its own group commit).
  for (int threads : {16, 48}) {
    for (int lanes : {2, 4}) {
      cases.push_back(Case{"volume", Preallocation::kZeroFill, 4096, small, threads, lanes});
    }
  }
  // Where the tiers should split.
  for (size_t bytes : {size_t{128} << 10, size_t{256} << 10, size_t{1} << 20}) {
    cases.push_back(Case{"file", {}, 4096, bytes, 16});
    cases.push_back(Case{"volume", Preallocation::kZeroFill, 4096, bytes, 16});
    cases.push_back(Case{"volume", Preallocation::kZeroFill, 4096, bytes, 16, 4});
  }
  cases.push_back(Case{"file", {}, 4096, 8 << 20, 1});
  cases.push_back(Case{"volume", Preallocation::kZeroFill, 512, 8 << 20, 1, 2});
  for (const Case& c : cases) {
    if (!only.empty() && c.Name().find(only) == std::string::npos) continue;
    Run(c, base, seconds);
  }
  std::filesystem::remove_all(base);
  return 0;
}

}  // namespace
}  // namespace cairn::chunk

int main(int argc, char** argv) { return cairn::chunk::Main(argc, argv); }
