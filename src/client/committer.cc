#include "client/committer.h"

#include <algorithm>

#include "absl/time/time.h"

namespace cairn::client {

Committer::Committer() : thread_([this] { Loop(); }) {}

Committer::~Committer() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  thread_.join();
}

void Committer::Due(Committable* file, TimePoint deadline) {
  absl::MutexLock l(&mu_);
  auto [it, fresh] = due_.try_emplace(file, deadline);
  if (!fresh) {
    if (it->second <= deadline) return;
    it->second = deadline;
  }
  // Only when the thread would sleep past it (not once per upload).
  if (deadline < wake_at_) wake_.SignalAll();
}

void Committer::Unregister(Committable* file) {
  absl::MutexLock l(&mu_);
  while (running_ == file) wake_.Wait(&mu_);
  due_.erase(file);
}

void Committer::Loop() {
  mu_.Lock();
  while (!stopping_) {
    if (due_.empty()) {
      wake_at_ = TimePoint::max();
      wake_.Wait(&mu_);
      continue;
    }
    auto next = std::min_element(due_.begin(), due_.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    const TimePoint now = std::chrono::steady_clock::now();
    if (next->second > now) {
      wake_at_ = next->second;
      wake_.WaitWithTimeout(&mu_, absl::FromChrono(next->second - now));
      continue;
    }
    wake_at_ = TimePoint::min();  // looks at due_ again after this file
    Committable* file = next->first;
    due_.erase(next);
    running_ = file;
    mu_.Unlock();
    std::optional<TimePoint> again = file->CommitDue();
    mu_.Lock();
    running_ = nullptr;
    if (again.has_value()) {
      auto [it, fresh] = due_.try_emplace(file, *again);
      if (!fresh) it->second = std::min(it->second, *again);
    }
    wake_.SignalAll();  // an Unregister waiting for this file
  }
  mu_.Unlock();
}

}  // namespace cairn::client
