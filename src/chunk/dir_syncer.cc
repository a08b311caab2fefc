#include "chunk/dir_syncer.h"

#include <utility>
#include <vector>

namespace cairn::chunk {

absl::Status DirSyncer::Sync(const std::string& key) {
  if (!group_) {
    {
      absl::MutexLock l(&mu_);
      ++requests_;
      ++rounds_;
      ++syncs_;
    }
    return sync_(key);
  }
  absl::MutexLock l(&mu_);
  ++requests_;
  std::shared_ptr<Round> mine = collecting_;
  mine->keys.try_emplace(key, absl::OkStatus());
  while (!mine->done) {
    if (leader_active_) {
      // Wait for the running round to end; then either ours is done or one
      // of us leads the next.
      round_done_.Wait(&mu_);
      continue;
    }
    // Lead: take the collecting round (it is ours: a round only leaves
    // `collecting_` through a leader, and is done before the leader quits).
    leader_active_ = true;
    std::shared_ptr<Round> round = std::exchange(collecting_, std::make_shared<Round>());
    std::vector<std::string> keys;
    keys.reserve(round->keys.size());
    for (const auto& [k, unused] : round->keys) keys.push_back(k);
    mu_.Unlock();
    std::vector<absl::Status> results;
    results.reserve(keys.size());
    for (const std::string& k : keys) results.push_back(sync_(k));
    mu_.Lock();
    for (size_t i = 0; i < keys.size(); ++i) round->keys[keys[i]] = std::move(results[i]);
    round->done = true;
    leader_active_ = false;
    ++rounds_;
    syncs_ += keys.size();
    round_done_.SignalAll();
  }
  return mine->keys[key];
}

uint64_t DirSyncer::requests() const {
  absl::MutexLock l(&mu_);
  return requests_;
}

uint64_t DirSyncer::rounds() const {
  absl::MutexLock l(&mu_);
  return rounds_;
}

uint64_t DirSyncer::syncs() const {
  absl::MutexLock l(&mu_);
  return syncs_;
}

}  // namespace cairn::chunk
