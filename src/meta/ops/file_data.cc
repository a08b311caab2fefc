// Helpers shared by the operations that change a file's chunk list:
// CommitWrite, SetAttr (truncate), Unlink and Rename (a file deleted).
#include <algorithm>
#include <set>

#include "absl/strings/cord.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

// The type URL of the payload that marks a CommitWrite's expected-id
// mismatch; never leaves the process.
constexpr absl::string_view kSlotChangedUrl = "cairn.meta.slot_changed";

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

uint64_t ChunkSizeOf(const proto::InodeRecord& rec) {
  return rec.policy().chunk_size() != 0 ? rec.policy().chunk_size() : kDefaultChunkSize;
}

absl::Status CheckChunkId(std::string_view id, std::string_view what) {
  if (id.size() != kChunkIdBytes) {
    return Invalid(std::string(what) + " is " + std::to_string(id.size()) + " bytes, not " +
                   std::to_string(kChunkIdBytes));
  }
  if (std::all_of(id.begin(), id.end(), [](char c) { return c == '\0'; })) {
    return Invalid(std::string(what) + " is the all-zero id");
  }
  return absl::OkStatus();
}

absl::Status CheckPolicy(const proto::StoragePolicy& policy) {
  if (policy.replicas() > kMaxReplicas) {
    return Invalid("replicas must be 0 (the cluster's) to " + std::to_string(kMaxReplicas) +
                   ", not " + std::to_string(policy.replicas()));
  }
  const uint64_t cs = policy.chunk_size();
  if (cs != 0 && (!IsPowerOfTwo(cs) || cs < kMinChunkSize || cs > kMaxChunkSize)) {
    return Invalid(
        "chunk size must be 0 (the default) or a power of two from 64 KiB to 64 MiB, "
        "not " +
        std::to_string(cs));
  }
  return absl::OkStatus();
}

void TrimChunksToSize(proto::InodeRecord& rec, std::vector<std::string>& released) {
  const uint64_t cs = ChunkSizeOf(rec);
  const uint64_t size = rec.size();
  for (int i = 0; i < rec.chunks_size(); ++i) {
    proto::ChunkRef* ref = rec.mutable_chunks(i);
    const uint64_t start = static_cast<uint64_t>(i) * cs;
    if (start >= size) {
      if (!ref->id().empty()) released.push_back(ref->id());
      ref->Clear();
    } else if (ref->length() > size - start) {
      ref->set_length(size - start);
    }
  }
  while (rec.chunks_size() > 0 && rec.chunks(rec.chunks_size() - 1).id().empty()) {
    rec.mutable_chunks()->RemoveLast();
  }
}

void QueueReleased(store::Txn& txn, int64_t now_ns, uint64_t nonce, InodeId ino,
                   const std::vector<std::string>& released, const proto::InodeRecord* rec) {
  if (released.empty()) return;
  std::set<std::string> kept;
  if (rec != nullptr) {
    for (const proto::ChunkRef& ref : rec->chunks()) {
      if (!ref.id().empty()) kept.insert(ref.id());
    }
  }
  proto::GcEntry entry;
  std::set<std::string> queued;
  for (const std::string& id : released) {
    if (id.empty() || kept.count(id) > 0 || !queued.insert(id).second) continue;
    entry.add_chunk_ids(id);
  }
  if (entry.chunk_ids_size() == 0) return;
  entry.set_ino(ino.value());
  entry.set_queued_ns(now_ns);
  txn.Put(keys::GcQueue(now_ns, ino, nonce), entry.SerializeAsString());
}

void QueueAllChunks(store::Txn& txn, int64_t now_ns, uint64_t nonce,
                    const proto::InodeRecord& rec) {
  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(rec.chunks_size()));
  for (const proto::ChunkRef& ref : rec.chunks()) ids.push_back(ref.id());
  QueueReleased(txn, now_ns, nonce, InodeId(rec.ino()), ids, nullptr);
}

absl::Status SlotChanged(uint64_t slot, InodeId ino) {
  absl::Status status = Error(
      Errc::kConflict, "slot " + std::to_string(slot) + " of inode " + ino.ToString() + " changed");
  status.SetPayload(kSlotChangedUrl, absl::Cord("1"));
  return status;
}

bool IsSlotChanged(const absl::Status& status) {
  return status.GetPayload(kSlotChangedUrl).has_value();
}

}  // namespace cairn::meta::ops
