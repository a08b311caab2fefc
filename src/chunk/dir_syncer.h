// DirSyncer: runs the syncs that make a chunk store's changes durable,
// optionally sharing them among concurrent callers (group commit,
// leader/follower).
//
// Sync(key) returns only after a sync of `key` that started after the call
// began has completed. What "a sync of key" is depends on the function the
// syncer was built with: fsync of a directory, or syncfs() of the file
// system holding a data directory.
//
// With grouping on, the first caller becomes the leader: it takes every key
// queued so far, syncs each distinct one once, and wakes the callers of that
// round. Callers that arrive while a round runs queue up for the next round,
// which one of them leads. Under load a round covers everything that arrived
// during the previous one, and no caller waits longer than about two rounds.
// Without grouping every call syncs on its own, in the caller's thread.
//
// Thread-safety: thread-safe. `sync` must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cairn::chunk {

class DirSyncer {
 public:
  using SyncFn = std::function<absl::Status(const std::string& key)>;

  DirSyncer(SyncFn sync, bool group) : sync_(std::move(sync)), group_(group) {}

  absl::Status Sync(const std::string& key);

  // Sync calls, rounds run and keys synced so far (for tests and metrics).
  // Without grouping all three are equal.
  uint64_t requests() const;
  uint64_t rounds() const;
  uint64_t syncs() const;

 private:
  struct Round {
    // key -> result of its sync (OK until the round ran).
    absl::flat_hash_map<std::string, absl::Status> keys;
    bool done = false;
  };

  const SyncFn sync_;
  const bool group_;
  mutable absl::Mutex mu_;
  absl::CondVar round_done_;  // signalled when a round ends
  std::shared_ptr<Round> collecting_ ABSL_GUARDED_BY(mu_) = std::make_shared<Round>();
  bool leader_active_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rounds_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::chunk
