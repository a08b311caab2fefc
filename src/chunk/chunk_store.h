// ChunkStore: where a chunk server keeps its immutable chunks.
//
// Implementations: FileChunkStore (one file per chunk over one or more
// directories, the default) and MemoryChunkStore (tests, tools). A
// log-structured store for small chunks (ARCHITECTURE.md, "Small files")
// fits the same interface, so callers never change.
//
// Contract, for every implementation:
//  - Chunks are immutable. Put of an id that is already stored succeeds
//    when the content is identical (retries are idempotent) and fails with
//    Errc::kExists when it differs.
//  - Put returns success only once the chunk is durable: it survives a
//    process crash and a power loss. A failed Put leaves nothing behind.
//  - Every Get verifies the CRC32C of every 64 KiB block it touches,
//    partial reads included, and returns Errc::kCorrupt on a mismatch.
//  - Errc::kNoSpace when the disk is full, Errc::kIo for other storage
//    failures, Errc::kNotFound for unknown ids, Errc::kInvalid for bad
//    arguments.
//
// Thread-safety: a ChunkStore is thread-safe; calls may block on disk I/O
// (run them off event-loop threads).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/aligned_buffer.h"
#include "chunk/chunk_id.h"

namespace cairn::chunk {

// Get(..., kToEnd) reads from the offset to the end of the chunk.
inline constexpr uint64_t kToEnd = ~uint64_t{0};

struct ChunkInfo {
  ChunkId id;
  uint64_t length = 0;  // data bytes
  friend bool operator==(const ChunkInfo&, const ChunkInfo&) = default;
};

struct StoreStats {
  uint64_t capacity_bytes = 0;   // size of the file systems holding the store
  uint64_t available_bytes = 0;  // still free for the store on them
  uint64_t chunk_count = 0;
  uint64_t chunk_bytes = 0;  // sum of the chunks' data lengths
};

class ChunkStore {
 public:
  virtual ~ChunkStore() = default;

  // Stores `data` (at most kMaxChunkSize bytes) as chunk `id`.
  // `block_crcs` holds the CRC32C of each 64 KiB block of `data` (the last
  // one may be short), as computed by the writer; they are checked against
  // the data (Errc::kCorrupt on mismatch) and stored with it.
  virtual absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                           std::span<const uint32_t> block_crcs) = 0;

  // Reads `length` bytes from `offset` (kToEnd: to the end). The range must
  // lie inside the chunk (Errc::kRange otherwise).
  virtual absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) = 0;

  // Removes the chunk, durably. Errc::kNotFound when it is not stored.
  virtual absl::Status Delete(ChunkId id) = 0;

  // Takes a damaged copy out of service for good: it leaves the index (the
  // store never serves it again) and, in the file store, its file moves to
  // the data directory's quarantine directory for inspection, durably.
  // Unconditional: the caller decided the copy is bad (scrub, a read that
  // failed its CRCs). Errc::kNotFound when it is not stored. A later Put of
  // the id stores a fresh copy. Default: Errc::kNotSupported.
  virtual absl::Status Quarantine(ChunkId id);

  // The chunk's info, or Errc::kNotFound.
  virtual absl::StatusOr<ChunkInfo> Lookup(ChunkId id) = 0;
  // When the chunk was stored (ns since the epoch; the chunk file's mtime
  // for the file store), or Errc::kNotFound. Reconciliation leaves chunks
  // younger than its grace period alone.
  virtual absl::StatusOr<int64_t> ModifiedNs(ChunkId id) = 0;

  // Up to `limit` chunks with ids greater than `after` (from the first when
  // nullopt), in id order: pages for reconciliation with meta.
  virtual absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after,
                                                      size_t limit) = 0;

  virtual absl::StatusOr<StoreStats> Stat() = 0;

  // "file", "memory", ...
  virtual std::string_view Name() const = 0;

  bool Has(ChunkId id) { return Lookup(id).ok(); }
  // Put with the block CRCs computed here, for callers that have none.
  absl::Status PutComputingCrcs(ChunkId id, std::span<const uint8_t> data);
};

// Checks the arguments every Put implementation must check: a valid id,
// data within kMaxChunkSize, one CRC per block, and each CRC matching its
// block. Errc::kInvalid or Errc::kCorrupt.
absl::Status ValidatePut(ChunkId id, std::span<const uint8_t> data,
                         std::span<const uint32_t> block_crcs);

// Resolves (offset, length) of a Get against a chunk of `chunk_length`
// bytes into a concrete length, or Errc::kRange.
absl::StatusOr<uint64_t> ResolveRange(uint64_t chunk_length, uint64_t offset, uint64_t length);

}  // namespace cairn::chunk
