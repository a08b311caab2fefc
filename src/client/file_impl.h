// FileImpl: the File of cairn/file.h. Its parts live in one file each:
// file_impl.cc (state, commit with conflict handling, truncate, fsync,
// close), file_write.cc (slot buffers and background uploads), file_read.cc
// (reads, read-ahead) and open_file.cc (Client::Open).
//
// State, all under mu_:
//  - committed_: the file's slots as meta last told us (chunk id and length
//    per slot with a chunk; holes are absent), with committed_size_. The
//    lengths are cut at the file size (ValidLength), so bytes a truncate
//    removed never come back.
//  - open_: the slot being written: a buffer with the bytes written and
//    their ranges (dirty), on top of the slot's content when it was opened
//    (base: its chunk and how many of its bytes count).
//  - inflight_: uploads running on the pool, oldest first (at most
//    ClientOptions::max_chunks_in_flight).
//  - pending_: per slot, the newest uploaded chunk not yet committed (and
//    when its upload started) and every byte range written to the slot
//    since the last commit (to redo the merge on top of someone else's
//    chunk after a kConflict).
//  - size_: the size this handle sees (its uncommitted writes included).
//  - cache_: whole-slot reads in flight or done, for read-ahead.
//
// A slot's content as this handle sees it: the pending chunk if any, else
// the committed one (View()).
//
// Uploads never wait uncommitted longer than
// ClientOptions::max_uncommitted_age: each upload tells the DataContext's
// Committer when it is due, and its thread calls CommitDue(), which
// commits under mu_ like Fsync (a failure breaks the handle, and the next
// Write, Fsync or Close returns it). Close() unregisters the handle once it
// has released mu_. Each commit tells meta how old its oldest chunk is
// (upload_age_ms), so that meta can refuse chunks GC may have taken.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cairn/file.h"
#include "chunk/aligned_buffer.h"
#include "chunk/chunk_id.h"
#include "client/chunk_io.h"
#include "client/committer.h"
#include "client/data_context.h"
#include "client/slots.h"
#include "meta.pb.h"

namespace cairn::client {

// A slot's chunk.
struct SlotRef {
  ChunkId id;
  uint64_t length = 0;
  friend bool operator==(const SlotRef&, const SlotRef&) = default;
};

// What Open learned about the file.
struct FileState {
  proto::Attr attr;
  uint64_t chunk_size = 0;
  uint32_t replicas = 0;
  std::map<uint64_t, SlotRef> slots;  // slots with a chunk
};

// Builds the slot table of a GetChunks reply (from reply.first_slot()),
// lengths cut at the file size. kInternal for a malformed chunk id.
absl::Status AddSlots(const proto::GetChunksReply& reply, std::map<uint64_t, SlotRef>* slots);

// Adds the slots after `reply` up to `last` (inclusive) or the end of the
// file's list, one GetChunks page at a time (meta answers a bounded number
// of slots per reply). `reply` holds the first page and is left holding the
// last one (its attr is the newest). kInternal when the chunk size changes.
absl::Status AddRemainingPages(Rpc& rpc, InodeId ino, uint64_t last, proto::GetChunksReply* reply,
                               std::map<uint64_t, SlotRef>* slots);

class FileImpl final : public File, private Committable {
 public:
  FileImpl(DataContext* ctx, uint32_t flags, FileState state);
  ~FileImpl() override;

  InodeId ino() const override { return ino_; }
  uint64_t size() const override;
  uint64_t position() const override;
  void Seek(uint64_t position) override;
  absl::StatusOr<size_t> Read(void* buf, size_t n) override;
  absl::StatusOr<size_t> Pread(void* buf, size_t n, uint64_t offset) override;
  absl::Status Write(const void* data, size_t n) override;
  absl::Status Pwrite(const void* data, size_t n, uint64_t offset) override;
  absl::Status Truncate(uint64_t size) override;
  absl::Status Fsync() override;
  absl::Status Close() override;
  absl::StatusOr<Attr> Stat() override;

 private:
  struct OpenSlot {
    uint64_t slot = 0;
    AlignedBuffer buf;  // bytes [0, buf.size()) of the slot; dirty ones are valid
    RangeSet dirty;
    std::optional<SlotRef> base;  // the slot's content when opened
    uint64_t base_valid = 0;      // bytes of base that count
  };
  using Clock = std::chrono::steady_clock;
  struct Upload {
    uint64_t slot = 0;
    RangeSet dirty;
    Clock::time_point started;
    std::future<absl::StatusOr<SlotRef>> result;
  };
  struct Pending {
    std::optional<ChunkId> expected;  // the committed chunk our writes went on (none: a hole)
    std::optional<SlotRef> ref;       // the newest uploaded chunk
    Clock::time_point started;        // when the upload of `ref` started
    RangeSet dirty;                   // every range written since the last commit
  };

  // Committable: commits when the oldest uncommitted upload is
  // max_uncommitted_age old (the Committer's thread).
  std::optional<TimePoint> CommitDue() override ABSL_LOCKS_EXCLUDED(mu_);
  // The start of the oldest upload not committed yet (in flight or
  // pending); nullopt when there is none.
  std::optional<Clock::time_point> OldestUpload() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When an upload started at `started` must be committed.
  Clock::time_point DueAt(Clock::time_point started) const;
  // DueAt(OldestUpload()); nullopt when nothing is uncommitted.
  std::optional<Clock::time_point> OldestDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the Committer that an upload started at `started` is due.
  void NoteUpload(Clock::time_point started) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- file_write.cc
  absl::Status WriteLocked(const uint8_t* data, size_t n, uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `slot` the open slot (uploading the previous one).
  absl::Status OpenSlotFor(uint64_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grows the open slot's buffer to hold at least `bytes`.
  void Reserve(uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Uploads the open slot: on the pool, or on this thread when `inline_ok`
  // and nothing else is in flight.
  absl::Status UploadOpen(bool inline_ok) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits for the oldest upload and records its outcome.
  absl::Status ReapOne() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits for uploads of `slot` (every upload when nullopt).
  absl::Status WaitUploads(std::optional<uint64_t> slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Uploads the open slot and waits for every upload.
  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds and stores the new chunk of a slot (runs on a pool thread).
  static absl::StatusOr<SlotRef> BuildAndUpload(ChunkIo* io, uint32_t replicas, OpenSlot open);

  // ---- file_impl.cc
  // Flushes and commits every pending slot; redoes the merge of slots
  // someone else replaced (kConflict) a bounded number of times.
  absl::Status CommitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-reads the slot table and size from meta (slots [first, last]).
  absl::Status RefreshSlots(uint64_t first, uint64_t last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Learns the current end of the file before an O_APPEND write.
  absl::Status RefreshEndForAppend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static constexpr uint64_t kAppendRefreshSlots = 1024;
  // A pending slot whose committed chunk changed: a new chunk with our
  // ranges on top of the new content.
  absl::Status Remerge(uint64_t slot, Pending& pending) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a commit's reply.
  void Committed(const proto::Attr& attr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<SlotRef> View(uint64_t slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<SlotRef> CommittedRef(uint64_t slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckOpen() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- file_read.cc
  absl::StatusOr<size_t> PreadLocked(uint8_t* buf, size_t n, uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadSlot(const SlotSpan& span, uint8_t* dst, bool sequential)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts whole-slot reads of the slots after `slot`.
  void ReadAhead(uint64_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The cached whole-slot read of `slot` for `ref`, started when missing.
  std::shared_ptr<PendingRead> CachedSlot(uint64_t slot, const SlotRef& ref, uint64_t valid,
                                          bool start_async) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  DataContext* const ctx_;
  ChunkIo* const io_;
  const uint32_t flags_;
  const InodeId ino_;
  const uint64_t chunk_size_;
  const uint32_t replicas_;

  mutable absl::Mutex mu_;
  proto::Attr attr_ ABSL_GUARDED_BY(mu_);  // the last attributes meta sent
  std::map<uint64_t, SlotRef> committed_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  // The end of the furthest write since the last commit (0: none).
  uint64_t written_end_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t position_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<OpenSlot> open_ ABSL_GUARDED_BY(mu_);
  std::deque<Upload> inflight_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // The first failed upload or commit: the handle is broken.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // The Committer knows this handle (Close() must unregister it).
  bool committer_knows_ ABSL_GUARDED_BY(mu_) = false;
  // Read-ahead: whole-slot reads by slot, and where the last read ended.
  struct Cached {
    SlotRef ref;
    std::shared_ptr<PendingRead> read;
  };
  std::map<uint64_t, Cached> cache_ ABSL_GUARDED_BY(mu_);
  uint64_t last_read_end_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::client
