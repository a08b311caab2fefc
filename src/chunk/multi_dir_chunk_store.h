// MultiDirChunkStore: one ChunkStore per data directory (normally a
// FileChunkStore each, `cairn chunk --dir DIR` repeated) behind one
// ChunkStore.
//
// Placement: a new chunk goes to store number hash(id) % n (the same
// seeded hash FileChunkStore uses to pick a directory, independent of the
// placement-group hash). When that store is full (Errc::kNoSpace) the Put
// falls back to the next stores in order (primary+1, primary+2, ... mod n);
// only when every store is full does the Put fail with kNoSpace. Lookups
// ask every store (their indexes are in memory), so a chunk is found
// wherever it is: after a fallback, or when directories were added or
// reordered between runs.
//
// Immutability across stores: Put first looks for the id in every store
// and, when found, passes the Put to that store (idempotent retry, or
// kExists for other bytes); Puts and Deletes of one id are serialized
// here, so two concurrent Puts of one id can never land in two stores.
// Delete removes every copy (a directory restored from a backup may hold a
// duplicate).
//
// Stat sums chunk counts and bytes over the stores; capacity and available
// bytes are summed once per file system (directories sharing a file system
// are counted once), as FileChunkStore does.
//
// Ownership and thread-safety: owns the stores; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chunk/chunk_store.h"
#include "chunk/file_chunk_store.h"
#include "chunk/id_locks.h"

namespace cairn::chunk {

class VolumeChunkStore;

struct MultiDirChunkStoreOptions {
  // Data directories, at least one; each gets a FileChunkStore of its own
  // (created when missing; the parent must exist). Duplicates are refused.
  std::vector<std::string> dirs;
  // Passed to each FileChunkStore. Default: the real file system, kPerOp.
  FileOps* file_ops = nullptr;
  SyncMode sync_mode = SyncMode::kPerOp;
  // Chunks up to this many bytes go to append-only volume files in
  // DIR/volumes (VolumeChunkStore behind a TieredChunkStore: many chunks
  // per fdatasync); larger ones to one file each. 0 (default here): every
  // chunk in a file of its own. The chunk server passes its own option
  // (`cairn chunk --small-chunk-limit`, 128 KiB by default).
  uint64_t small_chunk_limit = 0;
};

class MultiDirChunkStore final : public ChunkStore {
 public:
  // Opens a FileChunkStore per directory (each runs its recovery).
  static absl::StatusOr<std::unique_ptr<MultiDirChunkStore>> Open(
      const MultiDirChunkStoreOptions& options);

  // Over stores opened elsewhere (tests use MemoryChunkStores).
  // `fs_ids[i]` names the file system of store i, for Stat's capacity sum
  // (empty: every store is its own file system). At least one store.
  MultiDirChunkStore(std::vector<std::unique_ptr<ChunkStore>> stores,
                     std::vector<uint64_t> fs_ids = {});

  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> block_crcs) override;
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) override;
  absl::Status Delete(ChunkId id) override;
  // Quarantines every copy (as Delete removes every copy).
  absl::Status Quarantine(ChunkId id) override;
  absl::StatusOr<ChunkInfo> Lookup(ChunkId id) override;
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override;
  absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after, size_t limit) override;
  absl::StatusOr<StoreStats> Stat() override;
  std::string_view Name() const override { return "multi-dir"; }

  // Compacts the volume stores (small_chunk_limit > 0); returns the bytes
  // reclaimed. A no-op without volumes.
  absl::StatusOr<uint64_t> CompactVolumes();

  size_t size() const { return stores_.size(); }
  ChunkStore* store(size_t i) const { return stores_[i].get(); }
  // The store a new chunk tries first.
  size_t Primary(ChunkId id) const;

 private:
  std::vector<VolumeChunkStore*> volumes_;  // owned through stores_ (by Open)
  // The index of the store holding `id`, or -1.
  int Find(ChunkId id);
  // Runs `op` on every store holding `id` (the first error other than
  // kNotFound wins); kNotFound when none does.
  absl::Status OnEveryCopy(ChunkId id, absl::Status (ChunkStore::*op)(ChunkId));

  const std::vector<std::unique_ptr<ChunkStore>> stores_;
  const std::vector<uint64_t> fs_ids_;

  // Held by Put, Delete and Quarantine.
  IdLocks id_locks_;
};

}  // namespace cairn::chunk
