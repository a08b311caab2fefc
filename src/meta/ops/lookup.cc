// Lookup: the inode named `name` in directory `parent`.
//
// Reads (Get): the entry (parent, name) and the child's inode; the parent's
// inode only when the entry is missing (to tell kNotDir / kNotFound apart)
// or for ".." (its parent field). Read-only: never committed, so there is
// nothing to retry.
//
// "." names the directory itself and ".." its parent (the root's is the
// root), as FUSE asks for them when the file system is exported.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> Lookup(store::Reader& txn, InodeId parent,
                                          std::string_view name) {
  if (name == ".") return LoadDir(txn, parent);
  if (name == "..") {
    ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
    return LoadInode(txn, InodeId(dir.parent()));
  }
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> entry, FindDirent(txn, parent, name));
  if (!entry.has_value()) {
    // Entries exist only in directories: tell a missing or non-directory
    // parent from a missing name.
    RETURN_IF_ERROR(LoadDir(txn, parent).status());
    return Error(Errc::kNotFound, "no entry " + std::string(name));
  }
  return LoadInode(txn, InodeId(entry->ino()));
}

}  // namespace cairn::meta::ops
