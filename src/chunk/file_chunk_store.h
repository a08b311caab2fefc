// FileChunkStore: one file per chunk, over one or more data directories
// (`cairn chunk --dir DIR`, repeated). The file format and the directory
// layout are written down in docs/chunk-format.md.
//
//   DIR/LOCK                          held (flock) while a store has DIR open
//   DIR/chunks/ab/cd/<32 hex id>      chunk files; ab/cd: the id's first hex digits
//   DIR/chunks/ab/cd/<id>.tmp.<n>     a Put in progress (removed on open)
//   DIR/quarantine/<name>.<ns>        files found damaged, kept for inspection
//
// Put writes a temp file in the chunk's final directory, fdatasyncs it,
// renames it into place and fsyncs the directory before it returns (how
// concurrent Puts share those syncs: SyncMode).
// Open removes temp files, moves files with a damaged header to the
// quarantine directory, and builds the in-memory index (id -> directory,
// length) that Lookup, List and Stat answer from.
//
// Thread-safety: thread-safe. Operations on different chunks run in
// parallel; operations on one chunk id are serialized. One process per
// data directory (enforced with the LOCK file).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "chunk/chunk_store.h"
#include "chunk/dir_syncer.h"
#include "chunk/file_ops.h"
#include "chunk/id_locks.h"

namespace cairn::chunk {

// How a FileChunkStore makes a Put durable (docs/chunk-format.md,
// "Durability and group commit", has the measurements).
enum class SyncMode {
  // Default. Each Put fdatasyncs its file and fsyncs its shard directory in
  // its own thread. Concurrent syncs reach the kernel in parallel, and
  // ext4/XFS join them into shared journal commits and cache flushes: the
  // group commit happens in the kernel. (A user-space leader issuing the
  // directory fsyncs of a round one after another measured 2-3x slower.)
  kPerOp,
  // Group commit with syncfs(2): a Put writes its temp file, waits for a
  // shared syncfs round, renames, and waits for a second round: two syncs
  // per round of Puts, however many. Each syncfs flushes the whole file
  // system, so this is only for data directories on a disk of their own.
  kGroupSyncfs,
};

struct FileChunkStoreOptions {
  // Data directories; at least one. Each is created when missing (its
  // parent must exist). A new chunk goes to dirs[hash(id) % dirs.size()];
  // existing chunks are found wherever they are, so directories may be
  // added between runs.
  std::vector<std::string> dirs;
  // The file-system calls; nullptr means the real ones. Tests pass a
  // FaultInjectingFileOps. Must outlive the store.
  FileOps* file_ops = nullptr;
  SyncMode sync_mode = SyncMode::kPerOp;
};

// What Open found and did.
struct RecoveryReport {
  uint64_t chunks_loaded = 0;
  uint64_t temp_files_removed = 0;
  uint64_t quarantined = 0;  // damaged header, wrong size, misplaced or duplicate
  uint64_t ignored = 0;      // entries that are not Cairn's; left alone
};

class FileChunkStore final : public ChunkStore {
 public:
  static absl::StatusOr<std::unique_ptr<FileChunkStore>> Open(FileChunkStoreOptions options);
  ~FileChunkStore() override;

  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> block_crcs) override;
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t offset, uint64_t length) override;
  absl::Status Delete(ChunkId id) override;
  // Renames the file to DIR/quarantine/<id>.<ns>, syncs both directories,
  // then drops the id from the index.
  absl::Status Quarantine(ChunkId id) override;
  absl::StatusOr<ChunkInfo> Lookup(ChunkId id) override;
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override;
  absl::StatusOr<std::vector<ChunkInfo>> List(std::optional<ChunkId> after, size_t limit) override;
  absl::StatusOr<StoreStats> Stat() override;
  std::string_view Name() const override { return "file"; }

  const RecoveryReport& recovery() const { return recovery_; }
  const DirSyncer& syncer() const { return syncer_; }
  // The file that holds (or would hold) chunk `id`. For tests and tools.
  std::string ChunkPath(ChunkId id);

 private:
  struct Location {
    uint32_t dir = 0;     // index into dirs_
    uint64_t length = 0;  // data bytes
  };

  FileChunkStore(FileChunkStoreOptions options, FileOps* ops);

  absl::Status Recover();
  absl::Status RecoverDir(uint32_t d);
  // Checks a chunk file's header, table and size; returns its data length.
  absl::StatusOr<uint64_t> CheckFile(const std::string& path, ChunkId id);
  // Moves `path` (named `name`) to directory `d`'s quarantine directory.
  absl::Status MoveToQuarantine(uint32_t d, const std::string& path, const std::string& name);

  // The directory a new chunk goes to.
  uint32_t PickDir(ChunkId id) const;
  // What to sync (through syncer_) to make entries of `dir` (inside data
  // directory `d`) durable: `dir` itself, or the data directory's file
  // system under kGroupSyncfs.
  std::string SyncKey(uint32_t d, const std::string& dir) const;
  std::string ShardDir(uint32_t d, const std::string& hex) const;
  std::string FilePath(uint32_t d, const std::string& hex) const;
  absl::Status EnsureShard(uint32_t d, const std::string& hex);

  // Writes a new chunk file durably into directory `d`.
  absl::Status WriteNew(uint32_t d, ChunkId id, std::span<const uint8_t> data,
                        std::span<const uint32_t> block_crcs);
  // Reads [offset, offset+length) of the chunk in directory `d`, verifying
  // the header, the table and every block touched.
  absl::StatusOr<AlignedBuffer> ReadVerified(uint32_t d, ChunkId id, uint64_t offset,
                                             uint64_t length);

  const FileChunkStoreOptions options_;
  FileOps* const ops_;
  std::vector<std::string> dirs_;
  std::vector<int> lock_fds_;
  DirSyncer syncer_;
  RecoveryReport recovery_;
  std::atomic<uint64_t> temp_seq_{0};

  absl::Mutex shard_mu_;
  // "d/ab" and "d/ab/cd" of shard directories known to exist durably.
  absl::flat_hash_set<std::string> shards_ready_ ABSL_GUARDED_BY(shard_mu_);

  // Held by Put, Delete and Quarantine; taken before mu_.
  IdLocks id_locks_;

  absl::Mutex mu_;
  absl::btree_map<ChunkId, Location> index_ ABSL_GUARDED_BY(mu_);
  uint64_t chunk_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::chunk
