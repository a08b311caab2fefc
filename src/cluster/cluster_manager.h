// ClusterManager: chunk-server membership and the cluster map of meta.
//
// It keeps the node registry and the current map (epoch, pg_count,
// replicas, one chain per placement group), persists every change of
// either in one store transaction (keys N and M, docs/metadata.md) and
// loads them in Open. Heartbeats update liveness and usage in memory
// only; failure detection (Tick) turns a node whose heartbeats stopped
// for `down_after` into DOWN and takes it out of its chains; DOWN for
// `out_after` it is OUT and its PGs get new members. A member that joins
// a chain holding data (a node back from DOWN, a replacement, a drain or
// rebalance target) is *recovering* until its chunk server reports the
// backfill done (PgRecovered). Per PG the map keeps its last healthy
// members: when every member is gone, only one of them may re-enter the
// chain as healthy (anyone else joins as recovering and waits for one).
// Extra healthy members (a draining node, a move's source) leave only
// once the chain has R healthy members without them. Every change of the
// map bumps the epoch by exactly one (several nodes found late in one
// Tick are one change). docs/cluster.md has the whole story.
//
// Ownership and thread-safety: borrows `store` and `clock`, which must
// outlive it. Thread-safe. Start() runs Tick every `tick_interval` on a
// thread owned by the manager, stopped by Stop() or the destructor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chunk/chunk_id.h"
#include "cluster.pb.h"
#include "cluster/placement.h"
#include "common/clock.h"
#include "common/ids.h"
#include "store/kv_store.h"

namespace cairn::cluster {

struct ClusterOptions {
  // Placement groups; fixed when the cluster is created (the first Open of
  // an empty store). A stored map keeps its own value. Default 256: enough
  // for even spread over dozens of nodes; more PGs spread finer but make
  // the map larger (about 30 bytes per PG).
  uint32_t pg_count = 256;
  // Chain length aimed for (replicas per chunk). Default 3. Also fixed by
  // the stored map once created (changing it needs data movement).
  uint32_t replicas = 3;
  // Chains are first assigned (a balanced ComputeChains) once this many
  // nodes are up; until then every PG is empty and ChainFor fails with
  // kUnavailable. Default 1 (one machine). Nodes that join later are only
  // appended to short chains, so a multi-node cluster should set this to
  // its initial size to start balanced.
  uint32_t bootstrap_nodes = 1;
  // A node without a heartbeat for this long is DOWN. Default 5 s (chunk
  // servers heartbeat every second): shorter detects failures sooner but
  // mistakes a pause (GC, swap, a slow disk) for a failure.
  absl::Duration down_after = absl::Seconds(5);
  // A DOWN node stays a member-in-waiting of the PGs it left for this
  // long (a restart or a short outage only catches up); then it is OUT and
  // its PGs are re-replicated onto other nodes. Default 10 min: longer
  // avoids copying for reboots, shorter restores redundancy sooner.
  absl::Duration out_after = absl::Minutes(10);
  // Rebalance: PGs move from the node with the most memberships per unit
  // of capacity to the one with the fewest while they differ by more than
  // this fraction of the mean (and by at least 2). Default 0.10.
  double rebalance_threshold = 0.10;
  // Moves (a target recovering into a full chain) in flight at once, over
  // the cluster and per target node. Defaults 4 and 1: a move copies a
  // whole PG, so few at a time leave client traffic its bandwidth. 0
  // disables rebalancing.
  uint32_t max_moves = 4;
  uint32_t max_moves_per_node = 1;
  // ReportNodeFailure marks the node down at once when its last heartbeat
  // is older than this (it missed at least one). Default 1.5 s; a report
  // about a node that heartbeated more recently is only logged.
  absl::Duration report_grace = absl::Milliseconds(1500);
  // How often the thread started by Start() runs Tick. Default 500 ms.
  absl::Duration tick_interval = absl::Milliseconds(500);
  // Commit options for map changes. Default: not synced (docs/durability.md).
  bool sync_commits = false;
};

struct RegisterInfo {
  NodeId node_id;  // invalid (0): a new node
  std::string data_address;
  std::string grpc_address;
  std::string http_address;
  std::string zone;
  uint64_t capacity_bytes = 0;
  uint64_t available_bytes = 0;
};

struct HeartbeatInfo {
  NodeId node_id;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t chunk_count = 0;
  double load = 0;
  uint64_t epoch = 0;  // of the map the node holds
  std::vector<proto::PgProgress> recovery;
};

struct ChainMember {
  NodeId node;
  std::string data_address;
  bool recovering = false;  // catching up: written to, not read from
};
struct ChainView {
  uint64_t epoch = 0;
  PgId pg;
  std::vector<ChainMember> members;  // head first
};

class ClusterManager {
 public:
  // Loads the stored registry and map, or creates an empty map (epoch 1)
  // in an empty store. Nodes stored UP count as heartbeating at Open.
  static absl::StatusOr<std::unique_ptr<ClusterManager>> Open(store::KvStore* store, Clock* clock,
                                                              ClusterOptions options = {});
  ~ClusterManager();  // Stop()s

  ClusterManager(const ClusterManager&) = delete;
  ClusterManager& operator=(const ClusterManager&) = delete;

  // Starts / stops the detection thread. Idempotent.
  void Start();
  void Stop();

  // Registers a node. node_id 0: a new node gets a fresh id, never reused.
  // A known id updates its addresses, zone and capacity and is UP.
  // kNotFound for an unknown nonzero id; kExists when another UP node has
  // the same data address. Returns the id; epoch() tells the map version.
  absl::StatusOr<NodeId> Register(const RegisterInfo& info);

  // Records liveness and usage (memory only) and returns the current
  // epoch. A DOWN node comes back UP (an epoch bump). kNotFound for an
  // unknown node.
  absl::StatusOr<uint64_t> Heartbeat(const HeartbeatInfo& info);

  // A client could not reach `node`: marked DOWN at once when its last
  // heartbeat is older than report_grace, otherwise only logged. Returns
  // the current epoch. kNotFound for an unknown node.
  absl::StatusOr<uint64_t> ReportNodeFailure(NodeId node, std::string_view reason);

  // Failure detection: every UP node without a heartbeat for down_after
  // goes DOWN (one epoch bump for all of them). Returns the store error if
  // the change could not be persisted (the state is then unchanged and the
  // next Tick tries again).
  //
  // Then, in the same change: DOWN nodes silent for out_after become OUT;
  // chains short of R (not waiting for a DOWN member) and chains with a
  // DRAINING member get new members (recovering); chains with more than R
  // healthy members drop the extra (draining first); and while the
  // memberships are uneven, up to max_moves PGs start moving.
  absl::Status Tick();

  // A chunk server says `node` finished backfilling `pg`, its final pass
  // made with a map at `epoch`. Checks: kNotFound (unknown node), kInvalid
  // (bad pg, epoch 0 or newer than meta's, node not a member of the PG),
  // kStaleEpoch (the node became recovering after `epoch`: start again),
  // kBusy (a chain member has not yet reported `epoch`, or the PG has no
  // healthy member to have copied from: retry later).
  // A claim for a member already healthy succeeds and changes nothing.
  // Returns the epoch after the change.
  absl::StatusOr<uint64_t> PgRecovered(NodeId node, uint32_t pg, uint64_t epoch);

  // Admin: an UP node becomes DRAINING: each of its PGs gets a replacement
  // (recovering) and it leaves a chain once that chain has R healthy
  // members without it. Idempotent for a draining node. kNotFound,
  // kBusy for a node that is not UP.
  absl::StatusOr<uint64_t> Drain(NodeId node);

  // Admin: forgets a node (its record and any chain place). kBusy while it
  // is UP, DRAINING with PGs left, (DOWN) the last holder of a PG it left
  // with no healthy member, or (DOWN or OUT) one of the last healthy
  // members of a PG with fewer than R healthy members; kNotFound for an
  // unknown node.
  absl::StatusOr<uint64_t> Remove(NodeId node);

  // The chain of the chunk's PG with the data addresses. kUnavailable when
  // no node is up or the PG has no healthy member.
  absl::StatusOr<ChainView> ChainFor(const ChunkId& id) const;

  // The current map with every node (heartbeat fields included).
  proto::ClusterMap Map() const;
  uint64_t epoch() const;
  uint32_t pg_count() const { return pg_count_; }
  uint32_t replicas() const { return replicas_; }
  bool IsKnown(NodeId node) const;

 private:
  struct Node {
    proto::NodeRecord record;       // what is stored (info without heartbeat fields)
    int64_t last_heartbeat_ns = 0;  // meta's clock
    int64_t heartbeats = 0;         // received since meta started
    proto::NodeInfo live;           // heartbeat fields (recovery, map_epoch too)
  };
  struct State {
    uint64_t epoch = 0;
    uint64_t next_node_id = 1;
    std::map<NodeId, Node> nodes;
    std::vector<Chain> chains;
    // Per PG, the members of chains[pg] that are catching up.
    std::vector<std::vector<NodeId>> recovering;
    // Per PG, the healthy members the last time it had any (sorted; kept
    // when the PG loses all of them). Stored with the map.
    std::vector<std::vector<NodeId>> last_healthy;
    // (pg, node) -> epoch at which it became recovering (memory only;
    // after Open, the loaded epoch).
    std::map<std::pair<uint32_t, uint64_t>, uint64_t> since;
  };

  ClusterManager(store::KvStore* store, Clock* clock, ClusterOptions options, uint32_t pg_count,
                 uint32_t replicas, State state);

  // Persists `next` (epoch already bumped; `changed` lists the node
  // records to write) and installs it. On error nothing changes.
  absl::Status Commit(State next, const std::vector<NodeId>& changed,
                      const std::vector<NodeId>& removed = {}) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks UP nodes in `next` as DOWN and takes them out of the chains.
  void MarkDown(State& next, NodeId node) const;
  // Marks `node` UP in `next` and puts it into short chains.
  void MarkUp(State& next, NodeId node) const;
  std::vector<PlacementNode> PlacementNodes(const State& state) const;
  // Chain edits. Join appends at the tail as recovering, except a node
  // that may re-enter a PG with no healthy member (MayReenter: one of its
  // last healthy members): it becomes a healthy head.
  static bool IsRecovering(const State& s, uint32_t pg, NodeId node);
  static size_t HealthyCount(const State& s, uint32_t pg);
  static bool MayReenter(const State& s, uint32_t pg, NodeId node);
  // Sets last_healthy of every PG that has a healthy member to them.
  static void NoteHealthy(State& s);
  static void Join(State& next, uint32_t pg, NodeId node);
  static void Leave(State& next, uint32_t pg, NodeId node);
  // Tick's repair steps over `next`; each returns true when it changed it.
  bool Repair(State& next) const;
  bool Trim(State& next, uint32_t pg) const;
  bool Rebalance(State& next) const;
  void Loop();

  store::KvStore* const store_;
  Clock* const clock_;
  const ClusterOptions options_;
  const uint32_t pg_count_;
  const uint32_t replicas_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);

  absl::Mutex thread_mu_;
  std::unique_ptr<absl::Notification> stop_ ABSL_GUARDED_BY(thread_mu_);
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace cairn::cluster
