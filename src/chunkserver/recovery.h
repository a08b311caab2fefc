// Recovery: a chunk server's backfill of the placement groups where the
// cluster map lists it as *recovering* (docs/cluster.md, "Recovery"), and
// the clean-up of copies of PGs it is no longer a member of.
//
// One thread owned by Recovery runs rounds. A round takes the PGs where
// this node is recovering in the cached map (epoch E) and, for each:
//  1. takes the sources: the healthy members (not recovering, UP or
//     DRAINING, with a gRPC address), rotated by a hash of (pg, node) so
//     reads spread over them; with none (every holder gone) the pass
//     fails and the PG waits until a holder is back in the chain;
//  2. pages through ListChunks(pg_count, pg) of EVERY healthy member and
//     keeps the chunks this node does not hold (the union: a chunk only
//     one member holds is copied too); every one is read from a member
//     that listed it, then from the others (CRC-verified by DataClient),
//     and stored with its CRCs. The pass is clean (PassStats::Clean) only
//     when every member could be listed and every listed chunk was
//     stored: a chunk found on no member (kNotFound everywhere), a copy
//     that failed everywhere (corrupt, I/O) or a member that could not be
//     listed leaves the PG unclaimed, and the next round starts over;
//  3. waits until meta reports every member of those PGs at epoch >= E
//     (then no write made with the old chain can start any more) plus
//     `final_pass_delay` (writes accepted just before finish), does a final
//     pass, and claims the PG with Cluster.PgRecovered(node, pg, E).
// Copies are throttled to `rate_bytes_per_sec` over the whole node.
//
// Clean-up (every `cleanup_interval` while nothing is recovering): a chunk
// of a PG this node is not a member of is deleted only when
//  - a freshly fetched map, at the epoch this node's cache holds, shows
//    that PG with at least R healthy members (none of them this node);
//  - the chunk file is older than `extra_copy_grace`;
//  - EVERY healthy member of the PG lists the chunk (ListChunks of the PG,
//    the same paging as the backfill's), with the same length. A member
//    that cannot be listed keeps every chunk of that PG for this pass;
//  - the cached epoch still equals the map's (checked before each PG is
//    listed and before each batch of up to 1,000 deletions; a change
//    ends the pass).
// When in doubt the data is kept.
//
// Ownership and thread-safety: borrows `store` and `link`, which must
// outlive it. Thread-safe; Start/Stop idempotent; Stop interrupts waits
// and the throttle and returns after the current chunk copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunk.grpc.pb.h"
#include "chunk/chunk_store.h"
#include "chunkserver/cluster_link.h"
#include "cluster.pb.h"
#include "dataplane/data_client.h"

namespace cairn::chunkserver {

struct RecoveryOptions {
  // Bytes per second copied by backfill over the whole node; 0: unlimited.
  // Default 32 MiB/s: about a quarter of a 1 Gb/s link, so client traffic
  // keeps most of the bandwidth; raise it to recover faster.
  uint64_t rate_bytes_per_sec = 32ull << 20;
  // How often the map is looked at for PGs to recover. Default 1 s.
  absl::Duration poll_interval = absl::Seconds(1);
  // Wait after every chain member reached the new epoch before the final
  // pass, for writes accepted on the old chain just before. Default 2 s.
  absl::Duration final_pass_delay = absl::Seconds(2);
  // Longest wait for the members to reach the epoch before a round gives
  // up (the next round starts over). Default 60 s.
  absl::Duration epoch_wait = absl::Seconds(60);
  // Deadline of each call to meta or a peer. Default 10 s.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Chunks per ListChunks page. Default 5,000.
  uint32_t list_page = 5'000;
  // Extra copies (PGs no longer ours) younger than this are kept; older
  // ones are deleted once every healthy member confirms holding them
  // (above). 0 disables the clean-up. Default 10 min: a copy written just
  // before a move stays while the new members settle; shorter frees the
  // space sooner (docs/chunk-server.md, "Recovery").
  absl::Duration extra_copy_grace = absl::Minutes(10);
  // How often the clean-up runs. Default 60 s.
  absl::Duration cleanup_interval = absl::Seconds(60);
};

// What one pass over one PG did.
struct PassStats {
  uint64_t listed = 0;  // distinct chunks of the PG over the healthy members
  uint64_t copied = 0;  // chunks stored here
  uint64_t copied_bytes = 0;
  uint64_t vanished = 0;  // listed, then found on no member (deleted, or lost)
  uint64_t failed = 0;    // could not be copied from any healthy member
  uint64_t unlisted = 0;  // healthy members whose listing failed
  // Only a clean pass may lead to a claim: every healthy member listed and
  // every chunk listed is stored here.
  bool Clean() const { return failed == 0 && vanished == 0 && unlisted == 0; }
};

class Recovery {
 public:
  Recovery(RecoveryOptions options, chunk::ChunkStore* store, ClusterLink* link);
  ~Recovery();  // Stop()
  Recovery(const Recovery&) = delete;
  Recovery& operator=(const Recovery&) = delete;

  void Start();
  void Stop();

  // Backfill jobs in progress (what heartbeats carry).
  std::vector<proto::PgProgress> Progress() const;

  // One copy pass of `pg` as `map` describes it (no claim). For tests and
  // the thread. kUnavailable when no healthy member is left to copy from.
  absl::StatusOr<PassStats> BackfillPass(const proto::ClusterMap& map, uint32_t pg);
  // One clean-up pass of extra copies against `map` (a fresh one; nothing
  // is deleted unless the cached epoch equals its epoch). Returns the
  // chunks deleted; fails only on a local store error.
  absl::StatusOr<uint64_t> CleanupPass(const proto::ClusterMap& map);

  // Counters (monotonic).
  uint64_t bytes_copied() const { return bytes_.load(); }
  uint64_t chunks_copied() const { return chunks_.load(); }
  uint64_t errors() const { return errors_.load(); }
  uint64_t extra_deleted() const { return extra_deleted_.load(); }
  uint64_t pgs_recovered() const { return pgs_recovered_.load(); }

 private:
  void Loop();
  // One round over the PGs this node recovers in `map`. True when any.
  bool Round(const proto::ClusterMap& map);
  // Blocks until every member of `pgs` reported `epoch` to meta.
  absl::Status WaitMembersAt(const std::vector<uint32_t>& pgs, uint64_t epoch);
  absl::StatusOr<proto::ListChunksReply> List(const std::string& grpc_address,
                                              const proto::ListChunksRequest& req);
  // Pages through `member`'s ListChunks of `pg` (with the map's pg_count),
  // calling `fn` for every entry with a valid id. Returns the first listing
  // error, kCancelled when stopping, or fn's error (which ends the paging).
  using ListedFn = std::function<absl::Status(ChunkId, const proto::ChunkEntry&)>;
  absl::Status ListPg(const proto::ClusterMap& map, uint32_t pg, const proto::NodeInfo& member,
                      const ListedFn& fn);
  // A chunk to copy: its length and the members that listed it.
  struct Missing {
    uint64_t length = 0;
    std::vector<const proto::NodeInfo*> holders;
  };
  // The union of the listings of `sources` minus what this node holds;
  // counts `listed` and `unlisted` in `stats`. Fails only when no source
  // could be listed.
  absl::StatusOr<std::map<ChunkId, Missing>> ListMissing(
      const proto::ClusterMap& map, uint32_t pg, const std::vector<const proto::NodeInfo*>& sources,
      PassStats& stats);
  // Reads `id` from a holder (then any source) and stores it; counts the
  // outcome in `stats`. Fails only for errors that end the pass (no space).
  absl::Status CopyChunk(ChunkId id, const Missing& m,
                         const std::vector<const proto::NodeInfo*>& sources, PassStats& stats);
  // Clean-up: of `candidates` (local extra copies of `pg`, sorted by id),
  // those every one of `members` lists with the same length. Fails when a
  // member cannot be listed.
  absl::StatusOr<std::vector<ChunkId>> Confirmed(const proto::ClusterMap& map, uint32_t pg,
                                                 const std::vector<const proto::NodeInfo*>& members,
                                                 const std::vector<chunk::ChunkInfo>& candidates);
  // Clean-up: confirms and deletes one batch of candidates, PG by PG, and
  // adds the deletions to `deleted`. False when the pass must stop (the
  // cached epoch moved away from `map`'s, or stopping).
  bool DeleteBatch(const proto::ClusterMap& map,
                   const std::vector<std::vector<const proto::NodeInfo*>>& members,
                   const std::map<uint32_t, std::vector<chunk::ChunkInfo>>& batch,
                   uint64_t& deleted);
  // Clean-up: true (logged) when the cached map is no longer at `map`'s
  // epoch, which ends the pass.
  bool MapMoved(const proto::ClusterMap& map) const;
  proto::ChunkNode::Stub* StubFor(const std::string& grpc_address);
  // Waits until `bytes` more may be copied. False when stopping.
  bool Throttle(uint64_t bytes);
  // Sleeps `d` or until Stop. False when stopping.
  bool Pause(absl::Duration d);
  bool stopping() const;

  const RecoveryOptions options_;
  chunk::ChunkStore* const store_;
  ClusterLink* const link_;
  dataplane::DataClient data_;

  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> chunks_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> extra_deleted_{0};
  std::atomic<uint64_t> pgs_recovered_{0};

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint32_t, proto::PgProgress> progress_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<proto::ChunkNode::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  absl::Time next_free_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // throttle

  absl::Mutex thread_mu_;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace cairn::chunkserver
