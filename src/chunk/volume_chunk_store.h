// VolumeChunkStore: small chunks appended as records to large, preallocated
// volume files in one directory, so that one fdatasync makes many chunks
// durable (ARCHITECTURE.md, "Small files"). The format and the recovery
// rules are written down in docs/chunk-format.md, "Volume files".
//
//   DIR/LOCK                    held (flock) while a store has DIR open
//   DIR/volume-<10 digits>      volume files, numbered in creation order
//
// Writes: a Put (or Delete) reserves the next aligned slot of an active
// volume (lanes take appends in turn), writes its record there, and joins
// a group commit: the first waiter becomes the leader and fdatasyncs for
// everyone whose record was written before the sync started
// (leader/follower); no Put returns before its record is durable. A record
// that supersedes an earlier record of its id (a DELETE, a PUT replacing a
// damaged copy or storing an id deleted in a volume newer than the lane's,
// a compaction move) goes to the newest active volume instead, so that log
// order (volume number, then offset) is the order of the operations on
// each id, which is what Open replays. A volume that reaches
// `volume_bytes` is sealed (once every record in it is durable, a SEAL
// record is appended and synced) and a new one becomes active.
//
// Reads: an in-memory index id -> (volume, offset, size, length, time);
// every Get re-checks the record header and the CRC table and verifies the
// CRC32C of every 64 KiB block it touches (Errc::kCorrupt).
//
// Open rebuilds the index by scanning every volume in order (later records
// win; a DELETE drops the chunk). Headers and CRC tables are checked
// everywhere; in volumes without a SEAL record (the one that was active,
// or one that was being sealed at a crash) the data of every record is
// verified too, damaged records are skipped and counted (and zeroed, with
// anything else between good records, so the next open finds them no
// more), and a torn or invalid tail is cut off (truncated).
//
// Compact() rewrites the live records of sealed volumes that are mostly
// dead into the active volume (durably, keeping their stored time), then
// removes those volumes. It runs in the caller's thread, concurrently with
// every other operation; the owner calls it periodically.
//
// Ownership and thread-safety: thread-safe. Operations on one chunk id
// (Put, Delete, Quarantine, a compaction move) are serialized; everything
// else runs in parallel. One process per directory (enforced with LOCK).
// `file_ops` must outlive the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chunk/chunk_store.h"
#include "chunk/file_ops.h"
#include "chunk/id_locks.h"
#include "chunk/volume_format.h"

namespace cairn::chunk {

// How a volume's space is reserved ahead of the records written into it.
// Measured in docs/BENCHMARKS.md ("Chunk store: volumes vs one file per
// chunk").
enum class Preallocation {
  // Files grow with each append: every sync also writes the new size.
  kNone,
  // fallocate(2) of the whole volume at creation: blocks are reserved, but
  // each first write of an extent still converts it (metadata) at sync.
  kFallocate,
  // Zeros are written (and synced) `zero_fill_bytes` ahead of the tail:
  // later record writes overwrite allocated, initialized blocks, so their
  // fdatasync writes data and nothing else. Costs one extra write of the
  // space. Default.
  kZeroFill,
};

struct VolumeChunkStoreOptions {
  // The directory of the volume files; created when missing (its parent
  // must exist). With a TieredChunkStore: DATA_DIR/volumes.
  std::string dir;
  // The file-system calls; nullptr means the real ones. Tests pass a
  // FaultInjectingFileOps. Must outlive the store.
  FileOps* file_ops = nullptr;
  // A volume is sealed and a new one started once the next record would
  // pass this size (a record larger than a whole volume gets a volume of
  // its own). Default 256 MiB: larger volumes mean fewer files, smaller
  // ones less rewriting per compaction.
  uint64_t volume_bytes = uint64_t{256} << 20;
  // Records start at multiples of this (a power of two, 512 .. 1 MiB; the
  // value is written in each volume, so it may change between runs).
  // Default 512: less padding to write than 4096 (which keeps each record
  // on pages of its own), and measured 1.1-1.2x faster for 64 KiB chunks.
  uint32_t record_alignment = 512;
  Preallocation preallocation = Preallocation::kZeroFill;
  // kZeroFill: how far ahead of the tail zeros are written. Default 8 MiB.
  uint64_t zero_fill_bytes = uint64_t{8} << 20;
  // Compact() rewrites a sealed volume once its dead bytes (deleted or
  // superseded records, tombstones, padding at its end) reach this share
  // of the volume. Default 0.5: at most 2x space, and each byte is
  // rewritten at most about once per halving.
  double compact_dead_ratio = 0.5;
  // Volumes appended to at once, each with its own group commit; Puts take
  // them in turn. More than one lets the disk work on several syncs at
  // once, as it does for the many files of a FileChunkStore: 64 KiB chunks
  // from 16 writers measured about 1.5x faster with 2 than with 1, and 4
  // gained nothing more. Each costs one partly filled volume. Default 2.
  int active_volumes = 2;
};

// What Open found and did.
struct VolumeRecoveryReport {
  uint64_t volumes = 0;           // volume files loaded
  uint64_t chunks_loaded = 0;     // live chunks in the index
  uint64_t records_damaged = 0;   // damaged records skipped (never served)
  uint64_t tail_bytes_cut = 0;    // torn or invalid tails truncated
  uint64_t volumes_damaged = 0;   // volume files with a bad header, left alone
  uint64_t volumes_removed = 0;   // half-created volumes (no valid header), removed
  uint64_t volumes_unsealed = 0;  // volumes without a SEAL record (data verified)
  uint64_t ignored = 0;           // entries that are not Cairn's; left alone
};

struct CompactionReport {
  uint64_t volumes_compacted = 0;  // removed after their live records moved
  uint64_t volumes_skipped = 0;    // holding a record that failed verification; kept
  uint64_t chunks_moved = 0;
  uint64_t tombstones_moved = 0;
  uint64_t bytes_reclaimed = 0;  // size of the removed volume files
};

class VolumeChunkStore final : public ChunkStore {
 public:
  static absl::StatusOr<std::unique_ptr<VolumeChunkStore>> Open(VolumeChunkStoreOptions options);
  ~VolumeChunkStore() override;

  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> block_crcs) override;
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) override;
  // Appends a DELETE record durably, then drops the index entry. The space
  // comes back with compaction.
  absl::Status Delete(ChunkId id) override;
  // As Delete: the damaged record stays in its volume (never served again)
  // until compaction drops it.
  absl::Status Quarantine(ChunkId id) override;
  absl::StatusOr<ChunkInfo> Lookup(ChunkId id) override;
  // The time stored in the chunk's record (when it was first Put here).
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override;
  absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after, size_t limit) override;
  absl::StatusOr<StoreStats> Stat() override;
  std::string_view Name() const override { return "volume"; }

  // Rewrites and removes the sealed volumes whose dead share reached
  // options.compact_dead_ratio. Errors stop the pass; what was done stays
  // done (every step is durable before the next).
  absl::StatusOr<CompactionReport> Compact();

  const VolumeRecoveryReport& recovery() const { return recovery_; }
  // Group commit rounds run (fdatasync batches) and records appended.
  uint64_t sync_rounds() const;
  uint64_t records_appended() const;

  // For tests and tools: the volume files in order, and where a chunk's
  // record and its data lie.
  struct RecordPlace {
    std::string path;
    uint64_t record_offset = 0;
    uint64_t data_offset = 0;  // of the chunk's first data byte in the file
  };
  absl::StatusOr<RecordPlace> Locate(ChunkId id);
  std::vector<std::string> VolumePaths();

 private:
  struct Volume;
  struct Loc {
    uint64_t seq = 0;     // volume
    uint64_t offset = 0;  // of the record header
    uint64_t size = 0;    // record bytes, padding included
    uint64_t length = 0;  // chunk data bytes
    int64_t stored_ns = 0;
  };
  struct Appended {
    std::shared_ptr<Volume> volume;
    Loc loc;
  };
  struct SyncRound;
  struct ScannedRecord;

  VolumeChunkStore(VolumeChunkStoreOptions options, FileOps* ops);

  // Open.
  absl::Status Recover();
  absl::Status RecoverVolume(uint64_t seq, const std::string& path, bool last);
  absl::Status ScanVolume(Volume& v, uint64_t file_size, std::vector<ScannedRecord>& out,
                          bool& sealed, bool& tail_dirty);
  void ApplyRecord(const std::shared_ptr<Volume>& v, const ScannedRecord& r);

  // Writes. A DELETE, or a record with `supersedes` (it replaces a record
  // of `id` that may lie in any volume), or a PUT of an id in
  // recent_deletes_ goes to the newest active volume; others to the next
  // lane in turn.
  absl::StatusOr<Appended> Append(RecordType type, ChunkId id, std::span<const uint8_t> data,
                                  std::span<const uint32_t> block_crcs, int64_t stored_ns,
                                  bool supersedes);
  // The lane whose next record lands in the newest volume.
  size_t NewestLane() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Drops the recent_deletes_ entries no lane can misorder any more.
  void PruneRecentDeletes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Makes lane `lane`'s active volume able to take the record of a chunk of this
  // shape (rolling over when needed); returns the volume to seal after a
  // rollover, if any.
  absl::StatusOr<std::shared_ptr<Volume>> PrepareActive(size_t lane, uint32_t num_blocks,
                                                        uint64_t data_length)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::StatusOr<std::shared_ptr<Volume>> CreateVolume(uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status EnsurePrealloc(Volume& v, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Waits until every append to `v` finished, then appends and syncs its
  // SEAL record and trims the file after it.
  void Seal(const std::shared_ptr<Volume>& v);
  // Group commit: returns once an fdatasync of `v` that started after the
  // call has completed.
  absl::Status SyncVolume(const std::shared_ptr<Volume>& v);

  // Reads [offset, offset+length) of the chunk at `loc`, checking the
  // header, the table and every block touched. Also returns the CRC table
  // when `table_out` is given.
  absl::StatusOr<AlignedBuffer> ReadRecord(const Volume& v, ChunkId id, const Loc& loc,
                                           uint64_t offset, uint64_t length,
                                           std::vector<uint32_t>* table_out = nullptr);
  absl::StatusOr<std::pair<std::shared_ptr<Volume>, Loc>> Find(ChunkId id);
  absl::Status Remove(ChunkId id, const char* what);

  // Compaction.
  absl::Status CompactVolume(const std::shared_ptr<Volume>& v, CompactionReport& report);

  std::string VolumePath(uint64_t seq) const;
  uint64_t FirstRecordOffset() const { return options_.record_alignment; }

  const VolumeChunkStoreOptions options_;
  FileOps* const ops_;
  int lock_fd_ = -1;
  VolumeRecoveryReport recovery_;

  // Held by Put, Delete, Quarantine and each compaction move.
  IdLocks id_locks_;

  // Lock order: an id of id_locks_, then append_mu_, then mu_; a volume's
  // sync mutex is taken alone.
  absl::Mutex append_mu_;
  absl::CondVar appends_done_;  // signalled when a volume's in-flight appends reach 0
  // One active volume per lane (nullptr: created on the next append).
  std::vector<std::shared_ptr<Volume>> active_ ABSL_GUARDED_BY(append_mu_);
  size_t next_lane_ ABSL_GUARDED_BY(append_mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(append_mu_) = 1;
  // Ids with a DELETE record in volume `seq` newer than the oldest active
  // volume: a PUT of one of them in an older lane would lose to that
  // DELETE on the next open, so it goes to the newest volume. Entries go
  // once every active volume is at least as new (at rollovers).
  absl::flat_hash_map<ChunkId, uint64_t> recent_deletes_ ABSL_GUARDED_BY(append_mu_);

  std::atomic<uint64_t> sync_rounds_{0};
  std::atomic<uint64_t> records_appended_{0};

  mutable absl::Mutex mu_;
  absl::btree_map<uint64_t, std::shared_ptr<Volume>> volumes_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<ChunkId, Loc> index_ ABSL_GUARDED_BY(mu_);
  uint64_t chunk_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::chunk
