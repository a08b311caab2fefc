// Unlink: removes the entry `name` (not a directory) from `parent`.
//
// Reads (Get): the parent's inode (every writer of the parent's entries
// writes it), the entry (parent, name), the child's inode (a concurrent
// link, unlink elsewhere, setattr or xattr change of it conflicts), and
// when the last link goes, the parent's file counter shard. The child's
// xattr range is scanned when it has any: every xattr writer also writes
// the child's inode, read above, so the scan cannot miss a concurrent one.
// Writes: the entry (deleted), the parent (entries - 1, mtime, ctime), the
// child (nlink - 1, ctime) or, at nlink 0, the child's inode and xattrs
// deleted, the counter shard decremented and every chunk of the file
// queued for GC (one entry, key GcQueue(now_ns, child, gc_nonce)).
//
// Retry: every attempt re-reads the entry; if another commit removed it,
// the retry fails with kNotFound instead of decrementing twice.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::Status Unlink(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce, InodeId parent,
                    std::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> entry, FindDirent(txn, parent, name));
  if (!entry.has_value()) return Error(Errc::kNotFound, "no entry " + std::string(name));
  if (entry->type() == proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kIsDir, std::string(name) + " is a directory");
  }
  ASSIGN_OR_RETURN(proto::InodeRecord child, LoadInode(txn, InodeId(entry->ino())));

  DeleteDirent(txn, parent, name);
  dir.set_entries(dir.entries() - 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  if (child.nlink() <= 1) {
    RETURN_IF_ERROR(DeleteInode(txn, child));
    RETURN_IF_ERROR(AddFileCount(txn, parent, -1));
    QueueAllChunks(txn, now_ns, gc_nonce, child);
  } else {
    child.set_nlink(child.nlink() - 1);
    child.set_ctime_ns(now_ns);
    StoreInode(txn, child);
  }
  return absl::OkStatus();
}

}  // namespace cairn::meta::ops
