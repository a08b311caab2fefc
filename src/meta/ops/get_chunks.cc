// GetChunks: a page of a regular file's chunk list, with its attributes.
//
// Reads (Get): the inode. Read-only, never committed: nothing to retry.
//
// kIsDir for a directory, kInvalid for anything else but a regular file.
// Returns the refs of slots first_slot .. first_slot + max_slots - 1 that
// the list holds; slots past its end (and empty ids) are holes. The
// replicas returned are the stored ones (0: the cluster's).
#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<FileChunks> GetChunks(store::Reader& txn, InodeId ino, uint64_t first_slot,
                                     uint32_t max_slots) {
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  if (rec.type() == proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kIsDir, "inode " + ino.ToString() + " is a directory");
  }
  if (rec.type() != proto::FILE_TYPE_REGULAR) {
    return Invalid("inode " + ino.ToString() + " is not a regular file");
  }
  FileChunks out;
  out.chunk_size = ChunkSizeOf(rec);
  out.replicas = rec.policy().replicas();
  out.first_slot = first_slot;
  const uint64_t listed = static_cast<uint64_t>(rec.chunks_size());
  if (first_slot < listed) {
    const uint64_t take = std::min<uint64_t>(listed - first_slot, max_slots);
    out.chunks.reserve(take);
    for (uint64_t i = first_slot; i < first_slot + take; ++i) {
      out.chunks.push_back(rec.chunks(static_cast<int>(i)));
    }
  }
  rec.clear_chunks();
  out.attr = std::move(rec);
  return out;
}

}  // namespace cairn::meta::ops
