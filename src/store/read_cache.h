// ReadCache: recently read values (and absences) of a store's keys, so the
// reads that need no transaction (path walks, getattr, lookup) skip the
// database's memtable and block searches for hot inodes and entries.
//
// Coherence: every commit calls Invalidate(key) for each key it wrote,
// after the write is applied and before the commit is acknowledged, so a
// read that starts after an acknowledged commit never sees an older value.
// A reader that misses fills the entry only if nobody invalidated anything
// in the key's shard between its Begin and its Fill (a shard generation
// counter): a value read from the database just before a commit cannot be
// cached after that commit's invalidation.
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
  // Caches what the database returned for `key` (nullopt: absent) unless
  // the key's shard was invalidated since the Lookup that gave `ticket`.
  void Fill(std::string_view key, const std::optional<std::string>& value, Ticket ticket);
  // Forgets `key`; called for every key a commit wrote.
  void Invalidate(std::string_view key);

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
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
    absl::flat_hash_map<std::string, std::optional<std::string>, KeyHash, KeyEq> entries
        ABSL_GUARDED_BY(mu);
  };

  Shard& ShardOf(std::string_view key);
  static size_t Cost(std::string_view key, const std::optional<std::string>& value);
  void MakeRoom(Shard& shard, size_t need) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace cairn::store
