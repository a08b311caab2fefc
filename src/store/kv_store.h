// The metadata store interface: an ordered key-value store with optimistic
// transactions. Implementations: MemoryStore (tests, tools), RocksDbStore
// (embedded default); an etcd store fits the same shape (Get records the
// key's mod revision, Commit is a Txn comparing those revisions).
//
// Thread-safety: a KvStore is thread-safe. A Txn is used by one thread at a
// time and must not outlive its store.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::store {

struct KeyValue {
  std::string key;
  std::string value;
};

struct CommitOptions {
  // When true, Commit returns only after the change is durable on disk
  // (survives power loss). When false it is durable against any process
  // crash at once, and against power loss after the store's sync interval.
  bool sync = false;
};

class Txn {
 public:
  virtual ~Txn() = default;

  // Reads `key`, seeing this transaction's own writes. The key is recorded
  // for conflict detection: Commit fails with Errc::kConflict if another
  // commit created, changed or deleted it after this read.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) = 0;

  // Reads the committed keys in [begin, end) in key order, at most `limit`
  // of them (0 = no limit). Scans are NOT recorded for conflict detection
  // and do not see this transaction's own writes: an operation that must
  // not race with writers of a range reads (Get) a key every such writer
  // also writes (for directory entries: the directory's inode).
  virtual absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                                     size_t limit) = 0;

  // Buffers a write; nothing is visible to others before Commit.
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;

  // Applies every buffered write atomically, or none. Errc::kConflict when
  // a key read by Get was changed by another commit (retry the whole
  // transaction: see RunTxn). A Txn is committed at most once.
  virtual absl::Status Commit(const CommitOptions& options) = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  virtual std::unique_ptr<Txn> Begin() = 0;

  // Makes every commit acknowledged so far durable on disk.
  virtual absl::Status Sync() = 0;

  // "memory", "rocksdb", ...
  virtual std::string_view Name() const = 0;
};

}  // namespace cairn::store
