#include "chunk/tiered_chunk_store.h"

#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::chunk {

TieredChunkStore::TieredChunkStore(std::unique_ptr<ChunkStore> small,
                                   std::unique_ptr<ChunkStore> large,
                                   TieredChunkStoreOptions options)
    : small_(std::move(small)), large_(std::move(large)), options_(options) {}

ChunkStore* TieredChunkStore::Holder(ChunkId id) {
  if (small_->Has(id)) return small_.get();
  if (large_->Has(id)) return large_.get();
  return nullptr;
}

absl::Status TieredChunkStore::Put(ChunkId id, std::span<const uint8_t> data,
                                   std::span<const uint32_t> block_crcs) {
  RETURN_IF_ERROR(ValidatePut(id, data, block_crcs));
  IdLocks::Guard guard(&id_locks_, id);
  ChunkStore* target = Holder(id);
  if (target == nullptr) target = data.size() <= options_.small_limit ? small_.get() : large_.get();
  return target->Put(id, data, block_crcs);
}

absl::StatusOr<AlignedBuffer> TieredChunkStore::Get(ChunkId id, uint64_t offset, uint64_t length) {
  absl::StatusOr<AlignedBuffer> r = small_->Get(id, offset, length);
  if (ErrcOf(r.status()) != Errc::kNotFound) return r;
  return large_->Get(id, offset, length);
}

absl::Status TieredChunkStore::OnEveryCopy(ChunkId id, absl::Status (ChunkStore::*op)(ChunkId)) {
  IdLocks::Guard guard(&id_locks_, id);
  bool found = false;
  absl::Status result;
  for (ChunkStore* s : {small_.get(), large_.get()}) {
    absl::Status r = (s->*op)(id);
    if (ErrcOf(r) == Errc::kNotFound) continue;
    found = true;
    result.Update(r);
  }
  if (!found) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return result;
}

absl::Status TieredChunkStore::Delete(ChunkId id) { return OnEveryCopy(id, &ChunkStore::Delete); }

absl::Status TieredChunkStore::Quarantine(ChunkId id) {
  return OnEveryCopy(id, &ChunkStore::Quarantine);
}

absl::StatusOr<ChunkInfo> TieredChunkStore::Lookup(ChunkId id) {
  absl::StatusOr<ChunkInfo> r = small_->Lookup(id);
  if (ErrcOf(r.status()) != Errc::kNotFound) return r;
  return large_->Lookup(id);
}

absl::StatusOr<int64_t> TieredChunkStore::ModifiedNs(ChunkId id) {
  absl::StatusOr<int64_t> r = small_->ModifiedNs(id);
  if (ErrcOf(r.status()) != Errc::kNotFound) return r;
  return large_->ModifiedNs(id);
}

absl::StatusOr<std::vector<ChunkInfo>> TieredChunkStore::List(std::optional<ChunkId> after,
                                                              size_t limit) {
  ASSIGN_OR_RETURN(std::vector<ChunkInfo> a, small_->List(after, limit));
  ASSIGN_OR_RETURN(std::vector<ChunkInfo> b, large_->List(after, limit));
  // Both pages are sorted and each holds the first `limit` ids of its store
  // after `after`, so the first `limit` of their union are exact.
  std::vector<ChunkInfo> out;
  out.reserve(std::min(limit, a.size() + b.size()));
  size_t i = 0, j = 0;
  while (out.size() < limit && (i < a.size() || j < b.size())) {
    if (j == b.size() || (i < a.size() && a[i].id < b[j].id)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].id < a[i].id) {
      out.push_back(b[j++]);
    } else {
      out.push_back(a[i++]);  // in both: listed once
      ++j;
    }
  }
  return out;
}

absl::StatusOr<StoreStats> TieredChunkStore::Stat() {
  ASSIGN_OR_RETURN(StoreStats a, small_->Stat());
  ASSIGN_OR_RETURN(StoreStats b, large_->Stat());
  StoreStats out;
  out.chunk_count = a.chunk_count + b.chunk_count;
  out.chunk_bytes = a.chunk_bytes + b.chunk_bytes;
  if (options_.shared_file_system) {
    out.capacity_bytes = b.capacity_bytes;
    out.available_bytes = b.available_bytes;
  } else {
    out.capacity_bytes = a.capacity_bytes + b.capacity_bytes;
    out.available_bytes = a.available_bytes + b.available_bytes;
  }
  return out;
}

}  // namespace cairn::chunk
