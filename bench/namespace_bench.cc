// Microbenchmarks of the namespace without RPC: Create and GetAttr by
// path in one directory, as `cairn bench meta` issues them, on the memory
// and RocksDB stores (docs/BENCHMARKS.md, "Metadata"). Shows what an
// operation costs in the server itself, apart from gRPC and the client.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "meta/namespace.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"

namespace cairn::meta {
namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<store::KvStore> store;
  std::unique_ptr<Namespace> ns;

  explicit Fixture(int kind) {
    if (kind == 0) {
      store = std::make_unique<store::MemoryStore>();
    } else {
      static std::atomic<int> seq{0};
      dir = std::filesystem::temp_directory_path().string() + "/cairn_namespace_bench_" +
            std::to_string(getpid()) + "_" + std::to_string(seq++);
      store::RocksDbOptions options;
      options.dir = dir;
      auto db = store::RocksDbStore::Open(options);
      if (!db.ok()) return;
      store = std::move(*db);
    }
    NamespaceOptions options;
    options.request_sweep_interval = absl::ZeroDuration();
    auto opened = Namespace::Open(store.get(), options, Clock::Real());
    if (opened.ok()) ns = std::move(*opened);
  }
  ~Fixture() {
    ns.reset();
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

constexpr uint64_t kClient = 0xbe0c'0000'0000'0001;

void BM_Create(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  if (!f.ns || !f.ns->Mkdir(Ref::Path("/"), "bench", 0755, Caller{}).ok()) {
    state.SkipWithError("cannot set up the namespace");
    return;
  }
  state.SetLabel(std::string(f.store->Name()));
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    auto r = f.ns->Create(Ref::Path("/bench"), "f" + std::to_string(i), 0644, true, Caller{},
                          RequestId{kClient, i});
    if (!r.ok()) state.SkipWithError("create failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Create)->Arg(0)->Arg(1);

void BM_GetAttr(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  constexpr int kFiles = 20000;
  if (!f.ns || !f.ns->Mkdir(Ref::Path("/"), "bench", 0755, Caller{}).ok()) {
    state.SkipWithError("cannot set up the namespace");
    return;
  }
  for (int i = 0; i < kFiles; ++i) {
    if (!f.ns->Create(Ref::Path("/bench"), "f" + std::to_string(i), 0644, true, Caller{}).ok()) {
      state.SkipWithError("create failed");
      return;
    }
  }
  state.SetLabel(std::string(f.store->Name()));
  int i = 0;
  for (auto _ : state) {
    auto r = f.ns->GetAttr(Ref::Path("/bench/f" + std::to_string(i++ % kFiles)));
    if (!r.ok()) state.SkipWithError("getattr failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetAttr)->Arg(0)->Arg(1);

}  // namespace
}  // namespace cairn::meta

BENCHMARK_MAIN();
