#include "meta/inode_allocator.h"

#include <limits>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"

namespace cairn::meta {

InodeAllocator::InodeAllocator(store::KvStore* store, uint64_t batch,
                               const store::RetryOptions& retry)
    : store_(store), batch_(batch == 0 ? 1 : batch), retry_(retry) {
  retry_.commit.sync = true;
}

absl::StatusOr<InodeId> InodeAllocator::Allocate() {
  absl::MutexLock lock(&mu_);
  if (next_ == limit_) RETURN_IF_ERROR(Reserve());
  return InodeId(next_++);
}

absl::Status InodeAllocator::Reserve() {
  const std::string key = keys::System(keys::kNextInode);
  uint64_t first = 0;
  // Reads next_inode with Get, so two allocators (two servers) racing for
  // a batch conflict and one retries with the advanced value. A retry is a
  // fresh read-modify-write: idempotent.
  RETURN_IF_ERROR(store::RunTxn(*store_, retry_, [&](store::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<std::string> value, txn.Get(key));
    uint64_t start = kFirstAllocatedInode;
    if (value.has_value()) {
      ASSIGN_OR_RETURN(start, keys::DecodeU64(*value));
      if (start < kFirstAllocatedInode) return Error(Errc::kInternal, "next_inode below 2");
    }
    if (start > std::numeric_limits<uint64_t>::max() - batch_) {
      return Error(Errc::kNoSpace, "inode ids exhausted");
    }
    txn.Put(key, keys::EncodeU64(start + batch_));
    first = start;
    return absl::OkStatus();
  }));
  next_ = first;
  limit_ = first + batch_;
  return absl::OkStatus();
}

}  // namespace cairn::meta
