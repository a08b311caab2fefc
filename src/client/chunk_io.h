// ChunkIo: reads and writes whole chunks or chunk ranges on the chunk
// servers of the chunk's placement group, with the failure handling of
// ARCHITECTURE.md ("Write path", "Read path"):
//
// - Write sends the chunk down the chain (its first `replicas` UP members)
//   and succeeds only when every member holds it durably. When a member
//   fails it is reported to meta (ReportNodeFailure); the write backs off,
//   refreshes the map and tries again (meta takes a node whose heartbeats
//   stopped out of its chains within seconds), until the deadline.
// - Reads go to any member; one that fails is skipped (a checksum failure
//   is reported with ReportBadChunk, an unreachable member with
//   ReportNodeFailure) and the next one tried; when every member failed
//   the read backs off, refreshes the map and starts over, until the
//   deadline. Large ranges are split over the members and fetched in
//   parallel (StartRead).
// - A request refused for a stale epoch refreshes the map at once.
//
// Thread-safety: thread-safe. Borrows the cache, the data client and the
// pool, which must outlive it.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chunk/aligned_buffer.h"
#include "chunk/chunk_id.h"
#include "client/cluster_map.h"
#include "client/slots.h"
#include "client/task_pool.h"
#include "dataplane/data_client.h"

namespace cairn::client {

struct ChunkIoOptions {
  // Bound on one Write or one read of a range, every retry included.
  absl::Duration deadline = absl::Seconds(60);
  // Back-off between rounds of attempts: doubles from first to max.
  absl::Duration first_backoff = absl::Milliseconds(20);
  absl::Duration max_backoff = absl::Seconds(1);
  // StartRead splits ranges of at least this many bytes over the members.
  uint64_t parallel_read_min = 1 << 20;
};

// A chunk range being fetched, possibly in several pieces in parallel.
class PendingRead {
 public:
  struct Piece {
    Range range;  // chunk-relative
    std::future<absl::StatusOr<AlignedBuffer>> future;
    std::optional<absl::StatusOr<AlignedBuffer>> result;  // once waited for
  };
  PendingRead(Range range, std::vector<Piece> pieces) : range_(range), pieces_(std::move(pieces)) {}
  // A read already done (one piece holding `result`).
  static std::shared_ptr<PendingRead> Done(Range range, absl::StatusOr<AlignedBuffer> result);

  // The chunk-relative bytes being read.
  Range range() const { return range_; }
  // Waits for the pieces that overlap `r` (inside range()) and copies the
  // bytes of `r` to `dst`. The first failed piece's error otherwise.
  absl::Status CopyTo(const Range& r, uint8_t* dst);
  // Waits for every piece; the first error.
  absl::Status Wait();

 private:
  absl::Status Resolve(Piece& piece);  // under mu_

  const Range range_;
  std::mutex mu_;
  std::vector<Piece> pieces_;  // guarded by mu_, in order
};

class ChunkIo {
 public:
  ChunkIo(ClusterMapCache* maps, dataplane::DataClient* data, TaskPool* pool,
          ChunkIoOptions options);

  // Stores `data` as chunk `id` on every member of the chain prefix of
  // length `replicas` (fewer when fewer members are up). `block_crcs`: the
  // CRC32C of each 64 KiB block (computed when empty).
  absl::Status Write(const ChunkId& id, std::span<const uint8_t> data, uint32_t replicas,
                     std::span<const uint32_t> block_crcs = {});

  // Reads chunk-relative bytes `r` from one member, trying member `first`
  // (modulo the chain length) first, then the others.
  absl::StatusOr<AlignedBuffer> ReadRange(const ChunkId& id, const Range& r, uint32_t first = 0);

  // Starts reading `r` on the pool: one piece, or one per chain member when
  // r is at least parallel_read_min bytes.
  std::shared_ptr<PendingRead> StartRead(const ChunkId& id, const Range& r);

  // Reads `r` into dst: on the calling thread when small, else as StartRead.
  absl::Status ReadInto(const ChunkId& id, const Range& r, uint8_t* dst);

  ClusterMapCache* maps() { return maps_; }

 private:
  ClusterMapCache* const maps_;
  dataplane::DataClient* const data_;
  TaskPool* const pool_;
  const ChunkIoOptions options_;
  std::atomic<uint32_t> spread_{0};  // rotates the first member of reads
};

}  // namespace cairn::client
