// Microbenchmarks of the metadata stores: one-key transactions (read,
// write) on MemoryStore and RocksDbStore, as the namespace issues them.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"

namespace cairn::store {
namespace {

std::unique_ptr<KvStore> MakeStore(int kind, std::string* dir) {
  if (kind == 0) return std::make_unique<MemoryStore>();
  static std::atomic<int> seq{0};
  *dir = std::filesystem::temp_directory_path().string() + "/cairn_store_bench_" +
         std::to_string(getpid()) + "_" + std::to_string(seq++);
  RocksDbOptions options;
  options.dir = *dir;
  auto db = RocksDbStore::Open(options);
  if (!db.ok()) return nullptr;
  return std::move(*db);
}

std::string Key(int64_t i) { return "k" + std::to_string(i % 100000); }

void BM_TxnPutCommit(benchmark::State& state) {
  std::string dir;
  auto store = MakeStore(static_cast<int>(state.range(0)), &dir);
  if (!store) {
    state.SkipWithError("cannot open store");
    return;
  }
  state.SetLabel(std::string(store->Name()));
  const std::string value(200, 'v');
  int64_t i = 0;
  for (auto _ : state) {
    auto txn = store->Begin();
    txn->Put(Key(i++), value);
    auto s = txn->Commit({});
    if (!s.ok()) state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
  store.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TxnPutCommit)->Arg(0)->Arg(1);

void BM_TxnGet(benchmark::State& state) {
  std::string dir;
  auto store = MakeStore(static_cast<int>(state.range(0)), &dir);
  if (!store) {
    state.SkipWithError("cannot open store");
    return;
  }
  state.SetLabel(std::string(store->Name()));
  {
    auto txn = store->Begin();
    for (int i = 0; i < 10000; ++i) txn->Put(Key(i), std::string(200, 'v'));
    if (!txn->Commit({}).ok()) state.SkipWithError("load failed");
  }
  int64_t i = 0;
  for (auto _ : state) {
    auto txn = store->Begin();
    auto v = txn->Get(Key(i++ % 10000));
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  store.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
}
BENCHMARK(BM_TxnGet)->Arg(0)->Arg(1);

}  // namespace
}  // namespace cairn::store

BENCHMARK_MAIN();
