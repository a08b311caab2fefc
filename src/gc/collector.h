// Collector: the garbage collector of meta (docs/gc.md).
//
// Two passes, never at the same time:
//  - the queue pass deletes the chunks of GC queue entries older than
//    `delay` from every member of their placement group's current chain,
//    and removes an entry only once every member confirmed each of its
//    chunks deleted or not found (anything else keeps it for a later pass,
//    with back-off);
//  - reconciliation lists the chunks of every UP node (with mtimes), THEN
//    scans meta for every referenced chunk id and the queued ids, and
//    deletes, per node, the chunks that are neither referenced nor queued
//    and older than `grace` (orphans: writes never committed).
// Whatever looks inconsistent (a listing that fails or is far from the
// node's heartbeat chunk count, too many unknown chunks on a node, an
// unknown node in a chain, a failed scan) raises the alarm instead: no
// deletion of any kind happens until ClearAlarm().
//
// The one rule: a chunk id that the scan found referenced is never sent
// to DeleteChunks by reconciliation; the queue pass only sends ids that a
// transaction released (docs/metadata.md, "The GC queue").
//
// Metrics (on the registry given):
//   cairn_gc_queue_length                          gauge (entries; QueueCount)
//   cairn_gc_deleted_chunks_total{source}          counter: queue | orphan
//   cairn_gc_errors_total                          counter
//   cairn_gc_alarm                                 gauge 0/1
//   cairn_gc_last_reconcile_timestamp_seconds      gauge
//
// Ownership and thread-safety: borrows the namespace, the chunk-node
// client, the metrics registry and the clock, which must outlive it.
// Thread-safe: Run, Status and ClearAlarm may be called from any thread
// (passes are serialized). Start() runs passes on a thread it owns,
// stopped by Stop() or the destructor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cluster.pb.h"
#include "common/clock.h"
#include "gc.pb.h"
#include "gc/chunk_nodes.h"
#include "gc/queue_count.h"
#include "meta/namespace.h"
#include "service/metrics.h"

namespace cairn::gc {

// Ids one DeleteChunks call carries at most (proto/chunk.proto).
inline constexpr uint32_t kMaxDeleteIds = 10'000;
// Ids a RunGc reply lists per section at most.
inline constexpr uint32_t kMaxListLimit = 100'000;

struct GcOptions {
  // How often the queue pass runs. Default 5 s.
  absl::Duration interval = absl::Seconds(5);
  // A queue entry is deleted only once it is this old, so a reader that
  // opened the file before the overwrite can finish. Default 60 s; 0 in
  // tests.
  absl::Duration delay = absl::Seconds(60);
  // An unreferenced chunk is an orphan only when its file is older than
  // this: protects writes in flight that are not committed yet. Meta
  // refuses a commit of chunks uploaded MaxUploadAge(grace) ago or more,
  // and clients commit long before that (ClientOptions::
  // max_uncommitted_age), so no committed chunk is ever taken for an
  // orphan (docs/gc.md, "Reconciliation"). Default 24 h. Shorter frees
  // failed uploads sooner but refuses commits sooner (e.g. of a client
  // whose meta calls kept failing for that long).
  absl::Duration grace = absl::Hours(24);
  // How often reconciliation runs (the first one this long after Start).
  // Default 1 h: it lists every chunk of every node and scans all files.
  absl::Duration reconcile_interval = absl::Hours(1);
  // Queue entries one pass takes at most; also ids per DeleteChunks call
  // (capped at kMaxDeleteIds). Default 1,000.
  uint32_t batch = 1000;
  // The alarm is raised when a node holds more unknown chunks (neither
  // referenced nor queued) than max(alarm_min_unknown,
  // alarm_unknown_fraction x its chunks). Defaults 1,000 and 0.1.
  uint64_t alarm_min_unknown = 1000;
  double alarm_unknown_fraction = 0.1;
  // Longest wait between queue passes after failures (doubling). Default 5 min.
  absl::Duration max_backoff = absl::Minutes(5);
  // The queue length is kept by reading, at each pass, only the entries
  // queued within this long before the previous pass, plus a full count
  // every `reconcile_interval` (docs/gc.md, "Counting the queue"). An entry
  // whose transaction commits later than this after its queue time is
  // missing from the count until the next full count. Default 60 s; longer
  // reads more of the queue at each pass.
  absl::Duration count_settle = absl::Seconds(60);
};

// kInvalid for a non-positive interval or reconcile interval, a negative
// delay or grace, batch 0 or a fraction outside [0, 1].
absl::Status ValidateGcOptions(const GcOptions& options);

// The commit freshness limit for a reconciliation `grace`: meta refuses a
// CommitWrite whose upload_age_ms is at or past it (kStaleUpload). It is
// the grace minus a margin of 10 % of the grace, at least 60 s but at most
// a quarter of the grace (24 h -> 21.6 h, 1 h -> 54 min, 10 min -> 9 min,
// 2 min -> 90 s, 10 s -> 7.5 s). The margin covers what the client's age
// does not see: the time from its measure to the commit (network, meta's
// queue, a repeat of a lost call, up to ClientOptions::
// meta_retry_deadline, 60 s) and the clock difference between chunk
// servers (chunk mtimes) and meta (the listing start). A grace of 0
// protects nothing: no limit then (InfiniteDuration).
absl::Duration MaxUploadAge(absl::Duration grace);

class Collector {
 public:
  // The current cluster map with every node (ClusterManager::Map()).
  using MapSource = std::function<proto::ClusterMap()>;

  Collector(meta::Namespace* ns, MapSource map, ChunkNodes* nodes,
            service::MetricsRegistry* metrics, Clock* clock, GcOptions options);
  ~Collector();  // Stop()s
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  void Start();
  void Stop();

  // Runs a pass now, after any running one. kInvalid for an unknown pass
  // or a list_limit over kMaxListLimit; kBusy (with the reason) for a real
  // pass while the alarm is raised. A dry run deletes nothing and raises
  // nothing: it reports what a pass would do (alarm_reason: what would
  // raise the alarm).
  absl::StatusOr<proto::RunGcReply> Run(const proto::RunGcRequest& req);
  proto::GcStatus Status() const;
  // Clears the alarm (GC resumes); reports whether it was raised and why.
  proto::ClearGcAlarmReply ClearAlarm();

 private:
  absl::Status QueuePass(bool dry_run, uint32_t list_limit, proto::GcQueueResult* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Returns the alarm reason found ("" if none) in `alarm`.
  absl::Status Reconcile(bool dry_run, uint32_t list_limit, proto::GcReconcileResult* out,
                         std::string* alarm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Brings the queue length of the gauge and the status up to date.
  absl::Status CountQueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void RaiseAlarm(const std::string& reason);
  bool Alarmed() const;
  void NoteError(const std::string& what, uint64_t n = 1);
  void Loop(absl::Notification* stop);

  meta::Namespace* const ns_;
  const MapSource map_;
  ChunkNodes* const nodes_;
  Clock* const clock_;
  const GcOptions options_;

  service::Gauge* const queue_gauge_;
  service::Counter* const deleted_queue_;
  service::Counter* const deleted_orphan_;
  service::Counter* const errors_;
  service::Gauge* const alarm_gauge_;
  service::Gauge* const last_reconcile_gauge_;

  // Serializes passes.
  absl::Mutex run_mu_;
  QueueCount queue_count_ ABSL_GUARDED_BY(run_mu_);

  mutable absl::Mutex mu_;
  proto::GcStatus status_ ABSL_GUARDED_BY(mu_);

  absl::Mutex thread_mu_;
  std::unique_ptr<absl::Notification> stop_ ABSL_GUARDED_BY(thread_mu_);
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace cairn::gc
