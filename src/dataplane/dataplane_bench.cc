// Data-plane throughput on loopback: 8 MiB chunks written through a chain
// of 1 or 3 chunk servers (each over its own FileChunkStore, so every
// replica really fsyncs), and read back from one server.
//
//   dataplane_bench [--benchmark_filter=Write] [CAIRN_BENCH_DIR=/path]
//   dataplane_bench --benchmark_filter=Memory   # stores in memory: network path only
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "chunk/crc32c.h"
#include "chunk/file_chunk_store.h"
#include "chunk/memory_chunk_store.h"
#include "dataplane/data_client.h"
#include "dataplane/data_server.h"
#include "dataplane/protocol.h"

namespace cairn::dataplane {
namespace {

struct Cluster {
  std::string root;
  std::vector<std::unique_ptr<chunk::ChunkStore>> stores;
  std::vector<std::unique_ptr<DataServer>> servers;
  std::vector<std::string> chain;

  Cluster(int n, bool memory) {
    const char* base = std::getenv("CAIRN_BENCH_DIR");
    root = (std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
            ("cairn-dp-bench-" + std::to_string(::getpid())))
               .string();
    for (int i = 0; i < n; ++i) {
      if (memory) {
        stores.push_back(std::make_unique<chunk::MemoryChunkStore>());
      } else {
        chunk::FileChunkStoreOptions o;
        o.dirs = {root + "/s" + std::to_string(i)};
        std::filesystem::create_directories(root);
        stores.push_back(std::move(chunk::FileChunkStore::Open(o).value()));
      }
      servers.push_back(std::move(DataServer::Start(stores.back().get(), {}).value()));
      chain.push_back(servers.back()->address());
    }
  }
  ~Cluster() {
    servers.clear();
    stores.clear();
    std::filesystem::remove_all(root);
  }
};

std::vector<uint8_t> Data(size_t n) {
  std::vector<uint8_t> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
  return d;
}

// args: chain length, memory stores (0/1).
void BM_WriteChain(benchmark::State& state) {
  Cluster cluster(static_cast<int>(state.range(0)), state.range(1) != 0);
  DataClient client;
  const std::vector<uint8_t> data = Data(8 << 20);
  const std::vector<uint32_t> crcs = crc32c::BlockCrcs(data, kBlockSize);
  for (auto _ : state) {
    absl::Status s = client.WriteChunk(cluster.chain, ChunkId::Random(), data, crcs);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_WriteChain)
    ->ArgNames({"chain", "memory"})
    ->Args({1, 0})
    ->Args({3, 0})
    ->Args({1, 1})
    ->Args({3, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

void BM_Read(benchmark::State& state) {
  Cluster cluster(1, false);
  DataClient client;
  const std::vector<uint8_t> data = Data(8 << 20);
  ChunkId id = ChunkId::Random();
  if (!client.WriteChunk(cluster.chain, id, data).ok()) state.SkipWithError("write failed");
  for (auto _ : state) {
    auto r = client.ReadChunk(cluster.chain[0], id, 0, chunk::kToEnd);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Read)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace cairn::dataplane

BENCHMARK_MAIN();
