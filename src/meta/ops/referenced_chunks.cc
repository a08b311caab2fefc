// ListReferencedChunks: a read-only scan of the inode records (key prefix
// I) for the chunk ids that files reference, used by GC reconciliation
// (docs/gc.md) to tell orphans from live chunks.
//
// Reads: one Scan per page on a Reader of the latest committed state, no
// transaction, nothing written: nothing to retry. One page is consistent
// in itself; pages are not one snapshot (see docs/gc.md for why the
// reconciliation stays safe: chunks are listed on the nodes before the
// scan, and only chunks older than the grace period are ever deleted).
//
// A record that does not parse, or a chunk id that is not 16 bytes, is a
// kInternal error: the caller must stop rather than guess.
#include <cstdint>
#include <string>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/namespace.h"

namespace cairn::meta {
namespace {

absl::StatusOr<ReferencedChunksPage> ScanReferenced(store::Reader& reader, InodeId after,
                                                    uint32_t limit) {
  // Inode keys are I <ino:8 big-endian>: the range after `after` up to
  // the end of the prefix.
  const std::string begin = keys::Inode(InodeId(after.value() + 1));
  const std::string end(1, static_cast<char>(static_cast<char>(keys::Prefix::kInode) + 1));
  ReferencedChunksPage page;
  page.next_after = after;
  if (after.value() == UINT64_MAX) {
    page.done = true;
    return page;
  }
  ASSIGN_OR_RETURN(std::vector<store::KeyValue> kvs, reader.Scan(begin, end, limit));
  for (const store::KeyValue& kv : kvs) {
    absl::StatusOr<keys::DecodedKey> key = keys::Decode(kv.key);
    proto::InodeRecord rec;
    if (!key.ok() || key->prefix != keys::Prefix::kInode || !rec.ParseFromString(kv.value)) {
      return Error(Errc::kInternal, "unparsable inode record while scanning chunk references");
    }
    ++page.inodes;
    for (const proto::ChunkRef& ref : rec.chunks()) {
      if (ref.id().empty()) continue;  // a hole
      if (ref.id().size() != kChunkIdBytes) {
        return Error(Errc::kInternal, "inode " + key->ino.ToString() + " has a malformed chunk id");
      }
      page.ids.push_back(ref.id());
    }
    page.next_after = key->ino;
  }
  page.done = kvs.size() < limit;
  return page;
}

}  // namespace

absl::StatusOr<ReferencedChunksPage> Namespace::ListReferencedChunks(InodeId after,
                                                                     uint32_t limit) {
  if (limit == 0 || limit > kReferencedScanMax) limit = kReferencedScanMax;
  std::unique_ptr<store::Reader> reader = store_->NewReader();
  return ScanReferenced(*reader, after, limit);
}

}  // namespace cairn::meta
