// TieredChunkStore: small chunks to one store, large ones to another,
// behind one ChunkStore. Meant for a VolumeChunkStore (small chunks, many
// per fdatasync) in front of a FileChunkStore (one file per chunk, where a
// large chunk's own sync costs little next to its data) on the same data
// directory.
//
// Routing: a Put of a chunk not stored yet goes to `small` when its length
// is at most `small_limit`, else to `large`. A Put of an id already stored
// in either store goes to that store (an idempotent retry, or kExists), so
// an id is never stored twice; Puts, Deletes and Quarantines of one id are
// serialized here for that. Reads ask `small` first, then `large`. Delete
// and Quarantine act on every copy (a copy in each store can only come from
// an earlier run with another routing). List merges both stores in id
// order without duplicates. Stat adds the chunk counts; capacity and free
// space are counted once when both stores share a file system.
//
// Ownership and thread-safety: owns both stores; thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "chunk/chunk_store.h"
#include "chunk/id_locks.h"

namespace cairn::chunk {

struct TieredChunkStoreOptions {
  // Chunks up to this many bytes go to the small store. Default 128 KiB:
  // measured with 16 writers (docs/BENCHMARKS.md, "Chunk store: volumes vs
  // one file per chunk"), volumes win clearly below it (the syncs of a file
  // per chunk dominate), tie at 128-256 KiB and lose from 256 KiB up (the
  // data dominates, and a volume's one sync stream and its zero fill cost
  // more than parallel per-file syncs).
  uint64_t small_limit = uint64_t{128} << 10;
  // Both stores live on one file system (volumes in DATA_DIR/volumes next
  // to DATA_DIR/chunks): Stat counts its capacity once. Default true.
  bool shared_file_system = true;
};

class TieredChunkStore final : public ChunkStore {
 public:
  TieredChunkStore(std::unique_ptr<ChunkStore> small, std::unique_ptr<ChunkStore> large,
                   TieredChunkStoreOptions options = {});

  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> block_crcs) override;
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) override;
  absl::Status Delete(ChunkId id) override;
  absl::Status Quarantine(ChunkId id) override;
  absl::StatusOr<ChunkInfo> Lookup(ChunkId id) override;
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override;
  absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after, size_t limit) override;
  absl::StatusOr<StoreStats> Stat() override;
  std::string_view Name() const override { return "tiered"; }

  ChunkStore* small() const { return small_.get(); }
  ChunkStore* large() const { return large_.get(); }

 private:
  // The store holding `id` (small first), or nullptr.
  ChunkStore* Holder(ChunkId id);
  // Runs `op` on each store holding `id`; kNotFound when none does.
  absl::Status OnEveryCopy(ChunkId id, absl::Status (ChunkStore::*op)(ChunkId));

  const std::unique_ptr<ChunkStore> small_;
  const std::unique_ptr<ChunkStore> large_;
  const TieredChunkStoreOptions options_;

  // Held by Put, Delete and Quarantine.
  IdLocks id_locks_;
};

}  // namespace cairn::chunk
