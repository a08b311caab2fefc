// GetAttr: an inode's record.
//
// Reads (Get): the inode. One read; read-only, never committed, so there
// is nothing to retry.
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> GetAttr(store::Reader& txn, InodeId ino) {
  return LoadInode(txn, ino);
}

}  // namespace cairn::meta::ops
