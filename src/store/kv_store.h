// The metadata store interface: an ordered key-value store with optimistic
// transactions. Implementations: MemoryStore (tests, tools), RocksDbStore
// (embedded default); an etcd store fits the same shape (Get records the
// key's mod revision, Commit is a Txn comparing those revisions).
//
// Reads that write nothing need no transaction: KvStore::NewReader() gives
// a Reader of the latest committed state, which skips the bookkeeping a
// transaction keeps for conflict detection.
//
// Thread-safety: a KvStore is thread-safe. A Txn or Reader is used by one
// thread at a time and must not outlive its store.
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

// Read access. Code that only reads takes a Reader, so it runs both inside
// a transaction (a Txn is a Reader) and on KvStore::NewReader().
class Reader {
 public:
  virtual ~Reader() = default;

  // Reads `key`; nullopt when absent. On a Txn see Txn::Get.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) = 0;

  // Reads the committed keys in [begin, end) in key order, at most `limit`
  // of them (0 = no limit), all from one consistent state of the store.
  // On a Txn, scans are NOT recorded for conflict detection and do not see
  // the transaction's own writes: an operation that must not race with
  // writers of a range reads (Get) a key every such writer also writes
  // (for directory entries: the directory's inode).
  virtual absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                                     size_t limit) = 0;
};

class Txn : public Reader {
 public:
  // Reads `key`, seeing this transaction's own writes. The key is recorded
  // for conflict detection: Commit fails with Errc::kConflict if another
  // commit created, changed or deleted it after this read.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override = 0;

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

  // A Reader of the latest committed state, for operations that write
  // nothing. Each read sees every commit acknowledged before it started;
  // two reads of one Reader may see different states (there is no
  // snapshot), except that one Scan is consistent in itself. Nothing is
  // recorded for conflict detection, which is what makes it cheaper than
  // a transaction that is never committed.
  virtual std::unique_ptr<Reader> NewReader() = 0;

  // Makes every commit acknowledged so far durable on disk.
  virtual absl::Status Sync() = 0;

  // "memory", "rocksdb", ...
  virtual std::string_view Name() const = 0;
};

}  // namespace cairn::store
