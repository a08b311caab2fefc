// Rename: moves entry (src_parent, src_name) to (dst_parent, dst_name),
// atomically, as renameat2(2) with flags 0, RENAME_NOREPLACE or
// RENAME_EXCHANGE.
//
// Reads (Get):
//  - both parents' inodes (every writer of their entries writes them), so
//    a concurrent change of either directory's entries conflicts;
//  - both entries, the source inode and the destination inode if any (a
//    concurrent create inside a directory being replaced writes that
//    directory's inode, so "replace only an empty directory" holds);
//  - when a directory moves to another parent: every ancestor of the
//    destination directory up to the root, following InodeRecord.parent.
//    Each of them is read with Get, so a concurrent rename that moves one of
//    them (and writes its parent field) conflicts: two renames can never
//    together make a cycle;
//  - the destination parent's file counter shard when an inode is deleted.
// Writes: the two entries, the parents (entries, nlink for directory moves,
// mtime, ctime), the moved inodes (ctime, parent for directories), and the
// replaced inode (nlink - 1 and ctime, or deleted with its xattrs, and a
// deleted file's chunks queued for GC under GcQueue(now_ns, ino, gc_nonce)).
//
// Retry: every attempt re-reads both entries and recomputes all writes, so
// a retry after a concurrent change either renames what is there now or
// fails (kNotFound if the source went away) instead of applying twice.
//
// Errors, in the order Linux checks them: kInvalid (bad flags, names, or a
// directory moved into its own subtree; with exchange, either one into
// the other's), kNotFound (no source; no destination with exchange),
// kExists (destination exists with noreplace), kNotDir / kIsDir (a
// directory over a non-directory and the reverse), kNotEmpty (a non-empty
// directory would be replaced). Renaming an entry onto itself or onto
// another hard link of the same inode succeeds and changes nothing.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

// kInvalid when directory `dir` is `start` (a directory whose record is
// `start_rec`) or one of its ancestors.
absl::Status CheckNotAncestor(store::Txn& txn, InodeId dir, const proto::InodeRecord& start_rec) {
  InodeId cur(start_rec.ino());
  InodeId up(start_rec.parent());
  for (int steps = 0; steps < kMaxAncestorWalk; ++steps) {
    if (cur == dir) return Error(Errc::kInvalid, "cannot move a directory into its own subtree");
    if (cur == kRootInode) return absl::OkStatus();
    cur = up;
    if (cur != dir && cur != kRootInode) {
      ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadDir(txn, cur));
      up = InodeId(rec.parent());
    }
  }
  return Error(Errc::kInternal, "directory ancestry does not reach the root");
}

}  // namespace

absl::Status Rename(store::Txn& txn, int64_t now_ns, uint64_t gc_nonce, InodeId src_parent,
                    std::string_view src_name, InodeId dst_parent, std::string_view dst_name,
                    uint32_t flags) {
  if ((flags & ~(kRenameNoReplace | kRenameExchange)) != 0) {
    return Error(Errc::kInvalid, "unknown rename flags");
  }
  const bool noreplace = (flags & kRenameNoReplace) != 0;
  const bool exchange = (flags & kRenameExchange) != 0;
  if (noreplace && exchange) return Error(Errc::kInvalid, "noreplace together with exchange");
  RETURN_IF_ERROR(ValidateName(src_name));
  RETURN_IF_ERROR(ValidateName(dst_name));

  const bool same_dir = src_parent == dst_parent;
  ASSIGN_OR_RETURN(proto::InodeRecord sp, LoadDir(txn, src_parent));
  proto::InodeRecord dp_other;
  if (!same_dir) {
    ASSIGN_OR_RETURN(dp_other, LoadDir(txn, dst_parent));
  }
  proto::InodeRecord& dp = same_dir ? sp : dp_other;  // one record when one directory

  ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> src_entry,
                   FindDirent(txn, src_parent, src_name));
  if (!src_entry.has_value()) return Error(Errc::kNotFound, "no entry " + std::string(src_name));
  std::optional<proto::DirentRecord> dst_entry;
  if (same_dir && src_name == dst_name) {
    dst_entry = src_entry;
  } else {
    ASSIGN_OR_RETURN(dst_entry, FindDirent(txn, dst_parent, dst_name));
  }
  if (noreplace && dst_entry.has_value()) {
    return Error(Errc::kExists, std::string(dst_name) + " exists");
  }
  if (exchange && !dst_entry.has_value()) {
    return Error(Errc::kNotFound, "no entry " + std::string(dst_name));
  }
  const bool src_is_dir = src_entry->type() == proto::FILE_TYPE_DIRECTORY;
  const bool dst_is_dir = dst_entry.has_value() && dst_entry->type() == proto::FILE_TYPE_DIRECTORY;
  const InodeId src_ino(src_entry->ino());
  const InodeId dst_ino(dst_entry.has_value() ? dst_entry->ino() : 0);
  if (!same_dir) {
    if (src_is_dir) RETURN_IF_ERROR(CheckNotAncestor(txn, src_ino, dp));
    if (exchange && dst_is_dir) RETURN_IF_ERROR(CheckNotAncestor(txn, dst_ino, sp));
  }
  // Onto itself or onto another link of the same inode: nothing to do.
  if (dst_entry.has_value() && dst_ino == src_ino) return absl::OkStatus();

  ASSIGN_OR_RETURN(proto::InodeRecord src, LoadInode(txn, src_ino));
  proto::InodeRecord dst;
  if (dst_entry.has_value()) {
    ASSIGN_OR_RETURN(dst, LoadInode(txn, dst_ino));
  }

  if (exchange) {
    StoreDirent(txn, src_parent, src_name, dst_ino, dst_entry->type());
    StoreDirent(txn, dst_parent, dst_name, src_ino, src_entry->type());
    if (!same_dir) {
      if (src_is_dir) src.set_parent(dst_parent.value());
      if (dst_is_dir) dst.set_parent(src_parent.value());
      if (src_is_dir && !dst_is_dir) {
        sp.set_nlink(sp.nlink() - 1);
        dp.set_nlink(dp.nlink() + 1);
      } else if (!src_is_dir && dst_is_dir) {
        sp.set_nlink(sp.nlink() + 1);
        dp.set_nlink(dp.nlink() - 1);
      }
    }
    src.set_ctime_ns(now_ns);
    dst.set_ctime_ns(now_ns);
    StoreInode(txn, src);
    StoreInode(txn, dst);
  } else {
    if (dst_entry.has_value()) {
      if (src_is_dir && !dst_is_dir) {
        return Error(Errc::kNotDir, std::string(dst_name) + " is not a directory");
      }
      if (!src_is_dir && dst_is_dir) {
        return Error(Errc::kIsDir, std::string(dst_name) + " is a directory");
      }
      if (dst_is_dir && dst.entries() != 0) {
        return Error(Errc::kNotEmpty, std::string(dst_name) + " is not empty");
      }
    }
    DeleteDirent(txn, src_parent, src_name);
    StoreDirent(txn, dst_parent, dst_name, src_ino, src_entry->type());
    sp.set_entries(sp.entries() - 1);
    if (!dst_entry.has_value()) dp.set_entries(dp.entries() + 1);
    if (src_is_dir && !same_dir) {
      sp.set_nlink(sp.nlink() - 1);
      dp.set_nlink(dp.nlink() + 1);
      src.set_parent(dst_parent.value());
    }
    src.set_ctime_ns(now_ns);
    StoreInode(txn, src);
    if (dst_entry.has_value()) {
      if (dst_is_dir) dp.set_nlink(dp.nlink() - 1);
      if (dst_is_dir || dst.nlink() <= 1) {
        RETURN_IF_ERROR(DeleteInode(txn, dst));
        RETURN_IF_ERROR(AddFileCount(txn, dst_parent, -1));
        QueueAllChunks(txn, now_ns, gc_nonce, dst);
      } else {
        dst.set_nlink(dst.nlink() - 1);
        dst.set_ctime_ns(now_ns);
        StoreInode(txn, dst);
      }
    }
  }
  TouchDir(sp, now_ns);
  StoreInode(txn, sp);
  if (!same_dir) {
    TouchDir(dp, now_ns);
    StoreInode(txn, dp);
  }
  return absl::OkStatus();
}

}  // namespace cairn::meta::ops
