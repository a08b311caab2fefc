// QueueCount: the length of the GC queue (entries and chunk ids) for the
// gauge and the status, kept up to date without reading the whole queue
// on every queue pass (docs/gc.md, "Counting the queue").
//
// The queue is in key order, and keys start with the time an entry was
// queued. An update reads only the young end of the queue: the entries
// queued at or after the settle line, which trails the clock by `settle`.
// Entries older than the line ("settled") are kept as a running total:
// added once, when the line passes them, and taken off when the collector
// reports that it removed them. Every `recount` (and on the first update)
// the whole queue is read instead and the totals start afresh.
//
// What the incremental totals miss until the next full count: an entry
// whose transaction commits more than `settle` after its queue time (its
// key is already behind the line), and entries removed by anyone but the
// caller. Both leave the count off by those entries only, never by more.
//
// Ownership and thread-safety: borrows the namespace, which must outlive
// it. Not thread-safe: the collector calls it under its pass lock.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "meta/namespace.h"

namespace cairn::gc {

class QueueCount {
 public:
  struct Totals {
    uint64_t entries = 0;
    uint64_t chunks = 0;  // chunk ids in those entries
  };

  // `settle`: how far the settle line trails the clock; at least 0.
  // `recount`: the longest time between two full counts; positive.
  QueueCount(meta::Namespace* ns, absl::Duration settle, absl::Duration recount);

  // Brings the totals up to date at `now_ns` and returns them: a full
  // count on the first call, once `recount` has passed since the last one,
  // or when the clock went back; otherwise reads only the entries queued at
  // or after the previous settle line. On error the totals are unchanged
  // and the next call counts in full.
  absl::StatusOr<Totals> Update(int64_t now_ns);

  // Notes that the caller removed `entry` (as ListGcQueue returned it) from
  // the queue. Call after the removal committed.
  void Removed(const meta::GcQueueEntry& entry);

  // Makes the next Update a full count (after a removal whose outcome is
  // unknown).
  void Reset() { counted_ = false; }

  // Entries the last Update read (to check the cost in tests).
  uint64_t last_read() const { return last_read_; }
  // Whether the last Update was a full count.
  bool last_full() const { return last_full_; }

 private:
  // Reads the queue from `after` ("" = from the start), adding entries
  // queued before `line_ns` to `settled` and the others to `young`.
  absl::Status Read(const std::string& after, int64_t line_ns, Totals& settled, Totals& young);

  meta::Namespace* const ns_;
  const int64_t settle_ns_;
  const int64_t recount_ns_;

  bool counted_ = false;    // a full count has succeeded since the last error
  int64_t full_at_ns_ = 0;  // when the last full count ran
  int64_t line_ns_ = 0;     // the settle line of the last update
  Totals settled_;          // entries queued before line_ns_
  uint64_t last_read_ = 0;
  bool last_full_ = false;
};

}  // namespace cairn::gc
