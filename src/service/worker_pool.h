// WorkerPool: a fixed set of threads running submitted closures in FIFO
// order. The metadata service uses one for requests that wait on the disk
// (fsync, and every change under --sync always), so they neither hold up
// gRPC's few callback threads nor stop concurrent commits from sharing
// one log sync.
//
// Thread-safety: Submit() from any thread. The destructor runs what was
// already submitted, then joins the threads.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace cairn::service {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> work);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::service
