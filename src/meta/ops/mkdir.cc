// Mkdir: a new directory `name` in directory `parent`.
//
// Reads (Get): the parent's inode (every writer of the parent's entries
// writes it, so concurrent entry changes in the parent conflict, and an
// rmdir of the parent makes this fail over to kNotFound on retry), the
// entry (parent, name), and the parent's file counter shard.
// Writes: the new inode, the entry, the parent (nlink + 1, entries + 1,
// mtime, ctime) and the counter shard.
//
// Retry: the new inode's id is allocated once before the first attempt and
// every attempt derives its writes from what it reads, so a retry writes
// the same directory under the same id, or fails with kExists if another
// commit took the name in between.
#include <limits>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> Mkdir(store::Txn& txn, int64_t now_ns, InodeId parent,
                                         std::string_view name, const NewInode& args) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> existing, FindDirent(txn, parent, name));
  if (existing.has_value()) return Error(Errc::kExists, std::string(name) + " exists");
  if (dir.nlink() == std::numeric_limits<uint32_t>::max()) {
    return Error(Errc::kTooManyLinks, "too many subdirectories");
  }

  proto::InodeRecord rec = MakeInode(args, proto::FILE_TYPE_DIRECTORY, dir, now_ns);
  StoreInode(txn, rec);
  StoreDirent(txn, parent, name, args.ino, proto::FILE_TYPE_DIRECTORY);
  dir.set_nlink(dir.nlink() + 1);
  dir.set_entries(dir.entries() + 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  RETURN_IF_ERROR(AddFileCount(txn, parent, +1));
  return rec;
}

}  // namespace cairn::meta::ops
