// Readlink: a symlink's target.
//
// Reads (Get): the inode. Read-only, never committed: nothing to retry.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<std::string> Readlink(store::Reader& txn, InodeId ino) {
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  if (rec.type() != proto::FILE_TYPE_SYMLINK) {
    return Error(Errc::kInvalid, "inode " + ino.ToString() + " is not a symlink");
  }
  return std::move(*rec.mutable_symlink_target());
}

}  // namespace cairn::meta::ops
