// MemoryStore: an in-memory KvStore with the same optimistic-transaction
// semantics as the persistent stores. For unit tests and tools; nothing
// survives the process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/kv_store.h"

namespace cairn::store {

class MemoryStore final : public KvStore {
 public:
  MemoryStore() = default;
  std::unique_ptr<Txn> Begin() override;
  std::unique_ptr<Reader> NewReader() override;
  absl::Status Sync() override { return absl::OkStatus(); }
  std::string_view Name() const override { return "memory"; }

 private:
  friend class MemoryTxn;
  friend class MemoryReader;
  struct Entry {
    std::optional<std::string> value;  // nullopt: deleted (a tombstone keeps the version)
    uint64_t version = 0;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> data_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::store
