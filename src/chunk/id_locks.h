// IdLocks: one exclusive lock per chunk id, held by a scoped Guard.
//
// The chunk stores serialize the operations that change one id (Put,
// Delete, Quarantine, a compaction move) with it, while operations on
// different ids run in parallel. Only ids currently held take memory: the
// set of held ids, nothing per id ever seen.
//
//   IdLocks::Guard guard(&id_locks_, id);  // waits while another guard holds id
//   ...                                    // released when `guard` goes out of scope
//
// A Guard blocks until no other Guard holds its id. Releasing an id wakes
// every waiter, and those that wait for another id go back to waiting
// (cheap while few operations on one store run at once, as in the chunk
// server's store threads).
//
// Locks are not reentrant: a thread that takes a second Guard on an id it
// already holds waits forever. Lock order: take a Guard before the store's
// own mutexes, never while holding one; the internal mutex is held only
// inside the Guard's constructor and destructor.
//
// Ownership and thread-safety: thread-safe. The IdLocks must outlive every
// Guard on it. A Guard belongs to the scope that made it (not copyable,
// not movable).
#pragma once

#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "chunk/chunk_id.h"

namespace cairn::chunk {

class IdLocks {
 public:
  IdLocks() = default;
  IdLocks(const IdLocks&) = delete;
  IdLocks& operator=(const IdLocks&) = delete;

  // Holds `id` from construction (after any wait) to destruction.
  class [[nodiscard]] Guard {
   public:
    Guard(IdLocks* locks, ChunkId id);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    IdLocks* const locks_;
    const ChunkId id_;
  };

  // Whether a Guard holds `id` now (for tests and debug checks).
  bool Held(ChunkId id) const;
  // How many threads wait in a Guard's constructor now (for tests).
  size_t waiting() const;

 private:
  void Lock(ChunkId id);
  void Unlock(ChunkId id);

  mutable absl::Mutex mu_;
  absl::CondVar released_;  // signalled when an id leaves held_
  absl::flat_hash_set<ChunkId> held_ ABSL_GUARDED_BY(mu_);
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::chunk
