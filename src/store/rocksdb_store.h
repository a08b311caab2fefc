// RocksDbStore: the embedded KvStore, on RocksDB's OptimisticTransactionDB.
//
// Durability (docs/durability.md): every commit is written to RocksDB's
// write-ahead log (an OS write) before Commit returns, so no acknowledged
// commit is lost when the process dies. In SyncMode::kInterval a background
// thread syncs the log to disk every `sync_interval` when anything was
// written, so a power loss loses at most that window of commits nobody
// asked to be durable; commits with CommitOptions::sync and Sync() are
// durable on return. SyncMode::kAlways makes every commit durable (RocksDB
// groups concurrent synced writes into one fsync).
//
// Thread-safety: thread-safe; transactions as in kv_store.h.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "store/kv_store.h"
#include "store/read_cache.h"

namespace rocksdb {
class OptimisticTransactionDB;
}

namespace cairn::store {

enum class SyncMode {
  kInterval,  // group sync every sync_interval (default)
  kAlways,    // sync every commit before acknowledging it
};

struct RocksDbOptions {
  // Directory holding the database; created when missing.
  std::string dir;
  // See the class comment. Default kInterval.
  SyncMode sync_mode = SyncMode::kInterval;
  // Longest time an unsynced commit stays only in the OS page cache.
  // Default 5 ms: shorter narrows the power-loss window, longer saves
  // fsyncs on a busy store.
  absl::Duration sync_interval = absl::Milliseconds(5);
  // RocksDB block cache; default 256 MiB.
  size_t block_cache_bytes = 256u << 20;
  // Values recently read by Readers (read_cache.h); default 64 MiB, 0: off.
  size_t read_cache_bytes = 64u << 20;
};

class RocksDbStore final : public KvStore {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDbStore>> Open(const RocksDbOptions& options);
  ~RocksDbStore() override;  // stops the sync thread, syncs, closes

  std::unique_ptr<Txn> Begin() override;
  // Reads straight from the database (no transaction, no snapshot).
  std::unique_ptr<Reader> NewReader() override;
  absl::Status Sync() override;
  std::string_view Name() const override { return "rocksdb"; }

  // Number of log syncs done so far (for metrics and tests).
  uint64_t sync_count() const { return sync_count_.load(); }
  const ReadCache& read_cache() const { return cache_; }

 private:
  friend class RocksDbTxn;
  friend class RocksDbReader;
  explicit RocksDbStore(const RocksDbOptions& options);
  void SyncLoop();
  void NoteWrite() { dirty_.store(true, std::memory_order_relaxed); }

  RocksDbOptions options_;
  std::unique_ptr<rocksdb::OptimisticTransactionDB> db_;
  ReadCache cache_;
  std::atomic<bool> dirty_{false};
  std::atomic<uint64_t> sync_count_{0};
  absl::Notification stop_;
  std::thread sync_thread_;
};

}  // namespace cairn::store
