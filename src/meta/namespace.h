// Namespace: the metadata service's namespace operations.
//
// Each operation lives in its own file under src/meta/ops/ as a function
// over one store transaction; Namespace resolves references, runs that
// function under store::RunTxn (which retries it on conflicts) and returns
// the result. Semantics follow POSIX (see docs/metadata.md); every failure
// is a typed status (common/errors.h) that maps to one errno.
//
// Permissions are not checked yet: every caller acts as the owner (root
// semantics). uid/gid given by callers are recorded on new inodes.
//
// Thread-safety: thread-safe. The store and clock must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ids.h"
#include "records.pb.h"
#include "store/kv_store.h"
#include "store/run_txn.h"

namespace cairn::meta {

class InodeAllocator;

// Names an inode: by id, or by an absolute path that the server resolves
// (following symlinks in every component but the last).
//
// A Ref that names the directory an operation works in (`parent`,
// `new_parent`, `src_parent`, `dst_parent`, Readdir's `dir`) also follows a
// symlink in its last component: that directory is a middle component of
// the full path (mkdir /link/x follows /link, as POSIX does). A Ref that
// names the target itself (GetAttr, SetAttr, Readlink, Link's `target`, the
// xattr calls) does not: it acts on a symlink, not on what it points to.
struct Ref {
  InodeId ino;       // used when path is empty
  std::string path;  // absolute; when set, takes precedence
  static Ref Id(InodeId ino) { return Ref{ino, {}}; }
  static Ref Path(std::string path) { return Ref{InodeId(), std::move(path)}; }
};

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct SetAttrArgs {
  std::optional<uint32_t> mode;  // permission bits, 07777
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;     // regular files only (EISDIR / EINVAL otherwise)
  std::optional<int64_t> atime_ns;  // kTimeNow = the current time
  std::optional<int64_t> mtime_ns;
};
inline constexpr int64_t kTimeNow = -1;

// Names one mutating request of one client, so that the request, sent
// again after its reply was lost (a timeout, a dropped connection, a meta
// restart), is applied once: the first time it is applied its outcome is
// recorded in the same transaction, and a repeat gets that outcome back
// (docs/metadata.md, "Repeated requests"). A client draws `client` at
// random (never 0) and numbers its requests; the default, client 0, names
// no request (nothing is recorded).
struct RequestId {
  uint64_t client = 0;
  uint64_t seq = 0;
  bool valid() const { return client != 0; }
  friend bool operator==(const RequestId&, const RequestId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const RequestId& id) {
    return H::combine(std::move(h), id.client, id.seq);
  }
};

// The operation a request record belongs to. Stored on disk: never change
// a value.
enum class RequestOp : uint8_t {
  kSetAttr = 1,
  kMkdir = 2,
  kRmdir = 3,
  kCreate = 4,
  kUnlink = 5,
  kRename = 6,
  kLink = 7,
  kSymlink = 8,
  kSetXattr = 9,
  kRemoveXattr = 10,
  kCommitWrite = 11,
  kSetPolicy = 12,
};

// Rename flags (Linux values).
inline constexpr uint32_t kRenameNoReplace = 1;
inline constexpr uint32_t kRenameExchange = 2;
// setxattr flags (Linux values).
inline constexpr uint32_t kXattrCreate = 1;
inline constexpr uint32_t kXattrReplace = 2;

struct DirEntry {
  std::string name;
  InodeId ino;
  proto::FileType type = proto::FILE_TYPE_UNSPECIFIED;
  std::optional<proto::InodeRecord> attr;  // when asked for
};

struct ReaddirPage {
  std::vector<DirEntry> entries;  // in name (byte) order
  bool eof = false;               // no entry after the last one returned
};

struct StatfsInfo {
  uint64_t total_bytes = 0, free_bytes = 0, avail_bytes = 0;
  uint64_t files = 0;  // inodes in use
  uint64_t files_free = 0;
  uint32_t name_max = 255;
  uint32_t block_size = 4096;
};

// ---- File data and storage policies (docs/metadata.md, "File data") ----

// The slot size of a file whose policy leaves chunk_size 0.
inline constexpr uint64_t kDefaultChunkSize = uint64_t{8} << 20;
// A policy's chunk_size is 0 or a power of two in [kMinChunkSize, kMaxChunkSize].
inline constexpr uint64_t kMinChunkSize = uint64_t{64} << 10;
inline constexpr uint64_t kMaxChunkSize = uint64_t{64} << 20;
// A policy's replicas is 0 (the cluster's) up to this (the cluster manager's limit).
inline constexpr uint32_t kMaxReplicas = 16;
// No byte of a file lies at or past this offset (1 PiB).
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 50;
// Slot updates one CommitWrite may carry.
inline constexpr size_t kMaxSlotUpdates = 4096;
// A file's chunk list holds at most this many slots (it lives in the inode
// record): CommitWrite refuses a slot at or past it. With 8 MiB chunks
// that is 8 TiB of written extent, with 64 KiB chunks 64 GiB.
inline constexpr uint64_t kMaxSlots = uint64_t{1} << 20;
// Chunk references one GetChunks returns at most (about 1.5 MB of reply).
inline constexpr uint32_t kMaxChunksPerReply = 65536;
// Chunk ids are 16 bytes (ChunkId hi then lo, big-endian); all-zero is invalid.
inline constexpr size_t kChunkIdBytes = 16;

// One slot of a CommitWrite: the slot must hold `expected_id` (empty: no
// chunk) and gets `chunk`.
struct SlotUpdate {
  uint64_t slot = 0;
  std::string expected_id;
  proto::ChunkRef chunk;
};

struct CommitWriteArgs {
  std::vector<SlotUpdate> updates;  // distinct slots, at most kMaxSlotUpdates
  uint64_t min_size = 0;            // size becomes max(size, min_size)
  int64_t mtime_ns = 0;             // 0: now
};

// What GetChunks returns: the file's attributes (chunk list cleared), its
// slot size and stored replicas, and the chunk refs of slots first_slot..
// (an empty id is a hole; slots past the returned ones hold no chunk).
struct FileChunks {
  proto::InodeRecord attr;
  uint64_t chunk_size = 0;
  uint32_t replicas = 0;  // as stored: 0 = the cluster's
  uint64_t first_slot = 0;
  std::vector<proto::ChunkRef> chunks;
};

// One entry of the GC queue: its key (pass it back to RemoveGcEntries) and value.
struct GcQueueEntry {
  std::string key;
  proto::GcEntry entry;
};

// A page of ListReferencedChunks: the chunk ids referenced by the inodes
// scanned (16 bytes each, holes left out; an id shared by two files is
// listed twice), and where to go on.
struct ReferencedChunksPage {
  std::vector<std::string> ids;
  uint64_t inodes = 0;  // inode records scanned in this page
  InodeId next_after;   // pass as `after` for the next page
  bool done = false;    // no inode after next_after
};
// Inode records ListReferencedChunks scans at most per call.
inline constexpr uint32_t kReferencedScanMax = 1000;

struct NamespaceOptions {
  store::RetryOptions retry;
  // Directory whose file system capacity statfs reports until chunk
  // servers report theirs. Empty: report zero capacity.
  std::string capacity_path;
  // Largest readdir page; requests asking for more get this many. Default 1000.
  uint32_t readdir_max = 1000;
  // Inode ids reserved per store transaction (never reused). Default 4096.
  uint64_t inode_batch = 4096;
  // How long the outcome of a request with a RequestId is kept. It must
  // exceed the longest time a client keeps repeating a request
  // (ClientOptions::meta_retry_deadline, 60 s by default): a repeat that
  // comes later may be applied again. Longer costs store space (about
  // 150 bytes per mutation). Default 10 min.
  absl::Duration request_ttl = absl::Minutes(10);
  // How often a background thread deletes the records older than
  // request_ttl. Zero: no thread (call ExpireRequests). Default 1 min.
  absl::Duration request_sweep_interval = absl::Minutes(1);
};

class Namespace {
 public:
  // Opens the namespace on `store`, creating the root directory (inode 1,
  // mode 0755) and format record when missing.
  static absl::StatusOr<std::unique_ptr<Namespace>> Open(store::KvStore* store,
                                                         const NamespaceOptions& options,
                                                         Clock* clock = Clock::Real());
  ~Namespace();

  // "." is `parent` itself, ".." its parent directory (the root's is the root).
  absl::StatusOr<proto::InodeRecord> Lookup(const Ref& parent, std::string_view name);
  // Attributes of `target`; a path's last component is not followed (lstat).
  absl::StatusOr<proto::InodeRecord> GetAttr(const Ref& target);
  absl::StatusOr<proto::InodeRecord> SetAttr(const Ref& target, const SetAttrArgs& args,
                                             const RequestId& request = {});

  absl::StatusOr<proto::InodeRecord> Mkdir(const Ref& parent, std::string_view name, uint32_t mode,
                                           const Caller& caller, const RequestId& request = {});
  // Removes an empty directory. The root cannot be removed: kBusy for
  // Rmdir(root, "").
  absl::Status Rmdir(const Ref& parent, std::string_view name, const RequestId& request = {});
  // Creates a regular file. When it exists: kExists if `exclusive`, else
  // returns the existing file (kIsDir if it is a directory, kExists if it
  // is a symlink: the last component is not followed).
  absl::StatusOr<proto::InodeRecord> Create(const Ref& parent, std::string_view name, uint32_t mode,
                                            bool exclusive, const Caller& caller,
                                            const RequestId& request = {});
  absl::Status Unlink(const Ref& parent, std::string_view name, const RequestId& request = {});
  absl::Status Rename(const Ref& src_parent, std::string_view src_name, const Ref& dst_parent,
                      std::string_view dst_name, uint32_t flags, const RequestId& request = {});
  absl::StatusOr<proto::InodeRecord> Link(const Ref& target, const Ref& new_parent,
                                          std::string_view new_name, const RequestId& request = {});
  absl::StatusOr<proto::InodeRecord> Symlink(const Ref& parent, std::string_view name,
                                             std::string_view target, const Caller& caller,
                                             const RequestId& request = {});
  absl::StatusOr<std::string> Readlink(const Ref& target);
  // Entries of `dir` with names strictly after `after`, at most `limit`
  // (0 or over readdir_max: readdir_max). Paging by name keeps a listing
  // stable under concurrent changes: every entry present for the whole
  // listing is returned exactly once, none twice.
  absl::StatusOr<ReaddirPage> Readdir(const Ref& dir, std::string_view after, uint32_t limit,
                                      bool with_attrs);
  absl::StatusOr<StatfsInfo> Statfs();

  absl::StatusOr<std::string> GetXattr(const Ref& target, std::string_view name);
  absl::Status SetXattr(const Ref& target, std::string_view name, std::string_view value,
                        uint32_t flags, const RequestId& request = {});
  absl::StatusOr<std::vector<std::string>> ListXattr(const Ref& target);
  absl::Status RemoveXattr(const Ref& target, std::string_view name, const RequestId& request = {});

  // Makes every change acknowledged so far durable on disk.
  absl::Status Fsync();

  // ---- File data (docs/metadata.md, "File data") ----
  // The chunk refs of slots first_slot.. of a regular file (a path's last
  // symlink is followed, as open(2) does), at most max_slots of them (0 or
  // more than kMaxChunksPerReply: kMaxChunksPerReply). kIsDir for a
  // directory, kInvalid for a symlink.
  absl::StatusOr<FileChunks> GetChunks(const Ref& target, uint64_t first_slot, uint32_t max_slots);
  // Replaces slots of regular file `ino` in one transaction (ops/commit_write.cc
  // has every rule). A slot that no longer holds its expected id fails the
  // whole commit with kConflict ("slot N of inode I changed"), at once,
  // without retrying and without changing anything. Released chunks are
  // queued for GC in the same transaction.
  absl::StatusOr<proto::InodeRecord> CommitWrite(InodeId ino, const CommitWriteArgs& args,
                                                 const RequestId& request = {});

  // ---- Storage policies (a path's last symlink is followed) ----
  // Sets the policy of a directory (kNotDir for anything else): replicas
  // 0..kMaxReplicas, chunk_size 0 or a power of two in [64 KiB, 64 MiB]
  // (kInvalid otherwise). Applies to what is created below it afterwards.
  absl::StatusOr<proto::InodeRecord> SetPolicy(const Ref& target,
                                               const proto::StoragePolicy& policy,
                                               const RequestId& request = {});
  // The stored policy of any inode (a file's has its chunk_size filled in).
  absl::StatusOr<proto::StoragePolicy> GetPolicy(const Ref& target);

  // ---- The GC queue (docs/metadata.md, "The GC queue") ----
  // Entries in queue order (oldest first) with keys strictly after `after`
  // ("" = from the start; otherwise a key returned before, kInvalid for
  // anything else), at most `limit` (0 or more than 10000: 10000).
  absl::StatusOr<std::vector<GcQueueEntry>> ListGcQueue(std::string_view after, uint32_t limit);
  // Deletes the given entries (keys from ListGcQueue) in one transaction;
  // absent ones are skipped. kInvalid for a key that is not a queue key or
  // for more than 10000 keys.
  absl::Status RemoveGcEntries(const std::vector<std::string>& keys);

  // ---- Chunk references (ops/referenced_chunks.cc; GC reconciliation) ----
  // The chunk ids referenced by inodes with ids strictly after `after`
  // (InodeId() = from the start), at most `limit` inode records (0 or more
  // than kReferencedScanMax: kReferencedScanMax). Read-only; each page is
  // consistent in itself, pages are not one snapshot. kInternal for an
  // unparsable record or a malformed id.
  absl::StatusOr<ReferencedChunksPage> ListReferencedChunks(InodeId after, uint32_t limit);

  // ---- Repeated requests (docs/metadata.md, "Repeated requests") ----
  // Every mutating operation above takes an optional RequestId. With one,
  // the operation runs at most once per id: its outcome (the inode record
  // it returns, without the chunk list, which is cleared from the first
  // reply too) is stored with its changes in one transaction, and a repeat
  // returns that outcome without applying anything. Repeats of one id run
  // one after the other. An operation that fails changes nothing and
  // records nothing, so a repeat runs it afresh. kInvalid when the id was
  // recorded for another operation.
  //
  // Deletes the records older than options.request_ttl; returns how many.
  // The background sweeper calls it every request_sweep_interval.
  absl::StatusOr<uint64_t> ExpireRequests();

 private:
  class LockTable;    // striped mutexes by inode id (namespace.cc)
  class RequestGate;  // request ids being served (namespace.cc)

  Namespace(store::KvStore* store, const NamespaceOptions& options, Clock* clock);
  // Resolves a Ref of a mutating operation on the store's latest-state
  // Reader, outside any transaction.
  absl::StatusOr<InodeId> ResolveForWrite(const Ref& ref, bool follow_last);
  // A fresh nonce for a GC queue key: unique within this process, random
  // across processes, fixed for every retry of the operation that uses it.
  uint64_t NextGcNonce() { return gc_nonce_.fetch_add(1, std::memory_order_relaxed); }
  // Runs `body` (resolution, locks and RunTxn of one mutating operation,
  // whose transaction goes through ops::RunOnce) at most once for
  // `request`: serialized with repeats of the same id, and skipped when
  // an outcome is already recorded.
  template <typename Body>
  absl::StatusOr<proto::InodeRecord> Once(const RequestId& request, RequestOp op, Body&& body);
  // Mkdir, Create and Symlink: a new inode `mode` named in `parent` by
  // `make(txn, now, dir, args)`, once for `request`.
  template <typename Make>
  absl::StatusOr<proto::InodeRecord> NewEntry(const Ref& parent, uint32_t mode,
                                              const Caller& caller, const RequestId& request,
                                              RequestOp op, Make&& make);
  // The bodies of Rmdir and CommitWrite, run by Once.
  absl::StatusOr<proto::InodeRecord> RmdirOnce(const Ref& parent, std::string_view name,
                                               const RequestId& request);
  absl::StatusOr<proto::InodeRecord> CommitWriteOnce(InodeId ino, const CommitWriteArgs& args,
                                                     const RequestId& request);
  void SweepLoop();

  store::KvStore* store_;
  NamespaceOptions options_;
  Clock* clock_;
  std::unique_ptr<InodeAllocator> allocator_;
  std::unique_ptr<LockTable> locks_;
  std::atomic<uint64_t> gc_nonce_;
  std::unique_ptr<RequestGate> gate_;

  absl::Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;  // runs SweepLoop when request_sweep_interval > 0
};

}  // namespace cairn::meta
