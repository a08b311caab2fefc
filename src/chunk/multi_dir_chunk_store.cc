#include "chunk/multi_dir_chunk_store.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "chunk/tiered_chunk_store.h"
#include "chunk/volume_chunk_store.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::chunk {
namespace {
// The seed FileChunkStore uses to pick a directory: a chunk goes to the
// same directory whichever of the two spreads it.
constexpr uint64_t kDirHashSeed = 0x6469727321;
}  // namespace

absl::StatusOr<std::unique_ptr<MultiDirChunkStore>> MultiDirChunkStore::Open(
    const MultiDirChunkStoreOptions& options) {
  if (options.dirs.empty()) return Invalid("chunk store: no data directory");
  std::vector<std::string> sorted = options.dirs;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Invalid("chunk store: a data directory is given twice");
  }
  FileOps* ops = options.file_ops != nullptr ? options.file_ops : FileOps::Real();
  std::vector<std::unique_ptr<ChunkStore>> stores;
  std::vector<uint64_t> fs_ids;
  std::vector<VolumeChunkStore*> volumes;
  for (const std::string& dir : options.dirs) {
    FileChunkStoreOptions o;
    o.dirs = {dir};
    o.file_ops = options.file_ops;
    o.sync_mode = options.sync_mode;
    // The file store first: it creates DIR and takes DIR/LOCK.
    absl::StatusOr<std::unique_ptr<FileChunkStore>> s = FileChunkStore::Open(std::move(o));
    if (!s.ok()) return Error(ErrcOf(s.status()), dir + ": " + std::string(s.status().message()));
    ASSIGN_OR_RETURN(FsSpace space, ops->StatFs(dir));
    std::unique_ptr<ChunkStore> store = std::move(*s);
    if (options.small_chunk_limit > 0) {
      VolumeChunkStoreOptions vo;
      vo.dir = dir + "/volumes";
      vo.file_ops = options.file_ops;
      absl::StatusOr<std::unique_ptr<VolumeChunkStore>> v = VolumeChunkStore::Open(std::move(vo));
      if (!v.ok()) {
        return Error(ErrcOf(v.status()), vo.dir + ": " + std::string(v.status().message()));
      }
      volumes.push_back(v->get());
      TieredChunkStoreOptions to;
      to.small_limit = options.small_chunk_limit;
      store = std::make_unique<TieredChunkStore>(std::move(*v), std::move(store), to);
    }
    stores.push_back(std::move(store));
    fs_ids.push_back(space.fs_id);
  }
  auto multi = std::make_unique<MultiDirChunkStore>(std::move(stores), std::move(fs_ids));
  multi->volumes_ = std::move(volumes);
  return multi;
}

absl::StatusOr<uint64_t> MultiDirChunkStore::CompactVolumes() {
  uint64_t reclaimed = 0;
  for (VolumeChunkStore* v : volumes_) {
    ASSIGN_OR_RETURN(CompactionReport report, v->Compact());
    reclaimed += report.bytes_reclaimed;
  }
  return reclaimed;
}

MultiDirChunkStore::MultiDirChunkStore(std::vector<std::unique_ptr<ChunkStore>> stores,
                                       std::vector<uint64_t> fs_ids)
    : stores_(std::move(stores)), fs_ids_([&] {
        if (fs_ids.size() == stores_.size()) return fs_ids;
        std::vector<uint64_t> own(stores_.size());
        for (size_t i = 0; i < own.size(); ++i) own[i] = i;
        return own;
      }()) {}

size_t MultiDirChunkStore::Primary(ChunkId id) const {
  return static_cast<size_t>(id.Hash(kDirHashSeed) % stores_.size());
}

int MultiDirChunkStore::Find(ChunkId id) {
  // The primary first: that is where almost every chunk is.
  const size_t n = stores_.size();
  const size_t p = Primary(id);
  for (size_t k = 0; k < n; ++k) {
    size_t i = (p + k) % n;
    if (stores_[i]->Lookup(id).ok()) return static_cast<int>(i);
  }
  return -1;
}

absl::Status MultiDirChunkStore::Put(ChunkId id, std::span<const uint8_t> data,
                                     std::span<const uint32_t> block_crcs) {
  RETURN_IF_ERROR(ValidatePut(id, data, block_crcs));
  IdLocks::Guard guard(&id_locks_, id);
  if (int at = Find(id); at >= 0) {
    return stores_[at]->Put(id, data, block_crcs);  // a retry, a conflict or a repair
  }
  absl::Status result;
  const size_t n = stores_.size();
  const size_t p = Primary(id);
  for (size_t k = 0; k < n; ++k) {
    result = stores_[(p + k) % n]->Put(id, data, block_crcs);
    if (ErrcOf(result) != Errc::kNoSpace) break;
  }
  return result;
}

absl::StatusOr<AlignedBuffer> MultiDirChunkStore::Get(ChunkId id, uint64_t offset,
                                                      uint64_t length) {
  if (!id.valid()) return Invalid("chunk store: zero chunk id");
  int at = Find(id);
  if (at < 0) return NotFound("chunk " + id.ToString() + " not found");
  return stores_[at]->Get(id, offset, length);
}

absl::Status MultiDirChunkStore::OnEveryCopy(ChunkId id, absl::Status (ChunkStore::*op)(ChunkId)) {
  if (!id.valid()) return Invalid("chunk store: zero chunk id");
  IdLocks::Guard guard(&id_locks_, id);
  bool found = false;
  absl::Status result;
  for (const auto& s : stores_) {
    if (!s->Lookup(id).ok()) continue;
    found = true;
    absl::Status st = (s.get()->*op)(id);
    if (!st.ok() && ErrcOf(st) != Errc::kNotFound && result.ok()) result = st;
  }
  if (!found) return NotFound("chunk " + id.ToString() + " not found");
  return result;
}

absl::Status MultiDirChunkStore::Delete(ChunkId id) { return OnEveryCopy(id, &ChunkStore::Delete); }

absl::Status MultiDirChunkStore::Quarantine(ChunkId id) {
  return OnEveryCopy(id, &ChunkStore::Quarantine);
}

absl::StatusOr<ChunkInfo> MultiDirChunkStore::Lookup(ChunkId id) {
  if (!id.valid()) return Invalid("chunk store: zero chunk id");
  int at = Find(id);
  if (at < 0) return NotFound("chunk " + id.ToString() + " not found");
  return stores_[at]->Lookup(id);
}

absl::StatusOr<int64_t> MultiDirChunkStore::ModifiedNs(ChunkId id) {
  if (!id.valid()) return Invalid("chunk store: zero chunk id");
  int at = Find(id);
  if (at < 0) return NotFound("chunk " + id.ToString() + " not found");
  return stores_[at]->ModifiedNs(id);
}

absl::StatusOr<std::vector<ChunkInfo>> MultiDirChunkStore::List(std::optional<ChunkId> after,
                                                                size_t limit) {
  // Each store's first `limit` ids after `after` hold the first `limit`
  // of the union: merge them, drop duplicates, cut.
  std::vector<ChunkInfo> all;
  for (const auto& s : stores_) {
    ASSIGN_OR_RETURN(std::vector<ChunkInfo> part, s->List(after, limit));
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end(),
            [](const ChunkInfo& a, const ChunkInfo& b) { return a.id < b.id; });
  all.erase(std::unique(all.begin(), all.end(),
                        [](const ChunkInfo& a, const ChunkInfo& b) { return a.id == b.id; }),
            all.end());
  if (all.size() > limit) all.resize(limit);
  return all;
}

absl::StatusOr<StoreStats> MultiDirChunkStore::Stat() {
  StoreStats total;
  absl::flat_hash_map<uint64_t, StoreStats> by_fs;  // directories may share a file system
  for (size_t i = 0; i < stores_.size(); ++i) {
    ASSIGN_OR_RETURN(StoreStats s, stores_[i]->Stat());
    total.chunk_count += s.chunk_count;
    total.chunk_bytes += s.chunk_bytes;
    by_fs[fs_ids_[i]] = s;
  }
  for (const auto& [unused, s] : by_fs) {
    total.capacity_bytes += s.capacity_bytes;
    total.available_bytes += s.available_bytes;
  }
  return total;
}

}  // namespace cairn::chunk
