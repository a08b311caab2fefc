// Link: a new hard link `new_name` in `new_parent` to inode `target`.
//
// Reads (Get): the target's inode (a concurrent unlink, link or setattr of
// it conflicts: an unlink that drops the last link and deletes it makes the
// retry fail with kNotFound), the new parent's inode (every writer of its
// entries writes it) and the entry (new_parent, new_name).
// Writes: the target (nlink + 1, ctime), the entry, the new parent
// (entries + 1, mtime, ctime). The file count does not change.
//
// Retry: every attempt re-reads the target and the entry; a retry after
// another commit took the name fails with kExists rather than linking twice.
//
// Directories cannot be linked (kPermission, EPERM, as Linux); at most
// kMaxHardLinks links (kTooManyLinks).
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> Link(store::Txn& txn, int64_t now_ns, InodeId target,
                                        InodeId new_parent, std::string_view new_name) {
  RETURN_IF_ERROR(ValidateName(new_name));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, target));
  if (rec.type() == proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kPermission, "hard links to directories are not allowed");
  }
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, new_parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> existing,
                   FindDirent(txn, new_parent, new_name));
  if (existing.has_value()) return Error(Errc::kExists, std::string(new_name) + " exists");
  if (rec.nlink() >= kMaxHardLinks) return Error(Errc::kTooManyLinks, "too many hard links");

  rec.set_nlink(rec.nlink() + 1);
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  StoreDirent(txn, new_parent, new_name, target, rec.type());
  dir.set_entries(dir.entries() + 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  return rec;
}

}  // namespace cairn::meta::ops
