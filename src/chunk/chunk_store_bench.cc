// Chunk store write rates: many small chunks from several threads (where
// group commit matters) and large chunks from one thread.
//
//   chunk_store_bench --benchmark_filter=BM_Put   [CAIRN_BENCH_DIR=/path]
//
// The directory defaults to $TMPDIR or /tmp; it should live on the disk
// being measured.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "chunk/file_chunk_store.h"

namespace cairn::chunk {
namespace {

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("CAIRN_BENCH_DIR");
  std::filesystem::path p = base ? base : std::filesystem::temp_directory_path().string();
  p /= "cairn-chunk-bench-" + std::to_string(::getpid()) + "-" + name;
  std::filesystem::remove_all(p);
  return p.string();
}

std::unique_ptr<FileChunkStore> g_store;
std::string g_dir;

// Runs once before each BM_Put run (all threads): a fresh store.
void PutSetup(const benchmark::State& state) {
  g_dir = BenchDir("put");
  FileChunkStoreOptions o;
  o.dirs = {g_dir};
  o.sync_mode = static_cast<SyncMode>(state.range(1));
  g_store = std::move(FileChunkStore::Open(o).value());
}

void PutTeardown(const benchmark::State&) {
  g_store.reset();
  std::filesystem::remove_all(g_dir);
}

// args: chunk bytes, SyncMode (0 per-op, 1 syncfs rounds);
// threads from ->Threads().
void BM_Put(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 7 + state.thread_index());
  std::vector<uint32_t> crcs = crc32c::BlockCrcs(data, kBlockSize);
  for (auto _ : state) {
    absl::Status s = g_store->Put(ChunkId::Random(), data, crcs);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(BM_Put)
    ->ArgNames({"bytes", "mode"})
    ->Args({4096, 0})
    ->Args({4096, 1})
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(2.0)
    ->Setup(PutSetup)
    ->Teardown(PutTeardown);

BENCHMARK(BM_Put)
    ->ArgNames({"bytes", "mode"})
    ->Args({8 << 20, 0})
    ->UseRealTime()
    ->MinTime(2.0)
    ->Setup(PutSetup)
    ->Teardown(PutTeardown);

void BM_Get(benchmark::State& state) {
  const std::string dir = BenchDir("get");
  FileChunkStoreOptions o;
  o.dirs = {dir};
  auto store = std::move(FileChunkStore::Open(o).value());
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(size, 0x5a);
  ChunkId id = ChunkId::Random();
  if (!store->PutComputingCrcs(id, data).ok()) state.SkipWithError("put failed");
  for (auto _ : state) {
    auto r = store->Get(id, 0, kToEnd);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Get)->Arg(8 << 20);

}  // namespace
}  // namespace cairn::chunk

BENCHMARK_MAIN();
