// CommitWrite: replaces slots of a regular file's chunk list, and grows its
// size, in one transaction (the commit step of the write path).
//
// Reads (Get): the inode only. Every writer of a file's chunk list, size or
// links (CommitWrite, SetAttr, Unlink, Rename, Link) writes the inode, so a
// concurrent change conflicts and this runs again. Writes: the inode and,
// when chunks are released, one GC queue entry (a fresh key: writers never
// conflict over it).
//
// Retry: each attempt re-checks every expected id against what it reads
// and recomputes the list from it; `now_ns` and `gc_nonce` are fixed for
// all attempts, so a retry writes the same GC key. An expected-id mismatch
// is deterministic (SlotChanged, kConflict with a marker): Namespace
// returns it to the caller at once instead of letting RunTxn retry it.
//
// Repeat: a commit sent again after it was applied (its reply lost) is
// normally answered from its request record (request_log.cc). Without one
// (no request id, or the record expired) it is recognized all the same:
// chunk ids are random and never reused, so when every slot it updates
// already holds that update's new chunk (a different id than the expected
// one, with the same length), this very commit was applied and nothing
// has replaced its chunks since. It then succeeds and changes nothing:
// the current record is returned, not written (so a truncate since is
// not undone by min_size).
//
// Rules, checked before anything changes (kInvalid unless noted):
//  - the inode is a regular file (kIsDir for a directory);
//  - at most kMaxSlotUpdates updates, each slot once;
//  - chunk ids are 16 bytes and not all zero; expected ids empty or 16 bytes;
//  - a chunk's length is 1..chunk_size (the file's slot size) and
//    slot * chunk_size + length <= kMaxFileSize (no overflow); min_size <=
//    kMaxFileSize; slot < kMaxSlots (the list lives in the inode record);
//  - an update naming the chunk the slot already holds keeps its length
//    (chunks are immutable);
//  - every slot still holds its expected id (empty: no chunk, including a
//    slot past the end of the list), else kConflict "slot N of inode I
//    changed".
// Then: the list grows with empty refs (holes) up to the highest slot, the
// slots take their new chunks, size = max(size, min_size), mtime =
// mtime_ns or now, ctime = now. No chunk may extend past the size (the
// invariant truncate relies on, so that a later grow reads zeros): a chunk
// that would is cut to end at the size, and one that starts at or past it
// is dropped and released. Old ids replaced by a different id are released
// unless the file still references them; released ids go to the GC queue.
#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

// The checks that do not depend on the inode.
absl::Status CheckArgs(const CommitWriteArgs& args) {
  if (args.updates.size() > kMaxSlotUpdates) {
    return Invalid("at most " + std::to_string(kMaxSlotUpdates) + " slot updates per commit, not " +
                   std::to_string(args.updates.size()));
  }
  if (args.min_size > kMaxFileSize) {
    return Invalid("min_size " + std::to_string(args.min_size) + " exceeds the largest file size " +
                   std::to_string(kMaxFileSize));
  }
  std::set<uint64_t> slots;
  for (const SlotUpdate& u : args.updates) {
    const std::string slot = "slot " + std::to_string(u.slot);
    if (!slots.insert(u.slot).second) return Invalid(slot + " is updated twice");
    RETURN_IF_ERROR(CheckChunkId(u.chunk.id(), slot + ": chunk id"));
    if (!u.expected_id.empty())
      RETURN_IF_ERROR(CheckChunkId(u.expected_id, slot + ": expected id"));
    if (u.chunk.length() == 0) return Invalid(slot + ": chunk length 0");
  }
  return absl::OkStatus();
}

// True when `rec` already holds every update of `args` in place of its
// expected chunk (see "Repeat" above).
bool AlreadyApplied(const proto::InodeRecord& rec, const CommitWriteArgs& args) {
  if (args.updates.empty()) return false;
  const uint64_t listed = static_cast<uint64_t>(rec.chunks_size());
  for (const SlotUpdate& u : args.updates) {
    if (u.slot >= listed || u.chunk.id() == u.expected_id) return false;
    const proto::ChunkRef& now = rec.chunks(static_cast<int>(u.slot));
    if (now.id() != u.chunk.id() || now.length() != u.chunk.length()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<proto::InodeRecord> CommitWrite(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce,
                                               InodeId ino, const CommitWriteArgs& args) {
  RETURN_IF_ERROR(CheckArgs(args));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  if (rec.type() == proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kIsDir, "inode " + ino.ToString() + " is a directory");
  }
  if (rec.type() != proto::FILE_TYPE_REGULAR) {
    return Invalid("inode " + ino.ToString() + " is not a regular file");
  }
  const uint64_t cs = ChunkSizeOf(rec);
  uint64_t last_slot = 0;
  for (const SlotUpdate& u : args.updates) {
    const uint64_t len = u.chunk.length();
    if (len > cs) {
      return Invalid("slot " + std::to_string(u.slot) + ": chunk length " + std::to_string(len) +
                     " exceeds the chunk size " + std::to_string(cs));
    }
    // slot * cs + len <= kMaxFileSize, without overflow (len <= cs < kMaxFileSize).
    if (u.slot > (kMaxFileSize - len) / cs) {
      return Invalid("slot " + std::to_string(u.slot) + " ends past the largest file size " +
                     std::to_string(kMaxFileSize));
    }
    if (u.slot >= kMaxSlots) {
      return Invalid("slot " + std::to_string(u.slot) + " is past the largest chunk list (" +
                     std::to_string(kMaxSlots) + " slots)");
    }
    last_slot = std::max(last_slot, u.slot);
  }
  if (AlreadyApplied(rec, args)) return rec;
  const uint64_t listed = static_cast<uint64_t>(rec.chunks_size());
  for (const SlotUpdate& u : args.updates) {
    const std::string& current = u.slot < listed ? rec.chunks(static_cast<int>(u.slot)).id() : "";
    if (current != u.expected_id) return SlotChanged(u.slot, ino);
    // Chunks are immutable: re-listing the same id must keep its length.
    if (!current.empty() && u.chunk.id() == current &&
        u.chunk.length() != rec.chunks(static_cast<int>(u.slot)).length()) {
      return Invalid("slot " + std::to_string(u.slot) + ": chunk already listed with length " +
                     std::to_string(rec.chunks(static_cast<int>(u.slot)).length()));
    }
  }

  std::vector<std::string> released;
  if (!args.updates.empty()) {
    while (static_cast<uint64_t>(rec.chunks_size()) <= last_slot) rec.add_chunks();
  }
  for (const SlotUpdate& u : args.updates) {
    proto::ChunkRef* ref = rec.mutable_chunks(static_cast<int>(u.slot));
    if (!ref->id().empty() && ref->id() != u.chunk.id()) released.push_back(ref->id());
    ref->set_id(u.chunk.id());
    ref->set_length(u.chunk.length());
  }
  if (args.min_size > rec.size()) rec.set_size(args.min_size);
  TrimChunksToSize(rec, released);
  rec.set_mtime_ns(args.mtime_ns != 0 ? args.mtime_ns : now_ns);
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  QueueReleased(txn, now_ns, gc_nonce, ino, released, &rec);
  return rec;
}

}  // namespace cairn::meta::ops
