#include "chunk/id_locks.h"

namespace cairn::chunk {

IdLocks::Guard::Guard(IdLocks* locks, ChunkId id) : locks_(locks), id_(id) { locks_->Lock(id_); }

IdLocks::Guard::~Guard() { locks_->Unlock(id_); }

void IdLocks::Lock(ChunkId id) {
  absl::MutexLock l(&mu_);
  if (held_.contains(id)) {
    ++waiting_;
    while (held_.contains(id)) released_.Wait(&mu_);
    --waiting_;
  }
  held_.insert(id);
}

void IdLocks::Unlock(ChunkId id) {
  absl::MutexLock l(&mu_);
  held_.erase(id);
  if (waiting_ > 0) released_.SignalAll();
}

bool IdLocks::Held(ChunkId id) const {
  absl::MutexLock l(&mu_);
  return held_.contains(id);
}

size_t IdLocks::waiting() const {
  absl::MutexLock l(&mu_);
  return waiting_;
}

}  // namespace cairn::chunk
