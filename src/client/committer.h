// Committer: the background thread of a DataContext that commits the
// uploads of open files that nobody commits in time
// (ClientOptions::max_uncommitted_age; docs/gc.md, "Reconciliation"): a
// file held open and idle still gets its uploaded chunks committed before
// meta's GC could take them for orphans.
//
// A file calls Due(file, deadline) when one of its uploads starts; at the
// earliest deadline it holds, the thread calls file->CommitDue(), which
// commits what is due or answers when to look again.
//
// Ownership, lifetimes and thread-safety: borrows the files; a file calls
// Unregister(itself) before it is destroyed, which waits for a CommitDue
// of that file running on the thread. Thread-safe. Lock order: a file may
// hold its own mutex when it calls Due, never when it calls Unregister;
// the thread holds no lock of its own while in CommitDue (so CommitDue
// may block on the file's mutex). One thread serves every file: a commit
// that waits (for the file's mutex, for meta) delays the others.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace cairn::client {

class Committable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Committable() = default;
  // Commits the uploads that are due; returns when the oldest of those
  // still uncommitted is due (nullopt: none). Called on the committer's
  // thread only.
  virtual std::optional<TimePoint> CommitDue() = 0;
};

class Committer {
 public:
  using TimePoint = Committable::TimePoint;

  Committer();
  ~Committer();  // stops and joins the thread; every file must be unregistered
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // `file` has an uncommitted upload due at `deadline` (the earliest
  // deadline given since its last CommitDue counts).
  void Due(Committable* file, TimePoint deadline);
  // Forgets `file`, after any CommitDue of it running now has returned.
  void Unregister(Committable* file);

 private:
  void Loop();

  absl::Mutex mu_;
  absl::CondVar wake_;
  std::map<Committable*, TimePoint> due_ ABSL_GUARDED_BY(mu_);
  Committable* running_ ABSL_GUARDED_BY(mu_) = nullptr;  // in CommitDue now
  // When the thread wakes by itself (min: it looks at due_ before it sleeps
  // again): Due signals only deadlines earlier than this.
  TimePoint wake_at_ ABSL_GUARDED_BY(mu_) = TimePoint::min();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cairn::client
