// Rmdir: removes the empty directory `name` from `parent`.
//
// Reads (Get): the parent's inode (every writer of the parent's entries
// writes it), the entry (parent, name), the child directory's inode and
// the parent's file counter shard. Emptiness comes from the child's
// `entries` count, not from a scan: every operation that adds an entry to
// the child writes the child's inode, so an rmdir racing with a create
// inside the child conflicts, and whichever commits second is retried
// (seeing either a non-empty directory or no directory).
// Writes: the entry (deleted), the child's inode and xattrs (deleted), the
// parent (nlink - 1, entries - 1, mtime, ctime), the counter shard.
//
// Retry: every attempt re-reads the entry; if another commit removed the
// directory, the retry fails with kNotFound.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::Status Rmdir(store::Txn& txn, int64_t now_ns, InodeId parent, std::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> entry, FindDirent(txn, parent, name));
  if (!entry.has_value()) return Error(Errc::kNotFound, "no entry " + std::string(name));
  if (entry->type() != proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kNotDir, std::string(name) + " is not a directory");
  }
  if (InodeId(entry->ino()) == kRootInode) return Error(Errc::kBusy, "the root cannot be removed");
  ASSIGN_OR_RETURN(proto::InodeRecord child, LoadDir(txn, InodeId(entry->ino())));
  if (child.entries() != 0) return Error(Errc::kNotEmpty, std::string(name) + " is not empty");

  DeleteDirent(txn, parent, name);
  RETURN_IF_ERROR(DeleteInode(txn, child));
  dir.set_nlink(dir.nlink() - 1);
  dir.set_entries(dir.entries() - 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  RETURN_IF_ERROR(AddFileCount(txn, parent, -1));
  return absl::OkStatus();
}

}  // namespace cairn::meta::ops
