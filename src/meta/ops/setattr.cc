// SetAttr: changes mode, owner, size and times of one inode.
//
// Reads (Get): the inode, so two concurrent changes of one inode (or a
// change racing with link, unlink, rename or an xattr update of it)
// conflict and one is retried. Writes: the inode.
//
// Retry: the new record is computed from the record read and from `args`
// and `now_ns`, fixed for every attempt, so each attempt writes the same
// changes on top of what it read.
//
// Semantics: mode keeps only the permission bits (07777); size is for
// regular files only (kIsDir for a directory, kInvalid otherwise, kInvalid
// over kMaxFileSize). Shrinking releases every chunk whose slot starts at
// or past the new size and cuts the chunk straddling it to end there (so a
// later grow reads zeros, not old bytes); trailing empty slots go.
// Growing only sets the size. Released chunks are queued for GC in the
// same transaction under GcQueue(now_ns, ino, gc_nonce). A size change
// sets mtime unless mtime is given. Every change sets ctime. No field set:
// the record is returned unchanged and nothing is written.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> SetAttr(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce,
                                           InodeId ino, const SetAttrArgs& args) {
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  bool changed = false;
  std::vector<std::string> released;
  if (args.size.has_value()) {
    if (rec.type() == proto::FILE_TYPE_DIRECTORY) return Error(Errc::kIsDir, "size of a directory");
    if (rec.type() != proto::FILE_TYPE_REGULAR) {
      return Error(Errc::kInvalid, "size of a non-regular file");
    }
    if (*args.size > kMaxFileSize) {
      return Error(Errc::kInvalid, "size " + std::to_string(*args.size) +
                                       " exceeds the largest file size " +
                                       std::to_string(kMaxFileSize));
    }
    if (*args.size != rec.size()) {
      rec.set_size(*args.size);
      TrimChunksToSize(rec, released);
      if (!args.mtime_ns.has_value()) rec.set_mtime_ns(now_ns);
    }
    changed = true;
  }
  if (args.mode.has_value()) {
    rec.set_mode(*args.mode & 07777);
    changed = true;
  }
  if (args.uid.has_value()) {
    rec.set_uid(*args.uid);
    changed = true;
  }
  if (args.gid.has_value()) {
    rec.set_gid(*args.gid);
    changed = true;
  }
  if (args.atime_ns.has_value()) {
    rec.set_atime_ns(*args.atime_ns == kTimeNow ? now_ns : *args.atime_ns);
    changed = true;
  }
  if (args.mtime_ns.has_value()) {
    rec.set_mtime_ns(*args.mtime_ns == kTimeNow ? now_ns : *args.mtime_ns);
    changed = true;
  }
  if (!changed) return rec;
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  QueueReleased(txn, now_ns, gc_nonce, ino, released, &rec);
  return rec;
}

}  // namespace cairn::meta::ops
