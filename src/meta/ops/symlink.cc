// Symlink: a new symbolic link `name` -> `target` in directory `parent`.
//
// Reads (Get): the parent's inode (every writer of the parent's entries
// writes it), the entry (parent, name), the parent's file counter shard.
// Writes: the new inode (mode 0777, size = target length), the entry, the
// parent (entries + 1, mtime, ctime) and the counter shard.
//
// Retry: the id is allocated once before the first attempt; each attempt
// re-reads and writes the same link under the same id, or fails with
// kExists if another commit took the name.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> Symlink(store::Txn& txn, int64_t now_ns, InodeId parent,
                                           std::string_view name, std::string_view target,
                                           const NewInode& args) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(ValidateSymlinkTarget(target));
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> existing, FindDirent(txn, parent, name));
  if (existing.has_value()) return Error(Errc::kExists, std::string(name) + " exists");

  NewInode link_args = args;
  link_args.mode = 0777;
  proto::InodeRecord rec = MakeInode(link_args, proto::FILE_TYPE_SYMLINK, dir, now_ns);
  rec.set_symlink_target(std::string(target));
  rec.set_size(target.size());
  StoreInode(txn, rec);
  StoreDirent(txn, parent, name, args.ino, proto::FILE_TYPE_SYMLINK);
  dir.set_entries(dir.entries() + 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  RETURN_IF_ERROR(AddFileCount(txn, parent, +1));
  return rec;
}

}  // namespace cairn::meta::ops
