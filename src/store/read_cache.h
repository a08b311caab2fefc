// ReadCache: recently read values (and absences) of a store's keys, so the
// reads that need no transaction (path walks, getattr, lookup) skip the
// database's memtable and block searches for hot inodes and entries.
//
// Coherence: a commit calls BeginWrite(key) for each key it writes before
// it applies them, and EndWrite(key) after (applied or not) and before the
// commit is acknowledged. Both forget the key. A reader that misses fills
// the entry only if no write of the key's shard was under way at its Fill
// and none ended between its Lookup and its Fill (a shard generation
// counter). So nothing read from the database while a write is under way
// is cached: a read that starts after an acknowledged commit never sees an
// older value, and a reader that saw the new value in the database before
// the acknowledgement never sees the old one after it from the cache.
//
// Memory: at most `capacity_bytes` of keys and values (plus per-entry
// overhead counted as 64 bytes); a full shard drops an arbitrary eighth of
// its entries. capacity 0 disables the cache (Lookup always misses, Fill
// does nothing).
//
// Thread-safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace cairn::store {

class ReadCache {
 public:
  explicit ReadCache(size_t capacity_bytes);

  // What a miss hands to Fill: the shard generation seen at the miss.
  struct Ticket {
    uint64_t generation = 0;
  };
  struct Hit {
    std::optional<std::string> value;  // nullopt: the key is known absent
  };

  // A cached value or absence of `key`; on a miss, `ticket` is set for a
  // later Fill of what the caller reads from the database.
  std::optional<Hit> Lookup(std::string_view key, Ticket* ticket);
  // Caches what the database returned for `key` (nullopt: absent) unless a
  // write of the key's shard is under way or ended since the Lookup that
  // gave `ticket`.
  void Fill(std::string_view key, const std::optional<std::string>& value, Ticket ticket);
  // A commit is about to write `key`: forgets it, and blocks fills of its
  // shard until the matching EndWrite.
  void BeginWrite(std::string_view key);
  // The write of `key` begun with BeginWrite is over (applied or not):
  // forgets it again; fills whose Lookup came before are dropped.
  void EndWrite(std::string_view key);

  bool enabled() const { return shard_capacity_ > 0; }
  // Bytes held now (keys, values, overhead), over all shards.
  size_t bytes() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 64;
  static constexpr size_t kEntryOverhead = 64;

  // Transparent over std::string_view (lookups without a copy of the key).
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>()(k); }
  };
  struct KeyEq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };

  struct Shard {
    mutable absl::Mutex mu;
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;  // writes ended
    uint32_t writing ABSL_GUARDED_BY(mu) = 0;     // writes under way
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
    absl::flat_hash_map<std::string, std::optional<std::string>, KeyHash, KeyEq> entries
        ABSL_GUARDED_BY(mu);
  };

  Shard& ShardOf(std::string_view key);
  static size_t Cost(std::string_view key, const std::optional<std::string>& value);
  void MakeRoom(Shard& shard, size_t need) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  static void Forget(Shard& shard, std::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace cairn::store
