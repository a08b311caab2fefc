// Create: a new regular file `name` in directory `parent`, or the existing
// one (open with O_CREAT; O_EXCL when `exclusive`).
//
// Reads (Get): the parent's inode (every writer of the parent's entries
// writes it, so concurrent entry changes conflict), the entry (parent,
// name); when the name exists, its inode; when it does not, the parent's
// file counter shard. Writes (new file only): the new inode, the entry,
// the parent (entries + 1, mtime, ctime) and the counter shard.
//
// Retry: the new inode's id is allocated once before the first attempt; a
// retry re-reads the entry and either creates the same file under the same
// id or finds the file another commit created (kExists when exclusive).
//
// An existing name: kExists when `exclusive`; otherwise kIsDir for a
// directory, kExists for a symlink (the client resolves it; the server
// does not follow the last component), and the file's record for a file.
//
// A new file takes its parent's policy with chunk_size filled in (the
// parent's, else kDefaultChunkSize): a file's slot size never changes.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> Create(store::Txn& txn, int64_t now_ns, InodeId parent,
                                          std::string_view name, bool exclusive,
                                          const NewInode& args) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, parent));
  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> existing, FindDirent(txn, parent, name));
  if (existing.has_value()) {
    if (exclusive) return Error(Errc::kExists, std::string(name) + " exists");
    if (existing->type() == proto::FILE_TYPE_DIRECTORY) {
      return Error(Errc::kIsDir, std::string(name) + " is a directory");
    }
    if (existing->type() != proto::FILE_TYPE_REGULAR) {
      return Error(Errc::kExists, std::string(name) + " exists and is not a regular file");
    }
    return LoadInode(txn, InodeId(existing->ino()));
  }

  proto::InodeRecord rec = MakeInode(args, proto::FILE_TYPE_REGULAR, dir, now_ns);
  rec.mutable_policy()->set_chunk_size(ChunkSizeOf(dir));
  StoreInode(txn, rec);
  StoreDirent(txn, parent, name, args.ino, proto::FILE_TYPE_REGULAR);
  dir.set_entries(dir.entries() + 1);
  TouchDir(dir, now_ns);
  StoreInode(txn, dir);
  RETURN_IF_ERROR(AddFileCount(txn, parent, +1));
  return rec;
}

}  // namespace cairn::meta::ops
