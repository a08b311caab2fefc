// Scrubber: a chunk server's background check of every chunk it holds
// (docs/chunk-server.md, "Scrub").
//
// A cycle walks the store in id order and reads every chunk whole through
// ChunkStore::Get, which verifies the header, the CRC table and the CRC32C
// of every 64 KiB block. Reads are paced to `rate_bytes_per_sec`. A copy
// that fails (Errc::kCorrupt, or its file is missing) is
//  1. reported to meta (ScrubPeers::ReportBad -> Cluster.ReportBadChunk),
//  2. repaired: a verified copy is fetched from another healthy member of
//     the chunk's PG chain (ScrubPeers::FetchGoodCopy); only then is the
//     damaged copy quarantined (ChunkStore::Quarantine: moved aside, out
//     of the index, never served again) and the good one stored with CRCs
//     computed here.
// When no good copy can be had (no other member has one, or none could be
// asked) the damaged copy is KEPT in place: it may be all that is left of
// the chunk, and an operator can still salvage its bytes (reads of it keep
// failing with kCorrupt). It counts as unrepaired once, an error is
// logged, and since it stays in the store every later cycle finds it
// again and retries the repair, after a restart too: the unrepaired set
// itself lives in memory only. A copy that was quarantined but whose
// repair failed to store (out of space, ...) is retried at the start of
// every later cycle.
//
// Chunks that a client READ_CHUNK found corrupt (DataServerOptions::
// on_corrupt) are handed over with ReportCorrupt and handled the same way
// between two chunks of a cycle, or at once when no cycle runs; the
// scrubber re-reads such a chunk first, so a stale report changes nothing.
//
// Cycles start every `interval` (the first one `first_delay` after Start),
// and on demand (StartCycle, the ChunkNode StartScrub RPC).
//
// Metrics (when a registry is given):
//   cairn_chunk_scrub_bytes_total       counter, bytes read and verified
//   cairn_chunk_scrub_chunks_total      counter, chunks read and verified
//   cairn_chunk_scrub_bad_total         counter, damaged copies found (scrub or reads)
//   cairn_chunk_scrub_repaired_total    counter, of them repaired from a replica
//   cairn_chunk_scrub_unrepaired_total  counter, of them left unrepaired (no good copy)
//   cairn_chunk_scrub_running           gauge, 1 while a cycle runs
//   cairn_chunk_scrub_last_complete_timestamp_seconds
//                                       gauge, end of the last full cycle (0: none)
//
// Ownership and thread-safety: borrows `store`, `peers` and `metrics`,
// which must outlive the scrubber (Stop() before destroying them). One
// thread of its own does all the work; every public method is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunk/aligned_buffer.h"
#include "chunk/chunk_id.h"
#include "chunk/chunk_store.h"
#include "service/metrics.h"

namespace cairn::chunkserver {

class ClusterLink;

struct ScrubberOptions {
  // Bytes read per second, at most (bursts of one chunk). Default 32 MiB/s:
  // a small share of one disk, so client traffic keeps the rest; a full
  // 4 TB disk then takes about 36 hours. Must be > 0.
  uint64_t rate_bytes_per_sec = uint64_t{32} << 20;
  // Time between the starts of two scheduled cycles. Default 7 days.
  // Zero: no scheduled cycles, only on demand.
  absl::Duration interval = absl::Hours(24 * 7);
  // When the first scheduled cycle starts after Start(). Default 10 min
  // (a restarting node serves clients first; a node restarted more often
  // than `interval` still gets scrubbed).
  absl::Duration first_delay = absl::Minutes(10);
  // Chunk ids listed from the store at a time. Default 1000.
  size_t list_page = 1000;
};

// Where repairs come from and whom the scrubber tells. Implementations
// must be thread-safe.
class ScrubPeers {
 public:
  virtual ~ScrubPeers() = default;
  // A verified copy of chunk `id` from another healthy member of its PG
  // chain. Errc::kNotFound when no member has a good copy; other codes
  // when a member could not be asked.
  virtual absl::StatusOr<AlignedBuffer> FetchGoodCopy(ChunkId id) = 0;
  // Tells meta that this node's copy of `id` is bad. Best effort.
  virtual void ReportBad(ChunkId id, std::string_view reason) = 0;
};

// ScrubPeers of a running chunk server: the chain from the ClusterLink's
// map (members listed as recovering, not UP, or this node itself are not
// asked), copies read with the data protocol, reports to meta's Cluster
// service at `meta_address`.
// `link` returns the server's link (nullptr while it has none: fetches
// fail with kUnavailable).
std::unique_ptr<ScrubPeers> MakeClusterScrubPeers(std::function<ClusterLink*()> link,
                                                  std::string meta_address,
                                                  absl::Duration rpc_timeout);

// Parses a scrub interval flag: a number with a unit s, m, h or d
// ("30s", "12h", "7d"; fractions allowed), or "0" for on demand only.
// kInvalid otherwise (negative, unknown unit, more than 10 years).
absl::StatusOr<absl::Duration> ParseScrubInterval(std::string_view text);

struct ScrubStatus {
  bool running = false;
  uint64_t cycles_completed = 0;
  // The current cycle, or the last one when none runs. *_total are the
  // store's counts when the cycle started.
  uint64_t chunks_done = 0;
  uint64_t chunks_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  uint64_t bad_found = 0;
  uint64_t repaired = 0;
  uint64_t unrepaired = 0;
  int64_t last_start_ns = 0;  // unix ns; 0: never
  int64_t last_end_ns = 0;    // end of the last completed cycle; 0: none
  // Since the scrubber started, reads' reports included.
  uint64_t total_bad = 0;
  uint64_t total_repaired = 0;
  uint64_t total_unrepaired = 0;
  // Damaged copies that still wait for a good copy (kept in place, or
  // quarantined with the repair not stored yet). Memory only: after a
  // restart the kept ones are counted again when a cycle finds them.
  uint64_t waiting_repair = 0;
};

class Scrubber {
 public:
  // `metrics` may be null.
  Scrubber(chunk::ChunkStore* store, ScrubPeers* peers, ScrubberOptions options,
           service::MetricsRegistry* metrics);
  ~Scrubber();  // Stop()
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Checks the options (kInvalid) and starts the thread.
  absl::Status Start();
  // Stops the thread (a running cycle is abandoned between two chunks).
  // Idempotent.
  void Stop();

  // Asks for a cycle to start now. True when one will start for this
  // request (a request not yet taken up by the scrubber is shared); false
  // when a cycle is running already (it goes on) or the scrubber has
  // stopped (no cycle will run). `before`, when given,
  // receives the status at the moment of the request, taken under the
  // same lock: the cycle asked for has ended once `cycles_completed` or
  // `last_start_ns` moved past it and nothing runs (a cycle can end before
  // the caller reads the status again).
  bool StartCycle(ScrubStatus* before = nullptr);
  // A read found the stored copy of `id` damaged: quarantine and repair it.
  void ReportCorrupt(ChunkId id);

  ScrubStatus status() const;
  const ScrubberOptions& options() const { return options_; }
  // Blocks until no cycle runs and no report waits, or `timeout` passes.
  // True when idle. For tests and `--wait`-style callers.
  bool WaitIdle(absl::Duration timeout) const;

 private:
  void Loop();
  // One full cycle over the store.
  void RunCycle();
  // status() with mu_ held.
  ScrubStatus StatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Verifies one chunk and handles a bad copy.
  void CheckChunk(const chunk::ChunkInfo& info);
  // Handles the reports queued by ReportCorrupt.
  void DrainReports();
  // Counts and reports a damaged copy of `id` (once while it waits for a
  // repair) and repairs it.
  void HandleBad(ChunkId id, const std::string& why);
  // Fetches a good copy; with one, quarantines the damaged copy and
  // stores the good one. True when repaired; otherwise `id` joins
  // unrepaired_ and the damaged copy stays unless it was quarantined.
  bool Repair(ChunkId id);
  // Forgets unrepaired chunks that were replaced or deleted meanwhile and
  // retries the quarantined ones; damaged copies still stored are left to
  // the cycle's walk.
  void RetryUnrepaired();
  // Waits until `bytes` more may be read under the rate limit; false when
  // stopping.
  bool Pace(uint64_t bytes);
  bool Stopping() const;

  chunk::ChunkStore* const store_;
  ScrubPeers* const peers_;
  const ScrubberOptions options_;
  absl::Time next_read_ = absl::InfinitePast();  // pacing; the thread's own

  service::Counter* bytes_metric_ = nullptr;
  service::Counter* chunks_metric_ = nullptr;
  service::Counter* bad_metric_ = nullptr;
  service::Counter* repaired_metric_ = nullptr;
  service::Counter* unrepaired_metric_ = nullptr;
  service::Gauge* running_metric_ = nullptr;
  service::Gauge* last_complete_metric_ = nullptr;

  mutable absl::Mutex mu_;
  mutable absl::CondVar changed_;  // any field below changed
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool cycle_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // handling reports or a cycle
  ScrubStatus status_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<ChunkId> reports_ ABSL_GUARDED_BY(mu_);
  // Damaged copies waiting for a good copy -> quarantined (true: gone
  // from the store; false: still stored, kept for lack of a good copy).
  absl::btree_map<ChunkId, bool> unrepaired_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started by Start, joined by Stop
};

}  // namespace cairn::chunkserver
