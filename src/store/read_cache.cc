#include "store/read_cache.h"

#include <algorithm>

namespace cairn::store {

ReadCache::ReadCache(size_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}

ReadCache::Shard& ReadCache::ShardOf(std::string_view key) {
  // The high bits: the map inside the shard uses the same hash.
  return shards_[(KeyHash()(key) >> 40) % kShards];
}

size_t ReadCache::Cost(std::string_view key, const std::optional<std::string>& value) {
  return key.size() + (value ? value->size() : 0) + kEntryOverhead;
}

std::optional<ReadCache::Hit> ReadCache::Lookup(std::string_view key, Ticket* ticket) {
  if (!enabled()) return std::nullopt;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return Hit{it->second};
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  ticket->generation = shard.generation;
  return std::nullopt;
}

void ReadCache::Fill(std::string_view key, const std::optional<std::string>& value, Ticket ticket) {
  if (!enabled()) return;
  const size_t cost = Cost(key, value);
  if (cost > shard_capacity_) return;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  if (shard.writing > 0 || shard.generation != ticket.generation) return;
  if (shard.entries.contains(key)) return;  // another reader filled it
  MakeRoom(shard, cost);
  shard.entries.emplace(key, value);
  shard.bytes += cost;
}

void ReadCache::MakeRoom(Shard& shard, size_t need) {
  if (shard.bytes + need <= shard_capacity_) return;
  // Drop about an eighth of the entries (hash order is arbitrary enough).
  size_t drop = std::max<size_t>(1, shard.entries.size() / 8);
  for (auto it = shard.entries.begin(); it != shard.entries.end() && drop > 0;) {
    shard.bytes -= std::min(shard.bytes, Cost(it->first, it->second));
    shard.entries.erase(it++);
    --drop;
  }
}

void ReadCache::Forget(Shard& shard, std::string_view key) {
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return;
  shard.bytes -= std::min(shard.bytes, Cost(it->first, it->second));
  shard.entries.erase(it);
}

void ReadCache::BeginWrite(std::string_view key) {
  if (!enabled()) return;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  ++shard.writing;
  Forget(shard, key);
}

void ReadCache::EndWrite(std::string_view key) {
  if (!enabled()) return;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  if (shard.writing > 0) --shard.writing;
  ++shard.generation;
  Forget(shard, key);
}

size_t ReadCache::bytes() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.bytes;
  }
  return total;
}

}  // namespace cairn::store
