// MemoryChunkStore: a ChunkStore in memory with the full contract of the
// interface (idempotent Put, CRC checks on every Get, typed errors). For
// unit tests of the data plane and tools; nothing survives the process.
// Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/synchronization/mutex.h"
#include "chunk/chunk_store.h"

namespace cairn::chunk {

class MemoryChunkStore final : public ChunkStore {
 public:
  // `capacity_bytes`: Put fails with Errc::kNoSpace once the stored data
  // would exceed it.
  explicit MemoryChunkStore(uint64_t capacity_bytes = uint64_t{1} << 40)
      : capacity_(capacity_bytes) {}

  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> block_crcs) override;
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) override;
  absl::Status Delete(ChunkId id) override;
  // Forgets the chunk (there is no file to keep aside).
  absl::Status Quarantine(ChunkId id) override { return Delete(id); }
  absl::StatusOr<ChunkInfo> Lookup(ChunkId id) override;
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override;
  absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after, size_t limit) override;
  absl::StatusOr<StoreStats> Stat() override;
  std::string_view Name() const override { return "memory"; }

  // Test hook: flips bits of the stored byte at `offset` (the CRCs stay),
  // as a bad disk would. Returns false when there is no such byte.
  bool CorruptByteForTest(ChunkId id, uint64_t offset);

 private:
  struct Chunk {
    std::vector<uint8_t> data;
    std::vector<uint32_t> crcs;
    int64_t stored_ns = 0;
  };
  const uint64_t capacity_;
  absl::Mutex mu_;
  absl::btree_map<ChunkId, Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::chunk
