// InodeAllocator: hands out inode ids that are never reused, not even
// across restarts or between several metadata servers sharing one store.
//
// It reserves a batch of ids at a time by advancing the system key
// next_inode (keys::System(keys::kNextInode), uint64 big-endian: the lowest
// id not yet reserved by anyone) in its own transaction, committed with
// sync=true so a reservation survives power loss before any id from it is
// used. Ids of a batch not handed out before the process ends are skipped
// forever; with 64-bit ids that costs nothing. The root is 1; the first id
// handed out on a fresh store is 2.
//
// Thread-safety: thread-safe. The store must outlive the allocator.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/ids.h"
#include "store/kv_store.h"
#include "store/run_txn.h"

namespace cairn::meta {

// The first id handed out on a fresh store (the root is kRootInode = 1).
inline constexpr uint64_t kFirstAllocatedInode = 2;

class InodeAllocator {
 public:
  // `batch`: ids reserved per store transaction (0 is taken as 1). Larger
  // batches mean fewer synced commits and more ids skipped at a restart.
  InodeAllocator(store::KvStore* store, uint64_t batch, const store::RetryOptions& retry);

  InodeAllocator(const InodeAllocator&) = delete;
  InodeAllocator& operator=(const InodeAllocator&) = delete;

  // A fresh id. Errors: the store's, when a new batch cannot be reserved;
  // kNoSpace when the id space is exhausted.
  absl::StatusOr<InodeId> Allocate();

 private:
  absl::Status Reserve() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::KvStore* const store_;
  const uint64_t batch_;
  store::RetryOptions retry_;

  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;   // next id to hand out
  uint64_t limit_ ABSL_GUARDED_BY(mu_) = 0;  // end of the reserved batch (exclusive)
};

}  // namespace cairn::meta
