// SetPolicy and GetPolicy: the storage policy of a directory (inherited by
// what is created below it) and of any inode.
//
// SetPolicy reads (Get) the inode, so it conflicts with any concurrent
// change of the directory (every entry change writes it) and is retried;
// it writes the inode (policy, ctime). The new record is a function of the
// record read and the arguments, so a retry is idempotent. A policy change
// does not touch what exists below: files keep the chunk size they were
// created with, directories the policy they copied.
//
// GetPolicy reads the inode; read-only.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> SetPolicy(store::Txn& txn, int64_t now_ns, InodeId ino,
                                             const proto::StoragePolicy& policy) {
  RETURN_IF_ERROR(CheckPolicy(policy));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  if (rec.type() != proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kNotDir,
                 "policies are set on directories; inode " + ino.ToString() + " is not one");
  }
  *rec.mutable_policy() = policy;
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  return rec;
}

absl::StatusOr<proto::StoragePolicy> GetPolicy(store::Reader& txn, InodeId ino) {
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  return rec.policy();
}

}  // namespace cairn::meta::ops
