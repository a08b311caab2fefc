// The namespace operations, one per file in this directory, each a function
// over one store transaction (see docs/metadata.md for the semantics and
// for which keys each one reads for conflicts).
//
// Contract shared by every operation:
//  - It reads only through `txn` and has no effect outside it; everything
//    else it needs (the time, a new inode id) is passed in, fixed for all
//    attempts. store::RunTxn can therefore run it again after a conflict,
//    and each attempt computes its writes afresh from what it reads: a
//    retry is idempotent.
//  - It validates its own arguments (names, flags) so it is safe to call
//    with outside input.
//  - Every key whose value decides the outcome is read with Txn::Get, so a
//    concurrent commit that changes it makes this one conflict. Scans are
//    used only for ranges whose writers also write a key read with Get.
//  - On error it may have buffered writes; the caller must not commit.
//  - One that only reads takes a store::Reader: a Txn when it runs inside a
//    transaction (its Gets are then conflict-checked), or the store's
//    latest-state reader (KvStore::NewReader) for a read on its own, which
//    sees each key as of the moment it reads it (no common snapshot).
//
// Thread-safety: functions are stateless; a Txn is used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "meta/namespace.h"
#include "records.pb.h"
#include "store/kv_store.h"

namespace cairn::meta::ops {

// The sharded count of inodes in use (statfs "files"): counter keys
// keys::Counter(kFileCounter, shard), one uint64 big-endian each, taken as
// two's complement (a shard may go "negative" when a file created in one
// directory is removed from another; only the sum is meaningful).
inline constexpr std::string_view kFileCounter = "inodes";
inline constexpr int kFileCounterShards = 64;
// The shard an operation on the entries of `dir` updates: one directory,
// one shard, so operations in one directory touch one counter key.
inline uint8_t FileCounterShard(InodeId dir) {
  return static_cast<uint8_t>(dir.value() % kFileCounterShards);
}

// Hard links one inode may have (as ext4's EXT4_LINK_MAX).
inline constexpr uint32_t kMaxHardLinks = 65000;
// Bound on the ancestor walk of rename; a longer chain means a corrupt tree.
inline constexpr int kMaxAncestorWalk = 1 << 20;

// What an operation that makes an inode takes from outside the transaction.
struct NewInode {
  InodeId ino;  // from the InodeAllocator: fresh, never used before
  uint32_t mode = 0;
  Caller caller;
};

// ---- Record helpers (inode_io.cc) ----

// The inode `ino` (Get). kNotFound when absent, kInternal (a corrupt record) when unparsable.
absl::StatusOr<proto::InodeRecord> LoadInode(store::Reader& txn, InodeId ino);
// As LoadInode, but kNotDir unless it is a directory.
absl::StatusOr<proto::InodeRecord> LoadDir(store::Reader& txn, InodeId ino);
void StoreInode(store::Txn& txn, const proto::InodeRecord& rec);

// The entry `name` of directory `parent` (Get); nullopt when absent.
absl::StatusOr<std::optional<proto::DirentRecord>> FindDirent(store::Reader& txn, InodeId parent,
                                                              std::string_view name);
void StoreDirent(store::Txn& txn, InodeId parent, std::string_view name, InodeId ino,
                 proto::FileType type);
void DeleteDirent(store::Txn& txn, InodeId parent, std::string_view name);

// Deletes inode `rec` with its extended attributes. The xattr range is
// scanned only when rec.xattr_bytes() > 0; that is safe because every
// xattr writer also writes the inode, which the caller has read with Get.
absl::Status DeleteInode(store::Txn& txn, const proto::InodeRecord& rec);

// Adds `delta` to the file counter shard of directory `dir` (Get + Put).
absl::Status AddFileCount(store::Txn& txn, InodeId dir, int64_t delta);
// Sum of all file counter shards (a Scan: a statistic, not conflict-checked).
absl::StatusOr<uint64_t> CountFiles(store::Reader& txn);

// A new inode of `type` below directory `parent`: times `now`, nlink 1
// (2 for a directory), the parent's storage policy.
proto::InodeRecord MakeInode(const NewInode& args, proto::FileType type,
                             const proto::InodeRecord& parent, int64_t now_ns);

// Marks a directory's entries changed: mtime = ctime = now.
inline void TouchDir(proto::InodeRecord& dir, int64_t now_ns) {
  dir.set_mtime_ns(now_ns);
  dir.set_ctime_ns(now_ns);
}

// ---- File data helpers (file_data.cc) ----

// A file's slot size: its policy's chunk_size, kDefaultChunkSize when 0.
uint64_t ChunkSizeOf(const proto::InodeRecord& rec);
// kInvalid unless `id` is kChunkIdBytes bytes and not all zero; `what`
// names it in the message.
absl::Status CheckChunkId(std::string_view id, std::string_view what);
// kInvalid unless `policy` is valid (see Namespace::SetPolicy).
absl::Status CheckPolicy(const proto::StoragePolicy& policy);
// Keeps the invariant "no chunk extends past the size": every chunk of
// file `rec` starting at or past rec.size() is removed and its id appended
// to `released`, a chunk straddling the size is cut to end there, and
// trailing empty slots are dropped.
void TrimChunksToSize(proto::InodeRecord& rec, std::vector<std::string>& released);
// Queues the ids of `released` that `rec` (the inode as it is stored
// after this transaction; nullptr when it is deleted) no longer
// references, each once, in one GC entry under key
// GcQueue(now_ns, ino, nonce). Writes nothing when none remain.
void QueueReleased(store::Txn& txn, int64_t now_ns, uint64_t nonce, InodeId ino,
                   const std::vector<std::string>& released, const proto::InodeRecord* rec);
// Queues every chunk of file `rec`, which this transaction deletes.
void QueueAllChunks(store::Txn& txn, int64_t now_ns, uint64_t nonce, const proto::InodeRecord& rec);
// The kConflict a CommitWrite returns for a slot that no longer holds its
// expected id, and the test for it (RunTxn must not retry it).
absl::Status SlotChanged(uint64_t slot, InodeId ino);
bool IsSlotChanged(const absl::Status& status);

// ---- Repeated requests (request_log.cc) ----

// What a request record holds: the operation, when it was applied, and
// the inode record it returned (chunk list cleared; empty for operations
// that return only a status).
struct RequestRecord {
  RequestOp op = RequestOp::kSetAttr;
  int64_t recorded_ns = 0;
  proto::InodeRecord result;
};
// Value format: op:1, recorded_ns:8 big-endian, then the serialized
// InodeRecord (docs/metadata.md, "Repeated requests").
std::string EncodeRequestRecord(const RequestRecord& record);
// kInternal (a corrupt store) for a value EncodeRequestRecord did not make.
absl::StatusOr<RequestRecord> DecodeRequestRecord(std::string_view value);

// The recorded outcome of `request` (Get), nullopt when none; kInvalid
// when it was recorded for another operation than `op`.
absl::StatusOr<std::optional<proto::InodeRecord>> FindOutcome(store::Reader& txn,
                                                              const RequestId& request,
                                                              RequestOp op);
// Records `result` (its chunk list cleared) as the outcome of `request`.
void RecordOutcome(store::Txn& txn, const RequestId& request, RequestOp op, int64_t now_ns,
                   const proto::InodeRecord& result);

// Runs operation `fn` (returning absl::Status or StatusOr<InodeRecord>)
// at most once for `request` in transaction `txn`: when the request has
// an outcome recorded (read with Get, so a concurrent first run that
// records it makes this transaction conflict), returns it and writes
// nothing; otherwise runs `fn` and, when it succeeds, records its result
// with its writes. Without a valid id, just runs `fn`.
template <typename Fn>
absl::StatusOr<proto::InodeRecord> RunOnce(store::Txn& txn, const RequestId& request, RequestOp op,
                                           int64_t now_ns, Fn&& fn) {
  if (request.valid()) {
    absl::StatusOr<std::optional<proto::InodeRecord>> found = FindOutcome(txn, request, op);
    if (!found.ok()) return found.status();
    if (found->has_value()) return std::move(**found);
  }
  auto result = fn();
  proto::InodeRecord out;
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    if (!result.ok()) return result;
  } else {
    if (!result.ok()) return result.status();
    out = std::move(*result);
  }
  if (request.valid()) {
    out.clear_chunks();
    RecordOutcome(txn, request, op, now_ns, out);
  }
  return out;
}

// One pass of request record expiry over keys from `from` on: the keys of
// records older than `cutoff_ns` to delete and where the next pass goes on
// (empty: the end). A client's records sort by sequence number, nearly
// the order they were applied in, so at its first record not yet expired
// the pass skips to the next client. Reads at most `limit` records.
struct ExpiredRequests {
  std::vector<std::string> keys;
  std::string next;
};
absl::StatusOr<ExpiredRequests> FindExpiredRequests(store::Reader& reader, std::string_view from,
                                                    int64_t cutoff_ns, size_t limit);

// ---- Path resolution (resolve.cc) ----

struct Resolved {
  InodeId ino;
  proto::FileType type = proto::FILE_TYPE_UNSPECIFIED;
};

// Resolves an absolute path from the root, following symlinks (absolute
// and relative targets, "." and ".." inside targets) in every component
// but the last, and in the last too when `follow_last`. Errors: those of
// SplitPath; kNotFound for a missing component; kNotDir for a
// non-directory in the middle; kLoop after kMaxSymlinkFollows symlinks.
// Reads every entry and symlink on the way with Get.
absl::StatusOr<Resolved> ResolvePath(store::Reader& txn, std::string_view path, bool follow_last);

// A Ref's inode id: the id itself (kInvalid for id 0, no check that it
// exists) or ResolvePath(path, follow_last).
absl::StatusOr<InodeId> ResolveRef(store::Reader& txn, const Ref& ref, bool follow_last);

// ---- Operations, one per file ----

absl::StatusOr<proto::InodeRecord> Lookup(store::Reader& txn, InodeId parent,
                                          std::string_view name);
absl::StatusOr<proto::InodeRecord> GetAttr(store::Reader& txn, InodeId ino);
// `gc_nonce` keys the GC entry of chunks a truncate releases.
absl::StatusOr<proto::InodeRecord> SetAttr(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce,
                                           InodeId ino, const SetAttrArgs& args);
absl::StatusOr<proto::InodeRecord> Mkdir(store::Txn& txn, int64_t now_ns, InodeId parent,
                                         std::string_view name, const NewInode& args);
absl::Status Rmdir(store::Txn& txn, int64_t now_ns, InodeId parent, std::string_view name);
absl::StatusOr<proto::InodeRecord> Create(store::Txn& txn, int64_t now_ns, InodeId parent,
                                          std::string_view name, bool exclusive,
                                          const NewInode& args);
// `gc_nonce` keys the GC entry of a deleted file's chunks (Unlink, Rename).
absl::Status Unlink(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce, InodeId parent,
                    std::string_view name);
absl::Status Rename(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce, InodeId src_parent,
                    std::string_view src_name, InodeId dst_parent, std::string_view dst_name,
                    uint32_t flags);
absl::StatusOr<proto::InodeRecord> Link(store::Txn& txn, int64_t now_ns, InodeId target,
                                        InodeId new_parent, std::string_view new_name);
absl::StatusOr<proto::InodeRecord> Symlink(store::Txn& txn, int64_t now_ns, InodeId parent,
                                           std::string_view name, std::string_view target,
                                           const NewInode& args);
absl::StatusOr<std::string> Readlink(store::Reader& txn, InodeId ino);
// `limit` must be >= 1 (the caller caps it).
absl::StatusOr<ReaddirPage> Readdir(store::Reader& txn, InodeId dir, std::string_view after,
                                    uint32_t limit, bool with_attrs);
// Inode counts from the file counter, capacity from statvfs(capacity_path)
// (zero when empty).
absl::StatusOr<StatfsInfo> Statfs(store::Reader& txn, const std::string& capacity_path);

absl::StatusOr<std::string> GetXattr(store::Reader& txn, InodeId ino, std::string_view name);
absl::Status SetXattr(store::Txn& txn, int64_t now_ns, InodeId ino, std::string_view name,
                      std::string_view value, uint32_t flags);
absl::StatusOr<std::vector<std::string>> ListXattr(store::Reader& txn, InodeId ino);
absl::Status RemoveXattr(store::Txn& txn, int64_t now_ns, InodeId ino, std::string_view name);

// `max_slots` must be in 1..kMaxChunksPerReply (the caller caps it).
absl::StatusOr<FileChunks> GetChunks(store::Reader& txn, InodeId ino, uint64_t first_slot,
                                     uint32_t max_slots);
absl::StatusOr<proto::InodeRecord> CommitWrite(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce,
                                               InodeId ino, const CommitWriteArgs& args);
absl::StatusOr<proto::InodeRecord> SetPolicy(store::Txn& txn, int64_t now_ns, InodeId ino,
                                             const proto::StoragePolicy& policy);
absl::StatusOr<proto::StoragePolicy> GetPolicy(store::Reader& txn, InodeId ino);
// `limit` must be >= 1.
absl::StatusOr<std::vector<GcQueueEntry>> ListGcQueue(store::Reader& txn, std::string_view after,
                                                      uint32_t limit);
absl::Status RemoveGcEntries(store::Txn& txn, const std::vector<std::string>& keys);

}  // namespace cairn::meta::ops
